"""Fault (4): a storm of 10,000 signed Meta status webhooks to an Odoo server,
from processes of their own on loopback, bounded in count and time.

1. A 1,500-message Meta campaign: for each send the fake pushes the message's
   status webhook *before* answering the send — the event reaches Odoo before
   the provider id is stored (1,500 webhooks: ``sent``, or ``failed``
   131026 for every 10th one). None is lost: kept pending, then applied by
   the send queue when it writes the ids (no status sync runs:
   ``test_early_status_events_applied_when_the_id_is_written``).
2. ``storm.py`` then sends 8,500 more, shuffled (out of order) by 8 threads:
   ``delivered`` / ``read`` three times each, stale ``sent`` after
   ``delivered``, ``sent`` / ``failed`` again for the failed messages, and
   1,600 events (two each) for 800 message ids that are not ours.

Final states exact: 450 read (both dates), 450 delivered, 450 sent, 150
failed with the provider's reason; the 800 foreign ids wait as pending events
(nothing else does); every webhook answered 200 the first time (a request
Odoo runs again after a serialization failure keeps its body:
``test_webhook_retried_after_a_serialization_failure``).
"""

import json
import random
import subprocess
import sys
import threading
import time

import pytest
from fake_server import fp
from fault_harness import HERE, META, skip_without_odoo, wait_until

skip_without_odoo()

pytestmark = pytest.mark.fault

MESSAGES = 1500
FAILED_EVERY = 10
COPIES = 3  # copies of each delivered / read / sent event in the storm
FOREIGN = 800  # message ids that are not ours, two events each
TOTAL = 10000


def _storm_plan(sends, pushed, recipients):
    """Requests of the storm (one status each) and the final state expected
    per idempotency key."""
    base = int(time.time()) - 3600
    keys = sorted(sends)
    failed = [key for key in keys if pushed[key][0] == "failed"]
    ok = [key for key in keys if pushed[key][0] == "sent"]
    groups = {"read": ok[0::3], "delivered": ok[1::3], "sent": ok[2::3]}
    events = []

    def status(key, state, offset, error_code=None):
        return {
            "id": sends[key],
            "status": state,
            "timestamp": str(base + offset),
            "recipient_id": recipients[key],
            "biz_opaque_callback_data": key,
            **({"errors": [{"code": error_code, "title": "Message undeliverable"}]} if error_code else {}),
        }

    for key in groups["read"]:
        events += [status(key, "delivered", 10), status(key, "read", 20)] * COPIES
    for key in groups["delivered"]:
        events += [status(key, "delivered", 10)] * COPIES + [status(key, "sent", 0)] * 2
    for key in groups["sent"]:
        events += [status(key, "sent", 0)] * COPIES
    for key in failed:
        events += [status(key, "sent", 0), status(key, "failed", 5, 131026)] * 2
    for n in range(FOREIGN):
        foreign = {"id": f"wamid.FOREIGN{n:08d}", "status": "sent", "timestamp": str(base), "recipient_id": "39300"}
        events += [foreign, dict(foreign, status="delivered", timestamp=str(base + 10))]
    random.Random(11).shuffle(events)
    expected = {key: state for state, items in groups.items() for key in items}
    expected.update(dict.fromkeys(failed, "failed"))
    return [[event] for event in events], expected


def _wait_inbox_applied(scenario, timeout=180):
    """The webhooks are answered once stored (``spoki_webhook_inbox``); the
    cron "WhatsApp: apply webhooks" applies them soon after."""
    wait_until(
        lambda: not scenario.value("SELECT COUNT(*) FROM spoki_webhook_inbox"),
        timeout,
        "the stored webhooks to be applied",
    )


def _send_with_early_events(scenario, list_name, size):
    """Send a Meta campaign while the fake pushes each message's status
    webhook before answering its send; returns the server, and the pending
    events and states once the queue is drained (the status sync's catch-up
    is off: only the send queue applies the early events)."""
    scenario.sql(
        "UPDATE ir_cron SET active = FALSE WHERE id = %s", [scenario.cron_id("ir_cron_spoki_message_status_sync")]
    )
    server = scenario.start_server(workers=2, cron_workers=1)
    scenario.start_ticker()
    scenario.fake.call(
        "auto_push", url=scenario.webhook_url(server), secret=META["app_secret"], failed_every=FAILED_EVERY
    )
    scenario.wait_enqueued(scenario.start_campaign(server, "meta", list_name))
    wait_until(lambda: not {"queued", "sending"} & set(scenario.states("meta")), 180, "the campaign to leave the queue")
    _wait_inbox_applied(scenario)
    scenario.fake.call("auto_push", url=None, secret=None)
    pushed = scenario.fake.call("pushed")
    assert len(pushed) == size and {answers[-1] for _status, answers in pushed.values()} == {200}
    return server, pushed, scenario.value("SELECT COUNT(*) FROM spoki_status_event"), scenario.states("meta")


def test_early_status_events_applied_when_the_id_is_written(scenario):
    """README: an event whose provider id is not stored yet "is applied when
    the id is written (the send queue calls _apply_pending_status_events with
    its outcomes)". 200 sends, each status pushed before the send is answered."""
    _server, _pushed, pending, states = _send_with_early_events(scenario, "meta_200", 200)
    print(f"FAULT-RESULT early-events pending={pending} states={states}")
    assert (pending, states) == (0, {"sent": 180, "failed": 20})


def test_webhook_storm(scenario, tmp_path):
    started = time.monotonic()
    server, pushed, early_pending, _states = _send_with_early_events(scenario, "meta_1500", MESSAGES)
    # the send queue applied the early events when it wrote the ids (no status sync ran)
    early_states = _states
    assert (early_pending, early_states) == (
        0,
        {"sent": MESSAGES - MESSAGES // FAILED_EVERY, "failed": MESSAGES // FAILED_EVERY},
    ), "early events lost"
    fake = scenario.fake
    url = scenario.webhook_url(server)
    sends, recipients = {}, {}
    for kind, message_id, number, key, _status in fake.call("sends"):
        assert kind == "meta"
        sends[key], recipients[key] = message_id, number
    requests_, expected = _storm_plan(sends, pushed, recipients)
    assert len(requests_) + len(pushed) == TOTAL
    plan = tmp_path / "storm.json"
    plan.write_text(
        json.dumps(
            {
                "url": url,
                "secret": META["app_secret"],
                "concurrency": 8,
                "deadline": 300,
                "retries": 3,
                "requests": requests_,
            }
        )
    )
    result_path = tmp_path / "storm-result.json"
    storm_started = time.monotonic()
    subprocess.run(
        [sys.executable, str(HERE / "storm.py"), str(plan), str(result_path)], check=True, timeout=400, cwd=HERE
    )
    storm = json.loads(result_path.read_text())
    assert storm["left"] == 0 and storm["first_answers"] == {"200": len(requests_)}, storm
    _wait_inbox_applied(scenario)

    rows = scenario.sql(
        """SELECT idempotency_key, state, sent_at IS NOT NULL, delivered_at IS NOT NULL, read_at IS NOT NULL,
                  error_code, error_message, provider_message_id
             FROM spoki_message WHERE account_id = %s AND direction = 'outgoing'""",
        [scenario.ids["meta"]],
    )
    states = {row[0]: row[1] for row in rows}
    assert states == expected, f"{sum(states[k] != v for k, v in expected.items())} final states differ"
    for key, state, sent_at, delivered_at, read_at, code, reason, pid in rows:
        assert pid == sends[key]
        assert (sent_at, delivered_at, read_at) == {
            "read": (True, True, True),
            "delivered": (True, True, False),
            "sent": (True, False, False),
            "failed": (True, False, False),
        }[state], (key, state)
        assert (code == "invalid_number" and reason) if state == "failed" else not code
    pending = scenario.sql("SELECT provider_message_id, status FROM spoki_status_event")
    assert len(pending) == FOREIGN * 2 and all(pid.startswith("wamid.FOREIGN") for pid, _status in pending)
    counts = {state: list(expected.values()).count(state) for state in ("read", "delivered", "sent", "failed")}
    refused_first = sum(n for status, n in storm["first_answers"].items() if status != "200")
    refused_first += sum(1 for _status, answers in pushed.values() if answers[0] != 200)
    result = {
        "webhooks": TOTAL,
        "early_events_left_pending_by_the_send_queue": early_pending,
        "refused_then_delivered_again": refused_first,
        "early_pushes_before_id_stored": len(pushed),
        "storm_requests": len(requests_),
        "storm_s": storm["seconds"],
        "storm_req_per_s": round(len(requests_) / storm["seconds"], 1),
        "final": counts,
        "pending_foreign_events": len(pending),
        "seconds": round(time.monotonic() - started, 1),
        "storm_wall_s": round(time.monotonic() - storm_started, 1),
    }
    print(f"FAULT-RESULT webhook-storm {result}")


def test_webhook_retried_after_a_serialization_failure(scenario):
    """Two applies of webhooks (or one and the send queue) updating the same
    message at once: one transaction fails to serialize and the apply job
    runs its batch again. Reproduced deterministically: the test holds the
    message's row lock while the job's UPDATE waits, then commits. The
    webhook itself was answered at once (it only stores the body)."""
    server = scenario.start_server(workers=2, cron_workers=1)
    account, template = scenario.ids["meta"], scenario.ids["templates"]["fault_promo"]
    [(message_id,)] = scenario.sql(
        """INSERT INTO spoki_message (account_id, company_id, wa_phone, direction, kind, template_id, lang, body,
                                      state, provider_message_id, message_date, sent_at, priority, attempt_count,
                                      active, counts_for_limit, create_date, write_date)
           SELECT id, company_id, '+393470000001', 'outgoing', 'template', %s, 'en_US', 'Hello', 'sent',
                  'wamid.SERIALIZE', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', 0, 1, TRUE, TRUE,
                  now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
             FROM spoki_account WHERE id = %s RETURNING id""",
        [template, account],
    )
    raw, headers = fp.signed_meta_webhook(
        META["app_secret"], [fp.meta_status("wamid.SERIALIZE", "delivered", time.time(), recipient="393470000001")]
    )
    locker = scenario.pg.connect(scenario.dbname)
    locker.autocommit = False
    answer = {}
    try:
        with locker.cursor() as cr:
            cr.execute("UPDATE spoki_message SET write_date = now() AT TIME ZONE 'UTC' WHERE id = %s", [message_id])

        def post():
            answer["status"] = server.session.post(scenario.webhook_url(server), data=raw, headers=headers, timeout=60)

        thread = threading.Thread(target=post)
        thread.start()
        thread.join(60)
        assert answer["status"].status_code == 200, "answered while the row is locked: stored, not applied"
        wait_until(
            lambda: scenario.value(
                """SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()
                    AND wait_event_type = 'Lock' AND query LIKE 'UPDATE spoki_message%%'"""
            ),
            90,
            "the apply job's UPDATE to wait for the row lock",
        )
        locker.commit()
    finally:
        locker.close()
    _wait_inbox_applied(scenario, timeout=90)
    state = scenario.value("SELECT state FROM spoki_message WHERE id = %s", [message_id])
    print(f"FAULT-RESULT webhook-serialization answer={answer['status'].status_code} state={state}")
    assert answer["status"].status_code == 200
    assert state == "delivered"
