from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools.safe_eval import safe_eval


class SpokiListAddContacts(models.TransientModel):
    """Add (or remove) contacts to a list by filter, with a real
    "select all matching": the whole domain is applied in one SQL statement,
    there is no 100-row page as in the guide's web app."""

    _name = "spoki.list.add.contacts"
    _description = "Add contacts to a WhatsApp list"

    list_id = fields.Many2one("spoki.list", "List")
    new_list_name = fields.Char("New list name")
    mode = fields.Selection(
        [("domain", "All contacts matching a filter"), ("selection", "Selected contacts")],
        required=True,
        default="domain",
    )
    operation = fields.Selection([("add", "Add"), ("remove", "Remove")], required=True, default="add")
    domain = fields.Char(default="[('wa_phone_valid', '=', True)]")
    partner_ids = fields.Many2many("res.partner", string="Contacts")
    match_count = fields.Integer("Matching contacts", compute="_compute_match_count")

    @api.depends("mode", "domain", "partner_ids")
    def _compute_match_count(self):
        for wizard in self:
            if wizard.mode == "selection":
                wizard.match_count = len(wizard.partner_ids)
            else:
                try:
                    wizard.match_count = self.env["res.partner"].search_count(
                        self.env["spoki.list"]._candidate_domain(wizard._get_domain())
                    )
                except Exception:  # noqa: BLE001 - a half-typed domain in the editor
                    wizard.match_count = 0

    def _get_domain(self):
        self.ensure_one()
        if self.mode == "selection":
            return [("id", "in", self.partner_ids.ids)]
        try:
            domain = safe_eval(self.domain or "[]")
        except Exception as exc:
            raise UserError(self.env._("The filter is not valid: %(error)s", error=exc)) from exc
        return domain

    def action_apply(self):
        self.ensure_one()
        spoki_list = self.list_id
        if not spoki_list:
            if not self.new_list_name:
                raise UserError(self.env._("Choose a list or give a name for a new one."))
            spoki_list = self.env["spoki.list"].create({"name": self.new_list_name})
        if self.operation == "add":
            count = spoki_list._add_partners_by_domain(self._get_domain())
            message = self.env._("%(count)s contacts added to %(list)s.", count=count, list=spoki_list.name)
        else:
            count = spoki_list._remove_partners_by_domain(self._get_domain())
            message = self.env._("%(count)s contacts removed from %(list)s.", count=count, list=spoki_list.name)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": message,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
