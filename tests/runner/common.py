"""What every part of the test command shares: where things are, printing, the
outcome of a part, running subprocesses and installing missing tools."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / ".ci" / "out"
ADDONS = ("spoki_whatsapp", "spoki_whatsapp_csv", "spoki_whatsapp_reports")


def say(msg=""):
    print(msg, flush=True)


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


def run(cmd, *, cwd=ROOT, timeout=None, env=None, capture=True, input=None):  # noqa: A002 (subprocess's name)
    """subprocess.run with text output (stderr folded into stdout); never raises
    on a missing program or a timeout (exit codes 127 and 124, as the shell)."""
    try:
        return subprocess.run(
            cmd,
            cwd=cwd,
            timeout=timeout,
            env=env,
            text=True,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            check=False,
        )
    except (FileNotFoundError, PermissionError) as exc:
        return subprocess.CompletedProcess(cmd, 127, stdout=str(exc))
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
        return subprocess.CompletedProcess(cmd, 124, stdout=f"{out}\n(timed out after {timeout}s)")


def run_tee(cmd, *, cwd=ROOT, timeout=None, env=None):
    """Like run(), but prints the output as it comes (long installs show progress)."""
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except (FileNotFoundError, PermissionError) as exc:
        return subprocess.CompletedProcess(cmd, 127, stdout=str(exc))
    timed_out = threading.Event()

    def kill():
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill) if timeout else None
    if timer:
        timer.start()
    lines = []
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    finally:
        rc = proc.wait()
        if timer:
            timer.cancel()
    if timed_out.is_set():
        lines.append(f"\n(timed out after {timeout}s)\n")
        rc = 124
    return subprocess.CompletedProcess(cmd, rc, stdout="".join(lines))


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


def can_apt_install():
    return os.geteuid() == 0 and bool(shutil.which("apt-get"))


def apt_install(package, reason):
    """apt-get install a Debian package (root only); True when it worked."""
    if not can_apt_install():
        return False
    say(f"-- {reason}: apt-get install {package}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", package]
    res = run(cmd, env=env, timeout=1200)
    if res.returncode != 0:  # a stale package list: update once, then retry
        run(["apt-get", "update", "-q"], env=env, timeout=600)
        res = run(cmd, env=env, timeout=1200)
    if res.returncode != 0:
        say(res.stdout[-2000:])
    return res.returncode == 0


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


def present_addons():
    return [a for a in ADDONS if (ROOT / a / "__manifest__.py").is_file()]
