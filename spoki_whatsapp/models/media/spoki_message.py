"""Media carried by WhatsApp messages (images, documents, audio, video,
stickers, locations, contact cards), stored as attachments.

Incoming (``inbound/spoki_message.py`` stores the message, this file the
media):

* every incoming message is stored at once, whatever it carries: its body is
  the caption, or a readable placeholder ("📷 Photo", "📍 Location: …",
  "👤 Contact: name, number", "[Unsupported message: <type>]" for a type we
  don't know — never dropped);
* a file is **not** downloaded inside the webhook request (Meta wants a quick
  answer and retries slow ones; its media URLs need a second call): the
  message is stored with ``media_state = 'pending'`` and the job *WhatsApp:
  media download* (``_cron_fetch_media``, triggered by the webhook, every 5
  minutes as a catch-up) fetches it through the provider (Meta: ``GET
  /{media-id}`` → URL → ``GET`` URL, both with the token; Spoki: the event's
  URL; the sandbox generates the bytes, so its files are stored inline, in the
  same transaction). The job claims its batch (a lease on
  ``media_next_try``) and commits before any download, so no row lock is held
  during HTTP; a temporary failure is retried with a backoff (30 s × 2ⁿ, at
  most 1 h) up to ``spoki_whatsapp.media_max_attempts`` (5); a permanent one
  (unknown media, over WhatsApp's size limit) marks the message
  ``media_state = 'failed'`` with the reason — the message and its
  placeholder stay.
* the file becomes an ``ir.attachment`` of the message (``res_model``
  ``spoki.message``, in ``attachment_ids``, the company's); when the message is
  already shown in Discuss (``mail_message_id``), the attachment is added to
  that ``mail.message`` too.

Outgoing: ``spoki.chat._send_media`` (``media/spoki_chat.py``) checks the
file against ``tools/media.py`` (MIME allow-list, Meta's size limits) and the
24-hour window, then queues a ledger row of kind ``media`` with a copy of the
file; the send queue sends it like free text (same rules, ``send_media`` of the
provider).
"""

import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ...tools.media import (
    INBOUND_KINDS,
    MAX_DOWNLOAD,
    contact_cards,
    default_filename,
    location_text,
    normalize_mime,
    size_limit,
)
from ...tools.providers import PermanentError, ProviderError

_logger = logging.getLogger(__name__)

#: how long a media download run owns the messages it claimed
MEDIA_CLAIM = timedelta(minutes=10)

MEDIA_KIND_SELECTION = [
    ("image", "Image"),
    ("video", "Video"),
    ("audio", "Audio"),
    ("document", "Document"),
    ("sticker", "Sticker"),
    ("location", "Location"),
    ("contacts", "Contact card"),
    ("unsupported", "Unsupported"),
]


class SpokiMessage(models.Model):
    _inherit = "spoki.message"

    kind = fields.Selection(selection_add=[("media", "Media")], ondelete={"media": "set default"})
    attachment_ids = fields.Many2many(
        "ir.attachment", "spoki_message_ir_attachment_rel", "message_id", "attachment_id", string="Attachments"
    )
    media_kind = fields.Selection(MEDIA_KIND_SELECTION, "Media type", readonly=True)
    media_caption = fields.Text("Caption", readonly=True)
    media_mime = fields.Char("MIME type", readonly=True)
    media_filename = fields.Char("File name", readonly=True)
    media_ref = fields.Char("Provider media", readonly=True, copy=False, help="The provider's media id or URL.")
    media_data = fields.Json("Media data", readonly=True, help="Location or contact cards of the message.")
    media_state = fields.Selection(
        [("pending", "Waiting for download"), ("done", "Stored"), ("failed", "Not stored")],
        "File",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    media_error = fields.Char("File error", readonly=True, copy=False)
    media_attempts = fields.Integer("Download attempts", readonly=True, copy=False)
    media_next_try = fields.Datetime("Next download attempt", readonly=True, copy=False)

    # ------------------------------------------------------------
    # BODIES
    # ------------------------------------------------------------

    @api.model
    def _media_placeholder(self, kind, filename="", location=None, contacts=None, raw_type="", voice=False):
        """Readable body of a message without caption, in the context's
        language: "📷 Photo", "📍 Location: …", "👤 Contact: name, number",
        "[Unsupported message: <type>]"…"""
        _ = self.env._
        if kind == "image":
            return _("📷 Photo")
        if kind == "video":
            return _("🎬 Video")
        if kind == "audio":
            return _("🎤 Voice message") if voice else _("🎵 Audio")
        if kind == "sticker":
            return _("Sticker")
        if kind == "document":
            return _("📄 Document: %(name)s", name=filename or "?")
        if kind == "location":
            return _("📍 Location: %(place)s", place=location_text(location) or "?")
        if kind == "contacts":
            cards = "; ".join(", ".join(part for part in card if part) for card in contact_cards(contacts))
            return _("👤 Contact: %(contacts)s", contacts=cards or "?")
        return _("[Unsupported message: %(type)s]", type=raw_type or kind or "?")

    @api.model
    def _inbound_media_vals(self, account, item):
        """Ledger values of an incoming provider message (``InboundMessage``)
        of ``account``: body (the text, the caption or a placeholder, in the
        language of the account's company: the webhook runs without a user's) and the
        media fields."""
        if not item.media_kind:
            return {"kind": "text", "body": item.text}
        lang = account.company_id.partner_id.lang or self.env.context.get("lang") or "en_US"
        kind = item.media_kind if item.media_kind in INBOUND_KINDS else "unsupported"
        data = item.location if kind == "location" else item.contacts if kind == "contacts" else None
        vals = {
            "kind": "media",
            "media_kind": kind,
            "media_caption": item.text or False,
            "media_mime": normalize_mime(item.mime_type) or False,
            "media_filename": item.filename or False,
            "media_ref": item.media_ref or False,
            "media_data": data or False,
            "body": item.text
            or self.with_context(lang=lang)._media_placeholder(
                kind, item.filename, item.location, item.contacts, item.raw_type, item.voice
            ),
        }
        if kind in ("image", "video", "audio", "document", "sticker"):
            vals["media_state"] = "pending" if item.media_ref else "failed"
            if not item.media_ref:
                vals["media_error"] = self.env._("The provider named no file.")
        return vals

    def _media_received(self, account):
        """After incoming messages are stored: fetch their files now when the
        provider needs no network (sandbox), else wake the download job."""
        pending = self.filtered(lambda m: m.media_state == "pending")
        if not pending:
            return
        if account._provider_class().media_download_inline:
            pending._fetch_media(auto_commit=False, only_ids=pending.ids)
        else:
            self.env.ref("spoki_whatsapp.ir_cron_spoki_message_fetch_media")._trigger()

    # ------------------------------------------------------------
    # OUTGOING
    # ------------------------------------------------------------

    @api.model
    def _enqueue_media(self, account, number, attachment, kind, mime, caption="", partner=None, user=None):
        """Queue a file (``kind`` and ``mime`` checked by the caller against
        ``tools/media.py``) with its caption: like free text, only inside the
        customer-service window (refused here already, and again by the
        queue). The ledger row keeps its own copy of the file."""
        if not account._open_window_numbers([number], self._now()):
            raise UserError(
                self.env._(
                    "The 24-hour customer-service window with %(number)s is closed: files can't be sent. "
                    "Send an approved template instead.",
                    number=number,
                )
            )
        caption = (caption or "").strip()
        filename = attachment.name or default_filename(kind, mime)
        message = self._enqueue(
            account,
            number,
            partner,
            user,
            {
                "kind": "media",
                "media_kind": kind,
                "media_mime": mime,
                "media_filename": filename,
                "media_caption": caption or False,
                "media_state": "done",
                "body": caption or self._media_placeholder(kind, filename),
            },
        )
        copy = attachment.sudo().copy(
            {"res_model": self._name, "res_id": message.id, "company_id": account.company_id.id}
        )
        message.sudo().attachment_ids = [(4, copy.id)]
        return message

    @api.model
    def _media_call(self, row):
        """The provider call of a queued file (``_prepare_rows``: database
        access here, not in the send threads)."""
        message = self.sudo().browse(row["id"])
        attachment = message.attachment_ids[:1]
        if not attachment:
            raise ValueError(f"WhatsApp message {message.id} has no file to send")
        return (
            "send_media",
            (
                row["wa_phone"],
                message.media_kind,
                attachment.raw,
                message.media_mime or attachment.mimetype,
                message.media_filename or attachment.name,
                message.media_caption or "",
            ),
        )

    # ------------------------------------------------------------
    # DOWNLOAD JOB
    # ------------------------------------------------------------

    @api.model
    def _cron_fetch_media(self):
        """Cron "WhatsApp: media download" (see the module docstring)."""
        done, remaining = self._fetch_media()
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)

    @api.model
    def _claim_media(self, now, batch_size, only_ids=None):
        only = SQL("AND id = ANY(%s)", list(only_ids)) if only_ids is not None else SQL()
        self.env.flush_all()
        return self.env.execute_query_dict(
            SQL(
                """WITH picked AS (
                       SELECT id FROM spoki_message
                        WHERE media_state = 'pending' AND (media_next_try IS NULL OR media_next_try <= %(now)s) %(only)s
                        ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
                   UPDATE spoki_message AS m SET media_next_try = %(lease)s
                     FROM picked WHERE m.id = picked.id
                RETURNING m.id, m.account_id, m.media_kind, m.media_ref, m.media_mime, m.media_filename,
                          m.media_attempts, m.provider_message_id""",
                now=now,
                only=only,
                limit=batch_size,
                lease=now + MEDIA_CLAIM,
            )
        )

    @api.model
    def _fetch_media(self, batch_size=20, auto_commit=None, only_ids=None):
        """Download the pending files (``only_ids``: of these messages only).
        Returns ``(messages done, still pending and due)``."""
        auto_commit = self._auto_commit_default() if auto_commit is None else auto_commit
        now = self._now()
        rows = self._claim_media(now, batch_size, only_ids)
        if not rows:
            return 0, 0
        if auto_commit:
            self.env.cr.commit()
        providers, results = {}, []
        Account = self.env["spoki.account"].sudo()
        for row in rows:
            account_id = row["account_id"]
            try:
                if account_id not in providers:
                    providers[account_id] = Account.browse(account_id)._get_provider(clock=self._clock())
                limit = size_limit(row["media_kind"]) or MAX_DOWNLOAD
                media = providers[account_id].download_media(row["media_ref"], max_bytes=limit)
                if len(media.data) > (size_limit(row["media_kind"], media.data) or MAX_DOWNLOAD):  # static sticker
                    raise PermanentError(
                        f"The file is larger than {size_limit(row['media_kind'], media.data)} bytes", code="too_big"
                    )
                results.append((row, media, None))
            except ProviderError as exc:
                results.append((row, None, exc))
        for row, media, error in results:
            self.sudo().browse(row["id"])._media_outcome(row, media, error, now)
        if auto_commit:
            self.env.cr.commit()
        remaining = 0
        if only_ids is None and len(rows) == batch_size:
            self.env.flush_all()
            remaining = self.env.execute_query(
                SQL(
                    "SELECT COUNT(*) FROM spoki_message WHERE media_state = 'pending' AND "
                    "(media_next_try IS NULL OR media_next_try <= %s)",
                    now,
                )
            )[0][0]
        return len(rows), remaining

    def _media_outcome(self, row, media, error, now):
        """Store a downloaded file, or record why not (retry or give up)."""
        self.ensure_one()
        if media is not None:
            mime = normalize_mime(media.mime_type) or row["media_mime"] or "application/octet-stream"
            name = (
                row["media_filename"]
                or media.filename
                or default_filename(row["media_kind"], mime, row["provider_message_id"] or row["media_ref"])
            )
            attachment = (
                self.env["ir.attachment"]
                .sudo()
                .create(
                    {
                        "name": name,
                        "raw": media.data,
                        "mimetype": mime,
                        "res_model": self._name,
                        "res_id": self.id,
                        "company_id": self.company_id.id,
                    }
                )
            )
            self.write(
                {
                    "attachment_ids": [(4, attachment.id)],
                    "media_state": "done",
                    "media_mime": mime,
                    "media_filename": name,
                    "media_error": False,
                    "media_next_try": False,
                }
            )
            if self.mail_message_id:
                self.mail_message_id.sudo().attachment_ids = [(4, attachment.id)]
                self._spoki_notify_attachments()
            return
        attempts = (row["media_attempts"] or 0) + 1
        max_attempts = max(1, self._param("media_max_attempts", 5))
        reason = self._reason(error.code, str(error))[:300]
        if error.temporary and attempts < max_attempts:
            delay = min(timedelta(hours=1), timedelta(seconds=30 * 2 ** (attempts - 1)))
            self.write({"media_attempts": attempts, "media_next_try": now + delay, "media_error": reason})
            self.env.ref("spoki_whatsapp.ir_cron_spoki_message_fetch_media")._trigger(now + delay)
        else:
            _logger.warning("WhatsApp: the file of message %s was not stored: %s", self.id, error)
            self.write(
                {"media_attempts": attempts, "media_state": "failed", "media_error": reason, "media_next_try": False}
            )
