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
import contextlib
import importlib.util
import resource
import sys
import threading
import time
from pathlib import Path
from unittest import mock

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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench.add_common_args(parser, "spoki_bench_messaging")
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--dispatch", type=int, default=20_000, help="messages to send in the dispatch phase")
    parser.add_argument("--workers", type=int, default=1, help="send-queue workers (threads, own cursors)")
    parser.add_argument("--concurrency", type=int, default=4, help="provider calls in parallel per worker")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.0, help="fake provider answer delay (s)")
    parser.add_argument("--no-chatter", action="store_true", help="don't log campaign messages on contacts")
    parser.add_argument(
        "--dynamic-fields",
        type=int,
        default=0,
        help="text dynamic fields (with a value per contact) the template also uses (default 0: %%%%NOME%%%% "
        "and %%%%COGNOME%%%% only, as in the first figures)",
    )
    parser.add_argument("--no-dispatch", action="store_true", help="measure the enqueue only")
    parser.add_argument(
        "--requeue",
        action="store_true",
        help="enqueue again the campaign of a database kept by an earlier run (--keep): no install, no set-up, "
        "no dispatch (before/after comparisons of the enqueue on the same data)",
    )
    return parser.parse_args(argv)


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
    dynamic = [f"BENCH_CODE_{n}" for n in range(1, getattr(args, "dynamic_fields", 0) + 1)]
    for name in dynamic:
        env["spoki.dynamic.field"].create({"name": name, "field_type": "text", "on_contacts": True})
    extra = "".join(f" %%{name}%%" for name in dynamic)
    template = env["spoki.template"].create(
        {
            "name": "Bench promo",
            "account_id": account.id,
            "lang": "en_US",
            "body": f"Hello %%NOME%% %%COGNOME%%, our June offers are waiting for you in the shop.{extra}",
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
    for name in dynamic:
        field = env["spoki.dynamic.field"].search([("name", "=", name)])
        cr.execute(
            """INSERT INTO spoki_dynamic_value (partner_id, field_id, value_text, create_date, write_date,
                                                create_uid, write_uid)
               SELECT p, %s, 'C' || p, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', 1, 1
                 FROM unnest(%s::int[]) AS p""",
            [field.id, ids],
        )
    campaign = env["spoki.campaign"].create(
        {"name": "Bench", "account_id": account.id, "template_id": template.id, "list_ids": [(6, 0, spoki_list.ids)]}
    )
    env.invalidate_all()
    return account, campaign


def peak_rss_mb():
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def enqueue(env, campaign):
    """Start ``campaign`` as the user does (``action_start`` + commit: the
    time until the user gets control back), then run the job "WhatsApp:
    campaign enqueue" here until every recipient is queued (its committed
    chunks, each run within the job's time budget as the cron does, chained
    while it reports work left). Returns ``{'start_s', 'enqueue_s' (start
    included), 'queued', 'chunks', 'job_runs', 'peak_rss_mb'}``."""
    cr = env.cr
    Campaign = env["spoki.campaign"]
    phases = {"select_s": 0.0, "render_s": 0.0, "write_s": 0.0}
    timers = [
        (type(Campaign), "_select_recipients", "select_s"),
        (type(env["spoki.template"]), "_render_for_partners", "render_s"),
        (type(Campaign), "_enqueue_partners", "write_s"),  # rendering included, subtracted below
    ]
    with contextlib.ExitStack() as stack:
        for cls, name, key in timers:
            stack.enter_context(mock.patch.object(cls, name, _timed(getattr(cls, name), phases, key)))
        start = time.perf_counter()
        campaign.action_start()
        cr.commit()
        start_s = time.perf_counter() - start
        chunks = runs = 0
        while True:
            runs += 1
            done, remaining = Campaign._enqueue_pending(auto_commit=True)
            cr.commit()
            chunks += -(-done // max(1, Campaign.env["spoki.message"]._param("campaign_enqueue_chunk", 5000)))
            if not remaining:
                break
        enqueue_s = time.perf_counter() - start
    phases["write_s"] -= phases["render_s"]
    campaign.invalidate_recordset()
    return {
        "start_s": round(start_s, 3),
        "enqueue_s": round(enqueue_s, 2),
        "queued": campaign.recipient_count,
        "chunks": chunks,
        "job_runs": runs,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        **{key: round(value, 2) for key, value in phases.items()},
    }


def _timed(function, phases, key):
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            phases[key] += time.perf_counter() - start

    return timed


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


def requeue(args):
    """``--requeue``: reset the campaign "Bench" of the kept database ``--db``
    (its messages deleted, back to draft) and measure its enqueue again."""
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    registry = bench.open_registry(args)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        campaign = env["spoki.campaign"].search([("name", "=", "Bench")], limit=1)
        cr.execute("DELETE FROM spoki_message WHERE campaign_id = %s", [campaign.id])
        cr.execute("UPDATE spoki_campaign SET state = 'draft', enqueued_at = NULL WHERE id = %s", [campaign.id])
        cr.commit()
        env.invalidate_all()
    bench.vacuum_analyze(registry, "spoki_message", "spoki_campaign")
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        results = enqueue(env, env["spoki.campaign"].browse(campaign.id))
    print(
        f"  start returned in {results['start_s']:.2f} s; {results['queued']:,} messages queued in "
        f"{results['enqueue_s']:.1f} s, peak RSS {results['peak_rss_mb']:,.0f} MB; phases: recipients "
        f"{results['select_s']} s, rendering {results['render_s']} s, COPY + INSERT {results['write_s']} s",
        flush=True,
    )
    bench.write_results("bench_messaging_requeue", dict(vars(args), **results))
    args.keep = True
    bench.close_registry(args, registry)
    return results


def main(argv=None):
    args = parse_args(argv)
    if args.requeue:
        requeue(args)
        return
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
            results.update(enqueue(env, campaign))
            print(
                f"  start returned in {results['start_s']:.2f} s; {results['queued']:,} messages queued in "
                f"{results['enqueue_s']:.1f} s ({results['queued'] / results['enqueue_s']:,.0f} recipients/s), "
                f"{results['chunks']} committed chunks, peak RSS {results['peak_rss_mb']:,.0f} MB"
            )
            print(
                f"  phases: recipients {results['select_s']} s, rendering {results['render_s']} s, "
                f"COPY + INSERT {results['write_s']} s"
            )
            account_id = account.id
        if args.no_dispatch:
            bench.write_results("bench_messaging", results)
            bench.close_registry(args, registry)
            return

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
    print(f"  start of the campaign returned in {results['start_s']} s (target: ≤ 3 s)")
    print(f"  enqueue of {results['queued']:,} recipients: {results['enqueue_s']} s (target: well under 60 s)")
    print(f"  peak RSS: {peak_rss_mb():,.0f} MB")
    print(f"  sustained dispatch rate: {results['rate_msg_s']} messages/s")
    bench.write_results("bench_messaging", results)
    bench.close_registry(args, registry)


if __name__ == "__main__":
    main()
