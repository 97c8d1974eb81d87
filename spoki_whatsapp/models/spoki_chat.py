from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools.misc import babel_locale_parse, format_datetime, get_lang, posix_to_ldml

from ..tools.template_rules import _CODE_RE, _STYLE_RES
from ..tools.vocabulary import SERVICE_WINDOW

TRANSCRIPT_LIMIT = 300
#: written only by the product's own paths (sudo) once the chat exists
FIXED_FIELDS = ("account_id", "wa_phone", "partner_id", "last_message_date", "last_direction")

TICK_STYLE = {
    "queued": ("🕓", "#8696a0"),
    "sending": ("🕓", "#8696a0"),
    "sent": ("✓", "#8696a0"),
    "delivered": ("✓✓", "#8696a0"),
    "read": ("✓✓", "#34b7f1"),
    "failed": ("⚠", "#d9534f"),
}


class SpokiChat(models.Model):
    """The chat with one number on one WhatsApp account ("Go to chat").

    Agents read and answer it in Discuss: each chat has a ``discuss.channel``
    of type ``whatsapp`` (``discuss/``), created when the conversation becomes
    a chat (the customer writes, an agent opens it). The ledger
    (``spoki.message``) stays the one source of reports, tier counters and
    states: every message shown in the channel is linked one-to-one with its
    ledger row, its ticks are the row's state (sent live over the bus), and
    what an agent posts goes through the chat's rules (opt-out, the 24-hour
    window) and the send queue. This form remains a read-only view of the
    ledger for the number (all messages, ticks, rendered templates) with the
    template composer used outside the window; the contact's chatter still
    gets every message, so the CRM history stays in one place.
    """

    _name = "spoki.chat"
    _description = "WhatsApp chat"
    _order = "last_message_date desc, id desc"
    _rec_name = "display_name"

    account_id = fields.Many2one("spoki.account", "WhatsApp account", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    partner_id = fields.Many2one("res.partner", "Contact", ondelete="set null", index="btree_not_null")
    wa_phone = fields.Char("Number", required=True, index=True)
    last_message_date = fields.Datetime("Last message", readonly=True)
    last_direction = fields.Selection([("outgoing", "Outgoing"), ("incoming", "Incoming")], readonly=True)
    needs_reply = fields.Boolean(compute="_compute_needs_reply", store=True, help="The customer wrote last.")
    message_ids = fields.One2many("spoki.message", compute="_compute_messages", string="Messages")
    transcript_html = fields.Html("Conversation", compute="_compute_messages", sanitize=False)
    last_incoming_date = fields.Datetime(compute="_compute_window")
    window_open = fields.Boolean("Window open", compute="_compute_window")
    window_end = fields.Datetime("Window open until", compute="_compute_window")
    opted_out = fields.Boolean(related="partner_id.wa_opt_out")
    # composer (kept on the record between clicks; cleared after sending)
    composer_body = fields.Text("Reply")
    composer_template_id = fields.Many2one(
        "spoki.template",
        "Template",
        domain="[('account_id', '=', account_id), ('state', '=', 'approved')]",
    )
    composer_preview = fields.Html("Preview", compute="_compute_composer_preview", sanitize=False)
    composer_missing = fields.Char("Missing values", compute="_compute_composer_preview")
    composer_needed = fields.Json("Values to fill in", compute="_compute_composer_preview")
    composer_payload = fields.Json(
        "Values for this message", help="Dynamic values the contact lacks, typed in the template picker."
    )

    _sql_constraints = [
        ("account_phone_uniq", "unique(account_id, wa_phone)", "There is already a chat with this number."),
    ]

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("partner_id", "wa_phone")
    def _compute_display_name(self):
        for chat in self:
            name = chat.partner_id.name
            chat.display_name = f"{name} ({chat.wa_phone})" if name and name != chat.wa_phone else chat.wa_phone

    @api.depends("last_direction")
    def _compute_needs_reply(self):
        for chat in self:
            chat.needs_reply = chat.last_direction == "incoming"

    def _compute_messages(self):
        Message = self.env["spoki.message"]
        for chat in self:
            if not chat.id and not chat.wa_phone:
                chat.message_ids = Message
                chat.transcript_html = False
                continue
            messages = Message.search(
                [("account_id", "=", chat.account_id.id), ("wa_phone", "=", chat.wa_phone)],
                order="message_date desc, id desc",
                limit=TRANSCRIPT_LIMIT,
            )
            chat.message_ids = messages.sorted(lambda m: (m.message_date, m.id))
            chat.transcript_html = chat._render_transcript(messages)

    def _compute_window(self):
        now = self.env["spoki.message"]._now()
        for chat in self:
            ends = {}
            if chat.account_id and chat.wa_phone:
                ends = chat.account_id._open_window_numbers([chat.wa_phone], now)
            end = ends.get(chat.wa_phone)
            chat.window_open = bool(end)
            chat.window_end = end or False
            chat.last_incoming_date = end - SERVICE_WINDOW if end else False

    @api.depends("composer_template_id", "partner_id", "composer_payload")
    def _compute_composer_preview(self):
        """Preview for the contact; the values it lacks (``composer_needed``)
        are asked for in the picker (``composer_payload``), and those still
        missing (``composer_missing``) keep the template from being sent."""
        for chat in self:
            template = chat.composer_template_id
            if not template or not chat.partner_id:
                chat.composer_preview = False
                chat.composer_missing = False
                chat.composer_needed = False
                continue
            payload = chat._composer_payload()
            rendered = template._render_for_partner(chat.partner_id, payload)
            needed = template._render_for_partner(chat.partner_id)["missing"] if payload else rendered["missing"]
            chat.composer_preview = chat._bubble(rendered["body"], outgoing=True)
            chat.composer_missing = ", ".join(rendered["missing"]) or False
            chat.composer_needed = list(needed) or False

    def _composer_payload(self):
        """The values typed in the picker for the names the contact lacks."""
        self.ensure_one()
        payload = self.composer_payload if isinstance(self.composer_payload, dict) else {}
        return {str(name): str(value).strip() for name, value in payload.items() if value and str(value).strip()}

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        Message = self.env["spoki.message"]
        for vals in vals_list:
            if vals.get("wa_phone"):
                vals["wa_phone"] = Message._normalize_number(vals["wa_phone"], vals.get("account_id"))
        return super().create(vals_list)

    def write(self, vals):
        """The number, the account and the contact of a chat are fixed once
        it exists (its messages, window and opt-out are those of that number
        on that account), and its activity markers are kept by the product:
        only the product's own paths (sudo) change them. A user may link a
        chat without a contact to a contact with the same number."""
        if not self.env.su:
            fixed = sorted(set(vals) & set(FIXED_FIELDS))
            if fixed == ["partner_id"] and self._can_link_partner(vals["partner_id"]):
                fixed = []
            if fixed:
                raise AccessError(
                    self.env._(
                        "The number, WhatsApp account and contact of a chat can't be changed: open the chat "
                        "of the other number or contact instead."
                    )
                )
        if vals.get("wa_phone"):
            vals = dict(
                vals, wa_phone=self.env["spoki.message"]._normalize_number(vals["wa_phone"], self.account_id[:1].id)
            )
        result = super().write(vals)
        if "user_id" in vals:
            self._spoki_sync_channel_members()
        if {"user_id", "tag_ids"} & set(vals):
            self._spoki_send_panel()
        return result

    def _can_link_partner(self, partner_id):
        partner = self.env["res.partner"].browse(partner_id)
        return bool(partner) and all(not chat.partner_id and chat.wa_phone == partner.wa_phone for chat in self)

    # ------------------------------------------------------------
    # RENDERING
    # ------------------------------------------------------------

    def _bubble(self, body, outgoing, meta=None, header=None):
        meta = meta or Markup("")
        header = header or Markup("")
        align = "flex-end" if outgoing else "flex-start"
        color = "#d9fdd3" if outgoing else "#ffffff"
        text = _whatsapp_format(body)
        return Markup(
            '<div style="display:flex;justify-content:%s;margin:4px 0;">'
            '<div style="max-width:75%%;background:%s;border-radius:8px;padding:6px 9px;'
            'box-shadow:0 1px 0.5px rgba(11,20,26,.13);color:#111b21;">%s'
            '<div style="white-space:pre-wrap;word-wrap:break-word;">%s</div>%s</div></div>'
        ) % (align, color, header, text, meta)

    def _bubble_datetime_format(self):
        """The user's language date and short time formats (Settings ›
        Languages), as a babel pattern, for the bubbles' timestamps."""
        lang = get_lang(self.env)
        locale = babel_locale_parse(lang.code)
        return posix_to_ldml(f"{lang.date_format} {lang.short_time_format}", locale=locale)

    def _render_transcript(self, messages):
        """WhatsApp-like bubbles, newest at the bottom (the container scrolls
        from the bottom: column-reverse with the newest first)."""
        self.ensure_one()
        if not messages:
            return Markup('<p class="text-muted">%s</p>') % self.env._("No messages yet.")
        parts = []
        tz = self.env.context.get("tz") or self.env.user.tz or "UTC"
        when_format = self._bubble_datetime_format()
        for message in messages:  # newest first
            outgoing = message.direction == "outgoing"
            when = format_datetime(self.env, message.message_date, tz=tz, dt_format=when_format)
            tick, color = TICK_STYLE.get(message.state, ("", "#8696a0"))
            title = message.error_message or dict(message._fields["state"]._description_selection(self.env)).get(
                message.state, ""
            )
            meta = Markup(
                '<div style="text-align:right;font-size:11px;color:#667781;margin-top:2px;">%s'
                ' <span title="%s" style="color:%s;font-weight:bold;">%s</span></div>'
            ) % (when, title, color, tick if outgoing else "")
            header = Markup("")
            if message.kind == "template" and message.template_id:
                header = Markup('<div style="font-size:11px;color:#667781;">%s · %s</div>') % (
                    self.env._("Template"),
                    message.template_id.name,
                )
            elif outgoing and message.user_id:
                header = Markup('<div style="font-size:11px;color:#667781;">%s</div>') % message.user_id.name
            if message.state == "failed" and message.error_message:
                meta += Markup('<div style="font-size:11px;color:#d9534f;">%s</div>') % message.error_message
            parts.append(self._bubble(message.body, outgoing, meta, header))
        return Markup(
            '<div class="o_spoki_chat_transcript" style="display:flex;flex-direction:column-reverse;'
            'max-height:60vh;overflow-y:auto;background:#efeae2;padding:10px;border-radius:6px;">%s</div>'
        ) % Markup("").join(parts)

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_send_text(self):
        self.ensure_one()
        self.check_access("write")
        self._check_can_send()
        message = self.env["spoki.message"]._enqueue_text(
            self.account_id, self.wa_phone, self.composer_body or "", partner=self.partner_id
        )
        self.composer_body = False
        self._touch(message)
        return True

    def action_send_template(self):
        self.ensure_one()
        self.check_access("write")
        self._check_can_send()
        if not self.composer_template_id:
            raise UserError(self.env._("Choose an approved template."))
        if not self.partner_id:
            raise UserError(self.env._("Link the chat to a contact first: templates are rendered with its values."))
        payload = self._composer_payload()
        needed = self.composer_template_id._render_for_partner(self.partner_id)["missing"]
        message = self.env["spoki.message"]._enqueue_template(
            self.account_id,
            self.composer_template_id,
            self.partner_id,
            payload={name: value for name, value in payload.items() if name in needed} or None,
            number=self.wa_phone,
        )
        self.write({"composer_template_id": False, "composer_payload": False})
        self._touch(message)
        return True

    def action_refresh(self):
        return True

    def action_open_partner(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.partner",
            "res_id": self.partner_id.id,
            "view_mode": "form",
        }

    def _check_can_send(self):
        if self.partner_id.wa_opt_out:
            raise UserError(
                self.env._("%(name)s opted out of WhatsApp messages: nothing can be sent.", name=self.partner_id.name)
            )

    def _action_open(self):
        """ "Go to chat": the chat window of the chat's Discuss channel."""
        self.ensure_one()
        return self._spoki_open_chat_window()

    # ------------------------------------------------------------
    # PRIVATE
    # ------------------------------------------------------------

    @api.model
    def _last_outgoing(self, domain=()):
        """The last message sent to this chat's number (matching ``domain``)."""
        self.ensure_one()
        return (
            self.env["spoki.message"]
            .sudo()
            .search(
                [
                    ("account_id", "=", self.account_id.id),
                    ("wa_phone", "=", self.wa_phone),
                    ("direction", "=", "outgoing"),
                ]
                + list(domain),
                order="message_date desc, id desc",
                limit=1,
            )
        )

    def _default_account_for(self, number, company=None):
        """Account of the last message exchanged with ``number``, else the
        first account of the contact's (or current) company."""
        last = self.env["spoki.message"].search([("wa_phone", "=", number)], order="message_date desc", limit=1)
        if last:
            return last.account_id
        Account = self.env["spoki.account"]
        company = company or self.env.company
        return Account.search([("company_id", "=", company.id)], limit=1) or Account.search([], limit=1)

    @api.model
    def _get_or_create(self, account, number, partner=None):
        number = self.env["spoki.message"]._normalize_number(number, account.id)
        chat = self.sudo().search([("account_id", "=", account.id), ("wa_phone", "=", number)], limit=1)
        if not chat:
            chat = self.sudo().create(
                {"account_id": account.id, "wa_phone": number, "partner_id": partner.id if partner else False}
            )
        elif partner and not chat.partner_id:
            chat.partner_id = partner
        return chat.with_env(self.env)

    def _touch(self, message):
        """Record the last activity (chat list order, "needs reply")."""
        for chat in self.sudo():
            if not chat.last_message_date or message.message_date >= chat.last_message_date:
                chat.write({"last_message_date": message.message_date, "last_direction": message.direction})
        self._spoki_mirror_touched(message)
        self._spoki_live_touched()


def _whatsapp_format(body):
    """Escaped text with WhatsApp's markers rendered (```mono```, *bold*,
    _italic_, ~strike~) and line breaks; same rules as the template preview."""
    text = str(escape(body or ""))
    text = _CODE_RE.sub(lambda m: f"<code>{m.group(1)}</code>", text)
    for regex, tag in _STYLE_RES:
        text = regex.sub(lambda m, tag=tag: f"<{tag}>{m.group(1)}</{tag}>", text)
    return Markup(text.replace("\n", "<br/>"))
