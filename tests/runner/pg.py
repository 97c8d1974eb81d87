"""PostgreSQL for the Odoo tests: the server answering on 127.0.0.1:5432 (started,
or installed with apt, when it doesn't) and the role odoo/odoo (created when missing)."""

from __future__ import annotations

import os
import shlex
import shutil
import time
from pathlib import Path

from .common import apt_install, port_open, run, say

DB_HOST, DB_PORT, DB_USER, DB_PASSWORD = "127.0.0.1", 5432, "odoo", "odoo"


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
            return self._query_psycopg2(sql, dbname)
        if not shutil.which("psql"):
            return False, "neither psycopg2 nor psql is available"
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="5")
        cmd = ["psql", "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", dbname]
        res = run([*cmd, "-X", "-q", "-t", "-A", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql], env=env, timeout=120)
        if res.returncode != 0:
            return False, res.stdout.strip()
        return True, [tuple(line.split("\t")) for line in res.stdout.splitlines() if line]

    def _query_psycopg2(self, sql, dbname):
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

    def can_login(self):
        return self.query("SELECT 1")


def as_postgres(sql):
    """Run sql with psql as the postgres superuser (local socket); root or sudo only."""
    psql = f"psql -X -q -t -A -v ON_ERROR_STOP=1 -c {shlex.quote(sql)}"
    if os.geteuid() == 0:
        cmd = ["su", "postgres", "-c", psql]
    else:
        cmd = ["sudo", "-n", "-u", "postgres", "sh", "-c", psql]
    return run(cmd, cwd="/tmp", timeout=120)


def _start_commands():
    """pg_ctlcluster for every cluster (newest version first), then the service."""
    etc = Path("/etc/postgresql")
    commands = []
    if etc.is_dir():

        def version_key(path):
            return [int(x) if x.isdigit() else 0 for x in path.name.split(".")]

        for version in sorted((p for p in etc.iterdir() if p.is_dir()), key=version_key, reverse=True):
            for cluster in sorted(p for p in version.iterdir() if p.is_dir()):
                commands.append(["pg_ctlcluster", version.name, cluster.name, "start"])
    commands.append(["service", "postgresql", "start"])
    return [cmd for cmd in commands if shutil.which(cmd[0])]


def start_postgres():
    """Start the local PostgreSQL server (installing it with apt when absent)."""
    if not Path("/etc/postgresql").is_dir():
        apt_install("postgresql", "PostgreSQL server not installed")
    for cmd in _start_commands():
        say("-- starting PostgreSQL: $ " + shlex.join(cmd))
        res = run(cmd, timeout=180)
        if res.returncode != 0:
            say("   " + (res.stdout or "").strip()[-500:])
        for _ in range(30):
            if port_open(DB_HOST, DB_PORT):
                return True
            time.sleep(1)
    return port_open(DB_HOST, DB_PORT)


def _create_role_if_missing(part, err):
    """Reachable but we can't log in: create the role if (and only if) it is missing."""
    res = as_postgres(f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'")
    if res.returncode != 0:
        part.fail(f"cannot log in as {DB_USER} ({err}) nor inspect roles as postgres: {res.stdout.strip()[-300:]}")
        return False
    if res.stdout.strip() != "1":
        say(f"-- creating PostgreSQL role {DB_USER}")
        res = as_postgres(f"CREATE ROLE {DB_USER} LOGIN SUPERUSER PASSWORD '{DB_PASSWORD}'")
        if res.returncode != 0:
            part.fail(f"could not create role {DB_USER}: {res.stdout.strip()[-300:]}")
            return False
    return True


def ensure_postgres(part):
    """PostgreSQL answering on DB_HOST:DB_PORT with role odoo/odoo. Returns Pg or None
    (the reason is then recorded on part)."""
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
    if not _create_role_if_missing(part, err):
        return None
    ok, err = pg.can_login()
    if not ok:
        part.fail(f"cannot log in to PostgreSQL as {DB_USER}/{DB_PASSWORD}: {err}")
        return None
    return pg
