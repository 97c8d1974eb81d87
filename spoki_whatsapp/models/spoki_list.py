from odoo import api, fields, models
from odoo.tools import SQL


class SpokiList(models.Model):
    _name = "spoki.list"
    _description = "WhatsApp list"
    _inherit = ["mail.thread"]
    _order = "name, id"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, index=True)
    partner_ids = fields.Many2many(
        "res.partner",
        "spoki_list_res_partner_rel",
        "list_id",
        "partner_id",
        string="Contacts",
        context={"active_test": False},
    )
    contact_count = fields.Integer("Number of contacts", compute="_compute_contact_count")
    valid_count = fields.Integer("Valid numbers", compute="_compute_contact_count")

    def _compute_contact_count(self):
        counts = {}
        if self.ids:
            self.env["res.partner"].flush_model(["active", "wa_phone_valid"])
            self.flush_model(["partner_ids"])
            self.env.cr.execute(
                SQL(
                    """SELECT rel.list_id, COUNT(*), COUNT(*) FILTER (WHERE p.wa_phone_valid)
                         FROM spoki_list_res_partner_rel rel
                         JOIN res_partner p ON p.id = rel.partner_id AND p.active
                        WHERE rel.list_id IN %s
                     GROUP BY rel.list_id""",
                    tuple(self.ids),
                )
            )
            counts = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for spoki_list in self:
            spoki_list.contact_count, spoki_list.valid_count = counts.get(spoki_list.id, (0, 0))

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_view_contacts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("spoki_whatsapp.res_partner_action_spoki")
        action["domain"] = [("spoki_list_ids", "in", self.ids)]
        action["context"] = {"default_spoki_list_ids": [(4, self.id)], "spoki_archive_on_delete": True}
        action["name"] = self.display_name
        return action

    def action_add_contacts(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Add contacts to %(name)s", name=self.name),
            "res_model": "spoki.list.add.contacts",
            "view_mode": "form",
            "target": "new",
            "context": {"default_list_id": self.id, "default_mode": "domain"},
        }

    # ------------------------------------------------------------
    # BULK MEMBERSHIP
    # ------------------------------------------------------------

    def _add_partners_by_domain(self, domain):
        """Add every contact matching ``domain`` (no page limit) with one
        INSERT … SELECT; returns the number of contacts added."""
        self.ensure_one()
        self.check_access("write")
        query = self.env["res.partner"].with_context(active_test=False)._search(domain)
        self.env.cr.execute(
            SQL(
                """INSERT INTO spoki_list_res_partner_rel (list_id, partner_id)
                   SELECT %s, sub.id FROM (%s) sub
                   ON CONFLICT DO NOTHING""",
                self.id,
                query.select(SQL.identifier("res_partner", "id")),
            )
        )
        added = self.env.cr.rowcount
        self._invalidate_membership()
        return added

    def _remove_partners_by_domain(self, domain):
        self.ensure_one()
        self.check_access("write")
        query = self.env["res.partner"].with_context(active_test=False)._search(domain)
        self.env.cr.execute(
            SQL(
                "DELETE FROM spoki_list_res_partner_rel WHERE list_id = %s AND partner_id IN (%s)",
                self.id,
                query.select(SQL.identifier("res_partner", "id")),
            )
        )
        removed = self.env.cr.rowcount
        self._invalidate_membership()
        return removed

    def _invalidate_membership(self):
        self.env["spoki.list"].invalidate_model(["partner_ids", "contact_count", "valid_count"])
        self.env["res.partner"].invalidate_model(["spoki_list_ids"])
        self._message_log(body=self.env._("Contacts updated: %(count)s in the list.", count=self.contact_count))

    @api.model
    def _create_from_partners(self, name, partners):
        return self.create({"name": name, "partner_ids": [(6, 0, partners.ids)]})
