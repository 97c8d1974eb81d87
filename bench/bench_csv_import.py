#!/usr/bin/env python3
"""Benchmark of spoki_whatsapp_csv: Manage CSV import of 100,000 contacts with
3 dynamic fields, side by side with Odoo's own importer (base_import).

Usage (from the repository root, Odoo 18 importable as ``odoo``, PostgreSQL on
127.0.0.1:5432 with role odoo/odoo)::

    python3 bench/bench_csv_import.py                         # 100,000 rows, full base_import run
    python3 bench/bench_csv_import.py --rows 10000            # quicker
    python3 bench/bench_csv_import.py --base-import-rows 20000  # base_import on the first 20,000 rows only
                                                              # (its time is also extrapolated to --rows)
    python3 bench/bench_csv_import.py --skip-base-import --keep

What it does:

1. creates a fresh database ``spoki_bench_csv`` (``--db``) and installs
   ``spoki_whatsapp_csv`` and ``base_import`` without demo data (``odoo -i``,
   a subprocess); switches ON three dynamic fields: BIRTHDAY_DATE (date),
   APPOINTMENT (date-time), LINK (text);
2. generates a CSV of ``--rows`` rows the way exports from other software look
   (semicolon-separated, numbers written as "+39 347 …", "0039347…" or
   "347 …", Italian headers, dates as DD/MM/YYYY) with distinct numbers, and
   a second version of it where names, emails and LINK changed;
3. as the administrator, through the Manage CSV wizard: reads the file
   (header, mapping suggestion), analyses it, imports it (a new list with
   every contact), and commits — each step timed; then imports the changed
   version (every row updates an existing contact) the same way; then
   exports the contacts of the list (``spoki.csv.export``, the generator the
   download route streams);
4. imports the same rows through ``base_import.import.execute_import`` on
   res.partner with the columns mobile / name / email (what base_import can
   do: dynamic fields are rows of ``spoki.dynamic.value``, not columns of
   res.partner, so base_import can't import them, nor upsert by normalised
   number, nor fill a list), then rolls it back;
5. prints both side by side, writes ``bench/out/bench_csv_import.json`` and
   drops the database unless ``--keep``.

Target (issue 6): 100,000 rows with 3 dynamic fields imported in under 60 s
on a 2-core machine.
"""

import argparse
import base64
import csv
import io
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _odoo_bench as bench  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench.add_common_args(parser, "spoki_bench_csv")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--base-import-rows", type=int, default=None, help="rows given to base_import (default: all of --rows)"
    )
    parser.add_argument("--skip-base-import", action="store_true")
    parser.add_argument(
        "--analysis-mb", type=int, default=50, help="size of the file whose analysis alone is timed (0: skip)"
    )
    return parser.parse_args()


FIRST = ["Maria", "Giuseppe", "Anna", "Luca", "Giulia", "Marco", "Francesca", "Niccolò", "Zoë", "Andrea"]
LAST = ["Rossi", "Bianchi", "Esposito", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Società"]


def phone_text(i):
    """Distinct Italian mobiles written the messy ways exports write them
    (distinct for every ``i`` below 100,000,000)."""
    national = f"3{40 + i % 10} {i // 10:07d}"
    return ("+39 " + national, "0039" + national.replace(" ", ""), national)[i % 3]


def generate_csv(rows, version=1, start=0):
    """``rows`` rows (``start``: the first row's index, for numbers no other
    file of the run has)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        ["Cellulare", "Nome", "Cognome", "E-mail", "Lingua", "BIRTHDAY_DATE", "APPOINTMENT", "LINK", "Note"]
    )
    for i in range(start, start + rows):
        first, last = FIRST[i % 10], LAST[(i // 10) % 10]
        writer.writerow(
            [
                phone_text(i),
                first if version == 1 else f"{first}{version}",
                last,
                f"{first.lower()}.{i}@example.com" if version == 1 else f"v{version}.{i}@example.org",
                ("it", "en", "")[i % 3],
                f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1950 + i % 50}",
                f"2025-{1 + i % 12:02d}-{1 + i % 28:02d} {8 + i % 10:02d}:{(i * 7) % 60:02d}",
                f"https://example.com/v{version}/{i}",
                "cliente dal 2020",
            ]
        )
    return buffer.getvalue().encode("utf-8")


def big_file(megabytes):
    """A file of the bench's rows at least ``megabytes`` MB, with numbers
    no other step imports."""
    rows = int(megabytes * 1e6 / 125) + 1
    while True:
        data = generate_csv(rows, 3)
        if len(data) >= megabytes * 1e6:
            return data
        rows = int(rows * 1.1)


def base_import_csv(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["mobile", "name", "email"])
    for i in range(rows):
        writer.writerow(
            [phone_text(i), f"{FIRST[i % 10]} {LAST[(i // 10) % 10]}", f"{FIRST[i % 10].lower()}.{i}@example.com"]
        )
    return buffer.getvalue().encode("utf-8")


def setup_fields(root):
    """Italy as the company's country, the three dynamic fields switched on
    (BIRTHDAY_DATE date, APPOINTMENT date-time, LINK text), Italian active;
    returns the administrator's environment (Europe/Rome)."""
    root.ref("base.main_company").country_id = root.ref("base.it")
    Field = root["spoki.dynamic.field"]
    for name, kind in (("BIRTHDAY_DATE", "date"), ("APPOINTMENT", "datetime"), ("LINK", "text")):
        field = Field.search([("name", "=", name)])
        if field:
            field.write({"field_type": kind, "on_contacts": True})
        else:
            Field.create({"name": name, "field_type": kind, "on_contacts": True})
    root.ref("base.lang_it").active = True
    admin = root.ref("base.user_admin")
    admin.tz = "Europe/Rome"
    return root(user=admin.id, context={"tz": "Europe/Rome", "lang": "en_US"})


def run_base_import(env, rows):
    """``base_import.import.execute_import`` on res.partner with ``rows`` rows
    (mobile / name / email), as the web client calls it, then rolled back:
    ``{"rows", "seconds", "imported", "errors"}`` (seconds unrounded)."""
    data = base_import_csv(rows)
    importer = env["base_import.import"].create(
        {"res_model": "res.partner", "file": data, "file_name": "bench.csv", "file_type": "text/csv"}
    )
    options = {
        "has_headers": True,
        "separator": ",",
        "quoting": '"',
        "encoding": "utf-8",
        "date_format": "",
        "datetime_format": "",
        "float_thousand_separator": ",",
        "float_decimal_separator": ".",
        "import_skip_records": [],
        "import_set_empty_fields": [],
        "name_create_enabled_fields": {},
        "tracking_disable": True,
        "limit": rows + 1,
    }
    start = time.perf_counter()
    outcome = importer.execute_import(["mobile", "name", "email"], ["mobile", "name", "email"], options)
    env.flush_all()
    elapsed = time.perf_counter() - start
    errors = [m for m in outcome.get("messages", []) if m.get("type") == "error"]
    env.cr.rollback()
    return {"rows": rows, "seconds": elapsed, "imported": len(outcome.get("ids") or []), "errors": len(errors)}


def backend_cpu(cr):
    """CPU seconds used so far by this cursor's PostgreSQL backend (local
    server, /proc readable), or None."""
    cr.execute("SELECT pg_backend_pid()")
    pid = cr.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak_rss():
    """Reset this process's peak RSS (Linux: VmHWM, ``clear_refs`` 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb():
    """Peak RSS of this process since the last :func:`reset_peak_rss`, MB (None off Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def manage_csv(env, data, name, list_name):
    """Manage CSV end to end; returns (wizard, timings). The peak RSS of the
    process during the run is ``timings["peak RSS (MB)"]`` (not a time: the tables print it apart)."""
    timings = {}
    reset_peak_rss()
    start, cpu, pg_cpu = time.perf_counter(), time.process_time(), backend_cpu(env.cr)
    wizard = env["spoki.csv.import"].create({"file": base64.b64encode(data), "filename": name})
    wizard.action_load()
    timings["read + mapping"] = time.perf_counter() - start
    step = time.perf_counter()
    wizard.action_analyze()
    timings["analysis (+ clean/errors files)"] = time.perf_counter() - step
    step = time.perf_counter()
    wizard.write({"list_mode": "new", "new_list_name": list_name})
    wizard.action_import()
    env.cr.commit()
    timings["import (re-read + DB writes + commit)"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - start
    # CPU work, independent of what else runs on the machine: on an idle
    # 2-core machine the wall time is about the sum of the two
    timings["CPU: Odoo process"] = time.process_time() - cpu
    if pg_cpu is not None:
        timings["CPU: PostgreSQL backend"] = backend_cpu(env.cr) - pg_cpu
    timings["peak RSS (MB)"] = peak_rss_mb()
    if wizard.state != "done":
        raise RuntimeError(f"Manage CSV import failed: {wizard.import_error}")
    return wizard, timings


def main():
    args = parse_args()
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    bench.install(args, "spoki_whatsapp_csv,base_import", "spoki_whatsapp_csv and base_import")

    registry = bench.open_registry(args)  # sets up Odoo's logging: after it, basicConfig adds no handler
    # the importer logs its phases (find, create, update, dynamic values, list) at INFO
    logging.basicConfig(level=logging.WARNING, format="    %(message)s")
    logging.getLogger("odoo.addons.spoki_whatsapp_csv").setLevel(logging.INFO)
    results = {"rows": args.rows}
    with registry.cursor() as cr:
        env = setup_fields(api.Environment(cr, SUPERUSER_ID, {}))
        cr.commit()

        print(f"Generating {args.rows:,} rows …", flush=True)
        first, second = generate_csv(args.rows, 1), generate_csv(args.rows, 2)
        print(f"  {len(first) / 1e6:.1f} MB CSV")

        print("Manage CSV, first import (creates every contact) …", flush=True)
        wizard, created = manage_csv(env, first, "bench.csv", "Bench import")
        results["manage_csv_create_s"] = {k: round(v or 0, 1) for k, v in created.items()}
        counts = (wizard.result_created, wizard.result_updated, wizard.result_values, wizard.result_list_added)
        print(
            f"  created {counts[0]:,}, updated {counts[1]:,}, dynamic values {counts[2]:,}, "
            f"in list {counts[3]:,}: {created['total']:.1f} s"
        )
        print("Manage CSV, second import of a changed file (updates every contact) …", flush=True)
        wizard, updated = manage_csv(env, second, "bench-v2.csv", "Bench re-import")
        results["manage_csv_update_s"] = {k: round(v or 0, 1) for k, v in updated.items()}
        counts = (wizard.result_created, wizard.result_updated, wizard.result_values)
        print(f"  created {counts[0]:,}, updated {counts[1]:,}, dynamic values {counts[2]:,}: {updated['total']:.1f} s")

        print("Export of every contact of the list (streamed in chunks of 5,000) …", flush=True)
        reset_peak_rss()
        step = time.perf_counter()
        export = env["spoki.csv.export"].create({"domain": repr([("spoki_list_ids", "in", wizard.result_list_id.ids)])})
        size = chunks = 0
        for chunk in export._iter_csv(export._get_partner_ids()):
            size, chunks = size + len(chunk), chunks + 1
        results["export_s"] = round(time.perf_counter() - step, 1)
        results["export_peak_rss_mb"] = peak_rss_mb()
        print(
            f"  {size / 1e6:.1f} MB in {chunks} chunks: {results['export_s']} s, "
            f"peak RSS {results['export_peak_rss_mb'] or 0:.0f} MB"
        )

        if args.analysis_mb:
            big = big_file(args.analysis_mb)
            lines = big.count(b"\n") - 1
            print(f"Analysis alone of a {len(big) / 1e6:.0f} MB file ({lines:,} rows) …", flush=True)
            wizard = env["spoki.csv.import"].create({"file": base64.b64encode(big), "filename": "big.csv"})
            wizard.action_load()
            reset_peak_rss()
            step, cpu = time.perf_counter(), time.process_time()
            wizard.action_analyze()
            elapsed, cpu = time.perf_counter() - step, time.process_time() - cpu
            results["analysis_big"] = {
                "mb": round(len(big) / 1e6),
                "rows": wizard.row_count,
                "seconds": round(elapsed, 1),
                "cpu_s": round(cpu, 1),
                "peak_rss_mb": peak_rss_mb(),
            }
            print(f"  {wizard.row_count:,} rows analysed in {elapsed:.1f} s ({cpu:.1f} s CPU of this process)")
            del big
            cr.rollback()

        base = None
        if not args.skip_base_import:
            rows = min(args.base_import_rows or args.rows, args.rows)
            print(f"base_import of {rows:,} rows (mobile, name, email) …", flush=True)
            base = run_base_import(env, rows)
            elapsed = base["seconds"]
            base["seconds"] = round(elapsed, 1)
            if rows != args.rows:
                base["extrapolated_s"] = round(elapsed * args.rows / rows, 1)
            results["base_import"] = base
            print(f"  {base['imported']:,} contacts in {elapsed:.1f} s ({base['errors']} errors); rolled back")

    bench.close_registry(args, registry)

    total = results["manage_csv_create_s"]["total"]
    load = os.getloadavg()[0]
    print(f"\n{args.rows:,} rows, 3 dynamic fields (load average {load:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'step':<40} {'Manage CSV create':>18} {'Manage CSV update':>18}")
    for key in results["manage_csv_create_s"]:
        create, update = results["manage_csv_create_s"][key], results["manage_csv_update_s"].get(key, 0)
        unit = "MB" if key.endswith("(MB)") else "s"
        print(f"{key:<40} {create or 0:>16.1f} {unit} {update or 0:>16.1f} {unit}")
    if base:
        line = (
            f"{'base_import (no dynamic fields, no upsert)':<40} {base['seconds']:>16.1f} s  for {base['rows']:,} rows"
        )
        if "extrapolated_s" in base:
            line += f" (≈ {base['extrapolated_s']:.0f} s for {args.rows:,})"
        print(line)
        reference = base.get("extrapolated_s", base["seconds"])
        print(
            f"Manage CSV is {reference / total:.1f}× faster than base_import while also writing the "
            f"dynamic fields, deduplicating and filling a list."
        )
    print(f"{'export to CSV (streamed)':<40} {results['export_s']:>16.1f} s")
    if "analysis_big" in results:
        big = results["analysis_big"]
        print(
            f"{'analysis of a ' + str(big['mb']) + ' MB file':<40} {big['seconds']:>16.1f} s  "
            f"({big['rows']:,} rows, {big['cpu_s']} s CPU, peak RSS {big['peak_rss_mb'] or 0:.0f} MB)"
        )
    target = 60 * args.rows / 100_000
    created = results["manage_csv_create_s"]
    cpu = created["CPU: Odoo process"] + created.get("CPU: PostgreSQL backend", 0)
    verdict = "OK" if total < target else ("OK (CPU)" if cpu < target and load > 1.5 else "SLOW")
    print(
        f"Manage CSV import of {args.rows:,} rows: {total:.1f} s wall, {cpu:.1f} s of CPU work "
        f"(Odoo + PostgreSQL; target < {target:.0f} s): {verdict}"
    )
    results["verdict"] = verdict
    bench.write_results("bench_csv_import", results)
    return 0 if verdict.startswith("OK") else 1


if __name__ == "__main__":
    sys.exit(main())
