"""Fault (6): two Odoo servers (separate processes, ``--workers=2
--max-cron-threads=2`` each) run the date-rule cron of the automations at the
same time over 2,000 contacts due in the same window.

A rule "1 hour before WEBINAR_DATETIME" sends a template; 2,000 contacts have
their WEBINAR_DATETIME such that their reminder fell due in the last ten
minutes. The job *WhatsApp: automation dates* has three copies, so the four cron
workers of the two servers run it at once. Then the rule's watermark is moved
back (a server with a stale view of the last run) and all the copies run again
at once: the window is evaluated a second time by both servers.

Exact outcomes, counted in the database: each contact has exactly one run of
the rule and exactly one reminder queued; 2,000 in all, nothing twice.
"""

import time

import pytest
from fault_harness import skip_without_odoo, wait_until

skip_without_odoo()

pytestmark = pytest.mark.fault

CONTACTS = 2000
COPIES = 3


def _counts(scenario, rule):
    runs = scenario.value("SELECT COUNT(*) FROM spoki_automation_run WHERE automation_id = %s", [rule])
    messages = scenario.value("SELECT COUNT(*) FROM spoki_message WHERE automation_id = %s", [rule])
    return runs, messages


def _trigger_all(scenario, jobs):
    """Every copy due now; returns when each of them has run (nextcall moved on)."""
    scenario.sql(
        "UPDATE ir_cron SET nextcall = (now() AT TIME ZONE 'UTC') - interval '1 second' WHERE id = ANY(%s)", [jobs]
    )
    wait_until(
        lambda: (
            scenario.value(
                "SELECT COUNT(*) FROM ir_cron WHERE id = ANY(%s) "
                "AND nextcall > (now() AT TIME ZONE 'UTC') + interval '1 minute'",
                [jobs],
            )
            == len(jobs)
        ),
        90,
        "every copy of the date cron to run",
    )


def test_two_servers_date_rule_once_per_contact(scenario):
    started = time.monotonic()
    # only the date cron and its copies run
    scenario.sql(
        "UPDATE ir_cron SET active = FALSE WHERE id = ANY(%s)",
        [
            [
                scenario.cron_id(xmlid)
                for xmlid in ("ir_cron_spoki_message_send", "ir_cron_spoki_message_status_sync")
                if scenario.cron_id(xmlid)
            ]
        ],
    )
    first = scenario.start_server(workers=2, cron_workers=2, name="server-1")
    second = scenario.start_server(workers=2, cron_workers=2, name="server-2")
    field = first.call(
        "spoki.dynamic.field", "create", {"name": "WEBINAR_DATETIME", "field_type": "datetime", "on_contacts": True}
    )
    # due in the last ten minutes: WEBINAR_DATETIME - 1 hour in (now - 10 min, now - 1 s]
    scenario.sql(
        """INSERT INTO spoki_dynamic_value (partner_id, field_id, value_datetime, create_uid, create_date,
                                            write_uid, write_date)
           SELECT id, %s, (now() AT TIME ZONE 'UTC') + interval '1 hour' - (1 + id %% 599) * interval '1 second',
                  1, now() AT TIME ZONE 'UTC', 1, now() AT TIME ZONE 'UTC'
             FROM (SELECT id FROM res_partner WHERE name LIKE 'Fault Contact %%' ORDER BY id LIMIT %s) p""",
        [field, CONTACTS],
    )
    partner_model = scenario.value("SELECT id FROM ir_model WHERE model = 'res.partner'")
    rule = first.call(
        "base.automation",
        "create",
        {
            "name": "Webinar reminder",
            "model_id": partner_model,
            "trigger": "on_spoki_date",
            "spoki_date_field_id": field,
            "spoki_date_offset": -1,
            "spoki_date_offset_unit": "hours",
            "action_server_ids": [
                (
                    0,
                    0,
                    {
                        "name": "send",
                        "state": "spoki_template",
                        "model_id": partner_model,
                        "spoki_account_id": scenario.ids["meta"],
                        "spoki_template_id": scenario.ids["templates"]["fault_promo"],
                    },
                )
            ],
        },
    )
    watermark = "(now() AT TIME ZONE 'UTC') - interval '15 minutes'"
    scenario.sql(f"UPDATE base_automation SET last_run = {watermark} WHERE id = %s", [rule])  # noqa: S608 - constant
    date_cron = scenario.cron_id("ir_cron_spoki_automation_dates")
    jobs = [date_cron] + [first.call("ir.cron", "copy", [date_cron])[0] for _copy in range(COPIES)]
    scenario.start_ticker()

    # 1. the four cron workers of the two servers at once
    _trigger_all(scenario, jobs)
    wait_until(lambda: _counts(scenario, rule) == (CONTACTS, CONTACTS), 60, "the reminders to be queued")
    first_pass = round(time.monotonic() - started, 1)

    # 2. the watermark moved back, all copies again at once on both servers
    scenario.sql(f"UPDATE base_automation SET last_run = {watermark} WHERE id = %s", [rule])  # noqa: S608 - constant
    _trigger_all(scenario, jobs)
    time.sleep(2)

    runs, messages = _counts(scenario, rule)
    per_contact = dict(
        scenario.sql(
            """SELECT n, COUNT(*) FROM (
                   SELECT v.partner_id, COUNT(m.id) AS n FROM spoki_dynamic_value v
                LEFT JOIN spoki_message m ON m.partner_id = v.partner_id AND m.automation_id = %s
                    WHERE v.field_id = %s GROUP BY v.partner_id) c GROUP BY n""",
            [rule, field],
        )
    )
    duplicate_runs = scenario.value(
        """SELECT COUNT(*) FROM (SELECT partner_id FROM spoki_automation_run WHERE automation_id = %s
              GROUP BY partner_id HAVING COUNT(*) > 1) d""",
        [rule],
    )
    states = dict(
        scenario.sql("SELECT state, COUNT(*) FROM spoki_message WHERE automation_id = %s GROUP BY state", [rule])
    )
    servers_ran = {
        server.log_path.stem: server.log_path.read_text(errors="replace").count("automation dates")
        for server in (first, second)
    }
    assert per_contact == {1: CONTACTS}, f"reminders per contact (count: contacts): {per_contact}"
    assert (runs, messages) == (CONTACTS, CONTACTS)
    assert duplicate_runs == 0
    assert states == {"queued": CONTACTS}, states
    assert all(servers_ran.values()), f"both servers ran the date cron: {servers_ran}"
    result = {
        "contacts": CONTACTS,
        "runs": runs,
        "queued": messages,
        "reminders_per_contact": per_contact,
        "cron_copies": len(jobs),
        "date_cron_log_lines_per_server": servers_ran,
        "first_pass_seconds": first_pass,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"FAULT-RESULT automation-dates {result}")
