"""WhatsApp triggers on Odoo's automation rules (base_automation).

* ``on_spoki_list_entry``: a contact enters a list, by any path (list form,
  contact form, "select all matching", CSV import, another automation): the
  paths call ``spoki.list._spoki_members_added`` with the ids really inserted,
  which fires the list's rules once, for all of them (one claim INSERT, one
  bulk enqueue per action);
* ``on_spoki_date``: a date / date-time dynamic field reaches an offset, for
  each contact at their own time in their timezone, optionally every year; the
  cron *WhatsApp: automation dates* (every 5 minutes) selects the due
  (rule, contact, moment) in SQL between the rule's last run and now, so a
  late cron catches up and a cron run twice finds the runs already there;
* ``on_spoki_incoming``: an incoming message equal to a quick-reply button's
  text (of a given template) or containing keywords;
* ``on_webhook`` with *WhatsApp contact* (``spoki_webhook``): the call's number
  finds or creates the contact and fills its dynamic fields (controller
  ``/spoki/automation/<uuid>``).

Every WhatsApp rule (those triggers, or any WhatsApp action) runs through
:meth:`_spoki_process`: claim the runs, run each action once on all the new
records, record each action's outcome on the runs.
"""

import logging
import secrets

from odoo import api, exceptions, fields, models
from odoo.tools import SQL, safe_eval

from ...tools.automation import ACTION_CODES, OFFSET_UNITS, TRIGGER_CODES, TRIGGERS, normalize_text, text_matches
from ...tools.phone import normalize_phone

_logger = logging.getLogger(__name__)


class BaseAutomation(models.Model):
    _inherit = "base.automation"

    trigger = fields.Selection(selection_add=TRIGGERS, ondelete={code: "cascade" for code in TRIGGER_CODES})
    company_id = fields.Many2one(
        "res.company", default=lambda self: self.env.company, index=True, help="Empty: every company."
    )
    spoki_rule = fields.Boolean(
        "WhatsApp rule",
        compute="_compute_spoki_rule",
        store=True,
        help="A WhatsApp trigger or a WhatsApp action: shown in WhatsApp › Automations.",
    )
    spoki_trigger_label = fields.Char(
        "Trigger label",
        compute="_compute_spoki_trigger_label",
        help="The trigger's name, WhatsApp triggers included (the rule lists show it: the trigger field "
        "outside WhatsApp › Automations doesn't list them, see fields_get).",
    )
    spoki_list_id = fields.Many2one("spoki.list", "List", ondelete="cascade", index="btree_not_null")
    spoki_date_field_id = fields.Many2one(
        "spoki.dynamic.field",
        "Date field",
        ondelete="cascade",
        domain="[('field_type', 'in', ('date', 'datetime')), ('on_contacts', '=', True)]",
    )
    spoki_date_field_type = fields.Selection(related="spoki_date_field_id.field_type")
    spoki_date_offset = fields.Integer(
        "Offset", default=0, help="Negative: before the date (-1 hours: one hour before WEBINAR_DATETIME)."
    )
    spoki_date_offset_unit = fields.Selection(
        [("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days")], "Offset unit", default="hours"
    )
    spoki_date_time = fields.Float(
        "At (contact's time)",
        default=9.0,
        help="For a date field: the time of day the rule fires, in the contact's timezone.",
    )
    spoki_date_yearly = fields.Boolean("Every year", help="Fire every year on the date (birthdays).")
    spoki_incoming_mode = fields.Selection(
        [("equals", "Equals the button's text"), ("keywords", "Contains a keyword")],
        "Message",
        default="equals",
    )
    spoki_incoming_template_id = fields.Many2one(
        "spoki.template", "Template", ondelete="cascade", help="The template whose quick-reply button was pressed."
    )
    spoki_incoming_text = fields.Char("Text", help="The quick-reply button's text, or keywords separated by commas.")
    spoki_webhook = fields.Boolean(
        "WhatsApp contact",
        help="The call carries a number (and values of dynamic fields): the contact is found by its normalised "
        "number or created, its dynamic fields filled, and the actions run on it.",
    )
    spoki_webhook_secret = fields.Char(
        "Secret",
        copy=False,
        groups="spoki_whatsapp.group_spoki_manager",
        default=lambda self: secrets.token_urlsafe(24),
        help="Sent by the caller in the X-Spoki-Secret header.",
    )
    spoki_run_count = fields.Integer("Runs", compute="_compute_spoki_run_count")
    spoki_preset = fields.Selection(
        [
            ("list_tag", "A contact enters a list: add a tag"),
            ("reminder", "Reminder 1 hour before each contact's date and time"),
            ("day_before", "Reminder at 09:00 the day before each contact's date"),
            ("yearly", "Every year on each contact's date (birthday)"),
            ("button", "Answer a quick-reply button"),
            ("webhook", "External software sends a number and values (webhook)"),
        ],
        "Preset",
        store=False,
        help="Fill the rule like the guide's examples; then choose the list, field or template and the actions.",
    )

    @api.depends("trigger", "action_server_ids.state", "spoki_webhook")
    def _compute_spoki_rule(self):
        for rule in self:
            rule.spoki_rule = (
                rule.trigger in TRIGGER_CODES
                or rule.spoki_webhook
                or any(state in ACTION_CODES for state in rule.action_server_ids.mapped("state"))
            )

    @api.depends("trigger")
    @api.depends_context("lang")
    def _compute_spoki_trigger_label(self):
        labels = dict(self._fields["trigger"]._description_selection(self.env))
        for rule in self:
            rule.spoki_trigger_label = labels.get(rule.trigger, "")

    def _compute_spoki_run_count(self):
        counts = dict(
            self.env["spoki.automation.run"]._read_group(
                [("automation_id", "in", self.ids)], ["automation_id"], ["__count"]
            )
        )
        for rule in self:
            rule.spoki_run_count = counts.get(rule, 0)

    @api.depends("trigger", "webhook_uuid", "spoki_webhook")
    def _compute_url(self):
        super()._compute_url()
        for rule in self.filtered(lambda r: r.trigger == "on_webhook" and r.spoki_webhook):
            rule.url = f"{rule.get_base_url()}/spoki/automation/{rule.webhook_uuid}"

    @api.constrains("trigger", "model_id", "spoki_list_id", "spoki_date_field_id", "spoki_incoming_text")
    def _check_spoki_trigger(self):
        for rule in self:
            if rule.trigger not in TRIGGER_CODES and not rule.spoki_webhook:
                continue
            model = "spoki.message" if rule.trigger == "on_spoki_incoming" else "res.partner"
            if rule.model_name != model:
                raise exceptions.ValidationError(
                    self.env._("The WhatsApp rule %(name)s runs on %(model)s.", name=rule.name, model=model)
                )
            if rule.trigger == "on_spoki_list_entry" and not rule.spoki_list_id:
                raise exceptions.ValidationError(self.env._("Choose the list."))
            if rule.trigger == "on_spoki_date" and not rule.spoki_date_field_id:
                raise exceptions.ValidationError(self.env._("Choose the date field."))
            if rule.trigger == "on_spoki_incoming":
                rule._check_spoki_incoming()

    def _check_spoki_incoming(self):
        if not (self.spoki_incoming_text or "").strip():
            raise exceptions.ValidationError(self.env._("Write the button's text or the keywords."))
        template = self.spoki_incoming_template_id
        if self.spoki_incoming_mode == "equals" and template:
            texts = {
                normalize_text(b["text"])
                for lang in template._bodies()
                for b in template._buttons_data(lang)
                if b["type"] == "quick_reply"
            }
            if normalize_text(self.spoki_incoming_text) not in texts:
                raise exceptions.ValidationError(
                    self.env._(
                        "“%(text)s” is not a quick-reply button of the template %(template)s.",
                        text=self.spoki_incoming_text,
                        template=template.name,
                    )
                )

    @api.onchange("spoki_preset")
    def _onchange_spoki_preset(self):
        if not self.spoki_preset:
            return
        partner_model = self.env["ir.model"]._get("res.partner")
        values = {
            "list_tag": {"trigger": "on_spoki_list_entry"},
            "reminder": {"trigger": "on_spoki_date", "spoki_date_offset": -1, "spoki_date_offset_unit": "hours"},
            "day_before": {
                "trigger": "on_spoki_date",
                "spoki_date_offset": -1,
                "spoki_date_offset_unit": "days",
                "spoki_date_time": 9.0,
            },
            "yearly": {
                "trigger": "on_spoki_date",
                "spoki_date_offset": 0,
                "spoki_date_offset_unit": "days",
                "spoki_date_time": 9.0,
                "spoki_date_yearly": True,
            },
            "button": {"trigger": "on_spoki_incoming", "spoki_incoming_mode": "equals"},
            "webhook": {"trigger": "on_webhook", "spoki_webhook": True},
        }[self.spoki_preset]
        model = self.env["ir.model"]._get("spoki.message") if self.spoki_preset == "button" else partner_model
        self.model_id = model
        self.update(values)
        if not self.name:
            self.name = dict(self._fields["spoki_preset"]._description_selection(self.env))[self.spoki_preset]

    @api.model
    def get_views(self, views, options=None):
        """The views of WhatsApp › Automations get every trigger (the web
        client passes no action context to ``get_views``, only the action)."""
        action_id = (options or {}).get("action_id")
        if action_id and action_id == self.env["ir.model.data"]._xmlid_to_res_id(
            "spoki_whatsapp.spoki_automation_action", raise_if_not_found=False
        ):
            self = self.with_context(spoki_automation=True)  # noqa: PLW0642 - the views of that action
        return super().get_views(views, options)

    @api.model
    def fields_get(self, allfields=None, attributes=None):
        """WhatsApp › Automations (context ``spoki_automation``, see
        :meth:`get_views`) shows every trigger, in a plain selection in its
        form. Elsewhere (Settings › Technical › Automation Rules, a link to a
        rule) Odoo's trigger widget groups the triggers it knows and fails on
        others: the WhatsApp triggers move to ``spoki_selection``, which the
        widget's patch (static/src/automation/) shows as a "WhatsApp" group."""
        result = super().fields_get(allfields, attributes)
        trigger = result.get("trigger", {})
        if not self.env.context.get("spoki_automation") and "selection" in trigger:
            trigger["spoki_selection"] = [item for item in trigger["selection"] if item[0] in TRIGGER_CODES]
            trigger["selection"] = [item for item in trigger["selection"] if item[0] not in TRIGGER_CODES]
        return result

    def write(self, vals):
        if vals.get("active") and "last_run" not in vals:
            # a date rule activated now starts from now: no catching up on the
            # dates that passed while it was off
            activated = self.filtered(lambda rule: not rule.active and rule.trigger == "on_spoki_date")
            if activated:
                activated.sudo().last_run = self.env["spoki.message"]._now()
        return super().write(vals)

    def _update_cron(self):
        # Odoo's time-rule cron is the system's: WhatsApp managers save rules too
        return super(BaseAutomation, self.sudo())._update_cron()

    def action_view_spoki_runs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("spoki_whatsapp.spoki_automation_run_action")
        action["domain"] = [("automation_id", "=", self.id)]
        return action

    def action_rotate_spoki_secret(self):
        self.ensure_one()
        self.check_access("write")
        self.sudo().spoki_webhook_secret = secrets.token_urlsafe(24)

    # ------------------------------------------------------------
    # RUNNING A RULE (every WhatsApp rule)
    # ------------------------------------------------------------

    def _process(self, records, domain_post=None):
        """WhatsApp rules run on all the records at once, with their runs
        recorded; other rules as Odoo runs them."""
        if not self.spoki_rule or self.trigger in TRIGGER_CODES:
            return super()._process(records, domain_post=domain_post)
        now = self.env["spoki.message"]._now()
        occurrence = f"{self.trigger}:{now.isoformat()}"
        if self.trigger == "on_webhook" and self.env.context.get("spoki_occurrence"):
            occurrence = self.env.context["spoki_occurrence"]
        return self._spoki_process(records, lambda record: occurrence)

    def _spoki_process(self, records, occurrence_of, partner_of=None):
        """Claim a run per record (unique per rule, contact and occurrence),
        run each action once on the records claimed now, record the outcomes.
        Returns the runs created."""
        self.ensure_one()
        Run = self.env["spoki.automation.run"].sudo()
        if not records:
            return Run
        partner_ids = partner_of(records) if partner_of else self._spoki_partner_ids(records)
        rows = [
            (partner_ids.get(record.id) or None, record._name, record.id, occurrence_of(record)) for record in records
        ]
        return self._spoki_act(Run._claim(self, rows))

    def _spoki_partner_ids(self, records):
        """{record id: partner id}: the record itself for contacts, else its
        ``partner_id``."""
        if records._name == "res.partner":
            return {pid: pid for pid in records.ids}
        if "partner_id" in records._fields:
            return {record.id: record.partner_id.id for record in records}
        return {}

    def _spoki_filter(self, records):
        """The records matching the rule's domain ("Apply on")."""
        if not self.filter_domain or not records:
            return records
        domain = safe_eval.safe_eval(self.filter_domain, self._get_eval_context())
        return records.sudo().search([("id", "in", records.ids)] + domain).with_env(records.env)

    @api.model
    def _spoki_rules(self, trigger, company=None, domain=None):
        rules = self.sudo().with_context(active_test=True).search([("trigger", "=", trigger)] + (domain or []))
        if company is not None:
            rules = rules.filtered(lambda r: not r.company_id or r.company_id == company)
        return rules

    # ------------------------------------------------------------
    # TRIGGER 1: a contact enters a list
    # ------------------------------------------------------------

    @api.model
    def _spoki_fire_list_entry(self, spoki_list, partner_ids):
        """``partner_ids`` just entered ``spoki_list`` (each once: the paths
        pass the rows they inserted). Each rule of the list runs once for all
        of them."""
        if not partner_ids:
            return
        rules = self._spoki_rules("on_spoki_list_entry", domain=[("spoki_list_id", "=", spoki_list.id)])
        if not rules:
            return
        now = self.env["spoki.message"]._now()
        occurrence = f"list:{spoki_list.id}:{now.isoformat()}"
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        for rule in rules:
            partners = rule._spoki_filter(Partner.browse(partner_ids))
            rule._spoki_process(partners, lambda record, occurrence=occurrence: occurrence)

    # ------------------------------------------------------------
    # TRIGGER 2: a date of a dynamic field reaches an offset
    # ------------------------------------------------------------

    @api.model
    def _cron_spoki_dates(self):
        """Cron "WhatsApp: automation dates": run every date rule for the
        contacts whose moment fell between the rule's last run and now."""
        auto_commit = self.env["spoki.message"]._auto_commit_default()
        for rule in self._spoki_rules("on_spoki_date"):
            rule._spoki_run_dates()
            if auto_commit:
                self.env.cr.commit()

    def _spoki_moment_sql(self):
        """SQL of the UTC moment (naive timestamp) the rule fires for a value
        row ``v`` of a contact ``p`` in year ``y.year`` (yearly rules), in the
        contact's timezone (else the company's, else UTC)."""
        unit, wall_clock = OFFSET_UNITS[self.spoki_date_offset_unit or "hours"]
        offset = SQL("make_interval(%s => %s)", SQL(unit), self.spoki_date_offset or 0)
        tz = SQL("COALESCE(NULLIF(p.tz, ''), NULLIF(cp.tz, ''), 'UTC')")
        if self.spoki_date_field_id.field_type == "date":
            day = SQL("v.value_date")
            if self.spoki_date_yearly:
                day = SQL("(v.value_date + make_interval(years => y.year - EXTRACT(YEAR FROM v.value_date)::int))")
            at = SQL("make_interval(secs => %s)", round((self.spoki_date_time or 0.0) * 3600))
            if wall_clock:
                local = SQL("(%s + %s + %s)", day, offset, at)
                return SQL("((%s) AT TIME ZONE %s AT TIME ZONE 'UTC')", local, tz)
            return SQL("(((%s + %s) AT TIME ZONE %s AT TIME ZONE 'UTC') + %s)", day, at, tz, offset)
        value = SQL("v.value_datetime")
        if self.spoki_date_yearly:
            value = SQL(
                "(v.value_datetime + make_interval(years => y.year - EXTRACT(YEAR FROM v.value_datetime)::int))"
            )
        if wall_clock:
            local = SQL("((%s AT TIME ZONE 'UTC' AT TIME ZONE %s) + %s)", value, tz, offset)
            return SQL("(%s AT TIME ZONE %s AT TIME ZONE 'UTC')", local, tz)
        return SQL("(%s + %s)", value, offset)

    def _spoki_run_dates(self, now=None):
        """Claim, in one INSERT … SELECT, a run per contact whose moment is in
        (last run, now], then act on them. The rule's row is locked (SKIP
        LOCKED): two servers never compute the same rule at once, and the
        unique runs make a second pass over the same window a no-op."""
        self.ensure_one()
        now = now or self.env["spoki.message"]._now()
        self.env.flush_all()
        self.env.cr.execute(
            SQL("SELECT last_run, create_date FROM base_automation WHERE id = %s FOR UPDATE SKIP LOCKED", self.id)
        )
        row = self.env.cr.fetchone()
        if not row:
            return self.env["spoki.automation.run"]
        since = row[0] or row[1]
        if since >= now:
            return self.env["spoki.automation.run"]
        moment = self._spoki_moment_sql()
        column = "value_date" if self.spoki_date_field_id.field_type == "date" else "value_datetime"
        partner_query = (
            self.env["res.partner"]
            .sudo()
            ._search(safe_eval.safe_eval(self.filter_domain, self._get_eval_context()) if self.filter_domain else [])
        )
        years = SQL("")
        bounds = SQL("")
        if self.spoki_date_yearly:
            years = SQL(", generate_series(%s, %s) AS y(year)", since.year - 1, now.year + 1)
        else:
            # index range on (field, value): the offset plus two days of timezone slack
            factor = {"minutes": 60, "hours": 3600, "days": 86400}[self.spoki_date_offset_unit or "hours"]
            shift = (self.spoki_date_offset or 0) * factor
            bounds = SQL(
                "AND v.%s BETWEEN %s - make_interval(secs => %s + 172800) AND %s - make_interval(secs => %s - 172800)",
                SQL.identifier(column),
                since,
                shift,
                now,
                shift,
            )
        self.env.cr.execute(
            SQL(
                """INSERT INTO spoki_automation_run
                       (automation_id, partner_id, res_model, res_id, occurrence, company_id, state,
                        create_uid, create_date, write_uid, write_date)
                   SELECT %(rule)s, due.partner_id, 'res.partner', due.partner_id,
                          'date:' || to_char(due.moment, 'YYYY-MM-DD"T"HH24:MI:SS'), %(company)s, 'running',
                          %(uid)s, %(now)s, %(uid)s, %(now)s
                     FROM (SELECT p.id AS partner_id, %(moment)s AS moment
                             FROM spoki_dynamic_value v
                             JOIN res_partner p ON p.id = v.partner_id AND p.active
                        LEFT JOIN res_company c ON c.id = p.company_id
                        LEFT JOIN res_partner cp ON cp.id = c.partner_id %(years)s
                            WHERE v.field_id = %(field)s AND v.%(column)s IS NOT NULL %(bounds)s
                              AND p.id IN (%(partners)s)
                              AND (%(company)s::int IS NULL OR p.company_id IS NULL OR p.company_id = %(company)s)
                          ) due
                    WHERE due.moment > %(since)s AND due.moment <= %(now)s
                   ON CONFLICT (automation_id, partner_id, occurrence) DO NOTHING
                   RETURNING res_id, id""",
                rule=self.id,
                company=self.company_id.id or None,
                uid=self.env.uid,
                now=now,
                since=since,
                moment=moment,
                years=years,
                bounds=bounds,
                field=self.spoki_date_field_id.id,
                column=SQL.identifier(column),
                partners=partner_query.select(SQL.identifier("res_partner", "id")),
            )
        )
        claimed = dict(self.env.cr.fetchall())
        self.env.cr.execute(SQL("UPDATE base_automation SET last_run = %s WHERE id = %s", now, self.id))
        self.invalidate_recordset(["last_run"])
        return self._spoki_act(claimed)

    def _spoki_act(self, claimed):
        """Run the actions on the records of runs claimed in SQL ({res id: run id})."""
        Run = self.env["spoki.automation.run"].sudo()
        if not claimed:
            return Run
        Run.invalidate_model()
        records = self.env[self.model_name].sudo().browse(list(claimed))
        outcomes = {}
        try:
            with self.env.cr.savepoint():
                for action in self.sudo().action_server_ids.sorted(lambda a: (a.sequence, a.id)):
                    action.with_context(
                        active_model=records._name,
                        active_ids=records.ids,
                        active_id=records.ids[0],
                        spoki_outcomes=outcomes,
                        spoki_rule_id=self.id,
                    ).run()
        except Exception as exc:  # noqa: BLE001 - the run records why it failed
            _logger.exception("WhatsApp automation %s failed", self.id)
            Run._record_outcomes({res_id: [str(exc)] for res_id in claimed}, claimed, failed=True)
            return Run.browse(list(claimed.values()))
        Run._record_outcomes(outcomes, claimed)
        return Run.browse(list(claimed.values()))

    # ------------------------------------------------------------
    # TRIGGER 3: an incoming message
    # ------------------------------------------------------------

    @api.model
    def _spoki_fire_incoming(self, messages):
        """Incoming ``messages`` (just stored) fire the rules whose text they
        match; each message fires a rule once."""
        messages = messages.filtered(lambda m: m.direction == "incoming" and m.body)
        if not messages:
            return
        for rule in self._spoki_rules("on_spoki_incoming"):
            # a quick reply of the rule's template: its text in every language
            variants = (
                rule.spoki_incoming_template_id.sudo()._button_text_variants(rule.spoki_incoming_text)
                if rule.spoki_incoming_mode == "equals" and rule.spoki_incoming_template_id
                else set()
            )
            matched = messages.filtered(
                lambda m, rule=rule, variants=variants: (
                    (not rule.company_id or m.account_id.company_id == rule.company_id)
                    and (
                        not rule.spoki_incoming_template_id
                        or m.account_id == rule.spoki_incoming_template_id.account_id
                    )
                    and (
                        text_matches(m.body, rule.spoki_incoming_mode, rule.spoki_incoming_text)
                        or normalize_text(m.body) in variants
                    )
                )
            )
            matched = rule._spoki_filter(matched)
            if matched:
                rule._spoki_process(matched.sudo(), lambda message: f"message:{message.id}")

    # ------------------------------------------------------------
    # TRIGGER 4: a webhook with a WhatsApp number
    # ------------------------------------------------------------

    def _spoki_execute_webhook(self, payload, occurrence):
        """Find or create the contact of ``payload['number']``, store its ON
        dynamic fields, run the actions with the OFF ones. Raises
        ValidationError / UserError for a bad call (the caller rolls back)."""
        self.ensure_one()
        if not isinstance(payload, dict):
            raise exceptions.ValidationError(self.env._("The body must be a JSON object."))
        raw = str(payload.get("number") or payload.get("phone") or "").strip()
        company = self.company_id or self.env.company
        result = normalize_phone(raw, company.country_id.code or None) if raw else None
        if not result or not result.valid:
            raise exceptions.ValidationError(self.env._("“%(number)s” is not a valid WhatsApp number.", number=raw))
        values = payload.get("values") or {}
        if not isinstance(values, dict):
            raise exceptions.ValidationError(self.env._("“values” must be an object {FIELD: value}."))
        Field = self.env["spoki.dynamic.field"].sudo()
        on_fields = Field._get_by_names(set(values), on_contacts=True)
        on_values = {name: value for name, value in values.items() if name in on_fields}
        off_values = {name: value for name, value in values.items() if name not in on_fields}
        unknown = set(off_values) - set(Field._get_by_names(set(off_values), on_contacts=False))
        if unknown:
            raise exceptions.ValidationError(
                self.env._("Unknown dynamic fields: %(names)s", names=", ".join(sorted(unknown)))
            )
        Partner = self.env["res.partner"].sudo()
        partner = Partner.search(
            [("wa_phone", "=", result.e164), ("company_id", "in", [False, company.id])], order="id", limit=1
        )
        if not partner:
            partner = Partner.create(
                {"name": payload.get("name") or result.e164, "mobile": result.e164, "company_id": company.id}
            )
        partner._spoki_set_values(on_values)
        runs = self.with_context(spoki_payload_values=off_values, spoki_occurrence=occurrence)._spoki_process(
            partner, lambda record: occurrence
        )
        return partner, runs
