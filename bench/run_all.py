#!/usr/bin/env python3
"""Every measure of issue 15 next to its anchor, in one run, in one table.

Usage (from the repository root, Odoo 18 importable as ``odoo``, PostgreSQL on
127.0.0.1:5432 with role odoo/odoo)::

    python3 bench/run_all.py            # the issue's sizes (long: base_import of 100,000 rows alone takes minutes)
    python3 bench/run_all.py --quick    # a couple of minutes (ratios only indicative)
    python3 bench/run_all.py --only reports,csv --keep

One database (``spoki_bench_all``) with ``spoki_whatsapp_reports``,
``spoki_whatsapp_csv`` and ``base_import``; product and anchor are measured in
the same run, alternating, on the same data; counts are checked after each run,
outside the timing. The measures (functions of the other scripts of this folder
are reused, not copied):

* **enqueue** — ``campaign.action_start()`` (time until the user gets control
  back) and the enqueue job to the end, against a plain ``INSERT … SELECT`` of
  the same number of queued messages (``bench_automation.anchor``), before and
  after; checks every recipient got exactly one message;
* **dispatch** — the send queue (``spoki.message._process_queue``, the cron's
  code) in 1 then 2 separate Odoo processes (each its own registry and
  cursor) against the loopback fake Meta Cloud API running in a process of its
  own (``tests/fault/fake_server.py``); anchor: a plain ``requests.Session``
  loop with the same number of threads (``send_concurrency`` × processes)
  posting the same kind of request to the same fake; checks the fake received
  each message exactly once and the ledger says ``sent`` for as many;
* **webhook** — signed Meta status webhooks (1 and 50 statuses per request)
  posted by 4 keep-alive client threads to 1 then 2 ``odoo`` server processes
  (threaded, ``-d`` the bench database, no ``--db-filter``) against Odoo's
  trivial route ``/web/health`` on the same servers with the same client;
  checks every status was applied (the route stores, the cron "WhatsApp:
  apply webhooks" of the first server applies); then the apply job alone on a
  backlog of ``--webhook-backlog`` status events stored 50 per inbox row
  (``spoki.webhook.inbox._cron_apply`` in 1 then 2 processes of their own),
  against PostgreSQL's plain ``UPDATE … FROM unnest`` of as many messages,
  checking every message got its status and the inbox is empty;
* **CSV import** — Manage CSV (analysis + import, 3 dynamic fields, upsert, new
  list) against ``base_import.import.execute_import`` on the same rows (as the
  web client calls it; mobile / name / email) and against PostgreSQL ``COPY``
  of the same file into a table of text columns (3 alternating runs up to
  20,000 rows, medians); checks the row counts;
* **dashboard / monthly report** — ``spoki.dashboard.get_dashboard_data`` and
  the monthly report (create: totals + daily lines) over ``--messages``
  messages against the same figures by plain SQL ``GROUP BY`` queries (this
  file's ``ANCHOR_*``); checks the figures are equal.

Prints one table (measure, product, anchor, ratio, target, met?, load
average) and writes ``bench/out/run_all.json``.
"""

import argparse
import io
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _odoo_bench as bench  # noqa: E402
import bench_automation  # noqa: E402
import bench_csv_import  # noqa: E402
import bench_messaging  # noqa: E402

HERE = Path(__file__).resolve().parent
MEASURES = ("enqueue", "dispatch", "webhook", "csv", "reports")
SIZES = {
    # recipients = messages enqueued, then all dispatched (4 runs) and their statuses posted
    "full": {
        "recipients": 20_000,
        "csv_rows": 100_000,
        "messages": 1_000_000,
        "runs": 5,
        "webhook_single": 4000,
        "webhook_backlog": 200_000,
    },
    "quick": {
        "recipients": 4000,
        "csv_rows": 2000,
        "messages": 100_000,
        "runs": 3,
        "webhook_single": 600,
        "webhook_backlog": 50_000,
    },
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench.add_common_args(parser, "spoki_bench_all")
    parser.add_argument("--quick", action="store_true", help="small sizes: a couple of minutes")
    parser.add_argument("--only", default=",".join(MEASURES), help=f"comma-separated subset of {','.join(MEASURES)}")
    parser.add_argument("--recipients", type=int)
    parser.add_argument("--csv-rows", type=int)
    parser.add_argument("--messages", type=int, help="messages of the dashboard / report account")
    parser.add_argument("--runs", type=int, help="timed runs of the dashboard / report (and their anchors)")
    parser.add_argument("--webhook-single", type=int, help="requests of 1 status per webhook run")
    parser.add_argument(
        "--webhook-backlog", type=int, help="status events stored (50 per inbox row) then applied by the apply job"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="provider calls in parallel per send worker")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the kept database (--keep) of an earlier run: no install"
    )
    parser.add_argument("--http-port", type=int, default=18430, help="first of 4 ports for the Odoo servers")
    parser.add_argument("--dispatch-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--apply-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--account-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stop-at", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for key, value in SIZES["quick" if args.quick else "full"].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(MEASURES)
    if unknown:
        parser.error(f"unknown measure(s): {', '.join(sorted(unknown))}")
    # bench_messaging.setup reads these
    args.latency, args.no_chatter = 0.0, False
    return args


# ----------------------------------------------------------------------------
# table
# ----------------------------------------------------------------------------


class Table:
    """Rows of the result table; ``ratio`` is product / anchor for rates and
    times alike, the target says which way is good."""

    def __init__(self):
        self.rows = []

    def add(self, measure, product, anchor, unit, ratio=None, target=None, met=None, note=""):
        row = {
            "measure": measure,
            "product": product,
            "anchor": anchor,
            "unit": unit,
            "ratio": ratio,
            "target": target,
            "met": met,
            "note": note,
            "load": round(os.getloadavg()[0], 1),
        }
        self.rows.append(row)
        print(f"  → {_fmt_row(row)}", flush=True)
        return row

    def rate(self, measure, product, anchor, target=None, note="", unit="/s"):
        """Throughputs: ratio = product / anchor, target a minimum."""
        ratio = product / anchor if anchor else None
        met = None if target is None or ratio is None else ratio >= target
        return self.add(measure, product, anchor, unit, ratio, f"≥ {target:g}" if target else None, met, note)

    def duration(self, measure, product, anchor, target=None, note="", unit="ms"):
        """Times: ratio = product / anchor, target a maximum."""
        ratio = product / anchor if anchor else None
        met = None if target is None or ratio is None else ratio <= target
        return self.add(measure, product, anchor, unit, ratio, f"≤ {target:g}" if target else None, met, note)

    def print(self):
        header = ["measure", "product", "anchor", "ratio", "target", "met?", "load"]
        lines = [
            [_cell(row, key) for key in ("measure", "product", "anchor", "ratio", "target", "met", "load")]
            for row in self.rows
        ]
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
        print("\n| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for line in lines:
            print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |")
        notes = [f"- {row['measure']}: {row['note']}" for row in self.rows if row["note"]]
        if notes:
            print("\n" + "\n".join(notes))


def _number(value, unit):
    if value is None:
        return ""
    if unit == "ms":
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if unit == "s":
        return f"{value:,.2f} s"
    return f"{value:,.0f} {unit}"


def _cell(row, key):
    value = row[key]
    if key in ("product", "anchor"):
        return _number(value, row["unit"])
    if key == "ratio":
        return "" if value is None else f"{value:.2f}"
    if key == "met":
        return {True: "yes", False: "NO", None: ""}[value]
    return "" if value is None else str(value)


def _fmt_row(row):
    return (
        f"{row['measure']}: product {_cell(row, 'product')}, anchor {_cell(row, 'anchor')}, "
        f"ratio {_cell(row, 'ratio')} (target {row['target'] or '-'}), load {row['load']}"
    )


def check(condition, what):
    """A count check after a run (outside the timing): fails the bench loudly."""
    if not condition:
        raise AssertionError(f"check failed: {what}")
    print(f"    ok: {what}")


# ----------------------------------------------------------------------------
# processes: the fake provider, send workers, Odoo servers
# ----------------------------------------------------------------------------


class FakeProcess:
    """``tests/fault/fake_server.py`` (the loopback fake Meta / Spoki API of
    ``spoki_whatsapp/tests/fake_provider.py``) in a process of its own, and its
    control calls."""

    def __init__(self):
        import requests  # noqa: PLC0415

        self.session = requests.Session()
        self.proc = subprocess.Popen(
            [sys.executable, str(bench.ROOT / "tests" / "fault" / "fake_server.py"), "--lifetime", "7200"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        match = re.match(r"READY (\d+) (\d+)", self.proc.stdout.readline().decode())
        if not match:
            self.stop()
            raise RuntimeError("the fake provider did not start")
        self.port, self.control_port = int(match.group(1)), int(match.group(2))
        self.url = f"http://127.0.0.1:{self.port}"

    def call(self, method, **kwargs):
        answer = self.session.post(
            f"http://127.0.0.1:{self.control_port}/call", json={"method": method, "kwargs": kwargs}, timeout=300
        ).json()
        if "error" in answer:
            raise RuntimeError(f"fake provider: {method}: {answer['error']}")
        return answer["result"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def fake_credentials(fake):
    """What ``bench_messaging.setup`` reads from its in-process fake."""
    fp = bench_messaging.load_fake_provider()
    return SimpleNamespace(
        url=fake.url,
        META_TOKEN=fp.META_TOKEN,
        PHONE_NUMBER_ID=fp.PHONE_NUMBER_ID,
        WABA_ID=fp.WABA_ID,
        APP_SECRET=fp.APP_SECRET,
    )


def dispatch_worker(args):
    """A send worker process (``--dispatch-worker``): opens the registry, says
    READY, waits for GO on stdin, then runs the send queue until the account
    has ``--stop-at`` sent messages or the queue is empty. Like the cron (one
    run sends batch after batch for ``send_time_budget`` seconds), one run of
    ``_process_queue`` sends this process's share of what is left
    (``--processes`` workers share it), then the count is checked again."""
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    registry = bench.open_registry(args)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        Message = env["spoki.message"]
        Message.search([], limit=1)  # warm the ORM up before the timing
        print("READY", flush=True)
        sys.stdin.readline()
        while True:
            cr.execute("SELECT count(*) FROM spoki_message WHERE account_id = %s AND state = 'sent'", [args.account_id])
            left = args.stop_at - cr.fetchone()[0]
            if left <= 0:
                break
            batches = max(1, left // (args.batch_size * (args.processes or 1)))
            done, _remaining = Message._process_queue(time_budget=0, auto_commit=True, max_batches=batches)
            if not done:
                break
            cr.commit()
    import resource  # noqa: PLC0415

    print(f"DONE {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", flush=True)  # peak RSS, KiB


def run_processes(cmd, processes, what):
    """``processes`` copies of ``cmd`` started, each waiting after READY;
    timed from GO to the last one done. Returns (seconds, the numbers of
    their ``DONE n`` lines)."""
    workers = [
        subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for _i in range(processes)
    ]
    try:
        for worker in workers:
            if worker.stdout.readline().strip() != b"READY":
                raise RuntimeError(f"a {what} did not start")
        start = time.perf_counter()
        for worker in workers:
            worker.stdin.write(b"GO\n")
            worker.stdin.flush()
        for worker in workers:
            worker.wait(3600)
        elapsed = time.perf_counter() - start
        done = [
            int(line.split()[1])
            for worker in workers
            for line in worker.stdout.read().decode().splitlines()
            if line.startswith("DONE ")
        ]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    if any(worker.returncode for worker in workers):
        raise RuntimeError(f"a {what} failed")
    return elapsed, done


def run_workers(args, processes, account_id, stop_at):
    """``processes`` send worker processes, timed from GO to the last one
    done; returns (seconds, the largest peak RSS in MiB)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--dispatch-worker", "--db", args.db]
    cmd += [f"--account-id={account_id}", f"--stop-at={stop_at}", f"--processes={processes}"]
    cmd += [f"--batch-size={args.batch_size}", *_db_options(args)]
    elapsed, peaks = run_processes(cmd, processes, "send worker")
    return elapsed, max(peaks, default=0) / 1024


def _db_options(args):
    return [
        f"--db-host={args.db_host}",
        f"--db-port={args.db_port}",
        f"--db-user={args.db_user}",
        f"--db-password={args.db_password}",
        *([f"--addons-path={args.addons_path}"] if args.addons_path else []),
    ]


class OdooServer:
    """One ``odoo`` server process (threaded) on 127.0.0.1 serving the bench
    database (``-d``; no ``--db-filter``)."""

    def __init__(self, args, port, cron_threads=0):
        import requests  # noqa: PLC0415

        self.url = f"http://127.0.0.1:{port}"
        self.log = bench.OUT / f"run_all_odoo_{port}.log"
        bench.OUT.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-c", "import odoo.cli; odoo.cli.main()", "server", *bench.odoo_args(args)]
        cmd += ["-d", args.db, "--http-interface=127.0.0.1", f"--http-port={port}", f"--gevent-port={port + 5}"]
        cmd += ["--workers=0", f"--max-cron-threads={cron_threads}", "--log-level=warn", f"--logfile={self.log}"]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 180
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"odoo exited, see {self.log}")
            try:
                if requests.get(f"{self.url}/web/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"odoo did not answer on {self.url}")
            time.sleep(0.5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def post_all(bodies, urls, threads=4, retries=3):
    """POST (or GET when a body is None) every request with ``threads``
    keep-alive sessions, spread over ``urls``; a request not answered 200 is
    sent again up to ``retries`` times, as Meta retries a webhook delivery.
    Returns (seconds, statuses of the requests still not 200, retries made)."""
    import requests  # noqa: PLC0415

    local = threading.local()
    bad, retried = [], []

    def send(item):
        index, (path, body, headers) = item
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        url = urls[index % len(urls)] + path
        for attempt in range(retries + 1):
            if attempt:
                retried.append(index)
            try:
                if body is None:
                    status = session.get(url, timeout=60).status_code
                else:
                    status = session.post(url, data=body, headers=headers, timeout=60).status_code
            except requests.RequestException:
                status = 0
            if status == 200:
                return
        bad.append(status)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, enumerate(bodies)))
    return time.perf_counter() - start, bad, len(retried)


# ----------------------------------------------------------------------------
# enqueue and dispatch
# ----------------------------------------------------------------------------


def sent_count(registry, account_id):
    with registry.cursor() as cr:
        cr.execute("SELECT count(*) FROM spoki_message WHERE account_id = %s AND state = 'sent'", [account_id])
        return cr.fetchone()[0]


def measure_enqueue(registry, args, table, fake):
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    print(f"\nEnqueue: campaign of {args.recipients:,} recipients …", flush=True)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        account, campaign = bench_messaging.setup(env, args, fake_credentials(fake))
        cr.execute(
            "SELECT partner_id FROM spoki_list_res_partner_rel WHERE list_id IN %s", [tuple(campaign.list_ids.ids)]
        )
        partner_ids = [row[0] for row in cr.fetchall()]
        cr.commit()
        account_id, campaign_id = account.id, campaign.id
    bench.vacuum_analyze(registry, "res_partner", "spoki_list_res_partner_rel")
    anchors = [bench_automation.anchor(registry, account_id, partner_ids)]
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        campaign = env["spoki.campaign"].browse(campaign_id)
        start = time.perf_counter()
        campaign.action_start()
        cr.commit()
        control_s = time.perf_counter() - start
        env["spoki.campaign"]._enqueue_pending(auto_commit=True, time_budget=0)
        cr.commit()
        total_s = time.perf_counter() - start
        cr.execute(
            "SELECT count(*), count(DISTINCT partner_id) FROM spoki_message"
            " WHERE campaign_id = %s AND state = 'queued'",
            [campaign_id],
        )
        queued, distinct = cr.fetchone()
    anchors.append(bench_automation.anchor(registry, account_id, partner_ids))
    check(queued == distinct == len(partner_ids), f"{queued:,} messages queued, one per recipient")
    anchor_s = statistics.mean(anchors)
    table.add(
        f"campaign start, {args.recipients:,} recipients: until control is back",
        control_s,
        anchor_s,
        "s",
        control_s / anchor_s,
        "≤ 3 s",
        control_s <= 3,
        note="anchor: plain INSERT … SELECT of as many queued messages (mean of before and after); "
        "target: ≤ 3 s for 100,000 recipients, whatever the anchor",
    )
    table.duration(f"campaign start, {args.recipients:,} recipients: all queued", total_s, anchor_s, unit="s")
    bench.vacuum_analyze(registry, "spoki_message")
    return account_id


def anchor_http(fake, count, threads):
    """The plain HTTP client: ``count`` Meta template sends to the fake with
    ``threads`` threads, one ``requests.Session`` each (rate per second)."""
    fp = bench_messaging.load_fake_provider()
    headers = {"Authorization": f"Bearer {fp.META_TOKEN}", "Content-Type": "application/json"}
    import json  # noqa: PLC0415

    bodies = [
        (
            f"/v21.0/{fp.PHONE_NUMBER_ID}/messages",
            json.dumps(
                {
                    "messaging_product": "whatsapp",
                    "to": f"39348{i:07d}",
                    "type": "template",
                    "template": {
                        "name": "bench_promo",
                        "language": {"code": "en_US"},
                        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Anchor"}]}],
                    },
                    "biz_opaque_callback_data": f"anchor-{threads}-{i}",
                }
            ),
            headers,
        )
        for i in range(count)
    ]
    before = fake.call("counters")["meta_sends"]
    elapsed, bad, _retried = post_all(bodies, [fake.url], threads, retries=0)
    received = fake.call("counters")["meta_sends"] - before
    check(not bad and received == count, f"anchor: the fake received the {count:,} plain sends")
    return count / elapsed


def measure_dispatch(registry, args, table, fake, account_id):
    """1 then 2 worker processes, each next to the plain client with as many threads."""
    total = args.recipients
    half = total // 2
    rates = {}
    for processes, stop_at in ((1, half), (2, total)):
        threads = args.concurrency * processes
        print(
            f"\nDispatch: {processes} process(es) × {args.concurrency} calls vs {threads} plain threads …", flush=True
        )
        anchor = anchor_http(fake, stop_at - sent_count(registry, account_id), threads)
        before = sent_count(registry, account_id)
        sends_before = fake.call("counters")["meta_sends"]
        elapsed, peak_mb = run_workers(args, processes, account_id, stop_at)
        sent = sent_count(registry, account_id) - before
        received = fake.call("counters")["meta_sends"] - sends_before
        check(sent > 0 and received == sent, f"{sent:,} messages sent, the fake received {received:,}")
        rates[processes] = sent / elapsed
        table.rate(
            f"dispatch, {processes} process(es) × {args.concurrency} calls",
            rates[processes],
            anchor,
            0.9,
            unit="msg/s",
            note=f"anchor: plain requests.Session loop, {threads} threads, same fake (own process); "
            f"peak RSS of a send worker process: {peak_mb:.0f} MiB",
        )
    by_key = fake.call("meta_sends_by_key")
    product_keys = {key: n for key, n in by_key.items() if key and not key.startswith("anchor-")}
    check(
        len(product_keys) == total and max(product_keys.values()) == 1,
        f"each of the {total:,} campaign messages reached the fake exactly once",
    )
    table.rate("dispatch, 2 processes vs 1 process", rates[2], rates[1], 1.6, unit="msg/s")


# ----------------------------------------------------------------------------
# webhook
# ----------------------------------------------------------------------------


def status_requests(registry, account_id, status, offset, count, per_request):
    """Signed Meta status webhooks for ``count`` sent messages of the account
    (from ``offset``, by id): ``([(path, body, headers)], provider ids)``."""
    fp = bench_messaging.load_fake_provider()
    with registry.cursor() as cr:
        cr.execute(
            """SELECT provider_message_id, wa_phone FROM spoki_message
                WHERE account_id = %s AND provider_message_id IS NOT NULL ORDER BY id OFFSET %s LIMIT %s""",
            [account_id, offset, count],
        )
        rows = cr.fetchall()
    stamp = time.time()
    requests_ = []
    for i in range(0, len(rows), per_request):
        items = [
            fp.meta_status(wamid, status, stamp, recipient=phone.lstrip("+"))
            for wamid, phone in rows[i : i + per_request]
        ]
        body, headers = fp.signed_meta_webhook(fp.APP_SECRET, items)
        requests_.append((f"/spoki/webhook/{account_id}", body, headers))
    return requests_, [row[0] for row in rows]


def wait_applied(registry, account_id, wamids, states, timeout=120):
    """Statuses applied (bulk application may lag the answers): polled, outside the timing."""
    deadline = time.monotonic() + timeout
    while True:
        with registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM spoki_message"
                " WHERE account_id = %s AND provider_message_id = ANY(%s) AND state IN %s",
                [account_id, wamids, tuple(states)],
            )
            applied = cr.fetchone()[0]
        if applied == len(wamids) or time.monotonic() > deadline:
            return applied
        time.sleep(0.5)


def measure_webhook(registry, args, table, account_id):
    single = args.webhook_single
    servers = [OdooServer(args, args.http_port, cron_threads=1)]
    try:
        servers.append(OdooServer(args, args.http_port + 1))
        for count in (1, 2):
            urls = [server.url for server in servers[:count]]
            print(f"\nWebhook: {count} Odoo server process(es), 1 status per request …", flush=True)
            health = [("/web/health", None, None)] * single
            post_all(health[:50], urls)  # warm-up of Odoo's HTTP stack and the sessions
            bodies, _wamids = status_requests(registry, account_id, "delivered", 0, 20, 1)
            post_all(
                [(path, body, {**headers, "X-Hub-Signature-256": "sha256=0"}) for path, body, headers in bodies],
                urls,
                retries=0,
            )  # the webhook route, refused (bad signature): nothing applied
            anchor_s, bad, _retried = post_all(health, urls)
            check(not bad, f"/web/health answered 200 {single:,} times")
            offset = (count - 1) * single
            bodies, wamids = status_requests(registry, account_id, "delivered", offset, single, 1)
            elapsed, bad, retried = post_all(bodies, urls)
            applied = wait_applied(registry, account_id, wamids, ("delivered",))
            check(
                not bad and applied == len(wamids),
                f"{applied:,} of {len(wamids):,} statuses applied ({retried} retried)",
            )
            table.rate(
                f"webhook, 1 status per request, {count} server(s)",
                len(bodies) / elapsed,
                single / anchor_s,
                0.8,
                unit="req/s",
                note="anchor: GET /web/health, same servers, same 4 client threads" if count == 1 else "",
            )
        # 50 per request: 1 server sets "read" on the messages not used yet, 2 servers on those of the runs above
        for count, offset, size in ((1, 2 * single, args.recipients - 2 * single), (2, 0, 2 * single)):
            urls = [server.url for server in servers[:count]]
            print(f"\nWebhook: {count} server(s), 50 statuses per request …", flush=True)
            bodies, wamids = status_requests(registry, account_id, "read", offset, size, 50)
            elapsed, bad, retried = post_all(bodies, urls)
            applied = wait_applied(registry, account_id, wamids, ("read",))
            check(
                not bad and applied == len(wamids),
                f"{applied:,} of {len(wamids):,} statuses applied ({retried} retried)",
            )
            rate = len(wamids) / elapsed
            table.add(
                f"webhook, 50 statuses per request, {count} server(s)",
                rate,
                None,
                "events/s",
                None,
                "≥ 20,000/s",
                rate >= 20_000,
            )
    finally:
        for server in servers:
            server.stop()
    measure_webhook_backlog(registry, args, table, account_id)


def _clone_sent(cr, account_id, size, tag):
    """``size`` sent messages of the account, cloned by SQL from one of its
    outgoing messages, with the provider ids ``<tag><n>``."""
    cr.execute(
        """SELECT column_name FROM information_schema.columns
            WHERE table_name = 'spoki_message' AND column_name NOT IN
                  ('id', 'provider_message_id', 'idempotency_key', 'state', 'mail_message_id', 'conversation_id',
                   'delivered_at', 'read_at', 'failed_at')"""
    )
    columns = ", ".join(f'"{name}"' for (name,) in cr.fetchall())
    cr.execute(
        f"""INSERT INTO spoki_message ({columns}, provider_message_id, idempotency_key, state)
            SELECT {columns}, %s || g, %s || g, 'sent'
              FROM spoki_message, generate_series(1, %s) AS g
             WHERE id = (SELECT min(id) FROM spoki_message WHERE account_id = %s AND direction = 'outgoing')""",
        [tag, f"bench-backlog-{tag}", size, account_id],
    )
    check(cr.rowcount == size, f"{cr.rowcount:,} messages for the backlog")


def _delivered_count(registry, account_id, tag):
    with registry.cursor() as cr:
        cr.execute(
            "SELECT count(*) FROM spoki_message WHERE account_id = %s AND provider_message_id LIKE %s"
            " AND state = 'delivered'",
            [account_id, tag + "%"],
        )
        return cr.fetchone()[0]


def store_backlog(registry, account_id, size, per_row):
    """Sent messages and their ``delivered`` statuses stored in inbox rows of
    ``per_row``, as the webhook route stores them: ``(tag, rows)``."""
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    fp = bench_messaging.load_fake_provider()
    tag = f"wamid.BACKLOG{time.time_ns()}."
    with registry.cursor() as cr:
        _clone_sent(cr, account_id, size, tag)
        stamp = time.time()
        rows = []
        for start in range(1, size + 1, per_row):
            items = [
                fp.meta_status(f"{tag}{n}", "delivered", stamp, recipient="393330000000")
                for n in range(start, min(start + per_row, size + 1))
            ]
            body, _headers = fp.signed_meta_webhook(fp.APP_SECRET, items)
            rows.append((account_id, body.decode()))
        api.Environment(cr, SUPERUSER_ID, {})["spoki.webhook.inbox"]._store(cr, rows)
        cr.commit()
    return tag, len(rows)


def anchor_update(registry, account_id, size, chunk=25_000):
    """PostgreSQL alone: the same ``delivered`` UPDATE of as many sent
    messages by provider id (``unnest``, chunks committed), no Odoo."""
    tag = f"wamid.ANCHOR{time.time_ns()}."
    with registry.cursor() as cr:
        _clone_sent(cr, account_id, size, tag)
        cr.commit()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        start = time.perf_counter()
        for first in range(1, size + 1, chunk):
            pids = [f"{tag}{n}" for n in range(first, min(first + chunk, size + 1))]
            cr.execute(
                """UPDATE spoki_message AS m SET state = 'delivered', delivered_at = COALESCE(m.delivered_at, v.ts),
                          write_date = now() AT TIME ZONE 'UTC'
                     FROM unnest(%s::varchar[], %s::timestamp[]) AS v(pid, ts)
                    WHERE m.account_id = %s AND m.provider_message_id = v.pid AND m.state IN ('sent', 'delivered')""",
                [pids, [stamp] * len(pids), account_id],
            )
            cr.commit()
        elapsed = time.perf_counter() - start
    check(
        _delivered_count(registry, account_id, tag) == size, f"anchor: {size:,} messages delivered by the plain UPDATE"
    )
    return size / elapsed


def apply_worker(args):
    """An apply-job process (``--apply-worker``): opens the registry, says
    READY, waits for GO on stdin, runs the cron's code
    (``spoki.webhook.inbox._cron_apply``) until the inbox is empty."""
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    registry = bench.open_registry(args)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        Inbox = env["spoki.webhook.inbox"]
        env["spoki.message"].search([], limit=1)  # warm the ORM up before the timing
        print("READY", flush=True)
        sys.stdin.readline()
        done = Inbox._cron_apply(time_budget=0)
        cr.commit()
    print(f"DONE {done}", flush=True)


def run_appliers(args, processes):
    """``processes`` apply-job processes, timed from GO to the last one done;
    returns (seconds, bodies applied)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--apply-worker", "--db", args.db, *_db_options(args)]
    elapsed, done = run_processes(cmd, processes, "apply worker")
    return elapsed, sum(done)


def measure_webhook_backlog(registry, args, table, account_id, per_row=50):
    """``--webhook-backlog`` status events arrived faster than applied: sent
    messages (cloned by SQL), their ``delivered`` statuses stored in inbox
    rows of ``per_row`` as the route stores them, then the apply job in 1 then
    2 processes (the cron's code, committing each batch) timed to the end;
    anchor: PostgreSQL's plain UPDATE of as many messages. Every message
    must be ``delivered`` and the inbox empty."""
    size = args.webhook_backlog
    rates = {}
    for processes in (1, 2):
        print(f"\nWebhook backlog: {size:,} status events in rows of {per_row}, {processes} apply process(es) …")
        tag, rows = store_backlog(registry, account_id, size, per_row)
        elapsed, done = run_appliers(args, processes)
        applied = _delivered_count(registry, account_id, tag)
        with registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM spoki_webhook_inbox")
            left = cr.fetchone()[0]
        check(
            applied == size and left == 0 and done == rows,
            f"{applied:,} of {size:,} statuses applied, {done:,} of {rows:,} bodies, {left} left in the inbox",
        )
        rates[processes] = size / elapsed
        anchor = anchor_update(registry, account_id, size) if processes == 1 else None
        if anchor:
            table.add(
                "webhook backlog applied by the job, 1 process",
                rates[1],
                anchor,
                "events/s",
                rates[1] / anchor,
                "≥ 20,000/s",
                rates[1] >= 20_000,
                note=f"{size:,} events, {per_row} per stored body; anchor: plain UPDATE … FROM unnest of as many "
                "messages by provider id (PostgreSQL alone, same table and indexes)",
            )
        else:
            table.add(
                f"webhook backlog applied by the job, {processes} processes",
                rates[processes],
                None,
                "events/s",
                None,
                "≥ 20,000/s",
                rates[processes] >= 20_000,
                note=f"{rates[processes] / rates[1]:.2f} × 1 process",
            )


# ----------------------------------------------------------------------------
# CSV import
# ----------------------------------------------------------------------------


def copy_anchor(registry, data):
    """PostgreSQL COPY of the same file into a table of text columns (rolled back)."""
    with registry.cursor() as cr:
        columns = data.split(b"\r\n", 1)[0].decode().split(";")
        cr.execute("CREATE TEMP TABLE bench_copy (" + ", ".join(f"c{i} text" for i in range(len(columns))) + ")")
        start = time.perf_counter()
        cr.copy_expert("COPY bench_copy FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER true)", io.BytesIO(data))
        elapsed = time.perf_counter() - start
        cr.execute("SELECT count(*) FROM bench_copy")
        copied = cr.fetchone()[0]
        cr.rollback()
    return elapsed, copied


#: the first row of the CSV measure's files (bench_csv_import.phone_text: national numbers
#: 3xx 5000000 and above, past the messaging measures' contacts up to 5,000,000 recipients)
CSV_FIRST_ROW = 50_000_000


def measure_csv(registry, args, table):
    """Manage CSV against base_import on the same rows, alternating, 3 times
    up to 20,000 rows (the median of each: small runs swing with the load),
    once above (base_import of 100,000 rows takes minutes); every Manage CSV
    run creates its contacts (numbers no earlier run imported)."""
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    rows = args.csv_rows
    runs = 3 if rows <= 20_000 else 1
    print(f"\nCSV import: {rows:,} rows, Manage CSV vs base_import vs COPY, {runs} run(s) …", flush=True)
    product_s, anchor_s, phases = [], [], []
    with registry.cursor() as cr:
        env = bench_csv_import.setup_fields(api.Environment(cr, SUPERUSER_ID, {}))
        cr.commit()
        for run in range(runs):
            base = bench_csv_import.run_base_import(env, rows)
            check(base["imported"] == rows and not base["errors"], f"base_import imported {base['imported']:,} rows")
            # numbers none of the other measures' contacts have (+39347 0000000… of the messaging
            # ones: an earlier measure's contacts would be updated, not created)
            data = bench_csv_import.generate_csv(rows, 1, start=CSV_FIRST_ROW + run * rows)
            wizard, timings = bench_csv_import.manage_csv(env, data, f"bench{run}.csv", f"Bench import {run + 1}")
            done = wizard.result_created
            check(done == rows, f"Manage CSV created {done:,} contacts ({wizard.result_values:,} dynamic values)")
            product_s.append(timings["total"])
            anchor_s.append(base["seconds"])
            phases.append(timings)
    copy_s, copied = copy_anchor(registry, data)
    check(copied == rows, f"COPY loaded {copied:,} rows")
    product = rows / statistics.median(product_s)
    timings = phases[product_s.index(statistics.median(product_s))] if runs % 2 else phases[-1]
    table.rate(
        f"CSV import, {rows:,} rows: Manage CSV vs base_import",
        product,
        rows / statistics.median(anchor_s),
        8,
        unit="rows/s",
        note="base_import: execute_import on res.partner (mobile, name, email), as the web client calls it"
        + (f"; medians of {runs} alternating runs" if runs > 1 else ""),
    )
    table.rate(
        f"CSV import, {rows:,} rows: Manage CSV vs COPY",
        product,
        rows / copy_s,
        unit="rows/s",
        note=(
            f"Manage CSV (median run): analysis {timings['analysis (+ clean/errors files)']:.2f} s, "
            f"import {timings['import (re-read + DB writes + commit)']:.2f} s, "
            f"peak RSS {timings.get('peak RSS (MB)') or 0:.0f} MB"
        ),
    )


# ----------------------------------------------------------------------------
# dashboard and monthly report
# ----------------------------------------------------------------------------

#: the monthly report's figures by plain GROUP BY (daily rows + the month's total)
ANCHOR_MONTH_SQL = """
    SELECT (message_date AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date AS day,
           COUNT(DISTINCT wa_phone) FILTER (WHERE direction = 'incoming' OR state IN %(sent)s),
           COUNT(*) FILTER (WHERE direction = 'incoming' OR state IN %(sent)s),
           COUNT(*) FILTER (WHERE direction = 'outgoing' AND state IN %(sent)s AND kind = 'template'),
           COUNT(*) FILTER (WHERE direction = 'outgoing' AND state IN %(sent)s AND kind = 'text'),
           COUNT(*) FILTER (WHERE direction = 'incoming'),
           COUNT(*) FILTER (WHERE direction = 'outgoing' AND state IN %(sent)s),
           COUNT(*) FILTER (WHERE direction = 'outgoing' AND state IN %(delivered)s),
           COUNT(*) FILTER (WHERE direction = 'outgoing' AND state = 'read'),
           COUNT(*) FILTER (WHERE direction = 'outgoing' AND state = 'failed')
      FROM spoki_message
     WHERE account_id = %(account)s AND message_date >= %(start)s AND message_date < %(stop)s
     GROUP BY ROLLUP (1)
"""
ANCHOR_CONVERSATIONS_SQL = """
    SELECT (start_at AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date, COUNT(*)
      FROM spoki_conversation
     WHERE account_id = %(account)s AND start_at >= %(start)s AND start_at < %(stop)s
     GROUP BY ROLLUP (1)
"""
#: the dashboard's 30-day chart (local days) and unique numbers of the tier counters
ANCHOR_CHART_SQL = """
    SELECT (message_date AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date,
           COUNT(*) FILTER (WHERE direction = 'incoming'),
           COUNT(*) FILTER (WHERE direction = 'outgoing' AND state IN %(sent)s)
      FROM spoki_message
     WHERE account_id = %(account)s AND message_date >= %(start)s AND message_date < %(stop)s
     GROUP BY 1
"""
ANCHOR_UNIQUE_SQL = """
    SELECT COUNT(DISTINCT wa_phone) FILTER (WHERE message_date > %(day)s), COUNT(DISTINCT wa_phone)
      FROM spoki_message
     WHERE account_id = %(account)s AND counts_for_limit AND direction = 'outgoing' AND state IN %(counted)s
       AND message_date > %(week)s AND message_date <= %(now)s
"""


def _month_params(env, account, now):
    from odoo.addons.spoki_whatsapp_reports.models.spoki_monthly_report import DELIVERED_STATES, SENT_STATES  # noqa: PLC0415
    from odoo.addons.spoki_whatsapp_reports.tools import periods  # noqa: PLC0415

    tz = "Europe/Rome"
    year, month = periods.previous_month(periods.local_today(now, tz))
    date_from, date_to = periods.month_range(year, month)
    start, stop = periods.day_range_utc(date_from, date_to, tz)
    return {
        "tz": tz,
        "account": account.id,
        "start": start,
        "stop": stop,
        "sent": SENT_STATES,
        "delivered": DELIVERED_STATES,
    }, (year, month)


def anchor_report(cr, params):
    cr.execute(ANCHOR_MONTH_SQL, params)
    messages = cr.fetchall()
    cr.execute(ANCHOR_CONVERSATIONS_SQL, params)
    return messages, cr.fetchall()


def anchor_dashboard(cr, params, now):
    from odoo.addons.spoki_whatsapp.tools.vocabulary import COUNTED_STATES  # noqa: PLC0415
    from odoo.addons.spoki_whatsapp_reports.tools import periods  # noqa: PLC0415

    figures = anchor_report_totals(cr, params)
    today = periods.local_today(now, params["tz"])
    start, stop = periods.day_range_utc(today - timedelta(days=29), today, params["tz"])
    cr.execute(ANCHOR_CHART_SQL, dict(params, start=start, stop=stop))
    chart = cr.fetchall()
    cr.execute(
        ANCHOR_UNIQUE_SQL,
        {
            "account": params["account"],
            "counted": COUNTED_STATES,
            "day": now - timedelta(days=1),
            "week": now - timedelta(days=7),
            "now": now,
        },
    )
    return figures, chart, cr.fetchone()


def anchor_report_totals(cr, params):
    """The month's totals alone (what the dashboard's "last month" shows)."""
    cr.execute(
        ANCHOR_MONTH_SQL.replace("GROUP BY ROLLUP (1)", "").replace(
            "(message_date AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date AS day", "NULL"
        ),
        params,
    )
    messages = cr.fetchone()
    cr.execute(
        "SELECT COUNT(*) FROM spoki_conversation WHERE account_id = %(account)s AND start_at >= %(start)s "
        "AND start_at < %(stop)s",
        params,
    )
    return messages, cr.fetchone()[0]


def alternate(product, anchor, runs):
    """Warm both up, then ``runs`` rounds of product then anchor: medians in ms."""
    product()
    anchor()
    samples = {"product": [], "anchor": []}
    for _run in range(runs):
        for name, function in (("product", product), ("anchor", anchor)):
            start = time.perf_counter()
            function()
            samples[name].append((time.perf_counter() - start) * 1000)
    return statistics.median(samples["product"]), statistics.median(samples["anchor"])


def measure_reports(registry, args, table):
    from odoo import SUPERUSER_ID, api, fields  # noqa: PLC0415

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        # --reuse: the account of an earlier run (or of bench_reports.py --keep) with its messages
        account = env["spoki.account"].search([("name", "in", ("Bench reports", "Bench"))], limit=1)
        if not (args.reuse and account):
            print(f"\nDashboard / monthly report: inserting {args.messages:,} messages over 365 days …", flush=True)
            account, noise = env["spoki.account"].create(
                [
                    {"name": "Bench reports", "phone": "+390200000011", "credit_balance": 100},
                    {"name": "Bench noise", "phone": "+390200000012"},
                ]
            )
            numbers = max(1000, args.messages // 5)
            Dashboard = env["spoki.dashboard"]
            Dashboard._generate_sample_history(account, args.messages, days=365, numbers=numbers)
            Dashboard._generate_sample_history(noise, args.messages // 10, days=365, numbers=numbers)
            cr.commit()
            bench.vacuum_analyze(registry, "spoki_message", "spoki_conversation")
        cr.execute("SELECT count(*) FROM spoki_message WHERE account_id = %s", [account.id])
        args.messages = cr.fetchone()[0]
        account_id = account.id
    with registry.cursor() as cr:
        admin = api.Environment(cr, SUPERUSER_ID, {}).ref("base.user_admin")
        admin.tz = "Europe/Rome"
        env = api.Environment(cr, admin.id, {"tz": "Europe/Rome", "lang": "en_US"})
        account = env["spoki.account"].browse(account_id)
        now = fields.Datetime.now()
        params, (year, month) = _month_params(env, account, now)
        Dashboard, Report = env["spoki.dashboard"], env["spoki.monthly.report"]

        def dashboard():
            Dashboard.get_dashboard_data(account_id, now=now)
            env.invalidate_all()

        def report():
            with cr.savepoint(flush=False) as savepoint:
                Report.create({"account_id": account_id, "year": year, "month": str(month), "tz": "Europe/Rome"})
                savepoint.rollback()
            env.invalidate_all()

        product, anchor = alternate(dashboard, lambda: anchor_dashboard(cr, params, now), args.runs)
        table.duration(
            f"dashboard, {args.messages:,} messages",
            product,
            anchor,
            1.5,
            note="anchor: the same figures by plain SQL GROUP BY (last month, 30-day chart, unique numbers)",
        )
        product, anchor = alternate(report, lambda: anchor_report(cr, params), args.runs)
        small = args.messages < 1_000_000
        table.duration(
            f"monthly report, {args.messages:,} messages",
            product,
            anchor,
            1.5,
            note="the target is set at 1,000,000 messages: below, the fixed cost of the ORM (report record, "
            "daily lines; on the dashboard the account switcher, tier level, paused campaigns) weighs more"
            if small
            else "anchor: the month's figures by day and in total by plain SQL GROUP BY ROLLUP",
        )
        check_report_figures(env, cr, params, account, year, month, now)
        cr.rollback()


def check_report_figures(env, cr, params, account, year, month, now):
    """The product's figures equal the anchor's (outside the timing)."""
    from odoo.addons.spoki_whatsapp_reports.models.spoki_monthly_report import FIGURES  # noqa: PLC0415

    report = env["spoki.monthly.report"].create(
        {"account_id": account.id, "year": year, "month": str(month), "tz": "Europe/Rome"}
    )
    messages, conversations = anchor_report(cr, params)
    per_day = dict(conversations)

    def figures(row):
        return dict(zip(FIGURES, (row[1], per_day.get(row[0], 0), *row[2:])))

    expected = figures(next(row for row in messages if row[0] is None))
    check({name: report[name] for name in FIGURES} == expected, f"monthly report totals equal the GROUP BY: {expected}")
    daily = {line.day: {name: line[name] for name in FIGURES} for line in report.line_ids if line.message_count}
    check(
        daily == {row[0]: figures(row) for row in messages if row[0] is not None and row[2]},
        f"the {len(report.line_ids)} daily lines equal the GROUP BY's days (every figure)",
    )
    data = env["spoki.dashboard"].get_dashboard_data(account.id, now=now)
    shown = {figure["key"]: figure["value"] for figure in data["last_month"]["figures"]}
    check(shown == expected, "the dashboard's last month equals the GROUP BY")
    _chart_figures, _chart, unique = anchor_dashboard(cr, params, now)
    check(
        (data["status"]["unique_24h"], data["status"]["unique_7d"]) == tuple(unique),
        f"the dashboard's unique numbers 24 h / 7 days equal the GROUP BY's {tuple(unique)}",
    )


# ----------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------


def main():
    args = parse_args()
    if args.dispatch_worker:
        return dispatch_worker(args)
    if args.apply_worker:
        return apply_worker(args)
    started = time.perf_counter()
    load_start = os.getloadavg()
    if not args.reuse:
        bench.install(args, "spoki_whatsapp_reports,spoki_whatsapp_csv,base_import", "the three addons and base_import")
    registry = bench.open_registry(args)
    table = Table()
    fake = FakeProcess() if {"enqueue", "dispatch", "webhook"} & set(args.only) else None
    try:
        account_id = None
        if {"enqueue", "dispatch", "webhook"} & set(args.only):
            account_id = measure_enqueue(registry, args, table, fake)
        if {"dispatch", "webhook"} & set(args.only):
            measure_dispatch(registry, args, table, fake, account_id)
        if "webhook" in args.only:
            measure_webhook(registry, args, table, account_id)
        if "csv" in args.only:
            measure_csv(registry, args, table)
        if "reports" in args.only:
            measure_reports(registry, args, table)
    finally:
        if fake:
            fake.stop()
        bench.close_registry(args, registry)
    table.print()
    minutes = (time.perf_counter() - started) / 60
    load_end = os.getloadavg()
    print(
        f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
        f"load average {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end; {minutes:.1f} min; "
        f"command: python3 bench/run_all.py {' '.join(sys.argv[1:])}"
    )
    bench.write_results(
        "run_all",
        {
            "argv": sys.argv[1:],
            "minutes": round(minutes, 1),
            "load_start": load_start,
            "load_end": load_end,
            "rows": table.rows,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
