import ast

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

ACTIVE_IDS_LIMIT = 20000  # the web client's default "active_ids_limit"


class SpokiTemplateSend(models.TransientModel):
    """Contacts › select (or select all) › Actions › Send WhatsApp template,
    like SMS's "Send SMS": the template is queued for every selected contact
    in one bulk insert; the send queue applies the tier limit and opt-outs."""

    _name = "spoki.template.send"
    _description = "Send a WhatsApp template to contacts"

    account_id = fields.Many2one("spoki.account", "WhatsApp account", required=True)
    template_id = fields.Many2one(
        "spoki.template",
        "Template",
        required=True,
        domain="[('account_id', '=', account_id), ('state', '=', 'approved')]",
    )
    partner_ids = fields.Many2many("res.partner", string="Contacts")
    use_active_domain = fields.Boolean("All matching contacts")
    active_domain = fields.Text()
    tag_ids = fields.Many2many("res.partner.category", string="Tags for the message")
    recipient_count = fields.Integer("Recipients", compute="_compute_recipient_count")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        if context.get("active_model") == "res.partner":
            ids = context.get("active_ids") or []
            values.setdefault("partner_ids", [(6, 0, ids)])
            if context.get("active_domain") is not None:
                values["active_domain"] = repr(context["active_domain"])
                values.setdefault("use_active_domain", len(ids) >= ACTIVE_IDS_LIMIT)
        if "account_id" in fields_list and not values.get("account_id"):
            values["account_id"] = self.env["spoki.account"].search([], limit=1).id
        return values

    @api.depends("partner_ids", "use_active_domain", "active_domain")
    def _compute_recipient_count(self):
        for wizard in self:
            wizard.recipient_count = len(wizard._recipients())

    def _recipients(self):
        self.ensure_one()
        if self.use_active_domain and self.active_domain:
            return self.env["res.partner"].search(ast.literal_eval(self.active_domain))
        return self.partner_ids

    def action_send(self):
        self.ensure_one()
        if not self.env.user.has_group("spoki_whatsapp.group_spoki_user"):
            raise AccessError(self.env._("Only WhatsApp users can send WhatsApp messages."))
        self.account_id.check_access("read")
        self.template_id.check_access("read")
        partners = self._recipients()
        if not partners:
            raise UserError(self.env._("Select the contacts first."))
        result = self.env["spoki.message"]._spoki_enqueue_template_bulk(
            self.account_id.sudo(),
            self.template_id.sudo(),
            {partner.id: partner for partner in partners},
            tags=self.tag_ids,
        )
        queued = sum(1 for state in result.values() if state == "queued")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success" if queued else "warning",
                "message": self.env._("%(queued)s of %(count)s messages queued.", queued=queued, count=len(partners)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
