"""The provider interface every WhatsApp backend implements.

Shapes follow the two real APIs the product targets so that both fit without
changing callers:

* Meta WhatsApp Cloud API (graph.facebook.com/<version>):
  ``POST /<phone-number-id>/messages`` returns ``{"messages": [{"id": "wamid…"}]}``;
  statuses (sent/delivered/read/failed) and inbound messages only arrive by
  webhook (``entry[].changes[].value.statuses[] / .messages[]``);
  ``POST /<waba-id>/message_templates`` returns ``{"id", "status", "category"}``;
  ``GET /<phone-number-id>?fields=quality_rating,messaging_limit_tier,status``.
* Spoki REST API (app.spoki.it/api/1/): contacts, templates and messages
  resources authenticated by an API key header, webhooks for events.

Callers only see the dataclasses below; errors are :class:`TemporaryError`
(retry with backoff: HTTP 5xx, 429, timeouts), :class:`UnknownOutcomeError`
(a temporary error after which the provider may have processed the call:
retry only where the idempotency key deduplicates) or
:class:`PermanentError` (fail the message with a readable reason).
"""

from dataclasses import dataclass, field
from datetime import datetime, timezone


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def header(headers, name):
    """Value of the HTTP header ``name`` (case-insensitive) in ``headers``, a
    mapping or werkzeug's ``Headers``; '' when absent."""
    if not headers:
        return ""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value or ""


class ProviderError(Exception):
    """Base error of a provider call. ``code`` is machine readable
    ('invalid_number', 'template_not_approved', 'rate_limited', 'http_500'…);
    ``provider_code`` the provider's own code when it gave one (Meta's
    ``130429``…); ``retry_after`` the raw ``Retry-After`` header of the
    answer, if any (see ``tools/send_policy.py``)."""

    temporary = False
    #: True when the provider may have processed the call although it failed
    #: on our side (see :class:`UnknownOutcomeError`).
    outcome_unknown = False

    def __init__(self, message, code="error", http_status=None, provider_code=None, retry_after=None):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.provider_code = provider_code
        self.retry_after = retry_after


class TemporaryError(ProviderError):
    """Worth retrying later (5xx, 429, timeout, connection reset)."""

    temporary = True


class UnknownOutcomeError(TemporaryError):
    """The request may have reached the provider and been processed, but no
    usable answer came back (read timeout, connection reset while waiting for
    the answer, a 2xx that can't be read). Sending again is safe only with a
    provider that deduplicates by idempotency key; otherwise the outcome is
    reconciled from the provider's callbacks. A connection that could not
    be opened at all is a plain :class:`TemporaryError`."""

    outcome_unknown = True


class PermanentError(ProviderError):
    """Retrying won't help (invalid number, template not approved, opt-out…)."""


@dataclass
class SendResult:
    message_id: str
    status: str = "sent"


@dataclass
class StatusEvent:
    message_id: str
    status: str  # sent / delivered / read / failed
    timestamp: datetime
    error_code: str = ""
    error_message: str = ""
    idempotency_key: str = ""


@dataclass
class InboundMessage:
    """An incoming message. Plain text has ``media_kind`` ''; otherwise
    ``media_kind`` is one of ``tools.media.INBOUND_KINDS`` (image, document,
    audio, video, sticker: a file to fetch with :meth:`WhatsAppProvider.download_media`
    and ``media_ref``; location, contacts: the data below; unsupported: a type
    we don't know, ``raw_type`` names it) and ``text`` is the caption ('' if none)."""

    message_id: str
    from_number: str  # E.164 with '+'
    text: str
    timestamp: datetime
    profile_name: str = ""
    media_kind: str = ""
    #: what :meth:`WhatsAppProvider.download_media` takes: Meta's media id, Spoki's URL…
    media_ref: str = ""
    mime_type: str = ""
    filename: str = ""
    voice: bool = False  # an audio recorded in WhatsApp (voice note)
    location: dict = field(default_factory=dict)  # latitude, longitude, name, address
    contacts: list = field(default_factory=list)  # Cloud API contact cards
    raw_type: str = ""  # the provider's own type of the message
    #: the provider id of the message this one quotes (a reply; Cloud API ``context.id``)
    reply_to: str = ""
    #: a reaction, not a message: the provider id of the message reacted to
    #: (``text`` is the emoji; '' = the customer removed their reaction)
    reaction_to: str = ""


@dataclass
class MediaFile:
    """A downloaded file: its bytes, MIME type and name ('' = not told)."""

    data: bytes
    mime_type: str = ""
    filename: str = ""


@dataclass
class TemplateStatus:
    external_id: str
    status: str  # queued / in_review / approved / rejected
    reason: str = ""
    #: when the provider changed the status (naive UTC; None = not told)
    timestamp: datetime | None = None


@dataclass
class AccountInfo:
    quality: str = "unknown"  # high / medium / low / unknown
    phone_status: str = "unknown"  # connected / flagged / restricted / unknown
    tier_limit: int | None = None  # unique users / 24 h; 0 = unlimited; None = unknown
    credit: float | None = None


@dataclass
class TemplateSpec:
    """What is submitted for approval: one entry per language."""

    name: str
    category: str
    languages: dict = field(default_factory=dict)  # lang code → body (positional {{n}})
    buttons: list = field(default_factory=list)  # [{'type', 'text', 'value'}]
    #: lang code → the buttons of that language (same kinds and values, its
    #: own texts); a language not listed uses ``buttons``
    lang_buttons: dict = field(default_factory=dict)

    def buttons_for(self, lang):
        """The buttons submitted with the ``lang`` version of the template."""
        return self.lang_buttons.get(lang) or self.buttons or []


class WhatsAppProvider:
    """Interface. ``config`` is a plain dict (endpoint, credentials…);
    ``clock`` a zero-argument callable returning a naive UTC datetime.

    What callers need to know about a provider is here, so that the models
    and the webhook controller never test which provider they talk to:
    adding one is a module in this package plus a registry entry.
    """

    kind = None
    #: Name shown in the account's provider selection.
    label = None
    #: ``{config key: spoki.account field}`` this provider reads, besides the
    #: common ``endpoint`` (``api_endpoint``), ``timeout`` and ``account_id``.
    config_fields = {}
    #: True when the provider can be polled for message statuses (Spoki,
    #: sandbox); Meta only pushes them by webhook.
    supports_status_polling = False
    #: True when :meth:`find_message` is authoritative: after a crash a
    #: message it doesn't know never reached the provider and may be sent
    #: again. Without it an interrupted send is failed, never repeated.
    supports_lookup = False
    #: True when there is no platform behind the provider (the sandbox): the
    #: product itself applies tier promotions and demotions, and the quality
    #: and phone status are the account's own.
    simulated = False
    #: App-level webhooks (one URL for several accounts, ``/spoki/webhook/<kind>``):
    #: ``webhook_routes(payload) -> ([(config key, value, part)], [dropped reasons])``
    #: splits a payload by destination account; None: the provider has none.
    webhook_routes = None
    #: True when the provider reports the customer's reactions (``InboundMessage.reaction_to``)
    #: and :meth:`send_reaction` works; reactions are not messages (no window, no ledger row).
    supports_reactions = False
    #: True when sends carry the quoted message (``reply_to`` of :meth:`send_text` /
    #: :meth:`send_media`) and incoming replies name it (``InboundMessage.reply_to``);
    #: otherwise a reply is sent as a plain message.
    supports_replies = False
    #: True when :meth:`get_account_info` gives a real credit balance (Spoki's
    #: API; the sandbox's own consumption by the price list); False when the
    #: provider has none to give (Meta bills afterwards): the product then
    #: says so instead of showing a number.
    reports_credit = False

    def __init__(self, config, clock=None):
        self.config = dict(config)
        self.clock = clock or utcnow

    # -- messages ---------------------------------------------------------
    def send_template(self, to, template_name, language, params, idempotency_key):
        """Send an approved template; ``params`` is the ordered list of
        positional values. Returns :class:`SendResult`."""
        raise NotImplementedError

    def send_text(self, to, body, idempotency_key, reply_to=""):
        """Send free text (only valid inside a customer-service window);
        ``reply_to``: the provider id of the message it quotes (ignored
        without :attr:`supports_replies`)."""
        raise NotImplementedError

    def send_media(self, to, kind, data, mime_type, filename, caption, idempotency_key, reply_to=""):
        """Send a file (``kind``: image / video / audio / document, checked
        against ``tools/media.py`` by the caller) with an optional caption;
        only valid inside a customer-service window. Returns :class:`SendResult`."""
        raise PermanentError(f"{self.label or self.kind} can't send files", code="media_unsupported")

    def send_reaction(self, to, message_id, emoji, idempotency_key=""):
        """React with ``emoji`` to the customer's message ``message_id`` (a
        provider id); ``emoji`` '' removes the reaction. Only valid inside a
        customer-service window (Meta's rule). Returns :class:`SendResult`."""
        raise PermanentError(f"{self.label or self.kind} can't send reactions", code="reactions_unsupported")

    #: True when :meth:`download_media` needs no network (the sandbox): the
    #: file is stored with the incoming message; otherwise a job fetches it.
    media_download_inline = False

    def download_media(self, ref, max_bytes=None):
        """The file of an incoming message (``InboundMessage.media_ref``) as
        a :class:`MediaFile`; :class:`PermanentError` ``too_big`` beyond
        ``max_bytes`` (the download stops there)."""
        raise PermanentError(f"{self.label or self.kind} can't download files", code="media_unsupported")

    def find_message(self, idempotency_key):
        """Reconciliation after a crash: the provider message id of a send
        made with ``idempotency_key``, or None if the provider never got it
        (meaningful only when :attr:`supports_lookup`)."""
        return None

    def get_statuses(self, message_ids):
        """List of :class:`StatusEvent` for the given provider ids."""
        return []

    # -- templates --------------------------------------------------------
    @staticmethod
    def template_ref(name, external_id):
        """How a send names the template: its name, unless the provider
        identifies templates by its own id."""
        return name

    def submit_template(self, spec):
        """Request approval; returns :class:`TemplateStatus` (usually queued)."""
        raise NotImplementedError

    def get_template_status(self, external_id):
        raise NotImplementedError

    # -- account ----------------------------------------------------------
    def get_account_info(self):
        return AccountInfo()

    # -- webhooks ---------------------------------------------------------
    def verify_webhook(self, headers, raw_body):
        """True when a webhook request (its headers and exact raw body) is
        authentic for this account's credentials. The default refuses all:
        an unsigned endpoint would let anybody fake statuses and opt-outs."""
        return self.verify_webhook_with(self.config.get(self.webhook_secret_key or "") or "", headers, raw_body)

    #: The config key of the secret that signs this provider's webhooks (its
    #: account field is ``config_fields[webhook_secret_key]``): the webhook
    #: route reads that one column and calls :meth:`verify_webhook_with`,
    #: without building a client. None: the provider has no webhooks.
    webhook_secret_key = None

    @classmethod
    def verify_webhook_with(cls, secret, headers, raw_body):
        """:meth:`verify_webhook` given the secret alone (the webhook route's
        fast path). The default refuses all."""
        return False

    @classmethod
    def webhook_is_statuses_only(cls, payload):
        """True when a (verified) payload carries nothing but message
        statuses: the webhook route stores it for the bulk apply; anything
        else (incoming messages, template reviews — people wait on those)
        is applied right after it is stored. The default: False."""
        return False

    def parse_webhook(self, payload):
        """Return (status_events, inbound_messages, template_statuses)."""
        return [], [], []

    def status_error(self, code, message=""):
        """``(our error code, detail)`` of a ``failed`` status event."""
        return (str(code or "").strip() or "failed"), message or ""
