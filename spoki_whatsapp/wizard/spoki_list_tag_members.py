from odoo import fields, models


class SpokiListTagMembers(models.TransientModel):
    """ "Add tag to all members" of a list, in one statement, and optionally
    to every member added later."""

    _name = "spoki.list.tag.members"
    _description = "Add tags to the members of a WhatsApp list"

    list_id = fields.Many2one("spoki.list", "List", required=True)
    tag_ids = fields.Many2many("res.partner.category", string="Tags", required=True)
    keep = fields.Boolean(
        "Also for members added later", default=True, help="Add the tags to the list's tags for members."
    )

    def action_apply(self):
        self.ensure_one()
        self.list_id.check_access("write")
        if self.keep:
            self.list_id.member_tag_ids = [(4, tag.id) for tag in self.tag_ids]  # applied to every member
            count = self.list_id.contact_count
        else:
            self.list_id._add_tags_to_members(self.tag_ids)
            count = self.list_id.contact_count
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "%(tags)s added to the %(count)s contacts of %(list)s.",
                    tags=", ".join(self.tag_ids.mapped("name")),
                    count=count,
                    list=self.list_id.name,
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
