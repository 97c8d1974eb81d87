"""Fault (1): SIGKILL of the Odoo process running the send queue, mid-batch of a
5,000-message campaign, then restart — counted on the fake provider per
idempotency key.

Twice per campaign: the cron worker process alone (the prefork master starts a
new one: an OOM kill), then the whole server (master and workers) followed by
a new server. Each kill lands while a chunk is certainly in flight: the fake
holds the send requests, so the worker is blocked in its provider calls.

* Spoki (lookup by idempotency key): every message ends sent exactly once —
  the killed chunk's messages the provider got are found, the others queued
  again and sent. The lookup waits ``LOOKUP_GRACE`` after the worker is seen
  dead: the new cron worker starts at once, before the dead one's last
  requests reach the provider (here 0.5 s later), and a "not found" then
  sent them twice.
* Meta (no lookup): no message sent twice; the killed chunk's messages become
  *outcome unknown* (``sending`` without a worker, never failed by the crash)
  and everything else stays queued; the status webhooks the fake then pushes
  (with ``biz_opaque_callback_data``) settle the unknowns it received; those it
  never received fail after the grace period as ``unknown_outcome`` — none
  without a reason.
"""

import os
import signal
import time

import pytest
from fault_harness import LOCK_NS_WORKER, META, skip_without_odoo, wait_until

skip_without_odoo()

pytestmark = pytest.mark.fault

CAMPAIGN = 5000
CHUNK = 100  # spoki_whatsapp.send_commit_every (default)


def _messages(scenario, account):
    """``{idempotency key: (state, provider id, unknown since, error code, error message)}``."""
    rows = scenario.sql(
        """SELECT idempotency_key, state, provider_message_id, outcome_unknown_since, error_code, error_message, id
             FROM spoki_message WHERE account_id = %s AND direction = 'outgoing'""",
        [scenario.ids[account]],
    )
    return {row[0] or f"(no key) {row[6]}": row[1:6] for row in rows}


def _fake_sends(scenario, provider):
    """``{idempotency key: [provider ids]}`` of the sends the fake received."""
    sends = {}
    for kind, message_id, _number, key, _status in scenario.fake.call("sends"):
        if kind == provider:
            sends.setdefault(key, []).append(message_id)
    return sends


#: The message's send worker holds its session advisory lock: it is alive.
_WORKER_ALIVE = f"""EXISTS (SELECT 1 FROM pg_locks l
                    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND l.classid::bigint = {LOCK_NS_WORKER} AND l.objid::bigint = m.sending_worker)"""


def _kill_mid_batch(scenario, server, at, whole_server):
    """Once the fake has let ``at`` sends through, it holds the next ones: the
    worker is blocked with its chunk in flight. SIGKILL the cron worker (or the
    whole server), then release the held requests (the provider gets them,
    the dead worker never hears of it). Returns what the database and the
    fake held at the kill."""
    fake = scenario.fake
    fake.call("hold", at=at)
    wait_until(lambda: fake.call("holding") >= 1, 240, f"a send request held after {at} sends")
    pids = scenario.send_worker_pids()
    assert len(pids) == 1, f"one send worker expected, got {pids}"
    # a chunk of an earlier kill may still wait for its lookup (LOOKUP_GRACE):
    # its worker's lock is free, it is not in flight
    at_kill = dict(
        scenario.sql(
            f"""SELECT state || CASE WHEN state = 'sending' AND sending_worker IS NULL THEN '_unknown'
                                     WHEN state = 'sending' AND NOT {_WORKER_ALIVE} THEN '_orphan'
                                     ELSE '' END,
                       COUNT(*) FROM spoki_message m WHERE direction = 'outgoing' GROUP BY 1"""
        )
    )
    in_flight = {
        key
        for (key,) in scenario.sql(
            f"SELECT idempotency_key FROM spoki_message m WHERE state = 'sending' AND {_WORKER_ALIVE}"
        )
    }
    received = {key for _kind, _id, _number, key, _status in fake.call("sends")}
    held = fake.call("holding")
    if whole_server:
        server.kill()
    else:
        os.kill(pids[0], signal.SIGKILL)
    time.sleep(0.5)
    fake.call("release")
    wait_until(lambda: fake.call("holding") == 0, 30, "the held requests to be handled")
    return {
        "states": at_kill,
        "received": len(received),
        "in_flight": in_flight,
        "answered_before_kill": len(in_flight & received),
        "held": held,
    }


def _sent_count(fake):
    counters = fake.call("counters")
    return counters["meta_sends"] + counters["spoki_sends"]


@pytest.mark.parametrize("provider", ["meta", "spoki"])
def test_sigkill_mid_batch_then_restart(scenario, provider):
    started = time.monotonic()
    server = scenario.start_server(workers=1, cron_workers=1)
    scenario.start_ticker()
    scenario.start_campaign(server, provider, "meta_5000" if provider == "meta" else "spoki_5000")

    kills = [_kill_mid_batch(scenario, server, 1550, whole_server=False)]
    # the master starts a new cron worker: it reconciles the chunk and goes on
    kills.append(_kill_mid_batch(scenario, server, 3020, whole_server=True))
    assert not server.alive()
    server = scenario.start_server(workers=1, cron_workers=1)

    for kill in kills:
        states = kill["states"]
        # only the chunk being sent was in flight; the rest of the queue is queued
        assert 0 < states.get("sending", 0) <= CHUNK, states
        assert states.get("queued", 0) > 0, states
        assert set(states) <= {"queued", "sending", "sending_unknown", "sending_orphan", "sent"}, states
        assert kill["received"] < CAMPAIGN, "the kill came after the last send"

    def drained():
        # nothing queued and no chunk in flight (Meta's unknown outcomes stay ``sending`` without a worker)
        in_flight = scenario.value(
            """SELECT COUNT(*) FROM spoki_message
                WHERE account_id = %s AND (state = 'queued' OR (state = 'sending' AND sending_worker IS NOT NULL))""",
            [scenario.ids[provider]],
        )
        return not in_flight and (provider == "meta" or not scenario.states(provider).get("sending"))

    wait_until(drained, 300, "the send queue to drain")
    fake_sends = _fake_sends(scenario, provider)
    for kill in kills:
        # the kill landed inside a chunk: part of it answered, part held, part never sent
        summary = {k: v for k, v in kill.items() if k != "in_flight"}
        assert 0 < kill["answered_before_kill"] < CHUNK - kill["held"], summary
        kill["in_flight_received"] = len(kill["in_flight"] & set(fake_sends))
    duplicates = {key: ids for key, ids in fake_sends.items() if len(ids) > 1}
    assert not duplicates, f"{len(duplicates)} messages sent twice: {list(duplicates.items())[:5]}"
    assert None not in fake_sends, "a send without its idempotency key"
    messages = _messages(scenario, provider)
    assert len(messages) == CAMPAIGN

    result = {"provider": provider, "kills": kills, "fake_sends": len(fake_sends), "duplicates": 0}
    if provider == "spoki":
        _check_spoki(scenario, messages, fake_sends, result, kills)
    else:
        _check_meta(scenario, server, messages, fake_sends, result, kills)
    for kill in kills:
        kill["in_flight"] = len(kill["in_flight"])
    result["seconds"] = round(time.monotonic() - started, 1)
    print(f"FAULT-RESULT sigkill {result}")


def _check_spoki(scenario, messages, fake_sends, result, kills):
    """Lookup by key: every message sent exactly once, with the fake's id —
    the killed chunks' messages the provider had are found (sent), the others
    queued again and sent with their key, which the provider never saw
    twice."""
    for kill in kills:
        assert kill["in_flight_received"] == len(kill["in_flight"]), "a killed chunk's message was never sent"
        kill["requeued"] = len(kill["in_flight"]) - kill["answered_before_kill"] - kill["held"]
    assert set(fake_sends) == set(messages), "messages and sends on the fake differ"
    wrong = {key: row for key, row in messages.items() if row[0] != "sent" or row[1] != fake_sends[key][0]}
    assert not wrong, f"{len(wrong)} messages not sent with the fake's id: {list(wrong.items())[:5]}"
    counters = scenario.fake.call("counters")
    assert counters["spoki_sends"] == CAMPAIGN
    # no send repeated a key the provider had (the lookup found every one of them)
    assert counters["spoki_duplicates"] == 0
    result.update(sent=CAMPAIGN, failed=0, repeated_keys=0)


def _check_meta(scenario, server, messages, fake_sends, result, kills):
    """No lookup: the killed chunks are unknown, settled by the webhooks of the
    sends the fake received; the others fail as unknown_outcome after the grace."""
    unknown = {key for key, row in messages.items() if row[0] == "sending"}
    assert all(messages[key][2] for key in unknown), "a message in 'sending' without a worker nor unknown outcome"
    # exactly the chunks in flight at the kills
    assert unknown == kills[0]["in_flight"] | kills[1]["in_flight"], f"{len(unknown)} messages of unknown outcome"
    assert not any(row[0] == "failed" for row in messages.values()), "the crash failed messages"
    sent = {key for key, row in messages.items() if row[0] == "sent"}
    assert sent == set(fake_sends) - unknown, "sent messages and the fake's sends differ"
    assert all(messages[key][1] == fake_sends[key][0] for key in sent)
    for kill in kills:
        # the provider got the chunk's sends answered before the kill and the held ones
        assert kill["in_flight_received"] == kill["answered_before_kill"] + kill["held"], kill
    received_unknown = unknown & set(fake_sends)
    result.update(unknown=len(unknown), unknown_received_by_fake=len(received_unknown))

    # Meta pushes the statuses of the sends it got, with the callback data
    answers = scenario.fake.call(
        "push_meta_statuses", url=scenario.webhook_url(server), secret=META["app_secret"], status="sent"
    )
    assert set(answers) == {"200"}, answers
    wait_until(
        lambda: (
            scenario.value(
                "SELECT COUNT(*) FROM spoki_message WHERE idempotency_key = ANY(%s) AND state = 'sent'",
                [sorted(received_unknown)],
            )
            == len(received_unknown)
        ),
        60,
        "the webhooks to settle the unknown outcomes",
    )
    messages = _messages(scenario, "meta")
    assert all(messages[key][0] == "sent" and messages[key][1] == fake_sends[key][0] for key in received_unknown)
    never_sent = unknown - received_unknown
    assert {key for key, row in messages.items() if row[0] == "sending"} == never_sent

    # the ones the provider never got: failed after the grace period, with the reason
    scenario.set_param(server, "unknown_outcome_grace", 0)
    scenario.run_cron(server, "ir_cron_spoki_message_send")
    messages = _messages(scenario, "meta")
    failed = {key: row for key, row in messages.items() if row[0] == "failed"}
    assert set(failed) == never_sent
    assert all(row[3] == "unknown_outcome" and row[4] for row in failed.values()), list(failed.values())[:3]
    assert {key for key, row in messages.items() if row[0] == "sent"} == set(fake_sends)
    counters = scenario.fake.call("counters")
    assert counters["meta_sends"] == len(fake_sends) == CAMPAIGN - len(never_sent)
    result.update(sent=len(fake_sends), failed_unknown_outcome=len(never_sent))
