"""Finding Odoo 18 on this machine without environment variables: ``import odoo``
in this Python, else an ``odoo-bin``/``odoo`` command on PATH; and Chromium for
Odoo's browser tests."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .common import OUT, apt_install, can_apt_install, run, say

ODOO_SERIE = "18.0"
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
    OUT.mkdir(parents=True, exist_ok=True)
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


def _odoo_of_this_python():
    """(Odoo or None, reason)."""
    info = probe_python(sys.executable)
    if not info or info["serie"] != ODOO_SERIE:
        return None, f"`import odoo` gives {info['serie']}" if info else "not importable"
    package_dir = Path(info["file"]).resolve().parent
    odoo_bin = package_dir.parent / "odoo-bin"
    if odoo_bin.is_file():
        cmd = [sys.executable, str(odoo_bin)]
    else:  # installed as a plain package (pip/deb) without odoo-bin
        cmd = [sys.executable, "-c", "import sys, odoo.cli; sys.argv[0] = 'odoo'; odoo.cli.main()"]
    return Odoo(cmd, odoo_addons_paths(package_dir), info["version"], f"import odoo ({package_dir})"), ""


def _odoo_on_path(reasons):
    for name in ("odoo-bin", "odoo"):
        exe = shutil.which(name)
        if not exe:
            continue
        res = run([exe, "--version"], timeout=300)
        out = (res.stdout or "").strip()
        if not re.search(r"\b18\.0\b", out):
            reasons.append(f"`{exe} --version` says {out[-200:]!r}")
            continue
        return Odoo([exe], addons_paths_of_command(exe), out.splitlines()[-1], f"{name} on PATH ({exe})")
    return None


def find_odoo():
    """Odoo 18 on this machine, or (None, reason)."""
    odoo, reason = _odoo_of_this_python()
    if odoo:
        return odoo, None
    reasons = [reason]
    odoo = _odoo_on_path(reasons)
    if odoo:
        return odoo, None
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
        info = probe_python(interpreter[0]) if interpreter else None
        if info:
            return odoo_addons_paths(Path(info["file"]).resolve().parent)
    return []


def ensure_browser():
    """Odoo's browser tests (HttpCase tours) skip themselves without Chrome/Chromium:
    install Debian's chromium when none is there (root with apt-get only)."""
    names = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")  # as odoo.tests.common
    if any(shutil.which(n) for n in names):
        return
    if not can_apt_install():
        say("-- no Chrome/Chromium: Odoo's browser tests will be skipped")
        return
    if not apt_install("chromium", "no Chrome/Chromium for Odoo's browser tests"):
        say("-- chromium could not be installed: Odoo's browser tests will be skipped")
