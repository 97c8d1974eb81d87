"""The Discuss message showing a ledger row (one-to-one; created when the
conversation becomes a chat, not up front for campaigns), and the ticks
sent live to the channel when the ledger's states move."""

from datetime import timedelta

from markupsafe import Markup

from odoo import fields, models
from odoo.tools import SQL

from odoo.addons.mail.tools.discuss import Store

from ..spoki_chat import _whatsapp_format

#: how far back a chat shows ledger rows it never showed (campaigns)
BACKFILL_DAYS = 30
BACKFILL_LIMIT = 20


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    mail_message_id = fields.Many2one(
        "mail.message", "Discuss message", readonly=True, copy=False, index="btree_not_null"
    )

    # ------------------------------------------------------------
    # MIRRORING (ledger → channel)
    # ------------------------------------------------------------

    def _spoki_channel_body(self):
        """What the customer sees (templates: rendered body and buttons)."""
        self.ensure_one()
        body = _whatsapp_format(self.body)
        if self.kind == "template" and self.template_id:
            buttons = self.template_id.sudo()._buttons_data(self.lang)
            header = Markup('<div class="o_spoki_template_name small text-muted">%s · %s</div>') % (
                self.env._("Template"),
                self.template_id.sudo().name,
            )
            body = header + Markup("<div>%s</div>") % body
            if buttons:
                body += Markup('<div class="o_spoki_buttons">%s</div>') % Markup("").join(
                    Markup('<span class="o_spoki_button badge border text-primary me-1">%s</span>') % b["text"]
                    for b in buttons
                )
        return body

    def _spoki_mirror(self):
        """Post each ledger row of ``self`` not shown yet in the channel of its
        chat (created when needed): incoming as the customer (notifying the
        members), outgoing as the agent who sent it. Before an incoming
        message, the recent rows the chat never showed (campaign templates the
        customer is answering) are mirrored first."""
        todo = self.sudo().filtered(lambda m: not m.mail_message_id).sorted(lambda m: (m.message_date, m.id))
        if not todo:
            return
        Chat = self.env["spoki.chat"].sudo()
        chats = {}
        for message in todo:
            key = (message.account_id, message.wa_phone)
            if key not in chats:
                chats[key] = Chat._get_or_create(message.account_id, message.wa_phone, message.partner_id)
        for (_account, _number), chat in chats.items():
            mine = todo.filtered(lambda m, c=chat: (m.account_id, m.wa_phone) == (c.account_id, c.wa_phone))
            if any(m.direction == "incoming" for m in mine):
                self._spoki_backfill(chat, before=mine[0])
            channel = chat._get_channel().sudo()
            for message in mine:
                message._spoki_post_in(channel)
            if any(m.direction == "incoming" for m in mine):
                channel._spoki_send_chat_info()

    def _spoki_backfill(self, chat, before=None):
        """Mirror the recent rows of ``chat`` not shown yet (e.g. the campaign
        template the customer answers), oldest first, up to ``before``."""
        now = self._now()
        domain = [
            ("account_id", "=", chat.account_id.id),
            ("wa_phone", "=", chat.wa_phone),
            ("mail_message_id", "=", False),
            ("message_date", ">=", now - timedelta(days=BACKFILL_DAYS)),
        ]
        if before:
            domain += [("id", "!=", before.id), ("message_date", "<=", before.message_date)]
        rows = self.sudo().search(domain, order="message_date desc, id desc", limit=BACKFILL_LIMIT)
        if not rows:
            return
        channel = chat._get_channel().sudo()
        for message in rows.sorted(lambda m: (m.message_date, m.id)):
            message._spoki_post_in(channel)

    def _spoki_post_in(self, channel):
        self.ensure_one()
        if self.direction == "incoming":
            author = self.partner_id
        else:
            author = self.user_id.partner_id
            if not self.user_id or self.user_id == self.env.ref("base.user_root"):
                author = self.env.ref("base.partner_root")
        attachments = self.attachment_ids
        post = channel.with_context(spoki_mirror=True, mail_create_nosubscribe=True, mail_notify_author=False)
        message = post.message_post(
            body=self._spoki_channel_body(),
            author_id=author.id or self.env.ref("base.partner_root").id,
            message_type="whatsapp_message",
            subtype_xmlid="mail.mt_comment",
            attachment_ids=attachments.ids,
            date=self.message_date,
            spoki_message_id=self.id,
            # what was sent needs nobody's attention: only the customer's messages notify
            silent=self.direction == "outgoing",
            parent_id=self._spoki_parent_mail_message().id or False,  # a quoted reply
        )
        self.mail_message_id = message
        if self.customer_reaction:
            self._spoki_show_customer_reaction()
        return message

    def _spoki_after_outcome_discuss(self):
        """Send queue, after the outcomes: rows of chats that have a channel
        (automations, opt-out confirmations…) appear in it; campaign rows wait
        until the conversation becomes a chat; the ticks of the others move."""
        messages = self.sudo().exists()
        shown = messages.filtered("mail_message_id")
        fresh = messages - shown
        if fresh:
            channels = dict(
                self.env.execute_query(
                    SQL(
                        """SELECT m.id, c.channel_id FROM spoki_message m
                             JOIN spoki_chat c ON c.account_id = m.account_id AND c.wa_phone = m.wa_phone
                            WHERE m.id = ANY(%s) AND c.channel_id IS NOT NULL AND m.campaign_id IS NULL""",
                        fresh.ids,
                    )
                )
            )
            fresh.filtered(lambda m: m.id in channels)._spoki_mirror()
        shown._spoki_notify_ticks()

    # ------------------------------------------------------------
    # TICKS (live over the bus)
    # ------------------------------------------------------------

    def _spoki_tick_values(self):
        self.ensure_one()
        return {
            "whatsappStatus": self.state,
            "whatsappError": self.error_message or False,
            "whatsappDirection": self.direction,
            **self._spoki_panel_values(),
            # WhatsApp can quote it / react to it (reactions/)
            "whatsappProviderId": bool(self.provider_message_id),
        }

    def _spoki_notify_ticks(self):
        """One bus notification per channel with the states of its messages."""
        by_channel = {}
        for message in self.sudo().filtered("mail_message_id"):
            mail_message = message.mail_message_id
            if mail_message.model == "discuss.channel" and mail_message.res_id:
                by_channel.setdefault(mail_message.res_id, []).append(message)
        Channel = self.env["discuss.channel"].sudo()
        for channel_id, messages in by_channel.items():
            store = Store()
            for message in messages:
                store.add(message.mail_message_id, message._spoki_tick_values())
            Channel.browse(channel_id)._bus_send_store(store)
