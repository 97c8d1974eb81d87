from odoo import models
from odoo.tools import SQL


class SpokiList(models.Model):
    _inherit = "spoki.list"

    def action_spoki_csv_import(self):
        """Lists › New from CSV: Manage CSV with this list as the target."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("spoki_whatsapp_csv.spoki_csv_import_action")
        action["context"] = {"default_list_mode": "existing", "default_list_id": self.id}
        return action

    def _spoki_csv_add_partner_ids(self, partner_ids, fire=True):
        """Add contacts by id with one INSERT … SELECT unnest … ON CONFLICT
        DO NOTHING (the new members get the list's member tags); returns the
        ids of those that were not in the list yet. ``fire``: run the list's
        entry rules for them now (an import in chunks runs them once, at the
        end, for every contact it added)."""
        self.ensure_one()
        self.check_access("write")
        if not partner_ids:
            return []
        self.env.cr.execute(
            SQL(
                """INSERT INTO spoki_list_res_partner_rel (list_id, partner_id)
                   SELECT %s, unnest(%s::int[])
                   ON CONFLICT DO NOTHING
                   RETURNING partner_id""",
                self.id,
                list(partner_ids),
            )
        )
        added_ids = [row[0] for row in self.env.cr.fetchall()]
        self._apply_member_tags(added_ids)
        self._invalidate_membership()
        if fire:
            self._spoki_fire_entry(added_ids)
        return added_ids
