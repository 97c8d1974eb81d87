#!/usr/bin/env python3
"""Benchmark of the messaging engine: campaign enqueue of 100,000 recipients
and sustained send-queue dispatch rate against the local fake HTTP provider.

Usage (from the repository root, Odoo 18 importable as ``odoo``, PostgreSQL on
127.0.0.1:5432 with role odoo/odoo)::

    python3 bench/bench_messaging.py                        # 100,000 recipients, dispatch 20,000
    python3 bench/bench_messaging.py --recipients 10000 --dispatch 5000   # quicker
    python3 bench/bench_messaging.py --latency 0.02         # fake provider answers in 20 ms
    python3 bench/bench_messaging.py --workers 2 --no-chatter --keep

What it does:

1. creates a fresh database ``spoki_bench_messaging`` (``--db``) and installs
   ``spoki_whatsapp`` without demo data (``odoo -i``, a subprocess);
2. starts the loopback fake Meta Cloud API
   (``spoki_whatsapp/tests/fake_provider.py``) and
   creates a ``meta`` account pointing at it, at the unlimited tier, with an
   approved template using %%NOME%% and %%COGNOME%%;
3. inserts ``--recipients`` contacts (one SQL ``INSERT … SELECT
   generate_series``, numbers already normalised) into one list;
4. **enqueue**: ``campaign.action_start()`` then the enqueue job
   (``spoki.campaign._enqueue_pending``) — recipients selected and
   deduplicated in SQL, the template rendered for every contact by its batch
   method, messages written with COPY + INSERT … SELECT in committed chunks —
   timed;
5. **dispatch**: ``--workers`` threads, each with its own cursor, run the
   send queue (``spoki.message._process_queue``, the cron's code: SKIP LOCKED
   batches, tier reservation, provider HTTP calls with the configured
   concurrency, outcomes, conversations, chatter, one commit per chunk) until
   ``--dispatch`` messages are sent; prints messages/s;
6. checks the tier counter on the result (unique numbers in 24 h) and times it;
7. writes ``bench/out/bench_messaging.json`` and drops the database unless
   ``--keep``.

Target: enqueue of 100,000 recipients well under a minute.
"""

import argparse
import importlib.util
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _odoo_bench as bench  # noqa: E402


def load_fake_provider():
    """``spoki_whatsapp/tests/fake_provider.py`` (standard library only), loaded
    by path: importing it as ``odoo.addons.spoki_whatsapp.tests.fake_provider``
    would run the addon's ``tests/__init__.py`` and import all its Odoo tests."""
    path = bench.ROOT / "spoki_whatsapp" / "tests" / "fake_provider.py"
    spec = importlib.util.spec_from_file_location("spoki_fake_provider", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench.add_common_args(parser, "spoki_bench_messaging")
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--dispatch", type=int, default=20_000, help="messages to send in the dispatch phase")
    parser.add_argument("--workers", type=int, default=1, help="send-queue workers (threads, own cursors)")
    parser.add_argument("--concurrency", type=int, default=4, help="provider calls in parallel per worker")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.0, help="fake provider answer delay (s)")
    parser.add_argument("--no-chatter", action="store_true", help="don't log campaign messages on contacts")
    return parser.parse_args()


def setup(env, args, fake):
    """Account (meta → fake, unlimited), approved template, contacts, list."""
    cr = env.cr
    ICP = env["ir.config_parameter"].sudo()
    ICP.set_param("spoki_whatsapp.send_batch_size", str(args.batch_size))
    ICP.set_param("spoki_whatsapp.send_concurrency", str(args.concurrency))
    unlimited = env["spoki.tier.level"].search([("policy", "=", "guide"), ("max_users", "=", 0)], limit=1)
    account = env["spoki.account"].create(
        {
            "name": "Bench (fake Meta)",
            "phone": "+390200000001",
            "provider": "meta",
            "api_endpoint": fake.url,
            "meta_access_token": fake.META_TOKEN,
            "meta_phone_number_id": fake.PHONE_NUMBER_ID,
            "meta_waba_id": fake.WABA_ID,
            "meta_app_secret": fake.APP_SECRET,
            "tier_level_id": unlimited.id,
        }
    )
    template = env["spoki.template"].create(
        {
            "name": "Bench promo",
            "account_id": account.id,
            "lang": "en_US",
            "body": "Hello %%NOME%% %%COGNOME%%, our June offers are waiting for you in the shop.",
        }
    )
    template.write({"state": "approved", "provider_name": "bench_promo"})
    spoki_list = env["spoki.list"].create({"name": "Bench recipients"})
    cr.execute(
        """INSERT INTO res_partner (name, complete_name, active, type, is_company, lang, mobile, wa_phone,
                                    wa_phone_valid, wa_opt_out, create_date, write_date, create_uid, write_uid)
           SELECT 'Bench Contact ' || i, 'Bench Contact ' || i, TRUE, 'contact', FALSE, 'en_US',
                  '+39347' || lpad(i::text, 7, '0'), '+39347' || lpad(i::text, 7, '0'), TRUE, FALSE,
                  now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', 1, 1
             FROM generate_series(1, %s) AS i
        RETURNING id""",
        [args.recipients],
    )
    ids = [row[0] for row in cr.fetchall()]
    cr.execute("UPDATE res_partner SET commercial_partner_id = id WHERE id = ANY(%s)", [ids])
    cr.execute(
        "INSERT INTO spoki_list_res_partner_rel (list_id, partner_id) SELECT %s, unnest(%s::int[])",
        [spoki_list.id, ids],
    )
    campaign = env["spoki.campaign"].create(
        {"name": "Bench", "account_id": account.id, "template_id": template.id, "list_ids": [(6, 0, spoki_list.ids)]}
    )
    env.invalidate_all()
    return account, campaign


def dispatch(registry, args, account_id):
    """Run the send queue with ``--workers`` threads until ``--dispatch``
    messages are sent; returns (seconds, sent)."""
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    target = args.dispatch
    errors = []

    def sent_count():
        with registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM spoki_message WHERE account_id = %s AND state = 'sent'", [account_id])
            return cr.fetchone()[0]

    def work():
        try:
            with registry.cursor() as cr:
                context = {"spoki_no_chatter": True} if args.no_chatter else {}
                env = api.Environment(cr, SUPERUSER_ID, context)
                Message = env["spoki.message"]
                while not stop.is_set():
                    done, _remaining = Message._process_queue(time_budget=0, auto_commit=True, max_batches=1)
                    if not done:
                        break
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    stop = threading.Event()
    threads = [threading.Thread(target=work) for _i in range(args.workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        if sent_count() >= target:
            stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed, sent_count()


def main():
    args = parse_args()
    fake_provider = load_fake_provider()

    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    bench.install(args, "spoki_whatsapp")

    registry = bench.open_registry(args)
    results = vars(args).copy()
    with fake_provider.FakeProvider(latency=args.latency) as fake:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            print(f"Creating {args.recipients:,} contacts …", flush=True)
            account, campaign = setup(env, args, fake)
            cr.commit()
            bench.vacuum_analyze(registry, "res_partner", "spoki_list_res_partner_rel")

            print("Enqueue: starting the campaign …", flush=True)
            start = time.perf_counter()
            campaign.action_start()
            # the job "WhatsApp: campaign enqueue", run here until done (committed chunks)
            env["spoki.campaign"]._enqueue_pending(auto_commit=True, time_budget=0)
            cr.commit()
            enqueue_s = time.perf_counter() - start
            results["enqueue_s"] = round(enqueue_s, 2)
            results["queued"] = campaign.recipient_count
            print(
                f"  {campaign.recipient_count:,} messages queued in {enqueue_s:.1f} s "
                f"({campaign.recipient_count / enqueue_s:,.0f} recipients/s)"
            )
            account_id = account.id

        bench.vacuum_analyze(registry, "spoki_message")
        print(
            f"Dispatch: {args.workers} worker(s) × {args.concurrency} parallel calls, fake latency "
            f"{args.latency * 1000:.0f} ms, chatter {'off' if args.no_chatter else 'on'} …",
            flush=True,
        )
        elapsed, sent = dispatch(registry, args, account_id)
        rate = sent / elapsed if elapsed else 0
        results.update(
            dispatch_s=round(elapsed, 2),
            sent=sent,
            rate_msg_s=round(rate, 1),
            provider_sends=fake.counters["meta_sends"],
        )
        print(
            f"  {sent:,} messages sent in {elapsed:.1f} s: {rate:,.0f} messages/s "
            f"(fake provider received {fake.counters['meta_sends']:,} sends)"
        )

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        account = env["spoki.account"].browse(account_id)
        start = time.perf_counter()
        unique = account._limit_unique_numbers_24h()
        results["unique_24h"] = unique
        results["unique_24h_ms"] = round((time.perf_counter() - start) * 1000, 1)
        print(f"Tier counter: {unique:,} unique numbers in 24 h, computed in {results['unique_24h_ms']} ms")

    print("\nSummary")
    print(f"  enqueue of {results['queued']:,} recipients: {results['enqueue_s']} s (target: well under 60 s)")
    print(f"  sustained dispatch rate: {results['rate_msg_s']} messages/s")
    bench.write_results("bench_messaging", results)
    bench.close_registry(args, registry)


if __name__ == "__main__":
    main()
