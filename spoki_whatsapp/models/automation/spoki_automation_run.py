"""One run of a WhatsApp automation rule for one contact and occurrence."""

from odoo import api, fields, models
from odoo.tools import SQL


class SpokiAutomationRun(models.Model):
    """The record of a rule firing for a contact: which occurrence (the list
    entry, the reminder's moment, the incoming message, the webhook call) and
    what each action did. Unique on (rule, contact, occurrence): a trigger
    inserts its runs with ON CONFLICT DO NOTHING and acts only on the rows it
    inserted, so nothing fires twice (cron late or run twice, two servers, a
    retried webhook). Written only by the product (no user writes)."""

    _name = "spoki.automation.run"
    _description = "WhatsApp automation run"
    _order = "id desc"
    _rec_name = "occurrence"

    automation_id = fields.Many2one("base.automation", "Rule", required=True, ondelete="cascade", index=True)
    partner_id = fields.Many2one("res.partner", "Contact", ondelete="cascade", index=True)
    res_model = fields.Char("Record model")
    res_id = fields.Many2oneReference("Record", model_field="res_model")
    occurrence = fields.Char(required=True, help="What the rule fired for: a list entry, a date, a message, a call.")
    company_id = fields.Many2one("res.company", index=True)
    state = fields.Selection(
        [("running", "Running"), ("done", "Done"), ("failed", "Failed")], default="running", required=True
    )
    outcome = fields.Text(help="What each action did for this contact.")

    _sql_constraints = [
        (
            "rule_partner_occurrence_uniq",
            "unique(automation_id, partner_id, occurrence)",
            "A rule runs once per contact and occurrence.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            self.env["spoki.message"]._check_ledger_write()
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su:
            self.env["spoki.message"]._check_ledger_write()
        return super().write(vals)

    @api.model
    def _claim(self, rule, rows):
        """Insert runs for ``rows`` [(partner id, res model, res id,
        occurrence)] of ``rule`` in one statement; returns {res id: run id} of
        the rows inserted now (those already run are left out)."""
        if not rows:
            return {}
        now = self.env["spoki.message"]._now()
        self.env.cr.execute(
            SQL(
                """INSERT INTO spoki_automation_run
                       (automation_id, partner_id, res_model, res_id, occurrence, company_id, state,
                        create_uid, create_date, write_uid, write_date)
                   SELECT %(rule)s, r.partner_id, r.res_model, r.res_id, r.occurrence, %(company)s, 'running',
                          %(uid)s, %(now)s, %(uid)s, %(now)s
                     FROM unnest(%(partners)s::int[], %(models)s::varchar[], %(res_ids)s::int[],
                                 %(occurrences)s::varchar[]) AS r(partner_id, res_model, res_id, occurrence)
                   ON CONFLICT (automation_id, partner_id, occurrence) DO NOTHING
                   RETURNING res_id, id""",
                rule=rule.id,
                company=rule.company_id.id or None,
                uid=self.env.uid,
                now=now,
                partners=[row[0] for row in rows],
                models=[row[1] for row in rows],
                res_ids=[row[2] for row in rows],
                occurrences=[row[3] for row in rows],
            )
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _record_outcomes(self, outcomes, run_by_res_id, failed=False):
        """Write what the actions did ({res id: [lines]}) on the runs, one
        UPDATE per distinct outcome (10,000 runs with the same outcome: one
        statement)."""
        by_text = {}
        for res_id, run_id in run_by_res_id.items():
            text = "\n".join(outcomes.get(res_id) or [])
            by_text.setdefault(text, []).append(run_id)
        for text, run_ids in by_text.items():
            self.env.cr.execute(
                SQL(
                    "UPDATE spoki_automation_run SET state = %s, outcome = %s WHERE id = ANY(%s)",
                    "failed" if failed else "done",
                    text or None,
                    run_ids,
                )
            )
        self.invalidate_model(["state", "outcome"])
