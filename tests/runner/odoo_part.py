"""(b) odoo: install the addons with demo data in a fresh database, run their
tests (``--test-enable``, ``--stop-after-init``) and judge the run.

Fails on: Odoo's exit code (non-zero when a test fails or errors), no test run,
an addon that ran no test or is not installed, the log (checklog-odoo: an
ERROR/CRITICAL record, a warning about our addons while they install), a run
that never finished (timeout, or silent for --odoo-idle seconds: a hung test).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .common import ADDONS, OUT, ROOT, Part, banner, free_port, present_addons, say
from .odoo_find import ODOO_SERIE, ensure_browser, find_odoo
from .odoo_log import OdooLog, checklog
from .pg import DB_HOST, DB_PASSWORD, DB_PORT, DB_USER, ensure_postgres

DEFAULT_ODOO_TIMEOUT = 50 * 60  # seconds for the whole Odoo run; CI's budget is 90 min for everything
DEFAULT_ODOO_IDLE = 15 * 60  # seconds without a log line = a hung test: dump stacks, kill


@dataclass
class OdooRun:
    """One run of Odoo's tests: what it was asked and what came out."""

    modules: list[str]
    tags: str
    db: str
    log_path: Path
    data_dir: Path = OUT / "odoo-data"
    log: OdooLog = field(default_factory=OdooLog)
    rc: int | None = None
    stopped: str = ""  # why the watchdog killed Odoo, if it did
    elapsed: float = 0.0
    states: dict = field(default_factory=dict)
    states_error: str = ""

    def command(self, odoo):
        conf = OUT / "odoo-test.conf"
        conf.write_text("[options]\n")  # isolates the run from a developer's ~/.odoorc
        return [
            *odoo.cmd,
            f"--config={conf}",
            f"--database={self.db}",
            f"--init={','.join(self.modules)}",
            f"--addons-path={','.join([*odoo.addons_paths, str(ROOT)])}",
            f"--db_host={DB_HOST}",
            f"--db_port={DB_PORT}",
            f"--db_user={DB_USER}",
            f"--db_password={DB_PASSWORD}",
            f"--data-dir={self.data_dir}",
            "--test-enable",
            f"--test-tags={self.tags}",
            "--stop-after-init",
            "--log-level=test",
            "--max-cron-threads=0",
            f"--http-port={free_port()}",
            f"--gevent-port={free_port()}",
        ]


def _skipped(part, reason):
    part.status = "skipped"
    part.summary = f"SKIPPED: no Odoo {ODOO_SERIE} found ({reason})"
    say("\n" + "#" * 78)
    say(f"#  ODOO TESTS SKIPPED: no Odoo {ODOO_SERIE} found (not importable, no odoo/odoo-bin on PATH)")
    say(f"#  details: {reason}")
    say("#  Only the plain-Python tests and static checks ran. Install Odoo 18 to run the rest.")
    say("#" * 78)
    return part


def _modules(args, part):
    if args.modules:
        return [m.strip() for m in args.modules.split(",")]
    modules = present_addons()
    for addon in ADDONS:
        if addon not in modules:
            part.fail(f"addon {addon} has no __manifest__.py")
    return modules


def _watch(proc, t0, last_output, args, stopped):
    """Kill Odoo (after a SIGQUIT: every thread's stack goes to the log) when it
    runs too long or stays silent too long."""
    while proc.poll() is None:
        now = time.monotonic()
        if now - t0 > args.odoo_timeout:
            stopped.append(f"timed out after {args.odoo_timeout} s")
        elif now - last_output[0] > args.odoo_idle:
            stopped.append(f"no log output for {args.odoo_idle} s: a hung test? (thread stacks in the log)")
        if stopped:
            say(f"!! odoo: {stopped[0]}; killing it")
            try:
                os.kill(proc.pid, signal.SIGQUIT)
                time.sleep(3)
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        time.sleep(2)


def execute(cmd, odoo_run, args):
    """Run Odoo, copying its output to the log file and the OdooLog, under a watchdog."""
    say("$ " + shlex.join(cmd))
    say(f"-- full log: {odoo_run.log_path.relative_to(ROOT)}")
    t0 = time.monotonic()
    stopped, last_output = [], [t0]
    with open(odoo_run.log_path, "w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
        threading.Thread(target=_watch, args=(proc, t0, last_output, args, stopped), daemon=True).start()
        try:
            for line in proc.stdout:
                last_output[0] = time.monotonic()
                log_file.write(line)
                odoo_run.log.feed(line)
        finally:
            odoo_run.rc = proc.wait()
            odoo_run.log.close()
    odoo_run.elapsed = time.monotonic() - t0
    odoo_run.stopped = stopped[0] if stopped else ""


def _sql_list(values):
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def read_states_and_cleanup(pg, odoo_run, keep_db):
    ok, rows = pg.query(
        f"SELECT name, state FROM ir_module_module WHERE name IN ({_sql_list(odoo_run.modules)})", odoo_run.db
    )
    if ok:
        odoo_run.states = dict(rows)
    else:
        odoo_run.states_error = str(rows)
    if keep_db:
        say(f"-- database kept: {odoo_run.db}")
        return
    drop_ok, drop_err = pg.query(f'DROP DATABASE IF EXISTS "{odoo_run.db}" WITH (FORCE)')
    if not drop_ok:
        say(f"-- could not drop database {odoo_run.db}: {drop_err}")
    shutil.rmtree(odoo_run.data_dir / "filestore" / odoo_run.db, ignore_errors=True)


def judge(part, odoo_run, narrowed):
    """The verdict: Odoo's exit code, the counts, the modules' states, the log."""
    log = odoo_run.log
    failed, errors, run_count = log.result or (0, 0, 0)
    part.passed = max(run_count - failed - errors - len(log.skipped), 0)
    part.failed = failed + errors
    part.skipped = len(log.skipped)
    if odoo_run.stopped:
        part.fail(odoo_run.stopped)
    elif odoo_run.rc != 0:
        tests = f": {failed} failed, {errors} error(s) of {run_count} tests" if failed or errors else ""
        part.fail(f"odoo exited with code {odoo_run.rc}{tests}")
    if log.result is None:
        last = f"; last test started: {log.last_started}" if log.last_started else ""
        part.fail(f"no test result line in the log: Odoo did not finish ({log.started} tests started{last})")
        part.failed = max(part.failed, 1)
    elif run_count == 0:
        part.fail(f"Odoo tests matched nothing: 0 tests ran for --test-tags={odoo_run.tags}")
    for module in odoo_run.modules:
        if not narrowed and log.result is not None and not log.started_by_module.get(module):
            part.fail(f"{module} ran no test")
        if not odoo_run.states_error and odoo_run.states.get(module) != "installed":
            part.fail(f"{module} is not installed (state: {odoo_run.states.get(module, 'absent')})")
    if odoo_run.states_error:
        part.fail(f"could not read module states: {odoo_run.states_error}")
    for problem in checklog(odoo_run.log_path, odoo_run.db):
        part.fail(problem)


def report(part, odoo_run):
    log, elapsed = odoo_run.log, odoo_run.elapsed
    failed, errors, run_count = log.result or (0, 0, 0)
    skipped = len(log.skipped)
    say("")
    say(f"-- Odoo tests: {run_count} run, {failed} failed, {errors} errors, {skipped} skipped in {elapsed:.0f} s")
    for module in odoo_run.modules:
        say(f"   {module}: {log.started_by_module.get(module, 0)} tests")
    for skip in log.skipped[:20]:
        say(f"   skipped {skip}")
    if log.warnings:
        during_tests = sum(1 for r in log.warnings if r.phase == "tests")
        say(f"-- {len(log.warnings)} WARNING record(s) ({during_tests} during tests); first ones:")
        for record in log.warnings[:10]:
            say(f"   [{record.phase}] {record.logger}: {record.msg[:200]}")
    if log.errors:
        say(f"-- {len(log.errors)} ERROR/CRITICAL record(s); first ones:")
        for record in log.errors[:10]:
            say(f"   {record.logger}: {record.msg[:200]}")
    counts = (
        f"{run_count} tests, {failed} failed, {errors} errors, {skipped} skipped"
        if log.result is not None
        else f"NO RESULT ({log.started} tests started)"
    )
    part.summary = f"{counts}, {len(log.warnings)} warnings (db {odoo_run.db}, {elapsed:.0f} s)"


def run_odoo(args):
    part = Part("odoo")
    banner("(b) odoo: the addons' Odoo tests on a fresh database")
    odoo, reason = find_odoo()
    if odoo is None:
        return _skipped(part, reason)
    say(f"-- Odoo {odoo.version} found by {odoo.found_by}")
    modules = _modules(args, part)
    if not modules:
        return part
    ensure_browser()
    pg = ensure_postgres(part)
    if pg is None:
        part.summary = "could not reach PostgreSQL"
        return part

    OUT.mkdir(parents=True, exist_ok=True)
    db = args.db or f"spoki_test_{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}"
    tags = args.tags or ",".join(f"/{m}" for m in modules)
    odoo_run = OdooRun(modules, tags, db, OUT / f"odoo-{db}.log")
    execute(odoo_run.command(odoo), odoo_run, args)
    read_states_and_cleanup(pg, odoo_run, args.keep_db)
    judge(part, odoo_run, narrowed=bool(args.tags))
    report(part, odoo_run)
    return part
