"""Provider clients against the local fake server over real HTTP (loopback),
plus the embedded sandbox provider with an injected clock."""

import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import datetime, timedelta

import pytest

from spoki_whatsapp.tests.fake_provider import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    meta_button_message,
    meta_contact,
    meta_interactive_reply,
    meta_messages_change,
    meta_signature,
    meta_status,
    meta_template_change,
    meta_text_message,
    meta_webhook,
)
from spoki_whatsapp.tools.providers import (
    PermanentError,
    ProviderError,
    TemporaryError,
    get_provider,
)
from spoki_whatsapp.tools.providers.base import TemplateSpec
from spoki_whatsapp.tools.providers.cloud_api import verify_signature
from spoki_whatsapp.tools.providers.meta import MetaCloudProvider
from spoki_whatsapp.tools.providers.sandbox import SandboxProvider
from spoki_whatsapp.tools.providers.spoki import SpokiProvider
from spoki_whatsapp.tools.providers.spoki import (
    verify_signature as spoki_verify_signature,
)

TO = "+393331234567"


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


# ---------------------------------------------------------------------------
# Meta Cloud API
# ---------------------------------------------------------------------------
def test_registry_builds_real_providers(fake):
    assert isinstance(get_provider("meta", fake.meta_config()), MetaCloudProvider)
    assert isinstance(get_provider("spoki", fake.spoki_config()), SpokiProvider)
    assert MetaCloudProvider.supports_status_polling is False
    assert SpokiProvider.supports_status_polling is True


def test_meta_send_template_payload(fake, meta):
    result = meta.send_template(TO, "order_ready", "it", ["Ada", 42], "key-1")
    assert result.message_id.startswith("wamid.")
    assert result.status == "sent"
    request = fake.requests[-1]
    assert request.method == "POST"
    assert request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["Authorization"] == f"Bearer {fake.meta_token}"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "393331234567",
        "type": "template",
        "template": {
            "name": "order_ready",
            "language": {"code": "it"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ada"},
                        {"type": "text", "text": "42"},
                    ],
                }
            ],
        },
        "biz_opaque_callback_data": "key-1",
    }
    assert fake.messages[result.message_id]["to"] == "393331234567"


def test_meta_send_template_without_params_has_no_components(fake, meta):
    meta.send_template(TO, "hello_world", "en_US", [], "key-2")
    assert "components" not in fake.requests[-1].json["template"]


def test_meta_send_text_payload(fake, meta):
    result = meta.send_text(TO, "Ciao!", "key-3")
    assert result.message_id in fake.messages
    assert fake.requests[-1].json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "393331234567",
        "type": "text",
        "text": {"body": "Ciao!", "preview_url": False},
        "biz_opaque_callback_data": "key-3",
    }
    with pytest.raises(PermanentError) as err:
        meta.send_text(TO, "  ", "key-4")
    assert err.value.code == "empty_body"


def test_meta_find_message_is_none(meta):
    assert meta.find_message("anything") is None


def test_meta_5xx_is_temporary(fake, meta):
    fake.fail_next(1, status=500)
    with pytest.raises(TemporaryError) as err:
        meta.send_template(TO, "t", "it", [], "k")
    assert err.value.code == "http_5xx"
    assert err.value.http_status == 500
    # next call goes through
    assert meta.send_template(TO, "t", "it", [], "k").message_id


def test_meta_timeout_is_temporary(fake):
    provider = get_provider("meta", fake.meta_config(timeout=0.3))
    fake.fail_next(1, status="timeout")
    started = time.monotonic()
    with pytest.raises(TemporaryError) as err:
        provider.send_template(TO, "t", "it", [], "k")
    assert err.value.code == "timeout"
    assert time.monotonic() - started < 1.2


def test_connection_refused_is_temporary(gone_meta):
    with pytest.raises(TemporaryError) as err:
        gone_meta.send_text(TO, "hi", "k")
    assert err.value.code == "connection"


@pytest.mark.parametrize(
    "failure, code",
    [
        (429, "rate_limited"),
        (4, "rate_limited"),
        (80007, "rate_limited"),
        (130429, "rate_limited"),
        (131056, "pair_rate_limited"),
        (131048, "spam_rate_limited"),
    ],
)
def test_meta_rate_limits_are_temporary(fake, meta, failure, code):
    fake.fail_next(1, status=failure)
    with pytest.raises(TemporaryError) as err:
        meta.send_template(TO, "t", "it", [], "k")
    assert err.value.code == code


@pytest.mark.parametrize(
    "failure, code",
    [
        (131026, "invalid_number"),
        (131030, "invalid_number"),
        (1006, "invalid_number"),
        (132001, "template_not_approved"),
        (132000, "template_not_approved"),
        (132015, "template_not_approved"),
        (132016, "template_not_approved"),
        (131047, "outside_window"),
        (190, "auth"),
        (131009, "meta_131009"),
    ],
)
def test_meta_permanent_errors(fake, meta, failure, code):
    fake.fail_next(1, status=failure, message="Meta says no")
    with pytest.raises(PermanentError) as err:
        meta.send_template(TO, "t", "it", [], "k")
    assert err.value.code == code
    assert "Meta says no" in str(err.value)
    assert not err.value.temporary


def test_meta_param_error_naming_phone_is_invalid_number(fake, meta):
    with pytest.raises(PermanentError) as err:
        meta.send_text("+12", "hi", "k")  # the fake answers #100 "to: invalid phone number"
    assert err.value.code == "invalid_number"


def test_meta_unknown_template_and_bad_token(fake, meta):
    fake.known_meta_templates = {"welcome"}
    assert meta.send_template(TO, "welcome", "it", [], "k")
    with pytest.raises(PermanentError) as err:
        meta.send_template(TO, "nope", "it", [], "k")
    assert err.value.code == "template_not_approved"
    bad = get_provider("meta", fake.meta_config(access_token="expired"))
    with pytest.raises(PermanentError) as err:
        bad.send_text(TO, "hi", "k")
    assert err.value.code == "auth"
    assert err.value.http_status == 401


def test_meta_missing_config(fake):
    provider = get_provider("meta", {"endpoint": fake.url, "access_token": "x"})
    with pytest.raises(PermanentError) as err:
        provider.send_text(TO, "hi", "k")
    assert err.value.code == "config"
    assert fake.counters["requests"] == 0


def test_meta_submit_template_one_request_per_language(fake, meta):
    spec = TemplateSpec(
        name="summer_sale",
        category="marketing",
        languages={
            "it": "Ciao {{1}}, sconti fino al {{2}}!",
            "en": "Hi {{1}}, up to {{2}} off!",
        },
        buttons=[
            {"type": "url", "text": "Shop", "value": "https://example.com/shop"},
            {"type": "phone_number", "text": "Call us", "value": "+390212345678"},
            {"type": "quick_reply", "text": "Stop"},
        ],
    )
    status = meta.submit_template(spec)
    posts = fake.requests_to("/message_templates", "POST")
    assert [r.path for r in posts] == [f"/v21.0/{fake.WABA_ID}/message_templates"] * 2
    assert [(r.json["name"], r.json["language"]) for r in posts] == [
        ("summer_sale", "it"),
        ("summer_sale", "en"),
    ]
    first = posts[0].json
    assert first["category"] == "MARKETING"
    body, buttons = first["components"]
    assert body["type"] == "BODY"
    assert body["text"] == "Ciao {{1}}, sconti fino al {{2}}!"
    assert len(body["example"]["body_text"][0]) == 2
    assert buttons == {
        "type": "BUTTONS",
        "buttons": [
            {"type": "URL", "text": "Shop", "url": "https://example.com/shop"},
            {
                "type": "PHONE_NUMBER",
                "text": "Call us",
                "phone_number": "+390212345678",
            },
            {"type": "QUICK_REPLY", "text": "Stop"},
        ],
    }
    ids = status.external_id.split(",")
    assert len(ids) == 2 and all(i in fake.templates for i in ids)
    assert status.status == "in_review"

    # aggregation over the per-language ids
    fake.set_template_status(ids[0], "APPROVED")
    assert meta.get_template_status(status.external_id).status == "in_review"
    fake.set_template_status(ids[1], "APPROVED")
    assert meta.get_template_status(status.external_id).status == "approved"
    fake.set_template_status(ids[1], "REJECTED", "INVALID_FORMAT")
    rejected = meta.get_template_status(status.external_id)
    assert (rejected.status, rejected.reason) == ("rejected", "INVALID_FORMAT")
    fake.set_template_status(ids[1], "PAUSED")
    paused = meta.get_template_status(status.external_id)
    assert paused.status == "rejected" and "PAUSED" in paused.reason
    get = fake.requests_to(f"/{ids[0]}", "GET")[-1]
    assert get.query == {"fields": "status,rejected_reason"}


def test_meta_submit_template_twice_is_a_permanent_error(fake, meta):
    spec = TemplateSpec(name="dup", category="UTILITY", languages={"it": "Ordine pronto, grazie!"})
    meta.submit_template(spec)
    with pytest.raises(PermanentError) as err:
        meta.submit_template(spec)
    assert "already exists" in str(err.value)


@pytest.mark.parametrize(
    "quality, status, tier, expected",
    [
        ("GREEN", "CONNECTED", "TIER_1K", ("high", "connected", 1000)),
        ("YELLOW", "FLAGGED", "TIER_10K", ("medium", "flagged", 10000)),
        ("RED", "RESTRICTED", "TIER_250", ("low", "restricted", 250)),
        ("GREEN", "RATE_LIMITED", "TIER_2K", ("high", "restricted", 2000)),
        ("GREEN", "CONNECTED", "TIER_100K", ("high", "connected", 100000)),
        ("GREEN", "CONNECTED", "TIER_UNLIMITED", ("high", "connected", 0)),
        ("UNKNOWN", "CONNECTED", "SOMETHING_NEW", ("unknown", "connected", None)),
    ],
)
def test_meta_account_info_mapping(fake, meta, quality, status, tier, expected):
    fake.set_account(quality_rating=quality, status=status, messaging_limit_tier=tier)
    info = meta.get_account_info()
    assert (info.quality, info.phone_status, info.tier_limit) == expected
    request = fake.requests[-1]
    assert request.path == f"/v21.0/{PHONE_NUMBER_ID}"
    assert request.query == {"fields": "quality_rating,messaging_limit_tier,status,name_status"}


def _realistic_meta_payload():
    t = 1718000000
    return meta_webhook(
        [
            meta_messages_change(
                statuses=[
                    meta_status("wamid.A", "delivered", t),
                    meta_status("wamid.A", "read", t + 5),
                    meta_status(
                        "wamid.B",
                        "failed",
                        t + 1,
                        error_code=131026,
                        error_title="Message undeliverable.",
                    ),
                    {
                        "id": "wamid.C",
                        "status": "deleted",
                        "timestamp": str(t),
                    },  # ignored
                ]
            ),
            meta_messages_change(
                contacts=[meta_contact("393331234567", "Ada Lovelace")],
                messages=[meta_text_message("wamid.IN1", "393331234567", "Vorrei info", t + 10)],
            ),
            meta_messages_change(
                contacts=[meta_contact("393339876543", "Alan")],
                messages=[
                    meta_button_message(
                        "wamid.IN2",
                        "393339876543",
                        "Stop promozioni",
                        t + 11,
                        context_id="wamid.A",
                    ),
                    meta_interactive_reply("wamid.IN3", "393339876543", "Sì, confermo", t + 12),
                    {
                        "from": "393339876543",
                        "id": "wamid.SYS",
                        "timestamp": str(t),
                        "type": "system",
                    },
                ],
            ),
            meta_messages_change(
                statuses=[meta_status("wamid.OTHER", "read", t)],
                phone_number_id="999",  # another number of the WABA: not ours
            ),
            meta_template_change("9000000001", "APPROVED"),
            meta_template_change("9000000002", "REJECTED", reason="INCORRECT_CATEGORY"),
            meta_template_change("9000000003", "PAUSED"),
            {"field": "phone_number_quality_update", "value": {"event": "FLAGGED"}},
        ]
    )


def test_meta_parse_webhook(meta):
    statuses, inbound, templates = meta.parse_webhook(_realistic_meta_payload())
    t0 = datetime(2024, 6, 10, 6, 13, 20)  # 1718000000 UTC
    assert [(s.message_id, s.status, s.timestamp) for s in statuses] == [
        ("wamid.A", "delivered", t0),
        ("wamid.A", "read", t0 + timedelta(seconds=5)),
        ("wamid.B", "failed", t0 + timedelta(seconds=1)),
    ]
    failed = statuses[2]
    assert (failed.error_code, failed.error_message) == (
        "131026",
        "Message undeliverable.",
    )
    assert [(m.message_id, m.from_number, m.text, m.profile_name) for m in inbound] == [
        ("wamid.IN1", "+393331234567", "Vorrei info", "Ada Lovelace"),
        ("wamid.IN2", "+393339876543", "Stop promozioni", "Alan"),
        ("wamid.IN3", "+393339876543", "Sì, confermo", "Alan"),
    ]
    assert inbound[0].timestamp == t0 + timedelta(seconds=10)
    assert [(t.external_id, t.status, t.reason) for t in templates] == [
        ("9000000001", "approved", ""),
        ("9000000002", "rejected", "INCORRECT_CATEGORY"),
        ("9000000003", "rejected", "PAUSED"),
    ]


def test_meta_parse_webhook_tolerates_garbage(meta):
    assert meta.parse_webhook({}) == ([], [], [])
    assert meta.parse_webhook({"entry": [{"changes": [{"field": "messages", "value": {}}]}]}) == ([], [], [])


def test_verify_signature():
    raw = json.dumps(_realistic_meta_payload()).encode()
    header = meta_signature(APP_SECRET, raw)
    assert verify_signature(APP_SECRET, raw, header)
    assert verify_signature(APP_SECRET, raw, header.upper().replace("SHA256", "sha256"))
    assert not verify_signature(APP_SECRET, raw + b" ", header)
    assert not verify_signature("other-secret", raw, header)
    assert not verify_signature(APP_SECRET, raw, "")
    assert not verify_signature(APP_SECRET, raw, None)
    assert not verify_signature("", raw, header)
    assert not verify_signature(APP_SECRET, raw, header.split("=", 1)[1])  # no "sha256=" prefix
    assert not verify_signature(APP_SECRET, raw, "sha1=" + header.split("=", 1)[1])
    assert not verify_signature(APP_SECRET, raw, "sha256=abc")
    assert not verify_signature(APP_SECRET, raw, "sha256=" + "z" * 64)


# ---------------------------------------------------------------------------
# Spoki
# ---------------------------------------------------------------------------
def test_spoki_send_template_payload(fake, spoki):
    template_id = fake.add_template("order_ready")
    result = spoki.send_template(TO, "order_ready", "it", ["Ada", 42], "key-1")
    assert result.message_id in fake.messages
    search, send = fake.requests[-2:]
    assert (search.method, search.path, search.query) == (
        "GET",
        "/api/1/templates/",
        {"search": "order_ready"},
    )
    assert (send.method, send.path) == ("POST", "/api/1/messages/send/")
    assert send.headers["X-Spoki-Api-Key"] == fake.spoki_api_key
    assert send.headers["Idempotency-Key"] == "key-1"
    assert send.json == {
        "type": "Template",
        "phone": "+393331234567",
        "template": int(template_id),
        "language": "it",
        "custom_fields": {"P1": "Ada", "P2": "42"},
        "metadata": {"idempotency_key": "key-1"},
    }
    # the name → id lookup is cached
    spoki.send_template(TO, "order_ready", "it", ["Bob", 1], "key-2")
    assert len(fake.requests_to("/templates/", "GET")) == 1
    # a numeric template name is used as the id as is
    spoki.send_template(TO, template_id, "it", [], "key-3")
    assert fake.requests[-1].json["template"] == int(template_id)


def test_spoki_send_text_payload(fake, spoki):
    result = spoki.send_text("+39 333 123 4567", "Ciao!", "key-t")
    assert fake.sent["key-t"]["id"] == result.message_id
    assert fake.requests[-1].json == {
        "type": "Message",
        "content_type": "Text",
        "phone": "+393331234567",
        "text": "Ciao!",
        "metadata": {"idempotency_key": "key-t"},
    }


def test_spoki_idempotency_and_find_message(fake, spoki):
    fake.add_template("welcome")
    first = spoki.send_template(TO, "welcome", "it", ["Ada"], "same-key")
    second = spoki.send_template(TO, "welcome", "it", ["Ada"], "same-key")
    assert first.message_id == second.message_id
    counters = fake.counters
    assert (counters["spoki_sends"], counters["spoki_duplicates"]) == (1, 1)
    assert list(fake.sent) == ["same-key"]
    assert spoki.find_message("same-key") == first.message_id
    assert fake.requests[-1].query == {"idempotency_key": "same-key"}
    assert spoki.find_message("never-sent") is None


def test_spoki_timeout_then_reconcile(fake):
    provider = get_provider("spoki", fake.spoki_config(timeout=0.3))
    fake.add_template("welcome")
    fake.fail_next(1, status="timeout", path="/messages/send/", delay=0.8)
    with pytest.raises(TemporaryError) as err:
        provider.send_template(TO, "welcome", "it", ["Ada"], "slow-key")
    assert err.value.code == "timeout"
    # the fake did the send after the client gave up: reconciliation finds it
    assert wait_until(lambda: "slow-key" in fake.sent)
    message_id = provider.find_message("slow-key")
    assert message_id == fake.sent["slow-key"]["id"]
    # a retry with the same key doesn't send twice
    assert provider.send_template(TO, "welcome", "it", ["Ada"], "slow-key").message_id == message_id
    assert fake.counters["spoki_sends"] == 1


def test_spoki_status_polling(fake, spoki):
    sent = spoki.send_text(TO, "hi", "k-poll")
    assert [e.status for e in spoki.get_statuses([sent.message_id])] == ["sent"]
    fake.set_message_status(sent.message_id, "delivered")
    (event,) = spoki.get_statuses([sent.message_id, "424242"])  # unknown id skipped
    assert (event.message_id, event.status) == (sent.message_id, "delivered")
    assert isinstance(event.timestamp, datetime) and event.timestamp.tzinfo is None
    fake.set_message_status(sent.message_id, "failed", "131026", "Message undeliverable")
    (event,) = spoki.get_statuses([sent.message_id])
    assert (event.status, event.error_code, event.error_message) == (
        "failed",
        "131026",
        "Message undeliverable",
    )
    off = get_provider("spoki", fake.spoki_config(status_polling=False))
    assert not off.supports_status_polling
    assert off.get_statuses([sent.message_id]) == []


def test_spoki_error_mapping(fake, spoki):
    fake.add_template("draft_one", status="PENDING")
    fake.add_template("ok")
    with pytest.raises(PermanentError) as err:
        spoki.send_text("+12", "hi", "k1")
    assert err.value.code == "invalid_number"
    with pytest.raises(PermanentError) as err:
        spoki.send_template(TO, "draft_one", "it", [], "k2")
    assert err.value.code == "template_not_approved"
    with pytest.raises(PermanentError) as err:
        spoki.send_template(TO, "does_not_exist", "it", [], "k3")
    assert err.value.code == "template_not_approved"
    with pytest.raises(PermanentError) as err:
        spoki.send_template(TO, "987654", "it", [], "k3b")  # unknown numeric id
    assert err.value.code == "template_not_approved"
    fake.fail_next(1, status=500)
    with pytest.raises(TemporaryError) as err:
        spoki.send_template(TO, "ok", "it", [], "k4")
    assert err.value.code == "http_5xx"
    fake.fail_next(1, status=429, path="/messages/send/")
    with pytest.raises(TemporaryError) as err:
        spoki.send_template(TO, "ok", "it", [], "k5")
    assert err.value.code == "rate_limited"
    bad = get_provider("spoki", fake.spoki_config(api_key="wrong"))
    with pytest.raises(PermanentError) as err:
        bad.send_text(TO, "hi", "k6")
    assert err.value.code == "auth"
    with pytest.raises(PermanentError) as err:
        get_provider("spoki", {"endpoint": fake.spoki_config()["endpoint"]}).send_text(TO, "hi", "k7")
    assert err.value.code == "config"


def test_spoki_submit_template_and_status(fake, spoki):
    spec = TemplateSpec(
        name="promo",
        category="marketing",
        languages={"it": "Ciao {{1}}, il tuo codice è {{2}}. A presto!"},
        buttons=[{"type": "url", "text": "Apri", "value": "https://example.com"}],
    )
    status = spoki.submit_template(spec)
    create, submit = fake.requests[-2:]
    assert (create.method, create.path) == ("POST", "/api/1/templates/")
    assert (submit.method, submit.path) == (
        "POST",
        f"/api/1/templates/{status.external_id}/submit/",
    )
    (loc,) = create.json["templatelocalization_set"]
    assert create.json["category"] == "MARKETING"
    assert loc["language"] == "it"
    assert loc["body_template_component"]["text"] == "Ciao %%P1%%, il tuo codice è %%P2%%. A presto!"
    assert set(loc["example_custom_fields"]) == {"P1", "P2"}
    assert loc["templatebuttoncomponent_set"][0]["button_type"] == "URL"
    assert loc["templatebuttoncomponent_set"][0]["url"] == "https://example.com"
    assert status.status == "in_review"
    assert spoki.get_template_status(status.external_id).status == "in_review"
    fake.set_template_status(status.external_id, "APPROVED")
    assert spoki.get_template_status(status.external_id).status == "approved"
    fake.set_template_status(status.external_id, "REJECTED", "INVALID_FORMAT")
    rejected = spoki.get_template_status(status.external_id)
    assert (rejected.status, rejected.reason) == ("rejected", "INVALID_FORMAT")


def test_spoki_account_info(fake, spoki):
    fake.set_account(
        quality_score="YELLOW",
        phone_status="FLAGGED",
        daily_limit=10000,
        current_credit=12500,
    )
    info = spoki.get_account_info()
    assert (info.quality, info.phone_status, info.tier_limit, info.credit) == (
        "medium",
        "flagged",
        10000,
        12.5,
    )
    assert fake.requests[-1].path == "/api/1/accounts/"
    by_id = get_provider("spoki", fake.spoki_config(spoki_account_id=1)).get_account_info()
    assert by_id.quality == "medium"
    assert fake.requests[-1].path == "/api/1/accounts/1/"
    # ``account_id`` is Odoo's id of the account (``_provider_config``), not Spoki's: not looked up
    by_odoo_id = get_provider("spoki", fake.spoki_config(account_id=16)).get_account_info()
    assert by_odoo_id.quality == "medium"
    assert fake.requests[-1].path == "/api/1/accounts/"


def test_spoki_parse_webhook(spoki):
    payload = [
        {
            "event": "message.outbound",
            "data": {
                "id": 7,
                "status": "READ",
                "status_updated_at": "2024-06-10T06:13:20Z",
            },
        },
        {
            "event": "message.outbound",
            "data": {
                "status": "failed",
                "error_code": "131026",
                "metadata": {"idempotency_key": "k9"},
            },
        },
        {
            "event": "message.inbound",
            "data": {
                "id": 8,
                "text": "Ciao",
                "contact": {"phone": "393331234567", "first_name": "Ada"},
            },
        },
        {
            "event": "template.updated",
            "data": {"id": 3, "templatelocalization_set": [{"status": "APPROVED"}]},
        },
    ]
    statuses, inbound, templates = spoki.parse_webhook(payload)
    assert [(s.message_id, s.status) for s in statuses] == [
        ("7", "read"),
        ("idem:k9", "failed"),
    ]
    assert statuses[0].timestamp == datetime(2024, 6, 10, 6, 13, 20)
    assert [(m.from_number, m.text, m.profile_name) for m in inbound] == [("+393331234567", "Ciao", "Ada")]
    assert [(t.external_id, t.status) for t in templates] == [("3", "approved")]


def test_spoki_verify_signature():
    raw = b'{"event":"message.inbound"}'
    t = 1718000000
    digest = hmac.new(b"whsec", f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    header = f"t={t},v2={digest}"
    assert spoki_verify_signature("whsec", raw, header, now=t + 10)
    assert not spoki_verify_signature("whsec", raw, header, now=t + 1000)  # too old
    assert not spoki_verify_signature("whsec", raw + b" ", header, now=t)
    assert not spoki_verify_signature("whsec", raw, f"t={t}", now=t)
    assert not spoki_verify_signature("", raw, header, now=t)


def test_fake_latency_and_thread_safety(fake, meta):
    fake.latency = 0.3
    results, errors = [], []

    def worker(i):
        try:
            results.append(get_provider("meta", fake.meta_config()).send_text(TO, f"m{i}", f"k{i}").message_id)
        except ProviderError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(results)) == 10
    # (a request left sleeping by an earlier timeout test may land meanwhile:
    # count only this test's sends)
    ours = [
        r
        for r in fake.requests_to("/messages", "POST")
        if ((r.json or {}).get("text") or {}).get("body", "").startswith("m")
    ]
    assert len(ours) == 10
    # served concurrently: sequentially it would take 10 × 300 ms = 3 s; the
    # margin keeps the check meaningful on a loaded 2-core CI machine
    assert time.monotonic() - started < 2.0


# ---------------------------------------------------------------------------
# Sandbox
# ---------------------------------------------------------------------------
class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += timedelta(seconds=seconds)


T0 = datetime(2025, 3, 1, 9, 0, 0)


def _key():
    return uuid.uuid4().hex


def test_sandbox_delivery_and_read_timing():
    clock = Clock(T0)
    sandbox = get_provider("sandbox", {}, clock=clock)
    assert isinstance(sandbox, SandboxProvider) and sandbox.supports_status_polling
    sent = sandbox.send_template(TO, "welcome", "it", ["Ada"], _key())
    assert sandbox.get_statuses([sent.message_id]) == []
    clock.advance(2)
    (delivered,) = sandbox.get_statuses([sent.message_id])
    assert (delivered.status, delivered.timestamp) == (
        "delivered",
        T0 + timedelta(seconds=2),
    )
    clock.advance(8)
    events = sandbox.get_statuses([sent.message_id])
    assert [(e.status, e.timestamp) for e in events] == [
        ("delivered", T0 + timedelta(seconds=2)),
        ("read", T0 + timedelta(seconds=10)),
    ]


def test_sandbox_read_receipts_off_for_numbers_ending_in_zero():
    clock = Clock(T0)
    sandbox = get_provider("sandbox", {}, clock=clock)
    sent = sandbox.send_text("+393331234560", "hi", _key())
    clock.advance(3600)
    assert [e.status for e in sandbox.get_statuses([sent.message_id])] == ["delivered"]


def test_sandbox_idempotency_and_errors():
    sandbox = get_provider("sandbox", {}, clock=Clock(T0))
    key = _key()
    first = sandbox.send_text(TO, "hi", key)
    assert sandbox.send_text(TO, "hi", key).message_id == first.message_id
    assert sandbox.find_message(key) == first.message_id
    with pytest.raises(PermanentError) as err:
        sandbox.send_text("+39123", "hi", _key())
    assert err.value.code == "invalid_number"
    with pytest.raises(PermanentError) as err:
        sandbox.send_text("+393331299999", "hi", _key())
    assert err.value.code == "not_on_whatsapp"


def test_sandbox_template_lifecycle():
    clock = Clock(T0)
    sandbox = get_provider("sandbox", {}, clock=clock)
    ok = sandbox.submit_template(TemplateSpec("ok", "MARKETING", {"it": "Ciao {{1}}, benvenuto nel club!"}))
    starts = sandbox.submit_template(TemplateSpec("bad1", "MARKETING", {"it": "{{1}} ecco il tuo sconto"}))
    link = sandbox.submit_template(TemplateSpec("bad2", "MARKETING", {"it": "Offerta su bit.ly/abc per te"}))
    assert ok.status == "queued"
    assert sandbox.get_template_status(ok.external_id).status == "queued"
    clock.advance(30)
    assert sandbox.get_template_status(ok.external_id).status == "in_review"
    assert sandbox.get_template_status(starts.external_id).status == "in_review"
    clock.advance(90)
    assert sandbox.get_template_status(ok.external_id).status == "approved"
    rejected = sandbox.get_template_status(starts.external_id)
    assert rejected.status == "rejected" and "start or end" in rejected.reason
    shortener = sandbox.get_template_status(link.external_id)
    assert shortener.status == "rejected" and "shortener" in shortener.reason


def test_spoki_stale_template_cache_is_refreshed(fake, spoki):
    fake.add_template("a")
    fake.add_template("b")
    fake.add_template("renamed")
    spoki.send_template(TO, "renamed", "it", [], "c1")
    fake.reset()  # the template is deleted and re-created with a new id
    new_id = fake.add_template("renamed")
    result = spoki.send_template(TO, "renamed", "it", [], "c2")
    assert fake.messages[result.message_id]["payload"]["template"] == int(new_id)
    assert fake.counters["spoki_sends"] == 1
    SpokiProvider.clear_template_cache()
