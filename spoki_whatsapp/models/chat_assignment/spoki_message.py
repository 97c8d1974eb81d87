"""Tags on individual messages (guide: "Promo Giugno", "interessato")."""

from odoo import fields, models
from odoo.exceptions import AccessError


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    tag_ids = fields.Many2many(
        "res.partner.category", "spoki_message_res_partner_category_rel", "message_id", "category_id", string="Tags"
    )

    def action_add_tags(self, tag_ids):
        """Tag these messages (and their contacts). The ledger is not
        writable by users: WhatsApp agents who can read the messages may tag
        them, the tag write itself is done by the product (sudo)."""
        if not self.env.user.has_group("spoki_whatsapp.group_spoki_user"):
            raise AccessError(self.env._("Only WhatsApp users can tag messages."))
        self.check_access("read")
        tags = self.env["res.partner.category"].browse(tag_ids).exists()
        tags.check_access("read")
        self._add_tags(tags)
        return True

    def _add_tags(self, tags):
        """Add ``tags`` (res.partner.category) to the messages and to their
        contacts, so the contact shows the promo received and the answer
        given without opening the chat. No access check: the caller did it."""
        if not tags or not self:
            return
        self.sudo().write({"tag_ids": [(4, tag.id) for tag in tags]})
        self.partner_id.sudo().write({"category_id": [(4, tag.id) for tag in tags]})
        self._spoki_notify_tags()
