from odoo import api, fields, models
from odoo.osv.expression import AND
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
    member_tag_ids = fields.Many2many(
        "res.partner.category",
        "spoki_list_member_tag_rel",
        "list_id",
        "category_id",
        string="Tags for members",
        help="Contact tags given to every member of the list, also to those added later (form, filter, CSV import, "
        "automations).",
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
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        lists = super().create(vals_list)
        lists._apply_member_tags()
        for spoki_list in lists:
            spoki_list._spoki_fire_entry(spoki_list._member_ids())
        return lists

    def write(self, vals):
        """Members added through the ORM (the list form) get the list's
        member tags; new member tags go to every member."""
        before = None
        if "partner_ids" in vals:
            before = {spoki_list.id: set(spoki_list._member_ids()) for spoki_list in self}
        result = super().write(vals)
        if "member_tag_ids" in vals:
            self._apply_member_tags()
        if before is not None:
            for spoki_list in self:
                added = set(spoki_list._member_ids()) - before[spoki_list.id]
                if "member_tag_ids" not in vals:
                    spoki_list._apply_member_tags(list(added))
                spoki_list._spoki_fire_entry(sorted(added))
        return result

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_tag_members(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Add tag to all members of %(name)s", name=self.name),
            "res_model": "spoki.list.tag.members",
            "view_mode": "form",
            "target": "new",
            "context": {"default_list_id": self.id},
        }

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

    @api.model
    def _candidate_domain(self, domain):
        """``domain`` restricted to the contacts that may join a list: active
        WhatsApp contacts (res.partner._spoki_contact_domain); deleted
        (archived) contacts and Odoo's technical partners never join."""
        return AND([domain, [("active", "=", True), ("spoki_contact", "=", True)]])

    def _add_partners_by_domain(self, domain):
        """Add every contact matching ``domain`` (no page limit) with one
        INSERT … SELECT; returns the number of contacts added."""
        self.ensure_one()
        self.check_access("write")
        query = self.env["res.partner"].with_context(active_test=False)._search(self._candidate_domain(domain))
        self.env.cr.execute(
            SQL(
                """INSERT INTO spoki_list_res_partner_rel (list_id, partner_id)
                   SELECT %s, sub.id FROM (%s) sub
                   ON CONFLICT DO NOTHING
                   RETURNING partner_id""",
                self.id,
                query.select(SQL.identifier("res_partner", "id")),
            )
        )
        added_ids = [row[0] for row in self.env.cr.fetchall()]
        added = len(added_ids)
        self._apply_member_tags(added_ids)
        self._invalidate_membership()
        self._spoki_fire_entry(added_ids)
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

    def _member_ids(self):
        self.ensure_one()
        self.flush_model(["partner_ids"])
        self.env["res.partner"].flush_model(["spoki_list_ids"])
        return [
            pid
            for (pid,) in self.env.execute_query(
                SQL("SELECT partner_id FROM spoki_list_res_partner_rel WHERE list_id = %s", self.id)
            )
        ]

    def _apply_member_tags(self, partner_ids=None):
        """Give the lists' member tags to their members (only ``partner_ids``
        among them when given) in one INSERT … SELECT, whatever the size of the
        lists. Every path adding members calls it. Returns the tags added."""
        self.flush_model(["member_tag_ids", "partner_ids"])
        self.env["res.partner"].flush_model(["spoki_list_ids", "category_id"])
        lists = self.filtered("member_tag_ids")
        if not lists or partner_ids == []:
            return 0
        return self._add_tags_sql(
            SQL(
                """SELECT DISTINCT t.category_id, r.partner_id
                     FROM spoki_list_res_partner_rel r
                     JOIN spoki_list_member_tag_rel t ON t.list_id = r.list_id
                    WHERE r.list_id = ANY(%s) %s""",
                lists.ids,
                SQL("AND r.partner_id = ANY(%s)", list(partner_ids)) if partner_ids is not None else SQL(),
            )
        )

    def _add_tags_to_members(self, tags):
        """Add ``tags`` (res.partner.category) to every member of the lists,
        in one statement (no loop over the members)."""
        if not tags or not self:
            return 0
        self.flush_model(["partner_ids"])
        self.env["res.partner"].flush_model(["spoki_list_ids", "category_id"])
        return self._add_tags_sql(
            SQL(
                """SELECT DISTINCT t.id, r.partner_id
                     FROM spoki_list_res_partner_rel r, unnest(%s::int[]) AS t(id)
                    WHERE r.list_id = ANY(%s)""",
                tags.ids,
                self.ids,
            )
        )

    def _add_tags_sql(self, select):
        """Insert (category, partner) pairs of ``select`` into the contacts' tags."""
        self.env.cr.execute(
            SQL(
                """INSERT INTO res_partner_res_partner_category_rel (category_id, partner_id)
                   %s
                   ON CONFLICT DO NOTHING""",
                select,
            )
        )
        added = self.env.cr.rowcount
        self.env["res.partner"].invalidate_model(["category_id"])
        self.env["res.partner.category"].invalidate_model(["partner_ids"])
        return added

    @api.model
    def _create_from_partners(self, name, partners):
        return self.create({"name": name, "partner_ids": [(6, 0, partners.ids)]})
