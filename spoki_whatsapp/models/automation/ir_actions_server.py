"""WhatsApp server action types: usable in automation rules and from any
list's Actions menu (binding), like SMS's ``sms`` action.

Every type runs once on all its records (``_run_action_<type>_multi``): a rule
firing for 10,000 contacts enqueues 10,000 messages with one INSERT, tags them
with one INSERT, etc. In a rule, what each action did for each record is
collected in ``context['spoki_outcomes']`` ({record id: [lines]}) and written
on the runs (``spoki.automation.run``)."""

from odoo import api, exceptions, fields, models
from odoo.tools import SQL, safe_eval

from ...tools.automation import ACTION_CODES, ACTION_TYPES


class IrActionsServer(models.Model):
    _inherit = "ir.actions.server"

    state = fields.Selection(selection_add=ACTION_TYPES, ondelete={code: "cascade" for code in ACTION_CODES})
    spoki_account_id = fields.Many2one("spoki.account", "WhatsApp account", ondelete="cascade")
    spoki_template_id = fields.Many2one(
        "spoki.template",
        "WhatsApp template",
        ondelete="cascade",
        domain="[('account_id', '=', spoki_account_id), ('state', '=', 'approved')]",
    )
    spoki_partner_field = fields.Char(
        "Contact",
        help="Path from the record to its contact (e.g. partner_id, or partner_id.parent_id). Empty: the record "
        "itself for contacts, else its partner_id.",
    )
    spoki_values = fields.Char(
        "Values",
        help="Values of OFF dynamic fields, a Python dictionary evaluated for each record, e.g. "
        "{'WEBINAR_LINK': record.website}. Values sent to a webhook rule are added (variable payload).",
    )
    spoki_body = fields.Text("Reply", translate=True, help="Sent only inside the 24-hour customer-service window.")
    spoki_tag_ids = fields.Many2many(
        "res.partner.category", "ir_act_server_spoki_tag_rel", "action_id", "category_id", string="Tags"
    )
    spoki_tag_target = fields.Selection(
        [("contact", "The contact"), ("message", "The message (and its contact)"), ("chat", "The chat")],
        "Tag",
        default="contact",
    )
    spoki_operation = fields.Selection([("add", "Add"), ("remove", "Remove")], "Operation", default="add")
    spoki_list_id = fields.Many2one("spoki.list", "WhatsApp list", ondelete="cascade")
    spoki_user_id = fields.Many2one(
        "res.users", "Assign to", help="Empty: the account's rule (salesperson, else round-robin over the team)."
    )

    @api.constrains("state", "spoki_template_id", "spoki_account_id", "spoki_list_id", "spoki_body")
    def _check_spoki_action(self):
        for action in self.filtered(lambda a: a.state in ACTION_CODES):
            if action.state == "spoki_template" and not (action.spoki_account_id and action.spoki_template_id):
                raise exceptions.ValidationError(self.env._("Choose the WhatsApp account and template."))
            if action.state == "spoki_template" and action.spoki_template_id.account_id != action.spoki_account_id:
                raise exceptions.ValidationError(self.env._("The template belongs to another WhatsApp account."))
            if action.state == "spoki_text" and not (action.spoki_body or "").strip():
                raise exceptions.ValidationError(self.env._("Write the reply."))
            if action.state == "spoki_list" and not action.spoki_list_id:
                raise exceptions.ValidationError(self.env._("Choose the list."))

    @api.depends("spoki_template_id", "spoki_list_id", "spoki_tag_ids", "spoki_operation", "spoki_user_id")
    def _compute_name(self):
        super()._compute_name()
        for action in self.filtered(lambda a: a.base_automation_id and a.state in ACTION_CODES):
            action.name = action._spoki_label()

    def _spoki_label(self):
        _ = self.env._
        tags = ", ".join(self.spoki_tag_ids.mapped("name"))
        match self.state:
            case "spoki_template":
                return _("Send WhatsApp template: %(name)s", name=self.spoki_template_id.name or "")
            case "spoki_text":
                return _("Send WhatsApp reply")
            case "spoki_tags" if self.spoki_operation == "remove":
                return _("Remove tags: %(tags)s", tags=tags)
            case "spoki_tags":
                return _("Add tags: %(tags)s", tags=tags)
            case "spoki_list" if self.spoki_operation == "remove":
                return _("Remove from list: %(name)s", name=self.spoki_list_id.name or "")
            case "spoki_list":
                return _("Add to list: %(name)s", name=self.spoki_list_id.name or "")
        return _("Assign WhatsApp chat")

    # ------------------------------------------------------------
    # HELPERS
    # ------------------------------------------------------------

    def _spoki_records(self, eval_context):
        """The records of the run; outside an automation (Actions menu) only
        WhatsApp users may run WhatsApp actions."""
        if not self.env.context.get("spoki_rule_id") and not self.env.user.has_group("spoki_whatsapp.group_spoki_user"):
            raise exceptions.AccessError(self.env._("Only WhatsApp users can run WhatsApp actions."))
        return eval_context.get("records") or eval_context.get("record") or eval_context["model"]

    def _spoki_partners(self, records):
        """{record id: partner} along the action's contact path."""
        if not self.spoki_partner_field and records._name == "res.partner":
            return {record.id: record for record in records}
        path = self.spoki_partner_field or "partner_id"
        result = {}
        for record in records:
            partner = record.mapped(path)[:1]
            if partner._name != "res.partner":
                raise exceptions.UserError(self.env._("“%(path)s” doesn't lead to a contact.", path=path))
            if partner:
                result[record.id] = partner
        return result

    def _spoki_outcome(self, record_ids, text):
        outcomes = self.env.context.get("spoki_outcomes")
        if outcomes is None:
            return
        for record_id in record_ids:
            outcomes.setdefault(record_id, []).append(text)

    def _spoki_payloads(self, records):
        """{record id: values of OFF fields}: the action's expression per
        record, over the webhook call's values."""
        base = dict(self.env.context.get("spoki_payload_values") or {})
        if not self.spoki_values:
            return {record.id: base for record in records}
        result = {}
        for record in records:
            values = safe_eval.safe_eval(
                self.spoki_values, {"record": record, "payload": base, "env": self.env, "user": self.env.user}
            )
            if not isinstance(values, dict):
                raise exceptions.UserError(self.env._("The values must be a dictionary {FIELD: value}."))
            result[record.id] = dict(base, **values)
        return result

    # ------------------------------------------------------------
    # RUNNERS
    # ------------------------------------------------------------

    def _run_action_spoki_template_multi(self, eval_context=None):
        records = self._spoki_records(eval_context)
        partners = self._spoki_partners(records)
        payloads = self._spoki_payloads(records)
        groups = {}
        for record_id, partner in partners.items():
            key = tuple(sorted((str(k), str(v)) for k, v in payloads[record_id].items()))
            groups.setdefault(key, {})[record_id] = partner
        Message = self.env["spoki.message"]
        _ = self.env._
        for key, by_record in groups.items():
            result = Message._spoki_enqueue_template_bulk(
                self.spoki_account_id,
                self.spoki_template_id,
                by_record,
                dict(key),
                tags=self.spoki_tag_ids,
                rule_id=self.env.context.get("spoki_rule_id"),
            )
            queued = [rid for rid, state in result.items() if state == "queued"]
            self._spoki_outcome(queued, _("Template %(name)s queued.", name=self.spoki_template_id.name))
            for reason in {state for state in result.values() if state != "queued"}:
                self._spoki_outcome(
                    [rid for rid, state in result.items() if state == reason],
                    _("Template %(name)s not sent: %(reason)s", name=self.spoki_template_id.name, reason=reason),
                )
        self._spoki_outcome(
            [record.id for record in records if record.id not in partners], _("No contact: nothing sent.")
        )
        return False

    def _run_action_spoki_text_multi(self, eval_context=None):
        """A free-text reply, only inside the customer-service window:
        otherwise skipped, with the reason on the run."""
        records = self._spoki_records(eval_context)
        partners = self._spoki_partners(records)
        Message = self.env["spoki.message"]
        now = Message._now()
        _ = self.env._
        sent, closed = [], []
        by_account = {}
        for record in records:
            partner = partners.get(record.id)
            account = record.account_id if record._name == "spoki.message" else self.spoki_account_id
            number = record.wa_phone if record._name == "spoki.message" else partner and partner.wa_phone
            if not account or not number:
                closed.append(record.id)
                continue
            by_account.setdefault(account, []).append((record.id, number, partner))
        for account, items in by_account.items():
            open_numbers = account._open_window_numbers([number for _rid, number, _p in items], now)
            for record_id, number, partner in items:
                if number not in open_numbers:
                    closed.append(record_id)
                    continue
                Message._enqueue_text(account, number, self.spoki_body, partner=partner or None, check_window=False)
                sent.append(record_id)
        self._spoki_outcome(sent, _("Reply queued."))
        self._spoki_outcome(closed, _("Reply skipped: the 24-hour customer-service window is closed."))
        return False

    def _run_action_spoki_tags_multi(self, eval_context=None):
        records = self._spoki_records(eval_context)
        tags = self.spoki_tag_ids
        _ = self.env._
        names = ", ".join(tags.mapped("name"))
        if self.spoki_tag_target == "message" and records._name == "spoki.message":
            records.sudo()._add_tags(tags)
            self._spoki_outcome(records.ids, _("Message tagged: %(tags)s", tags=names))
            return False
        partners = self._spoki_partners(records)
        partner_ids = list({partner.id for partner in partners.values()})
        if self.spoki_tag_target == "chat":
            chats = self.env["spoki.chat"].sudo().search([("partner_id", "in", partner_ids)])
            if records._name == "spoki.message":
                keys = {(m.account_id.id, m.wa_phone) for m in records}
                chats = chats.filtered(lambda c: (c.account_id.id, c.wa_phone) in keys)
            if self.spoki_operation == "remove":
                chats.write({"tag_ids": [(3, tag.id) for tag in tags]})
            else:
                chats.write({"tag_ids": [(4, tag.id) for tag in tags]})
            self._spoki_outcome(records.ids, _("Chat tags: %(tags)s", tags=names))
            return False
        self.env["res.partner"].flush_model(["category_id"])
        if self.spoki_operation == "remove":
            self.env.cr.execute(
                SQL(
                    """DELETE FROM res_partner_res_partner_category_rel
                        WHERE partner_id = ANY(%s) AND category_id = ANY(%s)""",
                    partner_ids,
                    tags.ids,
                )
            )
            self._spoki_outcome(list(partners), _("Tags removed: %(tags)s", tags=names))
        else:
            self.env.cr.execute(
                SQL(
                    """INSERT INTO res_partner_res_partner_category_rel (category_id, partner_id)
                       SELECT t, p FROM unnest(%s::int[]) t, unnest(%s::int[]) p
                       ON CONFLICT DO NOTHING""",
                    tags.ids,
                    partner_ids,
                )
            )
            self._spoki_outcome(list(partners), _("Tags added: %(tags)s", tags=names))
        self.env["res.partner"].invalidate_model(["category_id"])
        self.env["res.partner.category"].invalidate_model(["partner_ids"])
        return False

    def _run_action_spoki_list_multi(self, eval_context=None):
        """Add to / remove from a list, through the list's own bulk paths (an
        entry fires the list's rules)."""
        records = self._spoki_records(eval_context)
        partners = self._spoki_partners(records)
        partner_ids = list({partner.id for partner in partners.values()})
        spoki_list = self.spoki_list_id.sudo()
        _ = self.env._
        if self.spoki_operation == "remove":
            spoki_list._remove_partners_by_domain([("id", "in", partner_ids)])
            self._spoki_outcome(list(partners), _("Removed from the list %(name)s.", name=spoki_list.name))
        else:
            spoki_list._add_partners_by_domain([("id", "in", partner_ids)])
            self._spoki_outcome(list(partners), _("Added to the list %(name)s.", name=spoki_list.name))
        return False

    def _run_action_spoki_assign_multi(self, eval_context=None):
        records = self._spoki_records(eval_context)
        partners = self._spoki_partners(records)
        Chat = self.env["spoki.chat"].sudo()
        chats = Chat.search([("partner_id", "in", list({p.id for p in partners.values()}))])
        if records._name == "spoki.message":
            keys = {(m.account_id.id, m.wa_phone) for m in records}
            chats = chats.filtered(lambda c: (c.account_id.id, c.wa_phone) in keys)
        taken = {}
        for chat in chats:
            user = self.spoki_user_id or chat.account_id._chat_default_user(chat.partner_id, taken)
            chat.user_id = user
        self._spoki_outcome(
            records.ids,
            self.env._("Chat assigned to %(user)s.", user=self.spoki_user_id.name or self.env._("the team")),
        )
        return False
