"""A local fake of the Meta WhatsApp Cloud API and of the Spoki REST API.

Standard library only (no pytest, no Odoo), so it ships with the addon and
both its Odoo tests (``from .fake_provider import FakeProvider``, also where the
addon is deployed alone) and the repository's pytest suite (``from
spoki_whatsapp.tests.fake_provider import FakeProvider``, see tests/conftest.py)
use it. Not a test module: Odoo only runs the ``test_*`` modules imported by
``tests/__init__.py``. It listens on 127.0.0.1 on a random port and speaks real HTTP,
so the providers' whole stack (requests, timeouts, JSON, error mapping) runs.

    with FakeProvider() as fake:
        provider = get_provider("meta", fake.meta_config())
        provider.send_template("+393331234567", "welcome", "it", ["Ada"], "k1")
        assert fake.requests[-1].json["template"]["name"] == "welcome"

Meta Cloud API routes (``/<version>/…``, auth ``Authorization: Bearer``):

* ``POST /v21.0/<phone_number_id>/messages`` → ``{"messages": [{"id": "wamid.…"}]}``
* ``POST /v21.0/<waba_id>/message_templates`` → ``{"id", "status": "PENDING", "category"}``
* ``GET /v21.0/<template id>?fields=status,rejected_reason``
* ``GET /v21.0/<phone_number_id>?fields=quality_rating,messaging_limit_tier,status,name_status``
* media: ``POST /v21.0/<phone_number_id>/media`` (multipart ``file``, ``type``,
  ``messaging_product``) → ``{"id"}``; ``GET /v21.0/<media id>`` → ``{"url",
  "mime_type", "sha256", "file_size", "id"}``; ``GET /media-download/<media id>``
  (the ``url``, with the token) → the bytes; sends of type image / document /
  audio / video / sticker name an uploaded media ``id`` (or a ``link``)

Spoki routes (``/api/1/…``, auth ``X-Spoki-Api-Key``):

* ``POST /api/1/messages/send/`` (idempotent on the ``Idempotency-Key`` header
  or ``metadata.idempotency_key``), ``GET /api/1/messages/?idempotency_key=``,
  ``GET /api/1/messages/<id>/``
* ``GET|POST /api/1/templates/``, ``POST /api/1/templates/<id>/submit/``,
  ``GET /api/1/templates/<id>/``
* ``GET /api/1/accounts/``, ``GET /api/1/accounts/<id>/``
* media: ``POST /api/1/media/`` (multipart ``file``) → ``{"id", "url"}``;
  ``GET /api/1/media/<id>/download/`` (the ``url``, with the API key) → the
  bytes; sends ``{"type": "Message", "content_type": "Image"…, "url"}``

Files for incoming messages: :meth:`FakeProvider.add_media` stores bytes the
fake then serves (its id for a Meta webhook, :meth:`FakeProvider.media_url`
for a Spoki one); :attr:`FakeProvider.uploads` lists the files received.

Meta message records keep the ``biz_opaque_callback_data`` of the send
(``callback_data``); :attr:`FakeProvider.meta_sends_by_key` counts the sends
per key (faults tests: each message sent at most once).

Programmable behaviour: :meth:`FakeProvider.fail_next`, ``latency``,
:meth:`~FakeProvider.set_template_status`, :meth:`~FakeProvider.set_account`,
:meth:`~FakeProvider.set_message_status`, :meth:`~FakeProvider.add_template`.
Module-level helpers build realistic Meta webhook payloads and signatures;
:meth:`~FakeProvider.meta_status_items` and :func:`signed_meta_webhook` the
status webhooks Meta would push for the sends received (the fault tests in
``tests/fault/`` run this server in a process of its own, ``fake_server.py``).
"""

import hashlib
import hmac
import itertools
import json
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

API_VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
META_TOKEN = "fake-meta-token"
APP_SECRET = "fake-app-secret"
SPOKI_API_KEY = "fake-spoki-key"

META_ERROR_MESSAGES = {
    4: "Application request limit reached",
    100: "Invalid parameter",
    131026: "Message undeliverable",
    131030: "Recipient phone number not in allowed list",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    130429: "Rate limit hit",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
    132015: "Template is paused",
    132016: "Template is disabled",
    80007: "Rate limit issues",
    190: "Invalid OAuth access token - Cannot parse access token",
}
_VERSION_RE = re.compile(r"^v\d+\.\d+$")
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
_E164_RE = re.compile(r"^\+\d{8,15}$")


class _Headers(dict):
    """Header dict with case-insensitive lookups."""

    def __init__(self, items):
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return super().__contains__(key.lower())

    def get(self, key, default=None):
        return super().get(key.lower(), default)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict
    headers: dict
    json: object
    at: float = field(default_factory=time.time)


def _now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017


def _multipart(content_type, raw):
    """A multipart/form-data body → ``{"_multipart": True, "fields": {name:
    text}, "files": {name: {"filename", "content_type", "data"}}}``."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    fields, files = {}, {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = {"filename": filename, "content_type": part.get_content_type(), "data": data}
        else:
            fields[name] = data.decode("utf-8", "replace")
    return {"_multipart": True, "fields": fields, "files": files}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # don't wait for handlers still sleeping on stop()
    allow_reuse_address = True
    request_queue_size = 1024  # default 5 drops SYNs under concurrent load (1 s stalls)

    def handle_error(self, request, client_address):
        pass  # clients that timed out close the socket: not an error here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers + body in 2 writes: avoid 40 ms delayed-ACK stalls
    server_version = "FakeWhatsApp/1.0"

    def log_message(self, format, *args):
        pass

    def _handle(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type") or ""
        try:
            if content_type.lower().startswith("multipart/form-data"):
                body = _multipart(content_type, raw)
            else:
                body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(parts.query).items()}
        status, payload, *extra = self.server.fake._dispatch(
            self.command, parts.path, query, _Headers(self.headers.items()), body
        )
        if status == "reset":
            # the work is done, the answer is lost: RST instead of a response
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers_out = dict(extra[0]) if extra else {}
        try:
            self.send_response(status)
            self.send_header("Content-Type", headers_out.pop("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers_out.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle


class FakeProvider:
    """Fake Meta Cloud API + Spoki API server. Thread-safe.

    ``check_auth`` (default True) answers 401 to a wrong token / API key.
    ``latency`` (seconds) is slept before every request (benchmarks).
    ``timeout_delay`` is how long a ``fail_next(status='timeout')`` request
    sleeps (must exceed the client's timeout).
    """

    API_VERSION = API_VERSION
    PHONE_NUMBER_ID = PHONE_NUMBER_ID
    WABA_ID = WABA_ID
    META_TOKEN = META_TOKEN
    APP_SECRET = APP_SECRET
    SPOKI_API_KEY = SPOKI_API_KEY

    def __init__(self, host="127.0.0.1", port=0, latency=0.0, timeout_delay=2.0, check_auth=True):
        self.host = host
        self.port = port
        self.latency = latency
        self.timeout_delay = timeout_delay
        self.check_auth = check_auth
        self.meta_token = META_TOKEN
        self.spoki_api_key = SPOKI_API_KEY
        self._lock = threading.RLock()
        self._server = None
        self._thread = None
        self.reset()

    # -- lifecycle ------------------------------------------------------------
    def start(self):
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-whatsapp-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def meta_config(self, **overrides):
        """Config dict for ``get_provider('meta', …)`` pointing here."""
        config = {
            "endpoint": self.url,
            "api_version": self.API_VERSION,
            "phone_number_id": self.PHONE_NUMBER_ID,
            "waba_id": self.WABA_ID,
            "access_token": self.meta_token,
            "app_secret": self.APP_SECRET,
            "timeout": 5,
        }
        config.update(overrides)
        return config

    def spoki_config(self, **overrides):
        """Config dict for ``get_provider('spoki', …)`` pointing here."""
        config = {
            "endpoint": f"{self.url}/api/1",
            "api_key": self.spoki_api_key,
            "timeout": 5,
        }
        config.update(overrides)
        return config

    # -- state ----------------------------------------------------------------
    def reset(self):
        """Forget requests, messages, templates, failures; default account."""
        with self._lock:
            self._requests = []
            self._failures = []
            self._messages = {}  # provider message id → record
            self._sent = {}  # Spoki idempotency key → message id
            self._templates = {}  # template id (str) → record
            self._media = {}  # media id → {"provider", "data", "mime_type", "filename", "uploaded"}
            self._ids = itertools.count(1)
            self._counters = {
                "requests": 0,
                "failures": 0,
                "meta_sends": 0,
                "spoki_sends": 0,
                "spoki_duplicates": 0,
                "templates_submitted": 0,
            }
            self.account = {
                "id": 1,
                "name": "Fake account",
                "phone": "+390212345678",
                # Meta phone number fields
                "quality_rating": "GREEN",
                "messaging_limit_tier": "TIER_1K",
                "status": "CONNECTED",
                "name_status": "APPROVED",
                # Spoki account fields
                "quality_score": "GREEN",
                "phone_status": "CONNECTED",
                "daily_limit": 1000,
                "current_credit": 25000,
            }
            self.known_meta_templates = None  # None = Meta accepts any name
            # True: GET /messages/?idempotency_key= ignores the filter and
            # lists every message (a server the client must not trust blindly)
            self.spoki_lookup_ignores_filter = False

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    @property
    def sent(self):
        """Spoki sends keyed by idempotency key → message record."""
        with self._lock:
            return {k: dict(self._messages[v]) for k, v in self._sent.items()}

    @property
    def messages(self):
        with self._lock:
            return {k: dict(v) for k, v in self._messages.items()}

    @property
    def meta_sends_by_key(self):
        """``{biz_opaque_callback_data: number of Meta sends}`` (the
        idempotency key the app sends): a count above 1 is a double send."""
        with self._lock:
            counts = {}
            for record in self._messages.values():
                if record["provider"] == "meta":
                    key = record.get("callback_data")
                    counts[key] = counts.get(key, 0) + 1
            return counts

    @property
    def uploads(self):
        """Files uploaded by the clients (oldest first): ``[{"id", "provider",
        "data", "mime_type", "filename"}]``."""
        with self._lock:
            return [dict(m, id=k) for k, m in self._media.items() if m["uploaded"]]

    def add_media(self, data, mime_type, filename="", provider="meta"):
        """Store a file the fake serves (an incoming message's media);
        returns its id (Meta's media id; see :meth:`media_url` for Spoki)."""
        with self._lock:
            media_id = str(880000000000 + next(self._ids))
            self._media[media_id] = {
                "provider": provider,
                "data": bytes(data),
                "mime_type": mime_type,
                "filename": filename,
                "uploaded": False,
            }
            return media_id

    def media_url(self, media_id):
        """Where the fake serves a file: Meta's download URL (what ``GET
        /<media id>`` answers) or Spoki's file URL."""
        with self._lock:
            provider = self._media[str(media_id)]["provider"]
        if provider == "meta":
            return f"{self.url}/media-download/{media_id}"
        return f"{self.url}/api/1/media/{media_id}/download/"

    @property
    def templates(self):
        with self._lock:
            return {k: dict(v) for k, v in self._templates.items()}

    @property
    def counters(self):
        with self._lock:
            return dict(self._counters)

    def requests_to(self, path_part, method=None):
        return [r for r in self.requests if path_part in r.path and (method is None or r.method == method)]

    def fail_next(self, n=1, status=500, message=None, path=None, delay=None, http_status=None, retry_after=None):
        """Make the next ``n`` requests (whose path contains ``path``, if
        given) fail:

        * ``status`` 400…599 → that HTTP status (Meta / Spoki error body);
        * ``'timeout'`` → sleep ``delay`` (default ``timeout_delay``) and then
          handle the request normally — the client gave up, yet the server
          did the work (like a real slow provider);
        * ``'reset'`` → handle the request normally, then reset the
          connection instead of answering (the work is done, the answer lost);
        * ``'malformed'`` → handle the request normally, then answer 200 with
          a body that is not JSON;
        * any other int → a Meta error code (``{"error": {"code": …}}``, HTTP
          ``http_status`` default 400, 401 for 190); on Spoki paths a 400
          ``{"detail", "code"}``.

        ``retry_after`` adds a ``Retry-After`` header to an error answer.
        """
        spec = {
            "status": status,
            "message": message,
            "path": path,
            "delay": delay,
            "http_status": http_status,
            "retry_after": retry_after,
        }
        with self._lock:
            self._failures.extend(dict(spec) for _ in range(n))

    def set_template_status(self, template_id, status, reason=""):
        with self._lock:
            template = self._templates[str(template_id)]
            template["status"] = status.upper()
            template["reason"] = reason or ""

    def add_template(
        self,
        name,
        status="APPROVED",
        provider="spoki",
        language="it",
        body="Hello {{1}}",
    ):
        """Pre-existing template (e.g. approved ones Spoki can send); returns its id."""
        with self._lock:
            template_id = self._new_template_id(provider)
            self._templates[template_id] = {
                "id": template_id,
                "provider": provider,
                "name": name,
                "language": language,
                "languages": [language],
                "category": "MARKETING",
                "status": status.upper(),
                "reason": "",
                "body": body,
            }
            return template_id

    def set_account(self, **fields):
        with self._lock:
            self.account.update(fields)

    def set_message_status(self, message_id, status, error_code="", error_message=""):
        with self._lock:
            record = self._messages[str(message_id)]
            record.update(
                status=status,
                status_updated_at=_now_iso(),
                error_code=error_code,
                error_message=error_message,
            )

    def clear_failures(self):
        """Forget the failures programmed by :meth:`fail_next` and not used yet."""
        with self._lock:
            self._failures = []

    def meta_status_items(self, status="sent", keys=None, timestamp=None, error_code=None):
        """Status items (:func:`meta_status`) of the Meta messages received,
        as Meta would push them: the wamid, the recipient and the
        ``biz_opaque_callback_data`` of the send. ``keys``: only the sends
        carrying these callback data."""
        stamp = time.time() if timestamp is None else timestamp
        with self._lock:
            records = [r for r in self._messages.values() if r["provider"] == "meta"]
        wanted = set(keys) if keys is not None else None
        return [
            meta_status(
                r["id"], status, stamp, recipient=r["to"], error_code=error_code, callback_data=r.get("callback_data")
            )
            for r in records
            if wanted is None or r.get("callback_data") in wanted
        ]

    # -- dispatch -------------------------------------------------------------
    def _new_template_id(self, provider):
        n = next(self._ids)
        return str(9000000000 + n) if provider == "meta" else str(n)

    def _take_failure(self, path):
        with self._lock:
            for index, spec in enumerate(self._failures):
                if spec["path"] is None or spec["path"] in path:
                    self._counters["failures"] += 1
                    return self._failures.pop(index)
        return None

    def _dispatch(self, method, path, query, headers, body):
        with self._lock:
            self._requests.append(RecordedRequest(method, path, query, headers, body))
            self._counters["requests"] += 1
        if self.latency:
            time.sleep(self.latency)
        is_meta = bool(_VERSION_RE.match(path.strip("/").split("/")[0] if path.strip("/") else ""))
        failure = self._take_failure(path)
        if failure is not None and failure["status"] in ("reset", "malformed"):
            self._route(method, path, is_meta, query, headers, body)  # the work is done…
            if failure["status"] == "reset":
                return "reset", None  # …the answer is lost
            return 200, b"<html><body>Service temporarily unavailable</body></html>"
        if failure is not None:
            status = failure["status"]
            headers_out = {"Retry-After": str(failure["retry_after"])} if failure.get("retry_after") else {}
            if status == "timeout":
                time.sleep(failure["delay"] if failure["delay"] is not None else self.timeout_delay)
            elif isinstance(status, int) and 400 <= status <= 599:
                message = failure["message"] or f"Fake HTTP {status}"
                if is_meta:
                    return (
                        status,
                        {
                            "error": {
                                "message": message,
                                "type": "FakeError",
                                "fbtrace_id": "FAKE",
                            }
                        },
                        headers_out,
                    )
                return status, {"detail": message}, headers_out
            else:
                code = int(status)
                message = failure["message"] or META_ERROR_MESSAGES.get(code, "Fake Meta error")
                if is_meta:
                    return (
                        failure["http_status"] or (401 if code == 190 else 400),
                        _meta_error(code, message),
                        headers_out,
                    )
                return (
                    failure["http_status"] or 400,
                    {
                        "detail": message,
                        "code": str(code),
                    },
                    headers_out,
                )
        return self._route(method, path, is_meta, query, headers, body)

    def _route(self, method, path, is_meta, query, headers, body):
        try:
            if path.startswith("/media-download/") and method == "GET":
                if self.check_auth and headers.get("Authorization") != f"Bearer {self.meta_token}":
                    return 401, _meta_error(190, META_ERROR_MESSAGES[190], "OAuthException")
                return self._serve_media("meta", path.strip("/").split("/")[1])
            if is_meta:
                return self._meta(method, path.strip("/").split("/"), query, headers, body)
            if path.startswith("/api/1/"):
                return self._spoki(
                    method,
                    path[len("/api/1/") :].strip("/").split("/"),
                    query,
                    headers,
                    body,
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return 400, {"detail": f"Malformed request: {exc!r}"}
        return 404, {"detail": f"No route for {method} {path}"}

    # -- Meta -----------------------------------------------------------------
    def _meta(self, method, parts, query, headers, body):
        if self.check_auth and headers.get("Authorization") != f"Bearer {self.meta_token}":
            return 401, _meta_error(190, META_ERROR_MESSAGES[190], "OAuthException")
        if method == "POST" and len(parts) == 3 and parts[2] == "messages":
            if parts[1] != self.PHONE_NUMBER_ID:
                return 400, _meta_error(
                    100,
                    f"Unsupported post request. Object with ID '{parts[1]}' does not exist",
                )
            return self._meta_send(body or {})
        if method == "POST" and len(parts) == 3 and parts[2] == "media":
            if parts[1] != self.PHONE_NUMBER_ID:
                return 400, _meta_error(100, f"Unsupported post request. Object with ID '{parts[1]}' does not exist")
            return self._upload("meta", body)
        if method == "POST" and len(parts) == 3 and parts[2] == "message_templates":
            if parts[1] != self.WABA_ID:
                return 400, _meta_error(
                    100,
                    f"Unsupported post request. Object with ID '{parts[1]}' does not exist",
                )
            return self._meta_template(body or {})
        if method == "GET" and len(parts) == 2:
            object_id = parts[1]
            fields = [f for f in (query.get("fields") or "").split(",") if f]
            with self._lock:
                template = self._templates.get(object_id)
                media = self._media.get(object_id)
                if media is not None and media["provider"] == "meta":
                    return 200, {
                        "messaging_product": "whatsapp",
                        "url": f"{self.url}/media-download/{object_id}",
                        "mime_type": media["mime_type"],
                        "sha256": hashlib.sha256(media["data"]).hexdigest(),
                        "file_size": len(media["data"]),
                        "id": object_id,
                    }
                if template is not None and template["provider"] == "meta":
                    answer = {
                        "id": object_id,
                        "name": template["name"],
                        "language": template["language"],
                        "status": template["status"],
                        "rejected_reason": template["reason"] or "NONE",
                    }
                elif object_id == self.PHONE_NUMBER_ID:
                    answer = {
                        "id": object_id,
                        "display_phone_number": self.account["phone"],
                        "verified_name": self.account["name"],
                        **{
                            k: self.account[k]
                            for k in (
                                "quality_rating",
                                "messaging_limit_tier",
                                "status",
                                "name_status",
                            )
                        },
                    }
                else:
                    return 400, _meta_error(
                        100,
                        f"Unsupported get request. Object with ID '{object_id}' does not exist",
                    )
            if fields:
                answer = {k: v for k, v in answer.items() if k in fields or k == "id"}
            return 200, answer
        return 400, _meta_error(100, f"Unsupported {method.lower()} request")

    def _meta_send(self, body):
        to = str(body.get("to") or "")
        mtype = body.get("type")
        if body.get("messaging_product") != "whatsapp":
            return 400, _meta_error(100, "The parameter messaging_product is required.")
        if not to.isdigit() or not 8 <= len(to) <= 15:
            return 400, _meta_error(100, "Invalid parameter", details="to: invalid phone number")
        if mtype == "template":
            template = body.get("template") or {}
            if not template.get("name") or not (template.get("language") or {}).get("code"):
                return 400, _meta_error(
                    100,
                    "Invalid parameter",
                    details="template name and language are required",
                )
            known = self.known_meta_templates
            if known is not None and template["name"] not in known:
                return 404, _meta_error(132001, META_ERROR_MESSAGES[132001])
        elif mtype == "text":
            if not (body.get("text") or {}).get("body"):
                return 400, _meta_error(100, "Invalid parameter", details="text.body is required")
        elif mtype == "reaction":  # emoji '' = remove the reaction
            reaction = body.get("reaction") or {}
            if not reaction.get("message_id") or "emoji" not in reaction:
                return 400, _meta_error(100, "Invalid parameter", details="reaction.message_id and emoji are required")
        elif mtype in MEDIA_TYPES:
            media = body.get(mtype) or {}
            with self._lock:
                known = media.get("id") in self._media
            if not media.get("link") and not known:
                return 400, _meta_error(131053, "Media upload error", details=f"unknown media id {media.get('id')!r}")
        else:
            return 400, _meta_error(100, f"Unsupported message type {mtype!r}")
        context = body.get("context")
        if context is not None and not (isinstance(context, dict) and context.get("message_id")):
            return 400, _meta_error(100, "Invalid parameter", details="context.message_id is required")
        with self._lock:
            n = next(self._ids)
            message_id = f"wamid.HBgMFAKE{n:012d}"
            self._messages[message_id] = {
                "id": message_id,
                "provider": "meta",
                "to": to,
                "type": mtype,
                "payload": body,
                "callback_data": body.get("biz_opaque_callback_data"),
                "status": "sent",
                "status_updated_at": _now_iso(),
            }
            self._counters["meta_sends"] += 1
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": message_id}],
        }
        if mtype == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return 200, answer

    def _meta_template(self, body):
        name, language, category = (
            body.get("name"),
            body.get("language"),
            body.get("category"),
        )
        components = body.get("components") or []
        if not name or not language or not category:
            return 400, _meta_error(
                100,
                "Invalid parameter",
                details="name, language and category are required",
            )
        if not any(c.get("type") == "BODY" and c.get("text") for c in components):
            return 400, _meta_error(100, "Invalid parameter", details="a BODY component is required")
        with self._lock:
            for template in self._templates.values():
                if template["provider"] == "meta" and template["name"] == name and template["language"] == language:
                    return 400, _meta_error(
                        100,
                        "Invalid parameter",
                        details="Content in this language already exists",
                    )
            template_id = self._new_template_id("meta")
            self._templates[template_id] = {
                "id": template_id,
                "provider": "meta",
                "name": name,
                "language": language,
                "languages": [language],
                "category": category,
                "status": "PENDING",
                "reason": "",
                "body": next(c["text"] for c in components if c.get("type") == "BODY"),
                "payload": body,
            }
            self._counters["templates_submitted"] += 1
        return 200, {"id": template_id, "status": "PENDING", "category": category}

    # -- Spoki ----------------------------------------------------------------
    def _spoki(self, method, parts, query, headers, body):
        if self.check_auth and headers.get("X-Spoki-Api-Key") != self.spoki_api_key:
            return 401, {"detail": "Authentication credentials were not provided or are invalid."}
        resource = parts[0] if parts else ""
        if resource == "messages":
            if method == "POST" and parts[1:] == ["send"]:
                return self._spoki_send(headers, body or {})
            if method == "GET" and len(parts) == 1:
                key = query.get("idempotency_key")
                with self._lock:
                    items = [
                        self._spoki_message_view(m)
                        for m in self._messages.values()
                        if m["provider"] == "spoki"
                        and (key is None or self.spoki_lookup_ignores_filter or m.get("idempotency_key") == key)
                    ]
                return 200, {"messages": items}
            if method == "GET" and len(parts) == 2:
                with self._lock:
                    message = self._messages.get(parts[1])
                    if message is None or message["provider"] != "spoki":
                        return 404, {"detail": "Not found."}
                    return 200, self._spoki_message_view(message)
        if resource == "media":
            if method == "POST" and len(parts) == 1:
                return self._upload("spoki", body)
            if method == "GET" and len(parts) == 3 and parts[2] == "download":
                return self._serve_media("spoki", parts[1])
        if resource == "templates":
            return self._spoki_templates(method, parts, query, body or {})
        if resource == "accounts" and method == "GET":
            with self._lock:
                view = self._spoki_account_view()
            if len(parts) == 1:
                return 200, {"accounts": [view]}
            if parts[1] == str(view["id"]):
                return 200, view
            return 404, {"detail": "Not found."}
        return 404, {"detail": "Not found."}

    def _spoki_send(self, headers, body):
        key = headers.get("Idempotency-Key") or (body.get("metadata") or {}).get("idempotency_key")
        with self._lock:
            if key and key in self._sent:
                self._counters["spoki_duplicates"] += 1
                return 200, self._spoki_message_view(self._messages[self._sent[key]])
        phone = str(body.get("phone") or "")
        if not _E164_RE.match(phone):
            return 400, {"phone": ["Enter a valid phone number."]}
        mtype = body.get("type")
        if mtype == "Template":
            template_id = str(body.get("template") or "")
            with self._lock:
                template = self._templates.get(template_id)
            if template is None or template["provider"] != "spoki":
                return 400, {"template": [f'Invalid pk "{template_id}" - object does not exist.']}
            if template["status"] != "APPROVED":
                return 400, {"template": ["The template is not approved."]}
        elif mtype == "Message" and body.get("content_type") in ("Image", "Document", "Audio", "Video", "Sticker"):
            if not body.get("url"):
                return 400, {"url": ["This field is required."]}
        elif mtype == "Message":
            if body.get("content_type") != "Text" or not body.get("text"):
                return 400, {"text": ["This field is required."]}
        else:
            return 400, {"type": [f'"{mtype}" is not a valid choice.']}
        with self._lock:
            if key and key in self._sent:  # lost a race with the same key
                self._counters["spoki_duplicates"] += 1
                return 200, self._spoki_message_view(self._messages[self._sent[key]])
            message_id = str(next(self._ids))
            self._messages[message_id] = {
                "id": message_id,
                "provider": "spoki",
                "phone": phone,
                "type": mtype,
                "payload": body,
                "idempotency_key": key,
                "status": "sent",
                "status_updated_at": _now_iso(),
                "error_code": "",
                "error_message": "",
            }
            if key:
                self._sent[key] = message_id
            self._counters["spoki_sends"] += 1
            return 201, self._spoki_message_view(self._messages[message_id])

    # -- media ----------------------------------------------------------------
    def _upload(self, provider, body):
        """A multipart upload (``file``; Meta also ``type`` and
        ``messaging_product``) → the new media's id (and URL for Spoki)."""
        if not isinstance(body, dict) or not body.get("_multipart") or "file" not in body["files"]:
            if provider == "meta":
                return 400, _meta_error(100, "Invalid parameter", details="file is required (multipart)")
            return 400, {"file": ["No file was submitted."]}
        upload = body["files"]["file"]
        mime = body["fields"].get("type") or upload["content_type"]
        if provider == "meta" and body["fields"].get("messaging_product") != "whatsapp":
            return 400, _meta_error(100, "The parameter messaging_product is required.")
        with self._lock:
            media_id = str(880000000000 + next(self._ids))
            self._media[media_id] = {
                "provider": provider,
                "data": upload["data"],
                "mime_type": mime,
                "filename": upload["filename"],
                "uploaded": True,
            }
        if provider == "meta":
            return 200, {"id": media_id}
        return 201, {"id": int(media_id), "url": self.media_url(media_id)}

    def _serve_media(self, provider, media_id):
        with self._lock:
            media = self._media.get(media_id)
        if media is None or media["provider"] != provider:
            return 404, {"detail": "Not found."}
        return 200, media["data"], {"Content-Type": media["mime_type"]}

    @staticmethod
    def _spoki_message_view(message):
        return {
            "id": int(message["id"]),
            "phone": message["phone"],
            "type": message["type"],
            "status": message["status"],
            "status_updated_at": message["status_updated_at"],
            "error_code": message.get("error_code") or "",
            "error_message": message.get("error_message") or "",
            "metadata": (message["payload"] or {}).get("metadata") or {},
        }

    def _spoki_template_view(self, template):
        return {
            "id": int(template["id"]),
            "name": template["name"],
            "category": template["category"],
            "subcategory": "CLASSIC",
            "is_approved": template["status"] == "APPROVED",
            "templatelocalization_set": [
                {
                    "language": language,
                    "status": template["status"],
                    "rejection_reason": template["reason"] if template["status"] == "REJECTED" else None,
                }
                for language in template["languages"]
            ],
        }

    def _spoki_templates(self, method, parts, query, body):
        with self._lock:
            if len(parts) == 1 and method == "GET":
                search = (query.get("search") or "").lower()
                items = [
                    self._spoki_template_view(t)
                    for t in self._templates.values()
                    if t["provider"] == "spoki" and search in t["name"].lower()
                ]
                return 200, {"templates": items}
            if len(parts) == 1 and method == "POST":
                localizations = body.get("templatelocalization_set") or []
                if not body.get("name") or not localizations:
                    return 400, {"templatelocalization_set": ["This field is required."]}
                for loc in localizations:
                    if not (loc.get("body_template_component") or {}).get("text"):
                        return 400, {"body_template_component": ["This field is required."]}
                template_id = self._new_template_id("spoki")
                self._templates[template_id] = {
                    "id": template_id,
                    "provider": "spoki",
                    "name": body["name"],
                    "language": localizations[0].get("language"),
                    "languages": [loc.get("language") for loc in localizations],
                    "category": body.get("category") or "MARKETING",
                    "status": "DRAFT",
                    "reason": "",
                    "body": localizations[0]["body_template_component"]["text"],
                    "payload": body,
                }
                return 201, self._spoki_template_view(self._templates[template_id])
            template = self._templates.get(parts[1]) if len(parts) > 1 else None
            if template is None or template["provider"] != "spoki":
                return 404, {"detail": "Not found."}
            if len(parts) == 3 and parts[2] == "submit" and method == "POST":
                if template["status"] == "DRAFT":
                    template["status"] = "PENDING"
                    self._counters["templates_submitted"] += 1
                return 200, self._spoki_template_view(template)
            if len(parts) == 2 and method == "GET":
                return 200, self._spoki_template_view(template)
        return 404, {"detail": "Not found."}

    def _spoki_account_view(self):
        keys = (
            "id",
            "name",
            "phone",
            "quality_score",
            "phone_status",
            "daily_limit",
            "current_credit",
        )
        return {k: self.account[k] for k in keys if k in self.account}


def _meta_error(code, message, error_type="OAuthException", details=None):
    error = {
        "message": message,
        "type": error_type,
        "code": code,
        "fbtrace_id": "AFakeTraceId",
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


# -- Meta webhook builders (for webhook controller tests) ----------------------
def meta_webhook(changes, waba_id=WABA_ID, timestamp=None):
    """Envelope: ``changes`` is a list of ``{"field", "value"}``; ``timestamp``
    (unix) is the entry's ``time``, as Meta sends it."""
    entry = {"id": waba_id, "changes": changes}
    if timestamp is not None:
        entry["time"] = int(timestamp)
    return {"object": "whatsapp_business_account", "entry": [entry]}


def meta_messages_change(statuses=(), messages=(), contacts=(), phone_number_id=PHONE_NUMBER_ID):
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": "390212345678",
            "phone_number_id": phone_number_id,
        },
    }
    if contacts:
        value["contacts"] = list(contacts)
    if statuses:
        value["statuses"] = list(statuses)
    if messages:
        value["messages"] = list(messages)
    return {"field": "messages", "value": value}


def meta_status(
    message_id,
    status,
    timestamp,
    recipient="393331234567",
    error_code=None,
    error_title="",
    callback_data=None,
):
    item = {
        "id": message_id,
        "status": status,
        "timestamp": str(int(timestamp)),
        "recipient_id": recipient,
    }
    if callback_data is not None:
        item["biz_opaque_callback_data"] = callback_data
    if status != "failed":
        item["conversation"] = {
            "id": "CONVERSATION_ID",
            "origin": {"type": "marketing"},
        }
        item["pricing"] = {
            "billable": True,
            "pricing_model": "CBP",
            "category": "marketing",
        }
    if error_code is not None:
        item["errors"] = [
            {
                "code": error_code,
                "title": error_title or META_ERROR_MESSAGES.get(error_code, "Error"),
                "message": error_title or META_ERROR_MESSAGES.get(error_code, "Error"),
                "error_data": {"details": error_title or "details"},
            }
        ]
    return item


def meta_contact(wa_id, name):
    return {"profile": {"name": name}, "wa_id": wa_id}


def meta_text_message(message_id, wa_id, body, timestamp, context_id=None):
    message = {
        "from": wa_id,
        "id": message_id,
        "timestamp": str(int(timestamp)),
        "type": "text",
        "text": {"body": body},
    }
    if context_id:  # a reply quoting ``context_id``
        message["context"] = {"from": "390212345678", "id": context_id}
    return message


def meta_reaction_message(message_id, wa_id, reacted_id, emoji, timestamp):
    """The customer's reaction to ``reacted_id`` (``emoji`` '' = removed:
    Meta then sends no ``emoji``)."""
    reaction = {"message_id": reacted_id}
    if emoji:
        reaction["emoji"] = emoji
    return {"from": wa_id, "id": message_id, "timestamp": str(int(timestamp)), "type": "reaction", "reaction": reaction}


def meta_button_message(message_id, wa_id, text, timestamp, payload=None, context_id=None):
    message = {
        "from": wa_id,
        "id": message_id,
        "timestamp": str(int(timestamp)),
        "type": "button",
        "button": {"text": text, "payload": payload or text},
    }
    if context_id:
        message["context"] = {"from": "390212345678", "id": context_id}
    return message


def meta_interactive_reply(message_id, wa_id, title, timestamp, reply_id="opt1"):
    return {
        "from": wa_id,
        "id": message_id,
        "timestamp": str(int(timestamp)),
        "type": "interactive",
        "interactive": {
            "type": "button_reply",
            "button_reply": {"id": reply_id, "title": title},
        },
    }


def meta_template_change(template_id, event, name="welcome", language="it", reason="NONE"):
    return {
        "field": "message_template_status_update",
        "value": {
            "event": event,
            "message_template_id": int(template_id),
            "message_template_name": name,
            "message_template_language": language,
            "reason": reason,
        },
    }


def signed_meta_webhook(app_secret, statuses, phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID):
    """``(raw body, headers)`` of a Meta webhook POST carrying ``statuses``
    (:func:`meta_status` items) for ``phone_number_id``, signed with
    ``app_secret`` as Meta signs it."""
    raw = json.dumps(meta_webhook([meta_messages_change(statuses, phone_number_id=phone_number_id)], waba_id)).encode()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(app_secret, raw)}


def meta_signature(app_secret, raw_body):
    """Value of the ``X-Hub-Signature-256`` header Meta sends."""
    if isinstance(raw_body, str):
        raw_body = raw_body.encode()
    return "sha256=" + hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()


def spoki_signature(secret, raw_body, timestamp=None):
    """Value of the ``X-Spoki-Signature`` header Spoki sends (V2 scheme:
    ``t=<unix>,v2=<HMAC-SHA256 of "<t>.<raw body>">``)."""
    if isinstance(raw_body, str):
        raw_body = raw_body.encode()
    stamp = int(time.time() if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={stamp},v2={digest}"


def spoki_inbound_event(message_id, phone, text, timestamp=None):
    """A Spoki ``message.inbound`` webhook event."""
    return {
        "event": "message.inbound",
        "data": {"id": message_id, "phone": phone, "text": text, "timestamp": int(timestamp or time.time())},
    }


def meta_media_message(
    message_id, wa_id, kind, media_id, mime_type, timestamp, caption=None, filename=None, voice=None
):
    """An incoming Cloud API message carrying a file (image, document, audio,
    video, sticker) uploaded by the customer (``media_id``: see
    :meth:`FakeProvider.add_media`)."""
    media = {"id": media_id, "mime_type": mime_type, "sha256": "FAKE"}
    if caption is not None:
        media["caption"] = caption
    if filename is not None:
        media["filename"] = filename
    if voice is not None:
        media["voice"] = voice
    return {"from": wa_id, "id": message_id, "timestamp": str(int(timestamp)), "type": kind, kind: media}


def meta_location_message(message_id, wa_id, timestamp, latitude, longitude, name="", address=""):
    location = {"latitude": latitude, "longitude": longitude}
    if name:
        location["name"] = name
    if address:
        location["address"] = address
    return {"from": wa_id, "id": message_id, "timestamp": str(int(timestamp)), "type": "location", "location": location}


def meta_contacts_message(message_id, wa_id, timestamp, contacts):
    """``contacts``: ``[(formatted name, phone)]``."""
    cards = [
        {
            "name": {"formatted_name": name, "first_name": name.split(" ")[0]},
            "phones": [{"phone": phone, "type": "CELL"}],
        }
        for name, phone in contacts
    ]
    return {"from": wa_id, "id": message_id, "timestamp": str(int(timestamp)), "type": "contacts", "contacts": cards}


def meta_unsupported_message(message_id, wa_id, timestamp, mtype="unsupported"):
    """A message of a type the Cloud API doesn't support (or we don't know)."""
    return {
        "from": wa_id,
        "id": message_id,
        "timestamp": str(int(timestamp)),
        "type": mtype,
        "errors": [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown"}],
    }


def spoki_media_event(message_id, phone, content_type, url, mime_type="", caption="", timestamp=None, **extra):
    """A Spoki ``message.inbound`` event carrying a file (or a location /
    contacts in ``extra``)."""
    data = {"id": message_id, "phone": phone, "content_type": content_type, "timestamp": int(timestamp or time.time())}
    if url:
        data["url"] = url
    if mime_type:
        data["mime_type"] = mime_type
    if caption:
        data["caption"] = caption
    data.update(extra)
    return {"event": "message.inbound", "data": data}
