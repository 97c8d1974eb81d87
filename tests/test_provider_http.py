"""Transport hygiene of the real providers' HTTP client (issue 11): credentials
travel only over https (plain http only to loopback, for the fake server),
and a redirect is never followed with them."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from spoki_whatsapp.tests.fake_provider import FakeProvider
from spoki_whatsapp.tools.providers import PermanentError, get_provider
from spoki_whatsapp.tools.providers.http import JsonHttpClient, endpoint_problem

TO = "+393331234567"


@pytest.mark.parametrize(
    "url",
    [
        "https://graph.facebook.com",
        "https://app.spoki.it/api/1",
        "http://127.0.0.1:8069",
        "http://127.3.4.5/x",
        "http://localhost:1234/api/1",
        "http://[::1]:9000",
    ],
)
def test_allowed_endpoints(url):
    assert endpoint_problem(url) == ""


@pytest.mark.parametrize(
    "url",
    [
        "http://graph.facebook.com",
        "http://10.0.0.1/api",
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
        "ftp://127.0.0.1",
        "graph.facebook.com",
        "",
        None,
        "https://",
        "http://[::1",
    ],
)
def test_refused_endpoints(url):
    assert endpoint_problem(url)


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _server(handler_cls):
    server = _Recorder(("127.0.0.1", 0), handler_cls)
    server.hits = []
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


class _Target(BaseHTTPRequestHandler):
    """Where a redirect points: records what reaches it."""

    def log_message(self, *args):
        pass

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.hits.append(dict(self.headers.items()))
        body = b'{"messages": [{"id": "wamid.STOLEN"}], "id": 1}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _any


def _redirector(location, status):
    class _Redirect(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _any(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self.server.hits.append(self.path)
            self.send_response(status)
            self.send_header("Location", location + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _any

    return _Redirect


@pytest.fixture
def target():
    server = _server(_Target)
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("provider", ["meta", "spoki"])
def test_redirect_is_not_followed_with_credentials(target, status, provider):
    target_url = f"http://127.0.0.1:{target.server_address[1]}"
    redirector = _server(_redirector(target_url, status))
    try:
        with FakeProvider() as fake:
            base = f"http://127.0.0.1:{redirector.server_address[1]}"
            config = fake.meta_config(endpoint=base) if provider == "meta" else fake.spoki_config(endpoint=base)
            client = get_provider(provider, config)
            with pytest.raises(PermanentError) as err:
                client.send_text(TO, "hi", "k-redirect")
        assert err.value.code == "config"
        assert target_url in str(err.value)
        assert len(redirector.hits) == 1
        assert target.hits == []  # neither the token nor the message reached the redirect's target
    finally:
        redirector.shutdown()
        redirector.server_close()


def test_plain_http_endpoint_is_refused_before_connecting(target):
    client = get_provider("meta", FakeProvider().meta_config(endpoint="http://graph.example.com"))
    with pytest.raises(PermanentError) as err:
        client.send_text(TO, "hi", "k")
    assert err.value.code == "config"
    assert "not https" in str(err.value)


def test_absolute_url_must_be_https_too(target):
    """An absolute URL (e.g. a paging link the provider answered) goes through
    the same check as the base URL."""
    client = JsonHttpClient("https://graph.facebook.com", headers={"Authorization": "Bearer t"})
    with pytest.raises(PermanentError) as err:
        client.get("http://attacker.example/steal")
    assert err.value.code == "config"
    local = f"http://127.0.0.1:{target.server_address[1]}/ok"
    assert client.get(local)["id"] == 1
    assert target.hits[0]["Authorization"] == "Bearer t"


def test_environment_is_read_once_per_host_not_per_call(target, monkeypatch):
    """Issue 15 (dispatch throughput): requests reads the proxy variables
    (two scans of ``os.environ``) on every call of a session that trusts the
    environment; the client reads them once per host."""
    import requests.sessions  # noqa: PLC0415

    reads = []
    original = requests.sessions.get_environ_proxies

    def counting(url, no_proxy=None):
        reads.append(url)
        return original(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    client = JsonHttpClient(f"http://127.0.0.1:{target.server_address[1]}", headers={"Authorization": "Bearer t"})
    for _i in range(5):
        assert client.get("ok")["id"] == 1
    assert len(target.hits) == 5
    assert len(reads) == 1, reads


def test_proxy_of_the_environment_is_still_used(target, monkeypatch):
    """Read once, the environment still applies: an ``HTTP_PROXY`` set when
    the client is built carries its calls (here the target plays the proxy)."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{target.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = JsonHttpClient("http://127.0.0.1:9/api", headers={"Authorization": "Bearer t"})  # port 9: nothing
    assert client.get("ok")["id"] == 1
    assert target.hits and target.hits[0]["Authorization"] == "Bearer t"


def test_netrc_does_not_replace_the_authorization_header(target, monkeypatch, tmp_path):
    """A ``~/.netrc`` entry for the provider's host must not replace the
    provider's credentials (requests applies it when trusting the environment)."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = JsonHttpClient(f"http://127.0.0.1:{target.server_address[1]}", headers={"Authorization": "Bearer t"})
    assert client.get("ok")["id"] == 1
    assert target.hits[0]["Authorization"] == "Bearer t"


def test_json_calls_skip_the_requests_session_layers(target, monkeypatch):
    """Issue 15 (dispatch throughput): a JSON call goes through urllib3
    directly (requests' request preparation, hooks and cookie jar cost about
    half of a send's CPU), with the same headers and body on the wire."""
    import json  # noqa: PLC0415

    import requests  # noqa: PLC0415

    from spoki_whatsapp.tools.providers.http import USER_AGENT  # noqa: PLC0415

    bodies = []
    original = _Target._any

    def recording(handler):
        length = int(handler.headers.get("Content-Length") or 0)
        bodies.append(handler.rfile.read(length))
        handler.headers.replace_header("Content-Length", "0")
        return original(handler)

    monkeypatch.setattr(_Target, "_any", recording)
    monkeypatch.setattr(_Target, "do_POST", recording)

    def refused(*args, **kwargs):
        raise AssertionError("requests.Session.request used for a JSON call")

    monkeypatch.setattr(requests.Session, "request", refused)
    client = JsonHttpClient(f"http://127.0.0.1:{target.server_address[1]}", headers={"Authorization": "Bearer t"})
    assert client.post("ok", json={"to": "393331234567", "text": "città"})["id"] == 1
    sent = target.hits[0]
    assert sent["Authorization"] == "Bearer t"
    assert sent["User-Agent"] == USER_AGENT
    assert sent["Accept"] == "application/json"
    assert sent["Content-Type"] == "application/json"
    assert json.loads(bodies[0]) == {"to": "393331234567", "text": "città"}


def test_direct_call_errors_are_those_of_requests(gone_meta):
    """The direct way raises the exceptions requests would: a connection
    that could not be opened is still known as never sent (Meta retries it)."""
    from spoki_whatsapp.tools.providers import TemporaryError  # noqa: PLC0415
    from spoki_whatsapp.tools.providers.meta import never_sent  # noqa: PLC0415

    with pytest.raises(TemporaryError) as err:
        gone_meta.send_text(TO, "hi", "k-gone")
    assert err.value.code == "connection"
    assert never_sent(err.value)
