"""Shared HTTP plumbing of the real providers (Meta Cloud API, Spoki).

One :class:`JsonHttpClient` per provider instance: a ``requests`` session with
the provider's auth headers (JSON calls without a proxy skip its per-call
layers and go through urllib3 directly, with the same exceptions: see
:meth:`JsonHttpClient._direct`), a timeout on every call, JSON in and out, and one
place that turns transport failures and HTTP error statuses into the two error
classes callers understand:

* :class:`~.base.TemporaryError` — timeouts (``timeout``), connection
  failures (``connection``), HTTP 429 (``rate_limited``), HTTP 5xx
  (``http_5xx``), a 2xx whose body is not JSON (``bad_response``: the call may
  have gone through, so the caller must reconcile rather than fail);
* :class:`~.base.PermanentError` — everything else (401/403 ``auth``, 404
  ``not_found``, other 4xx ``http_4xx`` with the provider's message, a
  malformed endpoint URL ``config``).

Credentials travel only over https: a base URL (or an absolute URL given to
:meth:`JsonHttpClient.request`) that is not ``https://`` is refused before any
connection (``config``), except plain ``http://`` to a loopback host
(``127.0.0.0/8``, ``::1``, ``localhost``: the tests' fake server). Redirects are
never followed — every call carries the auth headers — and a 3xx answer is a
``config`` error naming where it pointed (:func:`endpoint_problem` is also the
account form's check).

Providers with richer error bodies (Meta's ``{"error": {"code": …}}``) pass
their own ``raise_for_response`` that refines the mapping and falls back to
:func:`raise_for_response` here. No Odoo import.
"""

import ipaddress
import json as jsonlib
import os
from urllib.parse import urlsplit

import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers, select_proxy
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    HTTPError,
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from urllib3.exceptions import SSLError as Urllib3SSLError

from .base import PermanentError, TemporaryError

USER_AGENT = "odoo-spoki-whatsapp/18.0"
DEFAULT_TIMEOUT = 10.0


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_problem(url):
    """Why ``url`` can't carry credentials ('' when it can): it must be an
    absolute ``https://`` URL with a host; ``http://`` only to a loopback host."""
    try:
        parts = urlsplit((url or "").strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return "not a valid URL"
    if not host:
        return "not an absolute URL"
    if parts.scheme == "https":
        return ""
    if parts.scheme == "http" and _is_loopback(host):
        return ""
    return "not https"


def decode_json(response):
    """The decoded JSON body, or None when empty / not JSON."""
    content = response.content
    if not content:
        return None
    try:
        return jsonlib.loads(content)
    except ValueError:
        return None


def error_detail(body, response=None, limit=300):
    """A short human readable message out of an error body."""
    if isinstance(body, dict):
        for key in ("detail", "message", "error_description", "title", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:limit]
            if isinstance(value, dict):
                nested = error_detail(value, limit=limit)
                if nested:
                    return nested
        # DRF style field errors: {"phone": ["Enter a valid phone number."]}
        parts = []
        for key, value in body.items():
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                parts.append(f"{key}: {' '.join(value)}")
            elif isinstance(value, str) and key not in ("code", "status"):
                parts.append(f"{key}: {value}")
        if parts:
            return "; ".join(parts)[:limit]
    if isinstance(body, list) and body and all(isinstance(v, str) for v in body):
        return " ".join(body)[:limit]
    if response is not None:
        text = (response.text or "").strip()
        if text:
            return text[:limit]
        return f"HTTP {response.status_code} {response.reason or ''}".strip()
    return ""


def raise_for_response(response, body=None):
    """Generic status → error mapping. Returns the decoded body on 2xx."""
    status = response.status_code
    if body is None:
        body = decode_json(response)
    if 200 <= status < 300:
        if response.content and body is None:
            raise TemporaryError(
                "The provider answered with a body that is not JSON",
                code="bad_response",
                http_status=status,
            )
        return body if body is not None else {}
    message = error_detail(body, response) or f"HTTP {status}"
    if status == 429:
        raise TemporaryError(f"Rate limited: {message}", code="rate_limited", http_status=status)
    if status >= 500:
        raise TemporaryError(f"Provider error {status}: {message}", code="http_5xx", http_status=status)
    if status in (401, 403):
        raise PermanentError(f"Authentication failed: {message}", code="auth", http_status=status)
    if status == 404:
        raise PermanentError(f"Not found: {message}", code="not_found", http_status=status)
    raise PermanentError(message, code="http_4xx", http_status=status)


def _requests_error(err):
    """The ``requests`` exception ``requests.adapters.HTTPAdapter.send``
    raises for the urllib3 (or socket) error ``err``."""
    if isinstance(err, (ProtocolError, OSError)):
        return requests.ConnectionError(err)
    if isinstance(err, MaxRetryError):
        reason = err.reason
        if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
            return requests.exceptions.ConnectTimeout(err)
        if isinstance(reason, ResponseError):
            return requests.exceptions.RetryError(err)
        if isinstance(reason, Urllib3ProxyError):
            return requests.exceptions.ProxyError(err)
        if isinstance(reason, Urllib3SSLError):
            return requests.exceptions.SSLError(err)
        return requests.ConnectionError(err)
    if isinstance(err, ClosedPoolError):
        return requests.ConnectionError(err)
    if isinstance(err, Urllib3ProxyError):
        return requests.exceptions.ProxyError(err)
    if isinstance(err, Urllib3SSLError):
        return requests.exceptions.SSLError(err)
    if isinstance(err, ReadTimeoutError):
        return requests.exceptions.ReadTimeout(err)
    if isinstance(err, InvalidHeader):
        return requests.exceptions.InvalidHeader(err)
    return requests.RequestException(err)


class JsonHttpClient:
    """Small JSON-over-HTTP client bound to one base URL.

    ``raise_for_response(response, body)`` maps a response to its decoded
    body or raises; it defaults to the generic :func:`raise_for_response`.
    """

    def __init__(
        self,
        base_url,
        headers=None,
        timeout=DEFAULT_TIMEOUT,
        raise_for_response=None,
        session=None,
    ):
        self.base_url = (base_url or "").rstrip("/")
        self.timeout = float(timeout or DEFAULT_TIMEOUT)
        self.session = session or requests.Session()
        # The environment (proxy variables, CA bundle) is read once per host
        # (``_environment``), not by requests on every call: with
        # ``trust_env`` it scans ``os.environ`` twice and looks for a
        # ``~/.netrc`` per request (~15% of a send's CPU), and a ``.netrc``
        # entry would replace the provider's Authorization header.
        self.session.trust_env = False
        self._environments = {}
        self._pools = {}  # verify → urllib3 pool manager of the direct calls
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if headers:
            self.session.headers.update({k: v for k, v in headers.items() if v is not None})
        self._raise_for_response = raise_for_response or globals()["raise_for_response"]

    def url(self, path):
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _environment(self, url):
        """``(proxies, verify)`` of the environment for ``url``'s host
        (``HTTPS_PROXY`` / ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``…), read once."""
        host = urlsplit(url).netloc
        found = self._environments.get(host)
        if found is None:
            probe = requests.Session()
            try:
                settings = probe.merge_environment_settings(url, {}, None, None, None)
            finally:
                probe.close()
            found = self._environments[host] = (settings["proxies"], settings["verify"])
        return found

    def _direct(self, method, url, headers, json, verify):
        """One JSON call through urllib3 (the library under requests), as
        ``requests.Session.request`` would make it — same headers, body,
        timeout, TLS verification, no redirect, no retry, and the same
        ``requests`` exceptions (``HTTPAdapter.send``'s mapping: the
        callers and :func:`.meta.never_sent` read them) — without requests'
        per-call layers (request preparation, hooks, cookie jar, adapter
        look-up): about half a call's CPU in a send worker. The answer is a
        ``requests.Response`` with its body read."""
        pool = self._pools.get(verify)
        if pool is None:
            if verify is False:
                options = {"cert_reqs": "CERT_NONE"}
            else:
                bundle = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
                key = "ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"
                options = {"cert_reqs": "CERT_REQUIRED", key: bundle}
            pool = self._pools[verify] = urllib3.PoolManager(num_pools=4, **options)
        merged = {k: v for k, v in self.session.headers.items() if v is not None}
        body = None
        if json is not None:
            body = jsonlib.dumps(json, allow_nan=False).encode("utf-8")
            merged["Content-Type"] = "application/json"
        elif method not in ("GET", "HEAD"):
            merged["Content-Length"] = "0"  # as requests does for a body-less POST, DELETE…
        for name, value in (headers or {}).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        try:
            raw = pool.urlopen(
                method,
                url,
                body=body,
                headers=merged,
                redirect=False,
                assert_same_host=False,
                preload_content=True,
                decode_content=True,
                retries=urllib3.util.Retry(0, read=False),
                timeout=urllib3.util.Timeout(connect=self.timeout, read=self.timeout),
            )
        except (ProtocolError, OSError, HTTPError) as err:
            raise _requests_error(err) from err
        response = requests.Response()
        response.status_code = raw.status
        response.headers = CaseInsensitiveDict(raw.headers)
        response.reason = raw.reason
        response.url = url
        response.encoding = get_encoding_from_headers(response.headers)
        response._content = raw.data
        response._content_consumed = True
        return response

    def _call(self, method, path, headers=None, **kwargs):
        """The HTTP answer of one call (transport failures and redirects
        mapped to provider errors, the status not looked at)."""
        url = self.url(path)
        problem = endpoint_problem(url)
        if problem:
            raise PermanentError(f"Refused provider endpoint {url!r}: {problem}", code="config")
        proxies, verify = self._environment(url)
        # JSON calls (sends, reads) without a proxy go the direct way; uploads,
        # downloads, query parameters and proxied hosts through requests
        direct = (
            set(kwargs) <= {"json", "params"}
            and kwargs.get("params") is None
            and url.isascii()
            and not select_proxy(url, proxies)
            and type(self.session) is requests.Session
            and self.session.auth is None
        )
        try:
            if direct:
                response = self._direct(method, url, headers, kwargs.get("json"), verify)
            else:
                response = self.session.request(
                    method,
                    url,
                    headers=headers,
                    timeout=self.timeout,
                    proxies=proxies,
                    verify=verify,
                    allow_redirects=False,  # the auth headers must not follow a redirect
                    **kwargs,
                )
        except requests.Timeout as exc:
            raise TemporaryError(
                f"No answer from the provider within {self.timeout:g}s ({exc.__class__.__name__})",
                code="timeout",
            ) from exc
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise PermanentError(f"Invalid provider endpoint: {exc}", code="config") from exc
        except requests.ConnectionError as exc:
            raise TemporaryError(
                f"Cannot reach the provider: {exc.__class__.__name__}",
                code="connection",
            ) from exc
        except requests.RequestException as exc:
            raise TemporaryError(f"HTTP error: {exc}", code="connection") from exc
        if 300 <= response.status_code < 400:
            response.close()
            raise PermanentError(
                f"The provider endpoint redirects (HTTP {response.status_code} to "
                f"{response.headers.get('Location') or '?'}): not followed with credentials, "
                "set the final https URL as the endpoint",
                code="config",
                http_status=response.status_code,
            )
        return response

    def request(self, method, path, json=None, params=None, headers=None, files=None, data=None):
        """Perform the call; returns the decoded JSON body (``{}`` if empty).
        ``files`` / ``data``: a multipart/form-data body (uploads) instead of JSON."""
        if files is not None or data is not None:
            response = self._call(method, path, headers=headers, params=params, files=files, data=data)
        else:
            response = self._call(method, path, headers=headers, json=json, params=params)
        return self._raise_for_response(response, decode_json(response))

    def download(self, path, max_bytes=None, params=None):
        """``(bytes, content type)`` of a file (``path`` may be an absolute
        URL: same https / loopback rule, same auth headers). The download
        stops beyond ``max_bytes``: :class:`~.base.PermanentError` ``too_big``.
        An error status is mapped like any call's."""
        response = self._call("GET", path, params=params, stream=True)
        with response:
            if not 200 <= response.status_code < 300:
                response.content  # noqa: B018 - read the error body for the mapping
                self._raise_for_response(response, decode_json(response))
            declared = response.headers.get("Content-Length") or ""
            if max_bytes is not None and declared.isdigit() and int(declared) > max_bytes:
                raise PermanentError(f"The file is larger than {max_bytes} bytes", code="too_big")
            chunks, size = [], 0
            try:
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise PermanentError(f"The file is larger than {max_bytes} bytes", code="too_big")
                    chunks.append(chunk)
            except requests.RequestException as exc:
                raise TemporaryError(
                    f"The download was interrupted: {exc.__class__.__name__}", code="connection"
                ) from exc
            return b"".join(chunks), response.headers.get("Content-Type") or ""

    def get(self, path, params=None, headers=None):
        return self.request("GET", path, params=params, headers=headers)

    def post(self, path, json=None, headers=None):
        return self.request("POST", path, json=json if json is not None else {}, headers=headers)

    def close(self):
        self.session.close()
        for pool in self._pools.values():
            pool.clear()
        self._pools.clear()
