"""What callers know about a provider comes from its class: config keys,
webhook verification and parsing, status-error mapping, lookups."""

import json
import time

import pytest

from spoki_whatsapp.tests import fake_provider as fp
from spoki_whatsapp.tools.providers import (
    MetaCloudProvider,
    SandboxProvider,
    SpokiProvider,
    WhatsAppProvider,
    get_provider,
    provider_class,
    provider_selection,
)
from spoki_whatsapp.tools.providers.base import header

RAW = json.dumps(fp.meta_webhook([fp.meta_messages_change(statuses=[fp.meta_status("wamid.1", "read", 1)])])).encode()


def test_registry():
    assert [kind for kind, _label in provider_selection()] == ["sandbox", "spoki", "meta"]
    assert all(label for _kind, label in provider_selection())
    assert provider_class("meta") is MetaCloudProvider
    with pytest.raises(ValueError):
        provider_class("carrier-pigeon")


def test_capabilities():
    assert (SandboxProvider.supports_lookup, SpokiProvider.supports_lookup, MetaCloudProvider.supports_lookup) == (
        True,
        True,
        False,
    )
    assert (SandboxProvider.simulated, SpokiProvider.simulated, MetaCloudProvider.simulated) == (True, False, False)
    assert SpokiProvider.config_fields["webhook_secret"] == "spoki_webhook_secret"
    assert MetaCloudProvider.config_fields["app_secret"] == "meta_app_secret"


def test_header_lookup_is_case_insensitive():
    assert header({"x-hub-signature-256": "sha256=ab"}, "X-Hub-Signature-256") == "sha256=ab"
    assert header({}, "X-Spoki-Signature") == ""
    assert header(None, "X-Spoki-Signature") == ""


@pytest.mark.parametrize("kind", ["meta", "sandbox"])
def test_cloud_api_webhooks_verified_with_the_app_secret(kind):
    provider = get_provider(kind, {"app_secret": "app-secret"})
    assert provider.verify_webhook({"X-Hub-Signature-256": fp.meta_signature("app-secret", RAW)}, RAW)
    assert not provider.verify_webhook({"X-Hub-Signature-256": fp.meta_signature("other", RAW)}, RAW)
    assert not provider.verify_webhook({"X-Spoki-Signature": fp.spoki_signature("app-secret", RAW)}, RAW)
    assert not provider.verify_webhook({}, RAW)
    assert not get_provider(kind, {}).verify_webhook({"X-Hub-Signature-256": fp.meta_signature("", RAW)}, RAW)


def test_spoki_webhooks_verified_with_spoki_scheme():
    raw = json.dumps(fp.spoki_inbound_event("sp.1", "+393331234567", "Ciao")).encode()
    provider = get_provider("spoki", {"webhook_secret": "whsec"})
    assert provider.verify_webhook({"X-Spoki-Signature": fp.spoki_signature("whsec", raw)}, raw)
    assert provider.verify_webhook({"x-spoki-signature": fp.spoki_signature("whsec", raw)}, raw)
    assert not provider.verify_webhook({"X-Spoki-Signature": fp.spoki_signature("other", raw)}, raw)
    old = fp.spoki_signature("whsec", raw, timestamp=time.time() - 3600)
    assert not provider.verify_webhook({"X-Spoki-Signature": old}, raw), "replayed long after"
    assert not provider.verify_webhook({"X-Hub-Signature-256": fp.meta_signature("whsec", raw)}, raw)
    assert not get_provider("spoki", {}).verify_webhook({"X-Spoki-Signature": fp.spoki_signature("", raw)}, raw)


def test_base_provider_refuses_every_webhook():
    assert not WhatsAppProvider({}).verify_webhook({"X-Hub-Signature-256": "sha256=" + "0" * 64}, RAW)


def test_sandbox_parses_cloud_api_payloads():
    statuses, inbound, templates = get_provider("sandbox", {}).parse_webhook(json.loads(RAW))
    assert [(s.message_id, s.status) for s in statuses] == [("wamid.1", "read")]
    assert (inbound, templates) == ([], [])


@pytest.mark.parametrize("kind", ["meta", "sandbox", "spoki"])
def test_status_errors_map_whatsapp_codes(kind):
    provider = get_provider(kind, {})
    assert provider.status_error("131048", "Spam rate limit hit") == (
        "spam_rate_limited",
        "Spam rate limit hit (#131048)",
    )
    assert provider.status_error("131026", "") == ("invalid_number", "#131026")
    assert provider.status_error("", "") == ("failed", "")
    assert provider.status_error("undeliverable", "gone") == ("undeliverable", "gone")


def test_template_ref():
    assert SpokiProvider.template_ref("welcome", "1234") == "1234"
    assert SpokiProvider.template_ref("welcome", "") == "welcome"
    assert MetaCloudProvider.template_ref("welcome", "1234") == "welcome"
    assert SandboxProvider.template_ref("welcome", "sbx-1") == "welcome"
