"""Fault (2): the provider fails in every way while a 20,000-message campaign is
sent — 15,000 to the fake Meta Cloud API and 5,000 to the fake Spoki API at
the same time, by an Odoo server's cron worker.

Every 1,000 sends the fake answers the next send requests with: HTTP 500
(nothing sent), a read timeout (it sleeps past the client's 1 s timeout, then
sends), a connection reset after sending, and a 200 whose body is not JSON
after sending; every 4,000 sends an HTTP 429 with ``Retry-After: 2``.

Exact outcomes, counted on the fake per idempotency key: each message sent at
most once (Meta: the lost answers are *outcome unknown*, settled by the status
webhooks the fake then pushes; Spoki: retried with the same key, which the
provider recognises), every message sent in the end, and the ledger's counters
(campaign counters, the tier counter of unique numbers) equal the rows and the
fake's sends. The 500s and the Spoki retries use attempts, the 429s don't
(they pause the account).
"""

import time

import pytest
from fault_harness import META, skip_without_odoo, wait_until

skip_without_odoo()

pytestmark = pytest.mark.fault

SIZES = {"meta": 15000, "spoki": 5000}
TOTAL = sum(SIZES.values())
EVERY = 1000  # sends between two fault bursts
BURST = ({"status": 500}, {"status": "timeout", "delay": 1.5}, {"status": "reset"}, {"status": "malformed"})
PER_KIND = 3  # faults of each kind per burst
RATE_LIMIT_EVERY = 4000
RETRY_AFTER = 2


def _sends(fake):
    counters = fake.call("counters")
    return counters["meta_sends"] + counters["spoki_sends"]


def _inject_faults_while_sending(scenario):
    """Fault bursts as the sends go by; returns ``{kind: faults injected}``
    once every message has left the queue."""
    fake = scenario.fake
    injected = {"500": 0, "timeout": 0, "reset": 0, "malformed": 0, "429": 0}
    next_burst, next_rate_limit = EVERY, RATE_LIMIT_EVERY
    deadline = time.monotonic() + 300
    while True:
        sent = _sends(fake)
        if sent >= next_burst and next_burst < TOTAL:
            for spec in BURST:
                fake.call("fail_next", n=PER_KIND, path="messages", **spec)
                injected[str(spec["status"])] += PER_KIND
            next_burst += EVERY
        if sent >= next_rate_limit and next_rate_limit < TOTAL:
            fake.call("fail_next", status=429, retry_after=RETRY_AFTER, path="messages")
            injected["429"] += 1
            next_rate_limit += RATE_LIMIT_EVERY
        states = {account: scenario.states(account) for account in SIZES}
        if (
            not states["meta"].get("queued")
            and not states["spoki"].get("queued")
            and not states["spoki"].get("sending")
        ):
            return injected
        assert time.monotonic() < deadline, f"the campaigns were not sent in time: {states}, fake {sent}"
        time.sleep(0.3)


def test_provider_faults_across_a_20000_message_campaign(scenario):
    started = time.monotonic()
    # the status sync's polls would take faults meant for sends: this scenario is about sends
    scenario.sql(
        "UPDATE ir_cron SET active = FALSE WHERE id = %s", [scenario.cron_id("ir_cron_spoki_message_status_sync")]
    )
    server = scenario.start_server(workers=2, cron_workers=1)
    scenario.start_ticker()
    campaigns = {
        "meta": scenario.start_campaign(server, "meta", "meta_15000"),
        "spoki": scenario.start_campaign(server, "spoki", "spoki_5000"),
    }
    scenario.wait_enqueued(*campaigns.values())
    injected = _inject_faults_while_sending(scenario)
    sending_s = time.monotonic() - started
    fake = scenario.fake
    # a timed-out request is handled by the fake after its delay: every message reaches it
    wait_until(
        lambda: [fake.call("counters")[f"{kind}_sends"] for kind in SIZES] == list(SIZES.values()),
        30,
        f"the fake to have received {SIZES}",
    )
    counters = fake.call("counters")
    assert counters["failures"] == sum(injected.values()), "not every fault was used"

    # Meta pushes the statuses of what it received, with the callback data
    unknown_meta = scenario.value(
        "SELECT COUNT(*) FROM spoki_message WHERE account_id = %s AND state = 'sending'", [scenario.ids["meta"]]
    )
    answers = fake.call("push_meta_statuses", url=scenario.webhook_url(server), secret=META["app_secret"])
    assert set(answers) == {"200"}, answers
    # answered once stored: the cron "WhatsApp: apply webhooks" applies them soon after
    wait_until(
        lambda: not scenario.value("SELECT COUNT(*) FROM spoki_webhook_inbox"), 120, "the stored webhooks to be applied"
    )
    assert scenario.states("meta") == {"sent": SIZES["meta"]}
    assert scenario.states("spoki") == {"sent": SIZES["spoki"]}

    # each message sent once, with the id the fake gave it
    by_key = {}
    for kind, message_id, _number, key, _status in fake.call("sends"):
        by_key.setdefault(kind, {}).setdefault(key, []).append(message_id)
    rows = scenario.sql(
        """SELECT a.provider, m.idempotency_key, m.provider_message_id FROM spoki_message m
             JOIN spoki_account a ON a.id = m.account_id WHERE m.direction = 'outgoing'"""
    )
    for kind, size in SIZES.items():
        twice = [key for key, ids in by_key[kind].items() if len(ids) > 1]
        assert not twice, f"{kind}: {len(twice)} messages sent twice"
        ledger = {key: pid for provider, key, pid in rows if provider == kind}
        assert len(ledger) == size == len(by_key[kind]) == counters[f"{kind}_sends"]
        assert ledger == {key: ids[0] for key, ids in by_key[kind].items()}, f"{kind}: ledger and fake differ"

    # faults that lost an answer after the send: Meta unknown outcomes, Spoki retries of a known key
    lost_answers = injected["timeout"] + injected["reset"] + injected["malformed"]
    assert unknown_meta + counters["spoki_duplicates"] == lost_answers
    unknown_since = scenario.value("SELECT COUNT(*) FROM spoki_message WHERE outcome_unknown_since IS NOT NULL")
    assert unknown_since == unknown_meta
    # attempts: one per message, plus one per 500 and per Spoki retry; a 429 gives its attempt back
    attempts = scenario.value("SELECT SUM(attempt_count) FROM spoki_message WHERE direction = 'outgoing'")
    assert attempts - TOTAL == injected["500"] + counters["spoki_duplicates"]
    pauses = sum(
        1
        for server_ in scenario.servers
        for line in server_.log_path.read_text().splitlines()
        if " paused until " in line
    )
    assert pauses == injected["429"]

    # the ledger's counters (the next send-queue run sees the campaigns done)
    scenario.run_cron(server, "ir_cron_spoki_message_send")
    for kind, campaign in campaigns.items():
        [values] = server.call(
            "spoki.campaign", "read", [campaign], ["state", "sent_count", "failed_count", "queued_count"]
        )
        assert (values["sent_count"], values["failed_count"], values["queued_count"]) == (SIZES[kind], 0, 0), values
        assert values["state"] == "done"
        server.call("spoki.account", "action_tier_compute_now", [scenario.ids[kind]])
        [account] = server.call("spoki.account", "read", [scenario.ids[kind]], ["unique_users_24h"])
        assert account["unique_users_24h"] == SIZES[kind]
    result = {
        "messages": TOTAL,
        "faults": injected,
        "sent_on_fake": {kind: counters[f"{kind}_sends"] for kind in SIZES},
        "meta_unknown_settled_by_webhook": unknown_meta,
        "spoki_retries_same_key": counters["spoki_duplicates"],
        "extra_attempts": attempts - TOTAL,
        "pauses": pauses,
        "duplicates": 0,
        "sending_s": round(sending_s, 1),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"FAULT-RESULT provider-errors {result}")
