"""Processes and databases of the fault tests (plain Python, no Odoo import).

* :func:`environment` — Odoo 18 (found like ``tests/runner/odoo_find.py``) and
  PostgreSQL (like ``tests/runner/pg.py``), or the reason to skip;
* :class:`Pg` — SQL on the test databases (psycopg2), clone / drop, the
  PostgreSQL cluster serving them (restart);
* :class:`FakeServer` — ``fake_server.py`` in its own process and its control;
* :class:`OdooServer` — ``odoo`` server processes (``-d <db>``, loopback,
  prefork workers), JSON-RPC as admin, SIGKILL of the process holding the send
  queue's worker lock, logs;
* :class:`CronTicker` — wakes the cron workers every second (``NOTIFY
  cron_trigger``), as a busy server would; which jobs are due stays Odoo's
  decision;
* :func:`wait_until` — every wait is bounded.

Everything listens on 127.0.0.1 only and is cleaned up by the fixtures in
``conftest.py`` (processes killed by process group, databases dropped).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))

from runner.odoo_find import find_odoo  # noqa: E402 (after the path set-up)
from runner.pg import DB_HOST, DB_PASSWORD, DB_PORT, DB_USER  # noqa: E402

ADMIN = ("admin", "admin")
#: PostgreSQL port of the fault tests: 5432 like the rest of the test command;
#: SPOKI_FAULT_PG_PORT points them at another local cluster (the PostgreSQL
#: restart scenario restarts the cluster serving that port).
PG_PORT = int(os.environ.get("SPOKI_FAULT_PG_PORT") or DB_PORT)

#: the fake's credentials (spoki_whatsapp/tests/fake_provider.py)
META = {
    "token": "fake-meta-token",
    "phone_number_id": "106540352242922",
    "waba_id": "102290129340398",
    "app_secret": "fake-app-secret",
}
SPOKI_KEY = "fake-spoki-key"
SPOKI_SECRET = "fault-spoki-webhook-secret"
CONTACTS = 20_000
#: pg_advisory_lock namespace of send workers (send_queue/spoki_message.py)
LOCK_NS_WORKER = 537111
#: lists of the template database: name → (first, last) contact number
LISTS = {
    "meta_200": (1, 200),
    "meta_1500": (1, 1500),
    "meta_5000": (1, 5000),
    "meta_15000": (1, 15000),
    "spoki_2000": (15001, 17000),
    "spoki_5000": (15001, 20000),
}
#: config parameters of the template database: short delays so that a
#: scenario's retries and pauses happen within seconds
PARAMS = {
    "provider_timeout": "1",
    "retry_base_delay": "1",
    "max_attempts": "10",
    "rate_limit_pause": "2",
}


_ENVIRONMENT = {}


def environment():
    """``(Odoo, None)`` or ``(None, reason to skip)``, computed once."""
    if "result" not in _ENVIRONMENT:
        _ENVIRONMENT["result"] = _detect()
    return _ENVIRONMENT["result"]


def skip_without_odoo():
    """Module-level skip of a fault test module when Odoo 18 or PostgreSQL is missing."""
    odoo, reason = environment()
    if odoo is None:
        pytest.skip(f"fault tests need Odoo 18 and PostgreSQL: {reason}", allow_module_level=True)


def _detect():
    try:
        import psycopg2  # noqa: F401, PLC0415 (Odoo's own dependency)
    except ImportError:
        return None, "psycopg2 is not importable (Odoo 18 is not installed in this Python)"
    odoo, reason = find_odoo()
    if odoo is None:
        return None, f"no Odoo 18 on this machine ({reason})"
    if PG_PORT == DB_PORT:
        from runner.common import Part  # noqa: PLC0415
        from runner.pg import ensure_postgres  # noqa: PLC0415

        part = Part("fault")
        if ensure_postgres(part) is None:  # starts it / creates the role, like the Odoo part
            return None, "PostgreSQL is not reachable: " + "; ".join(part.problems)
    ok, error = Pg().query("postgres", "SELECT 1")
    if not ok:
        return None, f"PostgreSQL on {DB_HOST}:{PG_PORT} is not reachable as {DB_USER}: {error}"
    return odoo, None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.5):
    """Call ``predicate`` until it returns a true value (returned); fail the
    test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# -- PostgreSQL ----------------------------------------------------------------


class Pg:
    """SQL on the test databases (autocommit, one connection per call)."""

    def __init__(self, host=DB_HOST, port=PG_PORT, user=DB_USER, password=DB_PASSWORD):
        self.host, self.port, self.user, self.password = host, port, user, password

    def connect(self, dbname):
        import psycopg2  # noqa: PLC0415

        conn = psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=dbname, connect_timeout=5
        )
        conn.autocommit = True
        return conn

    def query(self, dbname, sql, params=None):
        """``(ok, rows or error text)``."""
        import psycopg2  # noqa: PLC0415

        try:
            conn = self.connect(dbname)
        except psycopg2.Error as exc:
            return False, str(exc).strip()
        try:
            with conn.cursor() as cr:
                cr.execute(sql, params)
                return True, cr.fetchall() if cr.description else []
        except psycopg2.Error as exc:
            return False, str(exc).strip()
        finally:
            conn.close()

    def rows(self, dbname, sql, params=None):
        ok, rows = self.query(dbname, sql, params)
        assert ok, f"SQL failed on {dbname}: {rows}\n{sql}"
        return rows

    def value(self, dbname, sql, params=None):
        return self.rows(dbname, sql, params)[0][0]

    def execute(self, dbname, sql, params=None):
        self.rows(dbname, sql, params)

    def up(self):
        return self.query("postgres", "SELECT 1")[0]

    def drop(self, dbname):
        """Drop ``dbname`` (its connections terminated first)."""
        from psycopg2 import sql  # noqa: PLC0415

        for _attempt in range(5):
            self.query(
                "postgres",
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [dbname],
            )
            ok, error = self.query("postgres", sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))
            if ok:
                return
            time.sleep(1)
        raise AssertionError(f"could not drop database {dbname}: {error}")

    def clone(self, template, dbname):
        from psycopg2 import sql  # noqa: PLC0415

        self.drop(dbname)
        self.execute(
            "postgres",
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(dbname), sql.Identifier(template)),
        )

    def cluster(self):
        """``(version, name)`` of the local cluster serving our port
        (``pg_lsclusters``, as ``tests/runner/pg.py`` finds them), or None."""
        if not shutil.which("pg_lsclusters"):
            return None
        out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2] == str(self.port):
                return fields[0], fields[1]
        return None

    def restart_cluster(self, cluster):
        """``pg_ctlcluster <version> <name> restart`` (root): every connection
        is cut, new ones are refused until it is up again."""
        res = subprocess.run(
            ["pg_ctlcluster", *cluster, "restart"], capture_output=True, text=True, timeout=120, check=False
        )
        assert res.returncode == 0, f"pg_ctlcluster {' '.join(cluster)} restart failed: {res.stdout}{res.stderr}"

    def ensure_up(self, cluster, timeout=60):
        """PostgreSQL answers again (started if it doesn't)."""
        if self.up():
            return True
        if cluster:
            subprocess.run(["pg_ctlcluster", *cluster, "start"], capture_output=True, timeout=120, check=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.up():
                return True
            time.sleep(0.5)
        return False


# -- the fake Meta / Spoki server ----------------------------------------------


class FakeServer:
    """``fake_server.py`` in its own process; ``call(method, **kwargs)``
    drives its :class:`Control`."""

    def __init__(self, log_path):
        self.log_path = log_path
        self.proc = None
        self.port = self.control_port = None

    def start(self, timeout=30):
        import requests  # noqa: PLC0415

        self.session = requests.Session()
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "fake_server.py"), "--lifetime", "3600"],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        ready = {}

        def read():
            line = self.proc.stdout.readline().decode()
            match = re.match(r"READY (\d+) (\d+)", line)
            if match:
                ready["ports"] = int(match.group(1)), int(match.group(2))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if "ports" not in ready:
            self.stop()
            raise AssertionError(f"the fake server did not start: {Path(self.log_path).read_text()[-2000:]}")
        self.port, self.control_port = ready["ports"]
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def call(self, method, **kwargs):
        answer = self.session.post(
            f"http://127.0.0.1:{self.control_port}/call", json={"method": method, "kwargs": kwargs}, timeout=300
        )
        body = answer.json()
        assert "error" not in body, f"fake server: {method}: {body['error']}"
        return body["result"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            _kill_group(self.proc, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                _kill_group(self.proc, signal.SIGKILL)
                self.proc.wait(10)
        if getattr(self, "_log", None):
            self._log.close()


def _die_with_parent():
    """``preexec_fn`` of the Odoo servers: SIGKILL when the test process dies
    (Linux ``PR_SET_PDEATHSIG``), so that a killed test run leaves no server
    behind (their workers stop when their master is gone)."""
    try:
        import ctypes  # noqa: PLC0415

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _kill_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


# -- Odoo ------------------------------------------------------------------------


class OdooContext:
    """How to run Odoo here: the command, the addons path, the data dir."""

    def __init__(self, odoo, data_dir, pg):
        self.odoo, self.data_dir, self.pg = odoo, Path(data_dir), pg
        self.addons_path = ",".join([*odoo.addons_paths, str(ROOT)])

    def args(self, dbname, command=None):
        """The ``odoo`` command line for ``dbname`` (``command``: shell…; default: the server)."""
        return [
            *self.odoo.cmd,
            *([command] if command else []),
            f"--addons-path={self.addons_path}",
            f"--db_host={self.pg.host}",
            f"--db_port={self.pg.port}",
            f"--db_user={self.pg.user}",
            f"--db_password={self.pg.password}",
            f"--data-dir={self.data_dir}",
            "-d",
            dbname,
        ]

    def run(self, dbname, *extra, command=None, stdin=None, timeout=900, log=None):
        """An ``odoo`` command to its end (install, shell); fails the test
        with the end of its output when it fails."""
        res = subprocess.run(
            [*self.args(dbname, command), *extra],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=str(self.data_dir),
        )
        if log:
            Path(log).write_text(res.stdout + res.stderr)
        what = " ".join([command or "", *extra[:3]]).strip()
        assert res.returncode == 0, f"odoo {what} failed ({res.returncode}): {res.stderr[-3000:]}"
        return res.stdout

    def shell(self, dbname, script, timeout=600):
        """Run ``script`` in ``odoo shell`` (``env`` = superuser); its prints are returned."""
        return self.run(dbname, "--no-http", "--log-level=warn", command="shell", stdin=script, timeout=timeout)

    def copy_filestore(self, template, dbname):
        source = self.data_dir / "filestore" / template
        if source.is_dir():
            shutil.copytree(source, self.data_dir / "filestore" / dbname, dirs_exist_ok=True)

    def drop_filestore(self, dbname):
        shutil.rmtree(self.data_dir / "filestore" / dbname, ignore_errors=True)


class OdooServer:
    """One ``odoo`` server process (prefork: ``--workers`` HTTP workers and
    ``--max-cron-threads`` cron worker processes) on 127.0.0.1."""

    def __init__(self, context, dbname, log_path, workers=2, cron_workers=1, env=None):
        self.context, self.dbname, self.log_path = context, dbname, Path(log_path)
        self.workers, self.cron_workers = workers, cron_workers
        self.env = env or {}
        self.proc = None
        self.port = None
        self._uid = None

    def start(self, timeout=120):
        import requests  # noqa: PLC0415

        self.port = free_port()
        args = [
            *self.context.args(self.dbname),
            "--http-interface=127.0.0.1",
            f"--http-port={self.port}",
            f"--gevent-port={free_port()}",
            f"--workers={self.workers}",
            f"--max-cron-threads={self.cron_workers}",
            "--limit-time-real=600",
            "--limit-time-cpu=600",
            f"--logfile={self.log_path}",
            "--log-level=info",
        ]
        env = dict(os.environ, ODOO_NOTIFY_CRON_CHANGES="1", **self.env)
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (no threads run in the child before exec)
            env=env,
            cwd=str(self.context.data_dir),
        )
        self.session = requests.Session()
        self._uid = None

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"odoo exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                return self.session.get(f"{self.url}/web/health", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, timeout, f"the Odoo server on port {self.port}")
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=60):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_errors(self):
        """ERROR / CRITICAL records of the log (tracebacks included)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if re.search(r"^\S+ \S+ \d+ (ERROR|CRITICAL) ", line)]

    def stop(self, timeout=20):
        if not self.alive():
            return
        _kill_group(self.proc, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reap()

    def kill(self):
        """SIGKILL to the whole server (master, HTTP and cron workers)."""
        if self.proc is not None:
            _kill_group(self.proc, signal.SIGKILL)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._reap()

    def _reap(self):
        """Children left behind by a killed master (gevent, workers): killed too."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # -- JSON-RPC as admin --------------------------------------------------

    def rpc(self, service, method, *args):
        payload = {"jsonrpc": "2.0", "method": "call", "params": {"service": service, "method": method, "args": args}}
        answer = self.session.post(f"{self.url}/jsonrpc", json=payload, timeout=300).json()
        if answer.get("error"):
            error = answer["error"]
            raise AssertionError(f"RPC {method}{args[3:5]}: {error.get('data', {}).get('message') or error}")
        return answer["result"]

    def call(self, model, method, *args, **kwargs):
        if self._uid is None:
            self._uid = self.rpc("common", "login", self.dbname, *ADMIN)
            assert self._uid, "admin/admin can't log in"
        return self.rpc("object", "execute_kw", self.dbname, self._uid, ADMIN[1], model, method, list(args), kwargs)


class CronTicker:
    """``NOTIFY cron_trigger`` every ``interval`` seconds: the cron workers
    look for due jobs every second instead of every minute (Odoo's sleep
    between polls when nothing notifies them). Jobs still run only when Odoo
    finds them due (``nextcall``, triggers)."""

    def __init__(self, pg, dbname, interval=1.0):
        self.pg, self.dbname, self.interval = pg, dbname, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="cron-ticker")

    def _run(self):
        while not self._stop.wait(self.interval):
            self.pg.query("postgres", "SELECT pg_notify('cron_trigger', %s)", [self.dbname])

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)


def dump(path, data):
    Path(path).write_text(json.dumps(data, indent=1, default=str))
