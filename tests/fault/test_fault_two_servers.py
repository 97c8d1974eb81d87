"""Fault (5): two Odoo servers (separate processes, ``--workers=2
--max-cron-threads=2`` each) on one database send two campaigns at once under
one messaging limit.

Two Meta accounts of one business portfolio (Meta policy: they share the 2,000
unique numbers a day of the 2,000 tier) each start a campaign — 1,500 and
2,000 recipients, 3,500 in all — from different servers. The send-queue job
has three copies, so the four cron workers of the two servers run the queue
at the same time (with a single job, Odoo's job lock would let one run at a
time), in chunks of 25 so that reservations interleave up to the limit.

Exact outcomes, counted on the fake: no message sent twice, exactly 2,000
unique numbers reached (the limit, never more), the other 1,500 messages
still queued, the ledger's count of numbers in 24 hours equal to the fake's —
and runs of the two servers overlapped in time.
"""

import re
import time
from datetime import datetime

import pytest
from fault_harness import skip_without_odoo, wait_until

skip_without_odoo()

pytestmark = pytest.mark.fault

LIMIT = 2000
CAMPAIGNS = {"meta": "meta_1500", "meta_b": "spoki_2000"}  # the lists' numbers are disjoint
RECIPIENTS = 1500 + 2000
COPIES = 3
_RUN = re.compile(
    r"^(\S+ \S+) (\d+) INFO \S+ odoo\.addons\.base\.models\.ir_cron: Job '[^']*send queue[^']*' \((\d+)\) "
    r"(starting|processed (\d+) records)"
)


def _runs(server):
    """``[(start, end, pid)]`` of the send-queue runs of a server that sent something."""
    runs, open_ = [], {}
    for line in server.log_path.read_text(errors="replace").splitlines():
        match = _RUN.match(line)
        if not match:
            continue
        stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        pid = int(match.group(2))
        if match.group(4) == "starting":
            open_[pid] = stamp
        elif pid in open_ and int(match.group(5)):
            runs.append((open_.pop(pid), stamp, pid))
    return runs


def test_two_servers_one_limit(scenario):
    started = time.monotonic()
    accounts = [scenario.ids[name] for name in CAMPAIGNS]
    scenario.sql(
        """UPDATE spoki_account SET tier_policy = 'meta', portfolio = 'fault-portfolio', provider_tier_limit = -1,
                  tier_level_id = (SELECT res_id FROM ir_model_data WHERE module = 'spoki_whatsapp'
                                      AND name = 'tier_meta_2k')
            WHERE id = ANY(%s)""",
        [accounts],
    )
    scenario.sql(
        "UPDATE ir_cron SET active = FALSE WHERE id = %s", [scenario.cron_id("ir_cron_spoki_message_status_sync")]
    )
    # what Meta reports for the number (the tier tracking reads it back): the same limit
    scenario.fake.call("set_account", messaging_limit_tier="TIER_2K")
    first = scenario.start_server(workers=2, cron_workers=2, name="server-1")
    second = scenario.start_server(workers=2, cron_workers=2, name="server-2")
    limits = first.call("spoki.account", "read", accounts, ["tier_limit"])
    assert [values["tier_limit"] for values in limits] == [LIMIT, LIMIT]
    scenario.set_param(first, "send_commit_every", 25)
    scenario.set_param(first, "send_batch_size", 100)
    send_cron = scenario.cron_id("ir_cron_spoki_message_send")
    jobs = [send_cron] + [first.call("ir.cron", "copy", [send_cron])[0] for _copy in range(COPIES)]
    scenario.fake.call("set_latency", seconds=0.02)  # calls take a little time, as a real provider's
    scenario.start_ticker()
    campaigns = [
        scenario.start_campaign(server, account, list_name)
        for server, (account, list_name) in zip((first, second), CAMPAIGNS.items(), strict=True)
    ]
    scenario.wait_enqueued(*campaigns)
    # every copy of the job is due now (the campaigns trigger only the original, which may be running:
    # its row is locked)
    scenario.sql("UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'UTC' WHERE id = ANY(%s)", [jobs[1:]])

    def settled():
        rows = dict(
            scenario.sql(
                "SELECT state, COUNT(*) FROM spoki_message WHERE account_id = ANY(%s) GROUP BY state", [accounts]
            )
        )
        return rows if rows.get("sent", 0) + rows.get("queued", 0) == RECIPIENTS and not rows.get("sending") else None

    wait_until(lambda: settled() and scenario.fake.call("counters")["meta_sends"] >= LIMIT, 240, "the limit to be used")
    time.sleep(5)  # the four workers keep trying: nothing more may leave
    states = settled()
    sends = scenario.fake.call("sends")
    keys = [key for _kind, _id, _number, key, _status in sends]
    numbers = {number for _kind, _id, number, _key, _status in sends}
    assert len(keys) == len(set(keys)), f"{len(keys) - len(set(keys))} messages sent twice"
    assert len(numbers) == LIMIT, f"{len(numbers)} unique numbers reached, the limit is {LIMIT}"
    assert states == {"sent": LIMIT, "queued": RECIPIENTS - LIMIT}, states
    counted = scenario.value(
        """SELECT COUNT(DISTINCT wa_phone) FROM spoki_message WHERE account_id = ANY(%s) AND counts_for_limit
              AND direction = 'outgoing' AND state IN ('sending', 'sent', 'delivered', 'read')
              AND message_date > (now() AT TIME ZONE 'UTC') - interval '24 hours'""",
        [accounts],
    )
    assert counted == LIMIT
    per_account = dict(
        scenario.sql(
            "SELECT account_id, COUNT(*) FROM spoki_message WHERE account_id = ANY(%s) AND state = 'sent' "
            "GROUP BY account_id",
            [accounts],
        )
    )

    runs = {server.log_path.stem: _runs(server) for server in (first, second)}
    overlaps = sum(
        1
        for a_start, a_end, _a in runs["server-1"]
        for b_start, b_end, _b in runs["server-2"]
        if a_start < b_end and b_start < a_end
    )
    pids = {pid for server_runs in runs.values() for _start, _end, pid in server_runs}
    assert overlaps > 0, f"the two servers never sent at the same time: {runs}"
    result = {
        "recipients": RECIPIENTS,
        "limit": LIMIT,
        "unique_numbers_on_fake": len(numbers),
        "sends_on_fake": len(keys),
        "duplicates": 0,
        "states": states,
        "sent_per_account": per_account,
        "runs_per_server": {name: len(server_runs) for name, server_runs in runs.items()},
        "cron_worker_processes": len(pids),
        "overlapping_runs": overlaps,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"FAULT-RESULT two-servers {result}")
