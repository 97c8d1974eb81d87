#!/usr/bin/env python3
"""Run every test of the project and print one summary.

    python3 tests/run_all.py [--only pytest|odoo|static] [--keep-db] [--tags TAGS]

Three parts (in tests/runner/), each reported in the summary:

(a) pytest   the plain-Python tests in tests/ (no Odoo needed).
(b) odoo     the addons' Odoo tests, whenever Odoo 18 is on this machine: found
             without environment variables (``import odoo`` in this Python, else
             an ``odoo-bin``/``odoo`` command on PATH). PostgreSQL is started if
             nothing answers on 127.0.0.1:5432 and the role odoo/odoo created if
             missing. The three addons are installed with demo data in a fresh
             database ``spoki_test_<timestamp>`` (dropped afterwards unless
             --keep-db) and their tests run (--test-enable, post_install).
             The full log goes to .ci/out/odoo-<db>.log; errors and warnings are
             echoed. Fails on: Odoo's exit code (a failing/erroring test), no
             test run ("matched nothing"), an addon not installed, the log as
             checklog-odoo judges it (an ERROR/CRITICAL record, a warning about
             our addons while they install), a hung or endless run.
             When no Odoo 18 is found the part is SKIPPED with a loud banner and
             does not fail the run (that is the only silent-able case).
(c) static   the hooks of .pre-commit-config.yaml, run by pre-commit: ruff check
             and ruff format --check (.ruff.toml), pylint-odoo (.pylintrc),
             oca-odoo-pre-commit-hooks (.oca_hooks.cfg: XML, CSV, PO checks) and
             README.rst generated from readme/ (tests/runner/readme_rst.py).

Missing Python tools (pytest, pre-commit, ruff, pylint-odoo, checklog-odoo) are
pip-installed on demand. The last line is ``TOTAL: N passed, N failed, N skipped``
(tests plus static hooks; every failing part counts at least one failure); the
exit code is 0 only when nothing failed. Plain standard-library Python on purpose.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner.common import OUT, ROOT, banner, say  # noqa: E402 (after the path set-up)
from runner.odoo_part import DEFAULT_ODOO_IDLE, DEFAULT_ODOO_TIMEOUT, run_odoo  # noqa: E402
from runner.pytest_part import run_pytest  # noqa: E402
from runner.static import run_static  # noqa: E402

STEPS = {"pytest": run_pytest, "odoo": run_odoo, "static": run_static}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=tuple(STEPS), help="run one part only")
    parser.add_argument("--keep-db", action="store_true", help="keep the Odoo test database (and its filestore)")
    parser.add_argument("--tags", help="narrow the Odoo tests, e.g. /spoki_whatsapp:TestList (Odoo --test-tags)")
    parser.add_argument("--modules", help="install only these addons (comma-separated; development only)")
    parser.add_argument("--db", help="database name (default spoki_test_<timestamp>_<pid>)")
    parser.add_argument(
        "--odoo-timeout", type=int, default=DEFAULT_ODOO_TIMEOUT, help="seconds for the Odoo run (default %(default)s)"
    )
    parser.add_argument(
        "--odoo-idle",
        type=int,
        default=DEFAULT_ODOO_IDLE,
        help="seconds without a log line before a hung Odoo is killed (default %(default)s)",
    )
    return parser.parse_args(argv)


def print_summary(parts, elapsed):
    """The SUMMARY block; returns the number of failures of the TOTAL line."""
    banner("SUMMARY")
    for part in parts:
        status = {"ok": "ok    ", "failed": "FAILED", "skipped": "SKIPPED"}[part.status]
        say(f"{status} {part.name:<7} {part.summary}")
        for problem in part.problems:
            say(f"         - {problem}")
    if any(p.name == "odoo" and p.status == "skipped" for p in parts):
        say("\n!!! ODOO TESTS SKIPPED: no Odoo 18 found (not importable, no odoo/odoo-bin on PATH) !!!")
    line = " | ".join(f"{p.name}: {p.summary}" + (" [FAILED]" if p.status == "failed" else "") for p in parts)
    say(f"\nSUMMARY {line}  ({elapsed:.0f} s)")
    passed = sum(p.passed for p in parts)
    failed = sum(p.failures_for_total for p in parts)
    skipped = sum(p.skipped for p in parts)
    say(f"TOTAL: {passed} passed, {failed} failed, {skipped} skipped")
    return failed


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    parts = [step(args) for name, step in STEPS.items() if args.only in (None, name)]
    return 1 if print_summary(parts, time.monotonic() - t0) else 0


if __name__ == "__main__":
    sys.exit(main())
