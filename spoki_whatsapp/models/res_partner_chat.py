import re

from odoo import fields, models
from odoo.exceptions import UserError

_KEYWORD_STRIP_RE = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)


class ResPartner(models.Model):
    _inherit = "res.partner"

    spoki_message_count = fields.Integer("WhatsApp messages", compute="_compute_spoki_message_count")

    def _compute_spoki_message_count(self):
        counts = {}
        if self.ids:
            counts = {
                partner.id: count
                for partner, count in self.env["spoki.message"]._read_group(
                    [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
                )
            }
        for partner in self:
            partner.spoki_message_count = counts.get(partner.id, 0)

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_spoki_open_chat(self):
        """Go to chat: the chat with this contact's WhatsApp number (see
        ``spoki.chat`` for why a dedicated chat view and not Discuss)."""
        self.ensure_one()
        if not self.wa_phone:
            raise UserError(self.env._("%(name)s has no WhatsApp number.", name=self.display_name))
        account = self.env["spoki.chat"]._default_account_for(self.wa_phone, self.company_id)
        if not account:
            raise UserError(self.env._("Configure a WhatsApp account first (WhatsApp › Configuration)."))
        chat = self.env["spoki.chat"]._get_or_create(account, self.wa_phone, self)
        return chat._action_open()

    def action_spoki_view_messages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("spoki_whatsapp.spoki_message_action")
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {}
        return action

    # ------------------------------------------------------------
    # OPT-OUT KEYWORDS
    # ------------------------------------------------------------

    def _spoki_optout_keywords(self):
        company = self.company_id or self.env.company
        raw = company.spoki_optout_keywords or ""
        return {word.strip().upper() for word in raw.split(",") if word.strip()}

    def _spoki_is_optout_keyword(self, text):
        """True when the whole message is one opt-out keyword (case, spaces
        and punctuation around it ignored: "Stop!" counts, "don't stop" not)."""
        self.ensure_one()
        word = _KEYWORD_STRIP_RE.sub("", (text or "").strip()).upper()
        return bool(word) and word in self._spoki_optout_keywords()

    def _spoki_opt_out_by_keyword(self, message):
        """Opt-out requested by the customer with a keyword: every contact
        with that number is opted out, the request is logged and confirmed
        with a reply (the only message an opted-out number ever gets). Only
        the explicit "Lift opt-out" action undoes it."""
        self.ensure_one()
        now = message.message_date or fields.Datetime.now()
        partners = self.sudo().with_context(active_test=False).search([("wa_phone", "=", message.wa_phone)]) | self
        partners.filtered(lambda p: not p.wa_opt_out).write({"wa_opt_out": True, "wa_opt_out_date": now})
        for partner in partners:
            partner.sudo()._message_log(
                body=self.env._(
                    "WhatsApp opt-out requested by the customer with the keyword “%(keyword)s”.",
                    keyword=(message.body or "").strip(),
                )
            )
        lang = self.lang or self.env.lang
        confirmation = self.with_context(lang=lang).env._(
            "You have been unsubscribed: you will not receive any more WhatsApp messages from us. "
            "Contact us if you change your mind."
        )
        self.env["spoki.message"].sudo()._enqueue_text(
            message.account_id,
            message.wa_phone,
            confirmation,
            partner=self,
            user=self.env.ref("base.user_root"),
            check_window=False,  # the customer has just written
            optout_confirmation=True,
        )
