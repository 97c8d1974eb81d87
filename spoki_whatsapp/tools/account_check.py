"""Plain-words checks of a WhatsApp account's setup ("Test connection"):
can WhatsApp reach the webhook address, and what a provider error means for
the person setting the account up. No Odoo import."""

import ipaddress
from urllib.parse import urlsplit

#: provider error codes (``ProviderError.code``) → what went wrong, in words
CONNECTION_PROBLEMS = {
    "auth": "credentials",
    "config": "configuration",
    "not_found": "number",
    "timeout": "unreachable",
    "connection": "unreachable",
    "rate_limited": "busy",
    "http_5xx": "busy",
    "http_4xx": "refused",
    "bad_response": "busy",
}


def connection_problem(code):
    """The kind of problem a provider error ``code`` reveals: credentials
    (refused), configuration (something missing), number (the phone number
    ID or account doesn't exist), refused (the provider refused the request:
    usually an ID that isn't right), unreachable (no answer), busy (the
    provider answered an error of its own) or other."""
    return CONNECTION_PROBLEMS.get(code or "", "other")


def webhook_problem(url):
    """Why WhatsApp can't call the webhook ``url``, or None when it can in
    principle: ``missing`` (no address), ``local`` (localhost, a private or
    loopback address: not reachable from the internet), ``not_https`` (Meta
    calls only https addresses)."""
    if not url:
        return "missing"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return "missing"
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal", ".lan")) or "." not in host:
        return "local"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address and (address.is_private or address.is_loopback or address.is_link_local or address.is_unspecified):
        return "local"
    if parts.scheme != "https":
        return "not_https"
    return None
