#!/usr/bin/env python3
"""The loopback fake Meta / Spoki server (``spoki_whatsapp/tests/fake_provider.py``)
as a process of its own, for the fault tests: Odoo servers call it, get killed,
restart, while it keeps counting the sends it received per idempotency key.

    python3 tests/fault/fake_server.py [--lifetime SECONDS]

prints ``READY <api port> <control port>`` once both servers listen on
127.0.0.1. The control server takes ``POST /call`` with ``{"method": name,
"kwargs": {...}}`` and answers ``{"result": …}`` (or ``{"error": …}``, HTTP
500); the methods are those of :class:`Control`. The process stops by itself
when its parent dies or after ``--lifetime`` seconds (default one hour).

On top of the fake's own fault injection (``fail_next``: HTTP errors, read
timeouts, resets, malformed answers, ``Retry-After``) it can

* **hold** send requests (``hold`` / ``release``), at once or once exactly
  ``at`` sends went through: they wait, unrecorded, until released (or
  ``hold_max`` seconds), so a test can kill an Odoo worker while its chunk is
  certainly in flight; released requests are then handled normally, like a
  provider that got a request whose client died;
* **push status webhooks** to Odoo, signed with the app secret like Meta:
  ``push_meta_statuses`` for the Meta sends received (with their
  ``biz_opaque_callback_data``), and ``auto_push``: on each Meta send, the
  ``sent`` (or ``failed``) status is pushed *before* the send is answered —
  the event reaches Odoo before the provider id is stored, as Meta's often do.
"""

import argparse
import importlib.util
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
#: deliveries of a pushed webhook retried while not answered 200 (Meta retries too)
META_RETRIES = 3


def load_fake_provider():
    """``spoki_whatsapp/tests/fake_provider.py`` loaded by path (standard library
    only): the addon's ``tests/__init__.py`` imports Odoo."""
    path = ROOT / "spoki_whatsapp" / "tests" / "fake_provider.py"
    spec = importlib.util.spec_from_file_location("spoki_fake_provider", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fp = load_fake_provider()


def post_webhook(session, url, app_secret, statuses, timeout=60, retries=0):
    """POST one signed Meta status webhook, again (after 1 s) up to ``retries``
    times while the answer is not 200 — Meta retries a delivery that failed.
    Returns the HTTP status of each attempt (0: no answer)."""
    raw, headers = fp.signed_meta_webhook(app_secret, statuses)
    answers = []
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(1)
        try:
            answers.append(session.post(url, data=raw, headers=headers, timeout=timeout).status_code)
        except requests.RequestException:
            answers.append(0)
        if answers[-1] == 200:
            break
    return answers


class ProcessFake(fp.FakeProvider):
    """The fake, plus holds and webhook pushes (see the module docstring)."""

    def __init__(self, **kwargs):
        self._gate = threading.Event()
        self._gate.set()
        self._holding = 0
        self._hold_at = None  # hold once this many sends went through
        self._admitted = 0  # sends let through since the last reset
        self.hold_path = "messages"
        self.hold_max = 120.0
        self.push = None  # {"url", "secret", "failed_every"}
        self.pushed = {}  # idempotency key → [status pushed, HTTP answer of each attempt]
        self._pushes = 0
        self._push_local = threading.local()
        super().__init__(**kwargs)

    def _held(self, method, path):
        """Whether this request waits for ``release``: a send while holding,
        or any send once ``hold(at=n)`` saw ``n`` sends through."""
        if method != "POST" or self.hold_path not in path:
            return False
        with self._lock:
            if self._hold_at is not None and self._admitted >= self._hold_at:
                self._hold_at = None
                self._gate.clear()
            if self._gate.is_set():
                self._admitted += 1
                return False
        return True

    def _dispatch(self, method, path, query, headers, body):
        if self._held(method, path):
            with self._lock:
                self._holding += 1
            try:
                self._gate.wait(self.hold_max)
            finally:
                with self._lock:
                    self._holding -= 1
        answer = super()._dispatch(method, path, query, headers, body)
        push = self.push
        if push and answer[0] == 200 and isinstance(answer[1], dict) and answer[1].get("messages"):
            self._push_status_of_send(push, answer[1], body or {})
        return answer

    def _push_status_of_send(self, push, answer, body):
        """Meta's ``sent`` (every ``failed_every``-th send: ``failed``, 131026)
        for this send, pushed before the send is answered."""
        key = body.get("biz_opaque_callback_data")
        with self._lock:
            self._pushes += 1
            failed = bool(push["failed_every"]) and self._pushes % push["failed_every"] == 0
        item = fp.meta_status(
            answer["messages"][0]["id"],
            "failed" if failed else "sent",
            time.time(),
            recipient=body.get("to") or "",
            error_code=131026 if failed else None,
            callback_data=key,
        )
        session = getattr(self._push_local, "session", None)
        if session is None:
            session = self._push_local.session = requests.Session()
        answers = post_webhook(session, push["url"], push["secret"], [item], retries=META_RETRIES)
        with self._lock:
            self.pushed[key] = [item["status"], answers]

    def hold(self, path="messages", hold_max=120.0, at=None):
        """Hold the send requests (``path``) from now on, or from the moment
        ``at`` of them went through since the last reset."""
        with self._lock:
            self.hold_path, self.hold_max = path, hold_max
            self._hold_at = int(at) if at else None
            if not at:
                self._gate.clear()

    def release(self):
        with self._lock:
            self._hold_at = None
            self._gate.set()

    @property
    def holding(self):
        with self._lock:
            return self._holding


class Control:
    """What the tests may ask of the fake process (``POST /call``)."""

    def __init__(self, fake):
        self.fake = fake

    def url(self):
        return self.fake.url

    def reset(self):
        self.fake.release()
        self.fake.reset()
        self.fake.latency = 0.0
        self.fake.push = None
        self.fake.pushed = {}
        self.fake._pushes = self.fake._admitted = 0

    def fail_next(self, **kwargs):
        self.fake.fail_next(**kwargs)

    def clear_failures(self):
        self.fake.clear_failures()

    def set_latency(self, seconds):
        self.fake.latency = float(seconds)

    def set_account(self, **fields):
        self.fake.set_account(**fields)

    def add_template(self, **kwargs):
        return self.fake.add_template(**kwargs)

    def hold(self, path="messages", hold_max=120.0, at=None):
        self.fake.hold(path, hold_max, at)

    def release(self):
        self.fake.release()

    def holding(self):
        return self.fake.holding

    def counters(self):
        return self.fake.counters

    def sends(self):
        """Every message received: ``[provider, id, number, idempotency key, status]``."""
        return [
            [
                m["provider"],
                m["id"],
                m.get("to") or m.get("phone"),
                m.get("callback_data") if m["provider"] == "meta" else m.get("idempotency_key"),
                m["status"],
            ]
            for m in self.fake.messages.values()
        ]

    def meta_sends_by_key(self):
        return self.fake.meta_sends_by_key

    def set_statuses(self, items):
        """``items``: ``[[message id, status], …]`` (what a Spoki poll reports)."""
        for message_id, status in items:
            self.fake.set_message_status(message_id, status)

    def push_meta_statuses(self, url, secret, status="sent", keys=None, per_request=100):
        """Push the ``status`` of the Meta sends received (with their callback
        data), ``per_request`` statuses per signed webhook. Returns
        ``{HTTP status: requests}``."""
        items = self.fake.meta_status_items(status, keys=keys)
        answers = {}
        with requests.Session() as session:
            for start in range(0, len(items), per_request):
                code = post_webhook(session, url, secret, items[start : start + per_request])[-1]
                answers[code] = answers.get(code, 0) + 1
        return answers

    def auto_push(self, url, secret, failed_every=0):
        self.fake.push = {"url": url, "secret": secret, "failed_every": int(failed_every)} if url else None

    def pushed(self):
        """``{idempotency key: [status pushed, [HTTP answer of each attempt]]}`` of ``auto_push``."""
        with self.fake._lock:
            return dict(self.fake.pushed)


def control_server(control):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            method = request.get("method", "")
            try:
                if method.startswith("_") or not callable(getattr(control, method, None)):
                    raise ValueError(f"unknown method {method!r}")
                answer, status = {"result": getattr(control, method)(**(request.get("kwargs") or {}))}, 200
            except Exception as exc:  # noqa: BLE001 - reported to the caller
                answer, status = {"error": f"{exc.__class__.__name__}: {exc}"}, 500
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lifetime", type=float, default=3600.0)
    args = parser.parse_args()
    fake = ProcessFake(timeout_delay=2.0).start()
    server = control_server(Control(fake))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    print(f"READY {fake.port} {server.server_address[1]}", flush=True)
    parent, deadline = os.getppid(), time.monotonic() + args.lifetime
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.5)
    fake.release()
    server.shutdown()
    fake.stop()


if __name__ == "__main__":
    main()
