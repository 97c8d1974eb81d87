"""Cloud API webhooks: what the provider side tells the inbound side.

* status items carry the message's idempotency key (``biz_opaque_callback_data``);
* template statuses carry the entry's ``time`` (ordering of template events);
* an account takes only the changes that name its number / WABA (a change
  without metadata is refused, never assumed to be the account's);
* the app-level webhook payload is split by number / WABA (``webhook_routes``);
* an unknown quality or phone status is 'unknown', never 'high'/'connected'.
"""

from datetime import datetime

import pytest

from spoki_whatsapp.tests.fake_provider import (
    PHONE_NUMBER_ID,
    WABA_ID,
    FakeProvider,
    meta_messages_change,
    meta_status,
    meta_template_change,
    meta_text_message,
    meta_webhook,
)
from spoki_whatsapp.tools.providers import get_provider
from spoki_whatsapp.tools.providers.cloud_api import webhook_routes

T0 = 1767261600  # 2026-01-01 10:00:00 UTC


@pytest.fixture
def meta():
    return get_provider("meta", {"phone_number_id": PHONE_NUMBER_ID, "waba_id": WABA_ID, "access_token": "x"})


def test_status_events_carry_the_idempotency_key(meta):
    payload = meta_webhook(
        [
            meta_messages_change(
                statuses=[
                    meta_status("wamid.K", "sent", T0, callback_data="spk-key-1"),
                    meta_status("wamid.N", "read", T0),
                ]
            )
        ]
    )
    statuses, _inbound, _templates = meta.parse_webhook(payload)
    assert [(s.message_id, s.idempotency_key) for s in statuses] == [("wamid.K", "spk-key-1"), ("wamid.N", "")]


def test_template_status_carries_the_entry_time(meta):
    timed = meta.parse_webhook(meta_webhook([meta_template_change("42", "REJECTED")], timestamp=T0))[2]
    assert [(t.external_id, t.status, t.timestamp) for t in timed] == [("42", "rejected", datetime(2026, 1, 1, 10))]
    untimed = meta.parse_webhook(meta_webhook([meta_template_change("42", "APPROVED")]))[2]
    assert untimed[0].timestamp is None


def test_changes_without_metadata_are_refused(meta, caplog):
    change = meta_messages_change(statuses=[meta_status("wamid.X", "read", T0)])
    del change["value"]["metadata"]
    template = meta_webhook([meta_template_change("42", "APPROVED")])
    template["entry"][0].pop("id")
    assert meta.parse_webhook(meta_webhook([change])) == ([], [], [])
    assert meta.parse_webhook(template) == ([], [], [])
    assert "dropped" in caplog.text
    # the sandbox has no number id: it takes what it is given (tests, demos)
    assert len(get_provider("sandbox", {}).parse_webhook(meta_webhook([change]))[0]) == 1


def test_webhook_routes_split_by_number_and_waba():
    other = meta_messages_change(
        messages=[meta_text_message("wamid.IN", "393331234567", "Ciao", T0)], phone_number_id="222"
    )
    no_metadata = meta_messages_change(statuses=[meta_status("wamid.Z", "read", T0)])
    del no_metadata["value"]["metadata"]
    payload = meta_webhook(
        [
            meta_messages_change(statuses=[meta_status("wamid.A", "read", T0)]),
            other,
            meta_template_change("42", "APPROVED"),
            no_metadata,
            {"field": "phone_number_quality_update", "value": {"event": "FLAGGED"}},
        ],
        timestamp=T0,
    )
    routes, dropped = webhook_routes(payload)
    by_key = {(key, value): part for key, value, part in routes}
    assert set(by_key) == {("phone_number_id", PHONE_NUMBER_ID), ("phone_number_id", "222"), ("waba_id", WABA_ID)}
    assert dropped == ["messages change without phone_number_id"]
    ours = by_key[("phone_number_id", PHONE_NUMBER_ID)]
    assert ours["object"] == "whatsapp_business_account"
    assert [(e["id"], e["time"], len(e["changes"])) for e in ours["entry"]] == [(WABA_ID, T0, 1)]
    # each part parses, for an account of that number, to its own events only
    number_222 = get_provider("meta", {"phone_number_id": "222", "waba_id": WABA_ID})
    assert [m.message_id for m in number_222.parse_webhook(by_key[("phone_number_id", "222")])[1]] == ["wamid.IN"]
    assert number_222.parse_webhook(ours) == ([], [], [])
    templates = number_222.parse_webhook(by_key[("waba_id", WABA_ID)])[2]
    assert [(t.external_id, t.timestamp) for t in templates] == [("42", datetime(2026, 1, 1, 10))]
    assert webhook_routes([]) == ([], ["payload is not a JSON object"])
    assert webhook_routes({"entry": [{"changes": [{"field": "messages"}]}]}) == (
        [],
        ["messages change without phone_number_id"],
    )


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"quality_rating": "UNKNOWN", "status": "CONNECTED"}, ("unknown", "connected")),
        ({"quality_rating": "NA", "status": "SOMETHING_NEW"}, ("unknown", "unknown")),
        ({"quality_rating": "", "status": "FLAGGED"}, ("unknown", "flagged")),
        ({"quality_rating": "GREEN", "status": ""}, ("high", "unknown")),
    ],
)
def test_unknown_quality_and_phone_status(raw, expected):
    with FakeProvider() as fake:
        fake.set_account(**raw)
        info = get_provider("meta", fake.meta_config()).get_account_info()
        assert (info.quality, info.phone_status) == expected
        fake.set_account(quality_score="PURPLE", phone_status="")
        info = get_provider("spoki", fake.spoki_config()).get_account_info()
        assert (info.quality, info.phone_status) == ("unknown", "unknown")
