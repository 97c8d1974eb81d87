#!/usr/bin/env python3
"""Run every test of the project and print one summary.

    python3 tests/run_all.py [--only pytest|odoo|static] [--keep-db] [--tags TAGS]

Three parts, each reported in the summary:

(a) pytest   the plain-Python tests in tests/ (no Odoo needed).
(b) odoo     the addons' Odoo tests, whenever Odoo 18 is on this machine: found
             without environment variables (``import odoo`` in this Python, else
             an ``odoo-bin``/``odoo`` command on PATH). PostgreSQL is started if
             nothing answers on 127.0.0.1:5432 and the role odoo/odoo created if
             missing. The three addons are installed with demo data in a fresh
             database ``spoki_test_<timestamp>`` (dropped afterwards unless
             --keep-db) and their tests run (--test-enable, post_install).
             The full log goes to .ci/out/odoo-<db>.log; errors and warnings are
             echoed. Fails on: a failing/erroring test, no test run ("matched
             nothing"), an ERROR/CRITICAL log record, a warning about our addons
             while they install, an addon not installed, odoo-bin exit code.
             When no Odoo 18 is found the part is SKIPPED with a loud banner and
             does not fail the run (that is the only silent-able case).
(c) static   ruff (.ruff.toml), pylint-odoo (.pylintrc: manifest, translation,
             SQL checks) and oca-odoo-pre-commit-hooks (.oca_hooks.cfg: XML,
             CSV, PO checks; installed in .ci/out/venv-oca so that its pins
             don't touch Odoo's).

Missing Python tools (pytest, ruff, pylint-odoo) are pip-installed on demand.
The last line is ``TOTAL: N passed, N failed, N skipped`` (tests plus static
tools; every failing part counts at least one failure); the exit code is 0 only
when nothing failed. Plain standard-library Python on purpose.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".ci" / "out"
ADDONS = ("spoki_whatsapp", "spoki_whatsapp_csv", "spoki_whatsapp_reports")
STATIC_EXTRA = ("tests", "bench")
ODOO_SERIE = "18.0"
DB_HOST, DB_PORT, DB_USER, DB_PASSWORD = "127.0.0.1", 5432, "odoo", "odoo"
# XML/CSV/PO checks (pylint-odoo >= 9 moved them there); pinned, installed in its
# own venv because it pins polib 1.2 while Odoo 18 pins polib 1.1.1.
OCA_HOOKS_SPEC = "oca-odoo-pre-commit-hooks==0.2.27"
DEFAULT_ODOO_TIMEOUT = 50 * 60  # seconds for the whole Odoo run; CI's budget is 90 min for everything
DEFAULT_ODOO_IDLE = 15 * 60  # seconds without a log line = a hung test: dump stacks, kill

LOG_RECORD = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?P<pid>\d+) (?P<level>[A-Z_]+) "
    r"(?P<db>\S+) (?P<logger>[^\s:]+): (?P<msg>.*)$"
)
RESULT_LINE = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
STARTING = re.compile(r"^Starting (\S+) \.\.\.")
SKIPPED = re.compile(r"^skipped (\S+) : (.*)")


def say(msg="", *, err=False):
    print(msg, file=sys.stderr if err else sys.stdout, flush=True)


def banner(title, char="="):
    line = char * 78
    say(f"\n{line}\n{title}\n{line}")


@dataclass
class Part:
    """Outcome of one part (pytest, odoo, static)."""

    name: str
    status: str = "ok"  # ok | failed | skipped
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    summary: str = ""
    problems: list[str] = field(default_factory=list)

    def fail(self, problem):
        self.status = "failed"
        self.problems.append(problem)
        say(f"!! {self.name}: {problem}")

    @property
    def failures_for_total(self):
        # every failing part contributes at least one failure to the TOTAL line
        return max(self.failed, 1) if self.status == "failed" else self.failed


# --------------------------------------------------------------------------- helpers


def run(cmd, *, cwd=ROOT, timeout=None, env=None, capture=True, check=False):
    """subprocess.run with text output; never raises on a missing program."""
    try:
        return subprocess.run(
            cmd,
            cwd=cwd,
            timeout=timeout,
            env=env,
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            check=check,
        )
    except (FileNotFoundError, PermissionError) as exc:
        return subprocess.CompletedProcess(cmd, 127, stdout=str(exc))
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
        return subprocess.CompletedProcess(cmd, 124, stdout=f"{out}\n(timed out after {timeout}s)")


def has_module(name, python=sys.executable):
    probe = f"import importlib.util,sys; sys.exit(0 if importlib.util.find_spec({name!r}) else 1)"
    return run([python, "-c", probe], timeout=120).returncode == 0


def ensure_python_tools(tools, python=sys.executable):
    """tools: {import name: pip requirement}. pip-installs the missing ones.
    Returns the list of those still missing."""
    missing = {mod: req for mod, req in tools.items() if not has_module(mod, python)}
    if missing:
        reqs = sorted(set(missing.values()))
        say(f"-- installing missing Python tools: {' '.join(reqs)}")
        res = run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs], timeout=900)
        if res.returncode != 0:
            say(res.stdout[-3000:])
    return [mod for mod in missing if not has_module(mod, python)]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host, port, timeout=2.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def existing(paths):
    return [p for p in paths if (ROOT / p).exists()]


def present_addons():
    return [a for a in ADDONS if (ROOT / a / "__manifest__.py").is_file()]


# --------------------------------------------------------------------------- (a) pytest


def run_pytest(args):
    part = Part("pytest")
    banner("(a) pytest: plain-Python tests in tests/")
    missing = ensure_python_tools({"pytest": "pytest>=7"})
    if missing:
        part.fail("pytest is not installed and could not be installed (pip install pytest)")
        return part
    OUT.mkdir(parents=True, exist_ok=True)
    junit = OUT / "pytest.xml"
    junit.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", "tests/"]
    say("$ " + shlex.join(cmd))
    res = run(cmd, capture=False, timeout=1800)
    if not junit.is_file():
        part.fail(f"pytest wrote no report (exit code {res.returncode})")
        return part
    tests = failures = errors = skipped = 0
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    part.passed = tests - failures - errors - skipped
    part.failed = failures + errors
    part.skipped = skipped
    part.summary = f"{part.passed} passed, {part.failed} failed, {part.skipped} skipped"
    if res.returncode == 5 or tests == 0:
        part.fail("pytest collected no tests")
    elif part.failed:
        part.fail(f"{failures} failed, {errors} errors")
    elif res.returncode != 0:
        part.fail(f"pytest exited with code {res.returncode}")
    return part


# --------------------------------------------------------------------------- (b) odoo: discovery

ODOO_PROBE = (
    "import json, odoo, odoo.release as r; "
    "print('ODOO_PROBE ' + json.dumps({'file': odoo.__file__, 'serie': r.serie, 'version': r.version}))"
)


@dataclass
class Odoo:
    cmd: list[str]
    addons_paths: list[str]
    version: str
    found_by: str


def probe_python(python):
    """Ask `python` where its odoo package is. Returns dict or None."""
    res = run([python, "-c", ODOO_PROBE], cwd=OUT, timeout=300)
    for line in (res.stdout or "").splitlines():
        if line.startswith("ODOO_PROBE "):
            return json.loads(line[len("ODOO_PROBE ") :])
    return None


def odoo_addons_paths(package_dir: Path):
    """Odoo's own addons directories for a package at package_dir (.../odoo)."""
    paths = []
    if (package_dir / "addons").is_dir():
        paths.append(str(package_dir / "addons"))
    # a git checkout keeps web/mail/... in <root>/addons, the package only base
    source_addons = package_dir.parent / "addons"
    if source_addons.is_dir() and not (package_dir / "addons" / "web").is_dir():
        paths.append(str(source_addons))
    return paths


def find_odoo():
    """Odoo 18 on this machine, or (None, reason)."""
    reasons = []
    info = probe_python(sys.executable)
    if info and info["serie"] == ODOO_SERIE:
        package_dir = Path(info["file"]).resolve().parent
        odoo_bin = package_dir.parent / "odoo-bin"
        if odoo_bin.is_file():
            cmd = [sys.executable, str(odoo_bin)]
        else:  # installed as a plain package (pip/deb) without odoo-bin
            cmd = [sys.executable, "-c", "import sys, odoo.cli; sys.argv[0] = 'odoo'; odoo.cli.main()"]
        return Odoo(cmd, odoo_addons_paths(package_dir), info["version"], f"import odoo ({package_dir})"), None
    reasons.append(f"`import odoo` gives {info['serie']}" if info else "not importable")

    for name in ("odoo-bin", "odoo"):
        exe = shutil.which(name)
        if not exe:
            continue
        res = run([exe, "--version"], timeout=300)
        out = (res.stdout or "").strip()
        if not re.search(r"\b18\.0\b", out):
            reasons.append(f"`{exe} --version` says {out[-200:]!r}")
            continue
        return Odoo([exe], addons_paths_of_command(exe), out.splitlines()[-1], f"{name} on PATH ({exe})"), None
    if not any(r.startswith("`/") for r in reasons):
        reasons.append("no odoo/odoo-bin on PATH")
    return None, ", ".join(reasons)


def addons_paths_of_command(exe):
    """Best effort: Odoo's addons dirs for an odoo/odoo-bin command (a launcher
    script, a pip/deb entry point or a source checkout). [] lets Odoo use its
    built-in one."""
    real = Path(exe).resolve()
    if (real.parent / "odoo" / "addons").is_dir():  # source checkout: <root>/odoo-bin
        return odoo_addons_paths(real.parent / "odoo")
    try:
        head = real.read_bytes()[:8192].decode("utf-8", errors="replace")
    except OSError:
        return []
    for match in re.finditer(r"(/[^\s'\"]+)/odoo-bin\b", head):  # wrapper: exec python /x/odoo-bin
        if (Path(match.group(1)) / "odoo").is_dir():
            return odoo_addons_paths(Path(match.group(1)) / "odoo")
    if head.startswith("#!"):  # entry point: ask its interpreter
        interpreter = shlex.split(head[2:].splitlines()[0])
        if interpreter and Path(interpreter[0]).name == "env":
            interpreter = interpreter[1:]
        if interpreter:
            info = probe_python(interpreter[0])
            if info:
                return odoo_addons_paths(Path(info["file"]).resolve().parent)
    return []


# --------------------------------------------------------------------------- (b) odoo: PostgreSQL


class Pg:
    """Minimal PostgreSQL access: psycopg2 when importable, else the psql client."""

    def __init__(self, host=DB_HOST, port=DB_PORT, user=DB_USER, password=DB_PASSWORD):
        self.host, self.port, self.user, self.password = host, port, user, password
        try:
            import psycopg2  # noqa: PLC0415 (optional)

            self.psycopg2 = psycopg2
        except ImportError:
            self.psycopg2 = None

    def query(self, sql, dbname="postgres"):
        """Run sql (autocommit); returns (ok, rows or error text)."""
        if self.psycopg2:
            try:
                conn = self.psycopg2.connect(
                    host=self.host,
                    port=self.port,
                    user=self.user,
                    password=self.password,
                    dbname=dbname,
                    connect_timeout=5,
                )
            except self.psycopg2.Error as exc:
                return False, str(exc).strip()
            try:
                conn.autocommit = True
                with conn.cursor() as cr:
                    cr.execute(sql)
                    return True, cr.fetchall() if cr.description else []
            except self.psycopg2.Error as exc:
                return False, str(exc).strip()
            finally:
                conn.close()
        if not shutil.which("psql"):
            return False, "neither psycopg2 nor psql is available"
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="5")
        cmd = ["psql", "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", dbname]
        res = run([*cmd, "-X", "-q", "-t", "-A", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql], env=env, timeout=120)
        if res.returncode != 0:
            return False, res.stdout.strip()
        return True, [tuple(line.split("\t")) for line in res.stdout.splitlines() if line]

    def can_login(self):
        return self.query("SELECT 1")


def as_postgres(sql):
    """Run sql with psql as the postgres superuser (local socket); root only."""
    psql = f"psql -X -q -t -A -v ON_ERROR_STOP=1 -c {shlex.quote(sql)}"
    if os.geteuid() == 0:
        cmd = ["su", "postgres", "-c", psql]
    else:
        cmd = ["sudo", "-n", "-u", "postgres", "sh", "-c", psql]
    return run(cmd, cwd="/tmp", timeout=120)


def start_postgres():
    """Start the local PostgreSQL server (installing it with apt when absent)."""
    etc = Path("/etc/postgresql")
    if not etc.is_dir() and os.geteuid() == 0 and shutil.which("apt-get"):
        say("-- PostgreSQL server not installed: apt-get install postgresql")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        res = run(["apt-get", "install", "-y", "-q", "postgresql"], env=env, timeout=1200)
        if res.returncode != 0:
            run(["apt-get", "update", "-q"], env=env, timeout=600)
            res = run(["apt-get", "install", "-y", "-q", "postgresql"], env=env, timeout=1200)
        if res.returncode != 0:
            say(res.stdout[-2000:])
    commands = []
    if etc.is_dir():

        def version_key(path):
            return [int(x) if x.isdigit() else 0 for x in path.name.split(".")]

        for version in sorted((p for p in etc.iterdir() if p.is_dir()), key=version_key, reverse=True):
            for cluster in sorted(p for p in version.iterdir() if p.is_dir()):
                commands.append(["pg_ctlcluster", version.name, cluster.name, "start"])
    commands.append(["service", "postgresql", "start"])
    for cmd in commands:
        if not shutil.which(cmd[0]):
            continue
        say("-- starting PostgreSQL: $ " + shlex.join(cmd))
        res = run(cmd, timeout=180)
        if res.returncode != 0:
            say("   " + (res.stdout or "").strip()[-500:])
        for _ in range(30):
            if port_open(DB_HOST, DB_PORT):
                return True
            time.sleep(1)
    return port_open(DB_HOST, DB_PORT)


def ensure_postgres(part):
    """PostgreSQL answering on DB_HOST:DB_PORT with role odoo/odoo. Returns Pg or None."""
    pg = Pg()
    ok, err = pg.can_login()
    if ok:
        return pg
    if not port_open(DB_HOST, DB_PORT):
        say(f"-- nothing answers on {DB_HOST}:{DB_PORT}")
        if not start_postgres():
            part.fail(f"PostgreSQL is not reachable on {DB_HOST}:{DB_PORT} and could not be started")
            return None
        ok, err = pg.can_login()
        if ok:
            return pg
    # reachable but we can't log in: create the role if (and only if) it is missing
    res = as_postgres(f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'")
    if res.returncode != 0:
        part.fail(f"cannot log in as {DB_USER} ({err}) nor inspect roles as postgres: {res.stdout.strip()[-300:]}")
        return None
    if res.stdout.strip() != "1":
        say(f"-- creating PostgreSQL role {DB_USER}")
        res = as_postgres(f"CREATE ROLE {DB_USER} LOGIN SUPERUSER PASSWORD '{DB_PASSWORD}'")
        if res.returncode != 0:
            part.fail(f"could not create role {DB_USER}: {res.stdout.strip()[-300:]}")
            return None
    ok, err = pg.can_login()
    if not ok:
        part.fail(f"cannot log in to PostgreSQL as {DB_USER}/{DB_PASSWORD}: {err}")
        return None
    return pg


def ensure_browser():
    """Odoo's browser tests (HttpCase tours) skip themselves without Chrome/Chromium:
    install Debian's chromium when none is there (root with apt-get only)."""
    names = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")  # as odoo.tests.common
    if any(shutil.which(n) for n in names):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        say("-- no Chrome/Chromium: Odoo's browser tests will be skipped")
        return
    say("-- no Chrome/Chromium for Odoo's browser tests: apt-get install chromium")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    res = run(["apt-get", "install", "-y", "-q", "chromium"], env=env, timeout=1200)
    if res.returncode != 0:
        run(["apt-get", "update", "-q"], env=env, timeout=600)
        res = run(["apt-get", "install", "-y", "-q", "chromium"], env=env, timeout=1200)
    if res.returncode != 0:
        say(res.stdout[-2000:])
        say("-- chromium could not be installed: Odoo's browser tests will be skipped")


# --------------------------------------------------------------------------- (b) odoo: log analysis


@dataclass
class Record:
    level: str
    logger: str
    msg: str
    lines: list[str]
    phase: str

    @property
    def text(self):
        return "\n".join(self.lines)


class OdooLog:
    """Follows Odoo's log line by line: counts tests, results, errors, warnings."""

    ECHO_INFO = (
        "odoo.tests.result",
        "odoo.tests.stats",
    )

    def __init__(self, echo=True, db=""):
        self.echo = echo
        self.db = db
        self.phase = "install"  # -> "tests" once modules are loaded
        self.current: Record | None = None
        self.started = 0
        self.started_by_module = collections.Counter()
        self.last_started = ""
        self.skipped: list[str] = []
        self.result: tuple[int, int, int] | None = None
        self.errors: list[Record] = []
        self.warnings: list[Record] = []
        self.tracebacks = 0
        self.loaded_modules: set[str] = set()

    def feed(self, line):
        line = line.rstrip("\n")
        if line.startswith("Traceback (most recent call last):"):
            self.tracebacks += 1
        match = LOG_RECORD.match(line)
        if not match:
            if self.current is not None:
                self.current.lines.append(line)
            elif line.strip() and self.echo:
                say("   | " + line)
            return
        self.close()
        self.current = Record(match["level"], match["logger"], match["msg"], [line], self.phase)
        self._on_start(self.current)

    def close(self):
        record, self.current = self.current, None
        if record is None:
            return
        if record.level in ("ERROR", "CRITICAL"):
            self.errors.append(record)
            self._echo(record)
        elif record.level == "WARNING":
            self.warnings.append(record)
            self._echo(record)
        elif record.logger in self.ECHO_INFO:
            self._echo(record)

    def _echo(self, record):
        if not self.echo:
            return
        lines = record.lines
        if len(lines) > 80:
            lines = [*lines[:40], f"   ... ({len(lines) - 80} lines cut, see the log file) ...", *lines[-40:]]
        say("\n".join(lines))

    def _on_start(self, record):
        msg, logger = record.msg, record.logger
        if logger == "odoo.modules.loading":
            loading = re.match(r"Loading module (\S+) ", msg)
            if loading:
                self.loaded_modules.add(loading.group(1))
                if loading.group(1).startswith("spoki_") and self.echo:
                    say(f"-- {msg.strip()}")
            if msg.startswith("Modules loaded."):
                self.phase = "tests"
                if self.echo:
                    say("-- modules loaded; running post-install tests")
        if logger.startswith("odoo.addons."):
            start = STARTING.match(msg)
            if start:
                self.started += 1
                self.started_by_module[logger.split(".")[2]] += 1
                self.last_started = f"{logger.split('.')[2]}: {start.group(1)}"
                if self.echo and self.started % 25 == 0:
                    say(f"-- {self.started} tests started ({start.group(1)})")
            skip = SKIPPED.match(msg)
            if skip:
                self.skipped.append(f"{skip.group(1)}: {skip.group(2).strip()}")
        if logger == "odoo.tests.result":
            result = RESULT_LINE.search(msg)
            if result:
                self.result = tuple(int(x) for x in result.groups())

    def install_warnings_about_us(self):
        """Install-time warnings that mention our addons (the test database's
        name, spoki_test_..., is left out of the match)."""

        def about_us(record):
            text = "\n".join([record.logger, record.msg, *record.lines[1:]])
            return "spoki" in text.replace(self.db, "").lower() if self.db else "spoki" in text.lower()

        return [r for r in self.warnings if r.phase == "install" and about_us(r)]


# --------------------------------------------------------------------------- (b) odoo: run


def run_odoo(args):
    part = Part("odoo")
    banner("(b) odoo: the addons' Odoo tests on a fresh database")
    odoo, reason = find_odoo()
    if odoo is None:
        part.status = "skipped"
        part.summary = f"SKIPPED: no Odoo {ODOO_SERIE} found ({reason})"
        say("\n" + "#" * 78)
        say(f"#  ODOO TESTS SKIPPED: no Odoo {ODOO_SERIE} found (not importable, no odoo/odoo-bin on PATH)")
        say(f"#  details: {reason}")
        say("#  Only the plain-Python tests and static checks ran. Install Odoo 18 to run the rest.")
        say("#" * 78)
        return part
    say(f"-- Odoo {odoo.version} found by {odoo.found_by}")

    modules = [m.strip() for m in args.modules.split(",")] if args.modules else present_addons()
    if not args.modules:
        for addon in ADDONS:
            if addon not in modules:
                part.fail(f"addon {addon} has no __manifest__.py")
    if not modules:
        return part

    ensure_browser()
    pg = ensure_postgres(part)
    if pg is None:
        part.summary = "could not reach PostgreSQL"
        return part

    OUT.mkdir(parents=True, exist_ok=True)
    db = args.db or f"spoki_test_{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}"
    data_dir = OUT / "odoo-data"
    conf = OUT / "odoo-test.conf"
    conf.write_text("[options]\n")  # isolates the run from a developer's ~/.odoorc
    log_path = OUT / f"odoo-{db}.log"
    tags = args.tags or ",".join(f"/{m}" for m in modules)
    addons_path = ",".join([*odoo.addons_paths, str(ROOT)])
    cmd = [
        *odoo.cmd,
        f"--config={conf}",
        f"--database={db}",
        f"--init={','.join(modules)}",
        f"--addons-path={addons_path}",
        f"--db_host={DB_HOST}",
        f"--db_port={DB_PORT}",
        f"--db_user={DB_USER}",
        f"--db_password={DB_PASSWORD}",
        f"--data-dir={data_dir}",
        "--test-enable",
        f"--test-tags={tags}",
        "--stop-after-init",
        "--log-level=test",
        "--max-cron-threads=0",
        f"--http-port={free_port()}",
        f"--gevent-port={free_port()}",
    ]
    say("$ " + shlex.join(cmd))
    say(f"-- full log: {log_path.relative_to(ROOT)}")
    log = OdooLog(echo=True, db=db)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    t0 = time.monotonic()
    stopped = []  # why the watchdog killed Odoo, if it did
    last_output = [time.monotonic()]
    with open(log_path, "w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )

        def watch():
            while proc.poll() is None:
                now = time.monotonic()
                if now - t0 > args.odoo_timeout:
                    stopped.append(f"timed out after {args.odoo_timeout} s")
                elif now - last_output[0] > args.odoo_idle:
                    stopped.append(f"no log output for {args.odoo_idle} s: a hung test? (thread stacks in the log)")
                if stopped:
                    say(f"!! odoo: {stopped[0]}; killing it")
                    try:
                        os.kill(proc.pid, signal.SIGQUIT)  # Odoo dumps every thread's stack in its log
                        time.sleep(3)
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    return
                time.sleep(2)

        watchdog = threading.Thread(target=watch, daemon=True)
        watchdog.start()
        try:
            for line in proc.stdout:
                last_output[0] = time.monotonic()
                log_file.write(line)
                log.feed(line)
        finally:
            rc = proc.wait()
            log.close()
    elapsed = time.monotonic() - t0

    # installed?
    ok, rows = pg.query(f"SELECT name, state FROM ir_module_module WHERE name IN ({_sql_list(modules)})", db)
    states = dict(rows) if ok else {}
    if not args.keep_db:
        drop_ok, drop_err = pg.query(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        if not drop_ok:
            say(f"-- could not drop database {db}: {drop_err}")
        shutil.rmtree(data_dir / "filestore" / db, ignore_errors=True)
    else:
        say(f"-- database kept: {db}")

    # verdict
    failed = errors = run_count = 0
    if stopped:
        part.fail(stopped[0])
    if log.result is None:
        last = f"; last test started: {log.last_started}" if log.last_started else ""
        part.fail(f"no test result line in the log: Odoo did not finish ({log.started} tests started{last})")
    else:
        failed, errors, run_count = log.result
    skipped = len(log.skipped)
    part.passed = max(run_count - failed - errors - skipped, 0)
    part.failed = failed + errors
    part.skipped = skipped
    if log.result is not None and run_count == 0:
        part.fail(f"Odoo tests matched nothing: 0 tests ran for --test-tags={tags}")
    if failed or errors:
        part.fail(f"{failed} failed, {errors} error(s) of {run_count} tests")
    if not args.tags:
        for module in modules:
            if log.result is not None and not log.started_by_module.get(module):
                part.fail(f"{module} ran no test")
    for module in modules:
        if ok and states.get(module) != "installed":
            part.fail(f"{module} is not installed (state: {states.get(module, 'absent')})")
    if not ok:
        part.fail(f"could not read module states: {rows}")
    if log.errors:
        part.fail(f"{len(log.errors)} ERROR/CRITICAL log record(s), {log.tracebacks} traceback(s)")
    ours = log.install_warnings_about_us()
    if ours:
        part.fail(f"{len(ours)} warning(s) about our addons while installing them")
    if rc != 0 and not stopped:
        part.fail(f"odoo exited with code {rc}")

    # report
    say("")
    say(f"-- Odoo tests: {run_count} run, {failed} failed, {errors} errors, {skipped} skipped in {elapsed:.0f} s")
    for module in modules:
        say(f"   {module}: {log.started_by_module.get(module, 0)} tests")
    for skip in log.skipped[:20]:
        say(f"   skipped {skip}")
    if log.warnings:
        say(
            f"-- {len(log.warnings)} WARNING record(s) ({len(ours)} about our addons during install, "
            f"{sum(1 for r in log.warnings if r.phase == 'tests')} during tests); first ones:"
        )
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
    part.summary = f"{counts}, {len(log.warnings)} warnings (db {db}, {elapsed:.0f} s)"
    if log.result is None and part.failed == 0:
        part.failed = 1
    return part


def _sql_list(values):
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


# --------------------------------------------------------------------------- (c) static


def oca_hooks_bin():
    """oca-odoo-pre-commit-hooks in its own venv (.ci/out/venv-oca), reusing
    this Python's packages except what it pins differently. Returns bin dir or None."""
    venv = OUT / "venv-oca"
    stamp = venv / "installed.txt"
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    if stamp.is_file() and stamp.read_text().strip() == OCA_HOOKS_SPEC and (bindir / "oca-checks-odoo-module").exists():
        return bindir
    say(f"-- setting up {venv.relative_to(ROOT)} with {OCA_HOOKS_SPEC}")
    shutil.rmtree(venv, ignore_errors=True)
    res = run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], timeout=600)
    if res.returncode == 0:
        res = run(
            [str(bindir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", OCA_HOOKS_SPEC],
            timeout=900,
        )
    if res.returncode != 0 or not (bindir / "oca-checks-odoo-module").exists():
        say(res.stdout[-3000:])
        return None
    stamp.write_text(OCA_HOOKS_SPEC + "\n")
    return bindir


def run_static(args):
    part = Part("static")
    banner("(c) static checks: ruff, pylint-odoo, oca-odoo-pre-commit-hooks")
    addons = present_addons()
    targets = addons + existing(STATIC_EXTRA)
    results = []

    def record(tool, res, count_re=None):
        out = (res.stdout or "").rstrip()
        if out:
            say(out)
        ok = res.returncode == 0
        detail = "ok"
        if not ok:
            count = len(re.findall(count_re, out, re.M)) if count_re else 0
            detail = f"{count} problem(s)" if count else f"failed (exit code {res.returncode})"
            part.failed += 1
            part.fail(f"{tool}: {detail}")
        else:
            part.passed += 1
        results.append(f"{tool} {detail}")

    missing = ensure_python_tools({"ruff": "ruff>=0.5", "pylint_odoo": "pylint-odoo>=10"})

    # ruff
    if "ruff" in missing:
        part.failed += 1
        part.fail("ruff is not installed and could not be installed")
        results.append("ruff missing")
    else:
        cmd = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format=concise", *targets]
        say("$ " + shlex.join(cmd))
        record("ruff", run(cmd, timeout=600), r"^\S+:\d+:\d+: ")

    # pylint-odoo
    if "pylint_odoo" in missing:
        part.failed += 1
        part.fail("pylint-odoo is not installed and could not be installed")
        results.append("pylint-odoo missing")
    elif addons:
        cmd = [sys.executable, "-m", "pylint", "--rcfile=.pylintrc", *addons]
        say("$ " + shlex.join(cmd))
        record("pylint-odoo", run(cmd, timeout=1200), r"^\S+:\d+:\d+: ")

    # oca-odoo-pre-commit-hooks (XML, CSV, PO)
    bindir = oca_hooks_bin() if addons else None
    if addons and bindir is None:
        part.failed += 1
        part.fail(f"could not install {OCA_HOOKS_SPEC}")
        results.append("oca-checks missing")
    elif addons:
        cmd = [str(bindir / "oca-checks-odoo-module"), *addons]
        say("$ oca-checks-odoo-module " + shlex.join(addons))
        record("oca-checks-odoo-module", run(cmd, timeout=600), r"^\S+:\d+: ")
        po_files = sorted(str(p.relative_to(ROOT)) for a in addons for p in (ROOT / a / "i18n").glob("*.po*"))
        if po_files:
            cmd = [str(bindir / "oca-checks-po"), *po_files]
            say(f"$ oca-checks-po ({len(po_files)} files)")
            record("oca-checks-po", run(cmd, timeout=600), r"^\S+:\d+: ")
    part.summary = ", ".join(results)
    return part


# --------------------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("pytest", "odoo", "static"), help="run one part only")
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
    args = parser.parse_args(argv)

    os.chdir(ROOT)
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    steps = {"pytest": run_pytest, "odoo": run_odoo, "static": run_static}
    parts = [fn(args) for name, fn in steps.items() if args.only in (None, name)]

    banner("SUMMARY")
    for part in parts:
        status = {"ok": "ok    ", "failed": "FAILED", "skipped": "SKIPPED"}[part.status]
        say(f"{status} {part.name:<7} {part.summary}")
        for problem in part.problems:
            say(f"         - {problem}")
    skipped_odoo = [p for p in parts if p.name == "odoo" and p.status == "skipped"]
    if skipped_odoo:
        say("\n!!! ODOO TESTS SKIPPED: no Odoo 18 found (not importable, no odoo/odoo-bin on PATH) !!!")
    line = " | ".join(f"{p.name}: {p.summary}" + (" [FAILED]" if p.status == "failed" else "") for p in parts)
    say(f"\nSUMMARY {line}  ({time.monotonic() - t0:.0f} s)")
    passed = sum(p.passed for p in parts)
    failed = sum(p.failures_for_total for p in parts)
    skipped = sum(p.skipped for p in parts)
    say(f"TOTAL: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
