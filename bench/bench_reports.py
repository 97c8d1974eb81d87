#!/usr/bin/env python3
"""Benchmark of spoki_whatsapp_reports: dashboard data and monthly report over
1,000,000 messages.

Usage (from the repository root, Odoo 18 importable as ``odoo``, PostgreSQL on
127.0.0.1:5432 with role odoo/odoo)::

    python3 bench/bench_reports.py                       # 1,000,000 messages over 365 days
    python3 bench/bench_reports.py --messages 100000     # quicker
    python3 bench/bench_reports.py --days 30 --keep      # all in the last month; keep the DB

What it does:

1. creates a fresh database ``spoki_bench_reports`` (``--db``) and installs
   ``spoki_whatsapp_reports`` without demo data (``odoo -i``, a subprocess);
2. creates two sandbox accounts and inserts ``--messages`` messages on the
   first one (plus 10 % of that on the second, as noise) with one SQL
   ``INSERT … SELECT generate_series`` (``spoki.dashboard._generate_sample_history``:
   1/4 incoming, 1/4 free text, 1/2 templates counting for the limit, states
   read/delivered/sent/failed) spread over the last ``--days`` days, over
   ``--numbers`` distinct phone numbers, plus one conversation per three
   messages, inserted in date order as a ledger grows; then ``VACUUM ANALYZE``
   (what autovacuum does after a bulk insert);
3. as an administrator in Europe/Rome, times ``spoki.dashboard.get_dashboard_data``
   (the dashboard's single RPC: counters, outlook, last month's KPIs, 30-day chart),
   ``get_chart_data`` for each period with its default range, and the monthly
   report of last month (create = compute totals + daily rows), ``--runs`` times
   each after one warm-up; prints min / median / max in milliseconds and writes
   them to ``bench/out/bench_reports.json``;
4. drops the database unless ``--keep``.

Target: the dashboard answers in under 300 ms with 1,000,000 messages.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _odoo_bench as bench  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench.add_common_args(parser, "spoki_bench_reports")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=365)
    parser.add_argument("--numbers", type=int, default=200_000, help="distinct phone numbers")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database (skip install and data)")
    return parser.parse_args()


def timed(function, runs):
    function()  # warm-up (caches, first plan)
    samples = []
    for _run in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return {"min": min(samples), "median": statistics.median(samples), "max": max(samples)}


def main():
    args = parse_args()
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    if not args.reuse:
        bench.install(args, "spoki_whatsapp_reports")

    registry = bench.open_registry(args)
    results = {"messages": args.messages, "days": args.days, "numbers": args.numbers}
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        Account = env["spoki.account"]
        if args.reuse:
            account = Account.search([("name", "=", "Bench")], limit=1)
        else:
            company = env.ref("base.main_company")
            account, noise = Account.create(
                [
                    {"name": "Bench", "phone": "+390200000001", "company_id": company.id, "credit_balance": 100},
                    {"name": "Noise", "phone": "+390200000002", "company_id": company.id},
                ]
            )
            Dashboard = env["spoki.dashboard"]
            print(f"Inserting {args.messages:,} messages over {args.days:g} days …", flush=True)
            start = time.perf_counter()
            Dashboard._generate_sample_history(account, args.messages, days=args.days, numbers=args.numbers)
            Dashboard._generate_sample_history(noise, args.messages // 10, days=args.days, numbers=args.numbers)
            cr.commit()
            results["insert_s"] = round(time.perf_counter() - start, 1)
            print(f"  inserted in {results['insert_s']} s")
            # what autovacuum does after a bulk insert (statistics, visibility map)
            bench.vacuum_analyze(registry, "spoki_message", "spoki_conversation")
        cr.execute("SELECT count(*) FROM spoki_message")
        total = cr.fetchone()[0]
        admin = env.ref("base.user_admin")
        admin.tz = "Europe/Rome"
        user_env = api.Environment(cr, admin.id, {"tz": "Europe/Rome", "lang": "en_US"})
        Dashboard = user_env["spoki.dashboard"]
        Report = user_env["spoki.monthly.report"]

        def dashboard():
            Dashboard.get_dashboard_data(account.id)
            user_env.invalidate_all()

        def monthly_report():
            with cr.savepoint(flush=False) as savepoint:
                Report.create({"account_id": account.id})
                savepoint.rollback()
            user_env.invalidate_all()

        data = Dashboard.get_dashboard_data(account.id)
        print(
            f"\n{total:,} messages in the database; last month ({data['last_month']['label']}): "
            f"{data['last_month']['figures'][2]['value']:,} exchanged; "
            f"unique users 24 h / 7 days: {data['status']['unique_24h']:,} / {data['status']['unique_7d']:,}\n"
        )
        rows = [("get_dashboard_data (whole dashboard)", timed(dashboard, args.runs))]
        for period in ("minute", "hour", "day", "month", "quarter", "year"):
            rows.append(
                (
                    f"get_chart_data {period} (default range)",
                    timed(lambda period=period: Dashboard.get_chart_data(account.id, period), args.runs),
                )
            )
        rows.append(("monthly report, last month (create + daily rows)", timed(monthly_report, args.runs)))
        cr.rollback()

    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  {'min ms':>8}  {'median ms':>9}  {'max ms':>8}")
    for name, stats in rows:
        print(f"{name:<{width}}  {stats['min']:8.1f}  {stats['median']:9.1f}  {stats['max']:8.1f}")
    dashboard_median = rows[0][1]["median"]
    verdict = "OK" if dashboard_median < 300 else "SLOW"
    print(f"\nDashboard median {dashboard_median:.0f} ms (target < 300 ms): {verdict}")
    results.update(total_messages=total, timings_ms={name: stats for name, stats in rows})
    bench.write_results("bench_reports", results)
    bench.close_registry(args, registry)
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
