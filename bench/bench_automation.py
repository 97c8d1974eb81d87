#!/usr/bin/env python3
"""Benchmark of the date automation: 10,000 contacts whose WEBINAR_DATETIME
falls in the same hour, all reminders queued by one run of the cron
*WhatsApp: automation dates*.

Usage (from the repository root, Odoo 18 importable as ``odoo``, PostgreSQL on
127.0.0.1:5432 with role odoo/odoo)::

    python3 bench/bench_automation.py                 # 10,000 contacts
    python3 bench/bench_automation.py --contacts 50000 --keep

What it does: installs ``spoki_whatsapp`` without demo data in a fresh
database, creates a sandbox account with an approved template, ``--contacts``
contacts (one SQL insert, half in Europe/Rome, half in America/New_York) with
a WEBINAR_DATETIME 30 minutes from now, and the rule "send the template 1 hour
before WEBINAR_DATETIME"; then times

* the **anchor**: a plain ``INSERT … SELECT`` of the same number of queued
  messages into ``spoki_message`` (rolled back), the floor of any enqueue;
* the **cron**: ``base.automation._cron_spoki_dates()`` — due contacts
  selected in SQL, runs claimed with one INSERT … ON CONFLICT DO NOTHING, the
  template rendered for all and queued with COPY + one INSERT, outcomes
  written on the runs;

prints both and their ratio, checks every contact got exactly one message and
a second cron run queues nothing, writes ``bench/out/bench_automation.json``.
"""

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _odoo_bench as bench  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench.add_common_args(parser, "spoki_bench_automation")
    parser.add_argument("--contacts", type=int, default=10_000)
    return parser.parse_args()


def setup(env, args):
    from odoo import fields  # noqa: PLC0415

    cr = env.cr
    now = fields.Datetime.now()
    account = env["spoki.account"].create({"name": "Bench sandbox", "phone": "+390200000001"})
    field = env["spoki.dynamic.field"].create({"name": "WEBINAR_DATETIME", "field_type": "datetime"})
    template = env["spoki.template"].create(
        {
            "name": "Webinar reminder",
            "account_id": account.id,
            "lang": "en_US",
            "body": "Hello %%NOME%%, the webinar starts at %%WEBINAR_DATETIME%%: see you there!",
        }
    )
    template.write({"state": "approved", "provider_name": "bench_webinar"})
    cr.execute(
        """INSERT INTO res_partner (name, complete_name, active, type, is_company, lang, tz, mobile, wa_phone,
                                    wa_phone_valid, wa_opt_out, create_date, write_date, create_uid, write_uid)
           SELECT 'Bench Contact ' || i, 'Bench Contact ' || i, TRUE, 'contact', FALSE, 'en_US',
                  CASE WHEN i %% 2 = 0 THEN 'Europe/Rome' ELSE 'America/New_York' END,
                  '+39347' || lpad(i::text, 7, '0'), '+39347' || lpad(i::text, 7, '0'), TRUE, FALSE,
                  now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', 1, 1
             FROM generate_series(1, %s) AS i
        RETURNING id""",
        [args.contacts],
    )
    ids = [row[0] for row in cr.fetchall()]
    cr.execute("UPDATE res_partner SET commercial_partner_id = id WHERE id = ANY(%s)", [ids])
    cr.execute(
        """INSERT INTO spoki_dynamic_value (partner_id, field_id, value_datetime)
           SELECT p, %s, %s + make_interval(secs => (p %% 600)) FROM unnest(%s::int[]) p""",
        [field.id, now + timedelta(minutes=30), ids],
    )
    partner_model = env["ir.model"]._get("res.partner")
    rule = env["base.automation"].create(
        {
            "name": "Webinar reminder",
            "model_id": partner_model.id,
            "trigger": "on_spoki_date",
            "spoki_date_field_id": field.id,
            "spoki_date_offset": -1,
            "spoki_date_offset_unit": "hours",
            "last_run": now - timedelta(hours=1),
            "action_server_ids": [
                (
                    0,
                    0,
                    {
                        "name": "Send",
                        "state": "spoki_template",
                        "model_id": partner_model.id,
                        "spoki_account_id": account.id,
                        "spoki_template_id": template.id,
                    },
                )
            ],
        }
    )
    env.invalidate_all()
    return account, rule, ids


def anchor(registry, account_id, ids):
    """Plain INSERT … SELECT of the same number of queued messages (rolled back)."""
    with registry.cursor() as cr:
        start = time.perf_counter()
        cr.execute(
            """INSERT INTO spoki_message (account_id, partner_id, wa_phone, body, direction, kind, state,
                                          counts_for_limit, attempt_count, priority, active, message_date)
               SELECT %s, p, '+39347' || lpad(p::text, 7, '0'), 'Hello', 'outgoing', 'template', 'queued',
                      FALSE, 0, 5, TRUE, now() AT TIME ZONE 'UTC'
                 FROM unnest(%s::int[]) p""",
            [account_id, ids],
        )
        elapsed = time.perf_counter() - start
        cr.rollback()
    return elapsed


def main():
    args = parse_args()
    bench.install(args, "spoki_whatsapp")
    registry = bench.open_registry(args)
    import odoo  # noqa: PLC0415

    try:
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            account, rule, ids = setup(env, args)
            account_id, rule_id = account.id, rule.id
        bench.vacuum_analyze(registry, "res_partner", "spoki_dynamic_value")
        anchor_s = anchor(registry, account_id, ids)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            start = time.perf_counter()
            env["base.automation"]._cron_spoki_dates()
            cron_s = time.perf_counter() - start
            cr.execute(
                "SELECT count(*), count(DISTINCT partner_id) FROM spoki_message WHERE automation_id = %s", [rule_id]
            )
            queued, distinct = cr.fetchone()
            env["base.automation"]._cron_spoki_dates()
            cr.execute("SELECT count(*) FROM spoki_message WHERE automation_id = %s", [rule_id])
            after_second = cr.fetchone()[0]
        ratio = cron_s / anchor_s if anchor_s else float("inf")
        print(f"contacts: {args.contacts}")
        print(f"anchor (plain INSERT of {args.contacts} messages): {anchor_s:.3f} s")
        print(f"one cron run (select due in SQL, claim runs, render, queue): {cron_s:.3f} s — {ratio:.1f}× the anchor")
        print(f"queued: {queued} messages to {distinct} contacts; after a second cron run: {after_second}")
        assert queued == distinct == args.contacts, "every contact gets exactly one reminder"
        assert after_second == queued, "a second run queues nothing"
        bench.write_results(
            "bench_automation",
            {"contacts": args.contacts, "anchor_s": anchor_s, "cron_s": cron_s, "ratio": ratio, "queued": queued},
        )
    finally:
        bench.close_registry(args, registry)


if __name__ == "__main__":
    main()
