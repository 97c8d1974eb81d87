"""Odoo's log: followed line by line while the tests run (tests started, the
result line, warnings and errors echoed), then judged by checklog-odoo."""

from __future__ import annotations

import collections
import re
import sys
from dataclasses import dataclass

from .common import OUT, ensure_python_tools, run, say

LOG_RECORD = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?P<pid>\d+) (?P<level>[A-Z_]+) "
    r"(?P<db>\S+) (?P<logger>[^\s:]+): (?P<msg>.*)$"
)
RESULT_LINE = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
STARTING = re.compile(r"^Starting (\S+) \.\.\.")
SKIPPED = re.compile(r"^skipped (\S+) : (.*)")
LOADING = re.compile(r"^Loading module (\S+) ")
# The end of the install phase: what comes after is the post-install tests.
MODULES_LOADED = re.compile(r"^\S+ \S+ \d+ INFO \S+ odoo\.modules\.loading: Modules loaded\.", re.M)

CHECKLOG_SPEC = "checklog-odoo>=1.0"
# checklog-odoo fails on every record above INFO but those matching one of these.
# While installing: warnings that don't mention our addons (Odoo's own, other modules').
CHECKLOG_IGNORE_INSTALL = [r"(?i)\A\S+ \S+ \d+ WARNING (?![\s\S]*spoki)"]
# During the tests: every warning (tests provoke some on purpose); errors still fail.
CHECKLOG_IGNORE_TESTS = [r"\A\S+ \S+ \d+ WARNING "]
CHECKLOG_FAILURES = re.compile(r"errors that caused failure \((\d+)\)")


@dataclass
class Record:
    level: str
    logger: str
    msg: str
    lines: list[str]
    phase: str


class OdooLog:
    """Follows Odoo's log line by line: counts tests, results, errors, warnings,
    and echoes the records worth seeing."""

    ECHO_INFO = ("odoo.tests.result", "odoo.tests.stats")

    def __init__(self, echo=True):
        self.echo = echo
        self.phase = "install"  # -> "tests" once modules are loaded
        self.current: Record | None = None
        self.started = 0
        self.started_by_module = collections.Counter()
        self.last_started = ""
        self.skipped: list[str] = []
        self.result: tuple[int, int, int] | None = None
        self.errors: list[Record] = []
        self.warnings: list[Record] = []

    def feed(self, line):
        line = line.rstrip("\n")
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
        elif record.level == "WARNING":
            self.warnings.append(record)
        elif record.logger not in self.ECHO_INFO:
            return
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
            self._on_loading(msg)
        elif logger.startswith("odoo.addons."):
            self._on_test(logger.split(".")[2], msg)
        elif logger == "odoo.tests.result":
            result = RESULT_LINE.search(msg)
            if result:
                self.result = tuple(int(x) for x in result.groups())

    def _on_loading(self, msg):
        loading = LOADING.match(msg)
        if loading and loading.group(1).startswith("spoki_") and self.echo:
            say(f"-- {msg.strip()}")
        if msg.startswith("Modules loaded."):
            self.phase = "tests"
            if self.echo:
                say("-- modules loaded; running post-install tests")

    def _on_test(self, module, msg):
        start = STARTING.match(msg)
        if start:
            self.started += 1
            self.started_by_module[module] += 1
            self.last_started = f"{module}: {start.group(1)}"
            if self.echo and self.started % 25 == 0:
                say(f"-- {self.started} tests started ({start.group(1)})")
        skip = SKIPPED.match(msg)
        if skip:
            self.skipped.append(f"{skip.group(1)}: {skip.group(2).strip()}")


def checklog(log_path, db):
    """checklog-odoo on the install part and on the tests part of the log, each with
    its ignore list (CHECKLOG_IGNORE_*). Returns the problems (empty: the log is clean)."""
    if ensure_python_tools({"checklog_odoo": CHECKLOG_SPEC}):
        return [f"{CHECKLOG_SPEC} is not installed and could not be installed: the log was not checked"]
    # the database's name (spoki_test_...) is on every record: not a mention of our addons
    text = log_path.read_text(encoding="utf-8", errors="replace").replace(db, "<db>")
    loaded = MODULES_LOADED.search(text)
    split = loaded.start() if loaded else len(text)
    phases = (
        ("while installing (ERROR/CRITICAL, or WARNING about our addons)", text[:split], CHECKLOG_IGNORE_INSTALL),
        ("during the tests (ERROR/CRITICAL)", text[split:], CHECKLOG_IGNORE_TESTS),
    )
    problems = []
    for label, part_text, ignore in phases:
        cmd = [sys.executable, "-m", "checklog_odoo", "--no-echo", "--no-err-if-empty"]
        for regex in ignore:
            cmd += ["--ignore", regex]
        res = run(cmd, cwd=OUT, input=part_text, timeout=600)  # cwd: no checklog-odoo.cfg, no pyproject.toml
        failures = CHECKLOG_FAILURES.search(res.stdout or "")
        count = int(failures.group(1)) if failures else 0
        say(f"-- checklog-odoo {label}: " + (f"{count} record(s) fail the run" if res.returncode else "ok"))
        if res.returncode:
            problems.append(f"checklog-odoo: {count} log record(s) {label}" if failures else res.stdout[-500:])
    return problems
