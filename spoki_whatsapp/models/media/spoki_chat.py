"""Files in a WhatsApp chat: sending one (``_send_media``) and, on a sandbox
account, simulating a customer's photo (demo and tests)."""

import calendar
import uuid

from odoo import fields, models
from odoo.exceptions import AccessError, UserError

from ...tools.media import MediaError, check_outgoing, human_size
from ...tools.providers.sandbox import incoming_payload


class SpokiChat(models.Model):
    _inherit = "spoki.chat"

    account_provider = fields.Selection(related="account_id.provider", string="Provider")

    def _send_media(self, attachment, caption=""):
        """Queue ``attachment`` (an ``ir.attachment`` the user can read) for
        this chat's number, with an optional caption. Refused before queueing,
        with a translated reason, when WhatsApp can't carry it (type, size),
        when the contact opted out or outside the 24-hour window. Returns the
        queued ``spoki.message``."""
        self.ensure_one()
        self.check_access("write")
        attachment.ensure_one()
        attachment.check_access("read")
        self._check_can_send()
        attachment = attachment.sudo()
        try:
            kind, mime = check_outgoing(attachment.mimetype, attachment.file_size)
        except MediaError as exc:
            raise UserError(self._media_error_text(attachment, exc)) from exc
        message = self.env["spoki.message"]._enqueue_media(
            self.account_id, self.wa_phone, attachment, kind, mime, caption, partner=self.partner_id
        )
        self._touch(message)
        return message

    def _media_error_text(self, attachment, exc):
        _ = self.env._
        if exc.code == "too_big":
            return _(
                "%(name)s weighs %(size)s: WhatsApp takes %(kind)s files up to %(limit)s.",
                name=attachment.name,
                size=human_size(exc.size),
                kind=exc.kind,
                limit=human_size(exc.limit),
            )
        return _(
            "WhatsApp can't carry %(name)s (%(type)s): send an image (JPEG, PNG), a video (MP4, 3GP), an audio "
            "(AAC, AMR, MP3, M4A, OGG) or a document (PDF, Word, Excel, PowerPoint, text).",
            name=attachment.name,
            type=exc.mime or attachment.mimetype or "?",
        )

    def action_sandbox_simulate_photo(self):
        """Sandbox accounts only, WhatsApp managers only: the customer of this
        chat "sends" a photo (a webhook the sandbox builds, handled like a real
        one: stored with its image attachment)."""
        self.ensure_one()
        self.check_access("write")
        if not self.env.user.has_group("spoki_whatsapp.group_spoki_manager"):
            raise AccessError(self.env._("Only WhatsApp managers can simulate incoming messages."))
        self._sandbox_simulate_incoming("image")
        return True

    def _sandbox_simulate_incoming(self, kind="text", text="", **extra):
        """Push one simulated incoming message of ``kind`` (see
        ``tools/providers/sandbox.py``: text, image, document, audio, video,
        sticker, location, contacts, or an unknown type) through the webhook
        path of this chat's sandbox account. Returns the stored messages."""
        self.ensure_one()
        account = self.account_id.sudo()
        if not account._provider_class().simulated:
            raise UserError(self.env._("Only sandbox accounts can simulate incoming messages."))
        Message = self.env["spoki.message"].sudo()
        before = Message.search([("account_id", "=", account.id), ("wa_phone", "=", self.wa_phone)]).ids
        stamp = calendar.timegm(Message._now().utctimetuple())
        message_id = f"wamid.SBX{uuid.uuid4().hex[:24]}"
        payload = incoming_payload(self.wa_phone, kind, text, message_id=message_id, timestamp=stamp, **extra)
        Message._process_webhook(account, payload)
        return Message.search(
            [("account_id", "=", account.id), ("wa_phone", "=", self.wa_phone), ("id", "not in", before)]
        )
