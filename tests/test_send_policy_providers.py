"""What the providers tell the send queue about a failed send, against the
loopback fake Meta / Spoki server: which failures may have reached the
provider (unknown outcome), the ``Retry-After`` and Meta codes the queue's
pauses need, Meta's callback data, and Spoki's strict lookup by key."""

import time

import pytest

from spoki_whatsapp.tools.providers import (
    PermanentError,
    TemporaryError,
    UnknownOutcomeError,
)

TO = "+393331234567"
#: the fixtures of conftest.py: a short fake timeout, clients that give up sooner
FAKE_TIMEOUT_DELAY = 1.0
CLIENT_TIMEOUT = 0.4


def _wait_sends(fake, count, timeout=3.0):
    deadline = time.monotonic() + timeout
    while fake.counters["meta_sends"] < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return fake.counters["meta_sends"]


# -- Meta: the idempotency key travels as biz_opaque_callback_data ------------
def test_meta_sends_the_key_as_callback_data(fake, meta):
    template = meta.send_template(TO, "welcome", "it", ["Ada"], "spk-1")
    text = meta.send_text(TO, "Ciao", "spk-2")
    records = fake.messages
    assert records[template.message_id]["callback_data"] == "spk-1"
    assert records[text.message_id]["callback_data"] == "spk-2"
    assert fake.meta_sends_by_key == {"spk-1": 1, "spk-2": 1}
    meta.send_text(TO, "no key", "")
    assert "biz_opaque_callback_data" not in fake.requests[-1].json


# -- Meta: lost answers are unknown outcomes -----------------------------------
@pytest.mark.parametrize(
    "failure, code",
    [("timeout", "timeout"), ("reset", "connection"), ("malformed", "bad_response")],
)
def test_meta_lost_answer_is_an_unknown_outcome(fake, meta, failure, code):
    fake.fail_next(1, status=failure, path="/messages")
    with pytest.raises(UnknownOutcomeError) as err:
        meta.send_template(TO, "welcome", "it", [], "spk-lost")
    assert err.value.code == code
    assert err.value.outcome_unknown and err.value.temporary
    # the fake did the work: Meta has the message
    assert _wait_sends(fake, 1) == 1
    assert fake.meta_sends_by_key == {"spk-lost": 1}


def test_meta_2xx_without_message_id_is_an_unknown_outcome(fake, meta, monkeypatch):
    monkeypatch.setattr(fake, "_meta_send", lambda body: (200, {"messaging_product": "whatsapp", "messages": []}))
    with pytest.raises(UnknownOutcomeError) as err:
        meta.send_text(TO, "hi", "spk-noid")
    assert err.value.code == "bad_response"


def test_meta_connection_refused_is_a_plain_temporary_error(gone_meta):
    with pytest.raises(TemporaryError) as err:
        gone_meta.send_text(TO, "hi", "k")
    assert err.value.code == "connection"
    assert not err.value.outcome_unknown, "the request never left: sending again is safe"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_meta_answered_errors_are_not_unknown(fake, meta, status):
    fake.fail_next(1, status=status, path="/messages")
    with pytest.raises(TemporaryError) as err:
        meta.send_text(TO, "hi", "k")
    assert not err.value.outcome_unknown
    assert fake.counters["meta_sends"] == 0


def test_meta_errors_carry_retry_after_and_meta_code(fake, meta):
    fake.fail_next(1, status=130429, http_status=429, retry_after=42, path="/messages")
    with pytest.raises(TemporaryError) as err:
        meta.send_text(TO, "hi", "k")
    assert (err.value.code, err.value.provider_code, err.value.retry_after) == ("rate_limited", "130429", "42")
    fake.fail_next(1, status=429, retry_after="Wed, 21 Oct 2026 07:28:00 GMT", path="/messages")
    with pytest.raises(TemporaryError) as err:
        meta.send_text(TO, "hi", "k")
    assert (err.value.code, err.value.retry_after) == ("rate_limited", "Wed, 21 Oct 2026 07:28:00 GMT")
    fake.fail_next(1, status=131056, path="/messages")
    with pytest.raises(TemporaryError) as err:
        meta.send_text(TO, "hi", "k")
    assert (err.value.code, err.value.provider_code, err.value.retry_after) == ("pair_rate_limited", "131056", None)
    fake.fail_next(1, status=131026, path="/messages")
    with pytest.raises(PermanentError) as err:
        meta.send_text(TO, "hi", "k")
    assert err.value.provider_code == "131026"


# -- Spoki: retries are deduplicated, lookups trust only the key ---------------
def test_spoki_read_timeout_stays_retryable(fake, spoki):
    fake.fail_next(1, status="timeout", path="/messages/send/", delay=0.8)
    with pytest.raises(TemporaryError) as err:
        spoki.send_text(TO, "hi", "spoki-slow")
    assert not err.value.outcome_unknown, "Spoki deduplicates by key: a retry is safe"


def test_spoki_429_carries_retry_after(fake, spoki):
    fake.fail_next(1, status=429, retry_after=7, path="/messages/send/")
    with pytest.raises(TemporaryError) as err:
        spoki.send_text(TO, "hi", "spoki-429")
    assert (err.value.code, err.value.retry_after) == ("rate_limited", "7")


def test_spoki_find_message_accepts_only_the_matching_key(fake, spoki):
    first = spoki.send_text(TO, "one", "key-one")
    spoki.send_text(TO, "two", "key-two")
    spoki.send_text(TO, "no key", "")  # a message without metadata
    fake.spoki_lookup_ignores_filter = True  # the server answers every message
    assert len(spoki.http.get("messages/", params={"idempotency_key": "key-one"})["messages"]) == 3
    assert spoki.find_message("key-one") == first.message_id
    assert spoki.find_message("key-two") == fake.sent["key-two"]["id"]
    assert spoki.find_message("never-sent") is None, "another message is not this one"


def test_spoki_find_message_reads_a_top_level_key(fake, spoki, monkeypatch):
    monkeypatch.setattr(
        fake,
        "_spoki",
        lambda *args: (200, {"results": [{"id": 5, "idempotency_key": "other"}, {"id": 9, "idempotency_key": "k"}]}),
    )
    assert spoki.find_message("k") == "9"
    assert spoki.find_message("absent") is None
