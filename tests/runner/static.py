"""(c) static: the hooks of .pre-commit-config.yaml, the one list of static checks,
run by pre-commit on every file of the work tree (tracked or new, not ignored).

pre-commit keeps the environments of its Python hooks (the OCA checks, the README
generator) in .ci/out/pre-commit; the "system" hooks (ruff, pylint-odoo) run the
tools of this Python, pip-installed here when missing.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from .common import OUT, ROOT, Part, banner, ensure_python_tools, run, run_tee, say

TOOLS = {"pre_commit": "pre-commit>=3.2", "ruff": "ruff>=0.5", "pylint_odoo": "pylint-odoo>=10"}
# "ruff check....................Passed", "oca-checks-po....(no files to check)Skipped"
STATUS_LINE = re.compile(r"^(?P<name>\S.*?)\.{3,}(?:\(no files to check\))?(?P<status>Passed|Failed|Skipped)$")
# one problem in a hook's output: path:line[:col]: ... (ruff, pylint, OCA checks), a file that
# ruff format would change (older ruff: "Would reformat: path"; newer: "unformatted: ...")
PROBLEM_LINE = re.compile(r"^(?:\S+:\d+(?::\d+)?: |Would reformat: |unformatted: )", re.M)


def work_tree_files():
    """Every file pre-commit should see: tracked or untracked, not git-ignored."""
    res = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], timeout=120)
    if res.returncode != 0:
        return None
    return sorted({f for f in res.stdout.split("\0") if f and (ROOT / f).is_file()})


def hook_results(output):
    """[(hook name, status, its output)] from pre-commit's output."""
    results = []
    for line in output.splitlines():
        match = STATUS_LINE.match(line.strip())
        if match:
            results.append([match["name"], match["status"], []])
        elif results:
            results[-1][2].append(line)
    return [(name, status, "\n".join(lines)) for name, status, lines in results]


def record_hooks(part, results):
    """Counts every hook as one check; returns the summary words."""
    words = []
    for name, status, output in results:
        if status == "Passed":
            part.passed += 1
            words.append(f"{name} ok")
        elif status == "Skipped":
            part.skipped += 1
            words.append(f"{name} skipped")
        else:
            count = len(PROBLEM_LINE.findall(output))
            detail = f"{count} problem(s)" if count else "failed"
            part.failed += 1
            part.fail(f"{name}: {detail}")
            words.append(f"{name} {detail}")
    return words


def run_static(args):
    part = Part("static")
    banner("(c) static checks: the hooks of .pre-commit-config.yaml (pre-commit)")
    missing = ensure_python_tools(TOOLS)
    for module in missing:
        say(f"!! {TOOLS[module]} is not installed and could not be installed")
    if "pre_commit" in missing:
        part.failed += 1
        part.fail("pre-commit is not installed and could not be installed: no static check ran")
        part.summary = "pre-commit missing"
        return part
    files = work_tree_files()
    selection = ["--files", *files] if files is not None else ["--all-files"]
    env = dict(
        os.environ,
        # the "system" hooks run this Python's ruff/pylint, wherever pip put their scripts
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        PRE_COMMIT_HOME=str(OUT / "pre-commit"),
        PRE_COMMIT_COLOR="never",
    )
    say(f"$ pre-commit run --files ... ({len(files)} files)" if files is not None else "$ pre-commit run --all-files")
    res = run_tee([sys.executable, "-m", "pre_commit", "run", *selection], env=env, timeout=3600)
    results = hook_results(res.stdout or "")
    part.summary = ", ".join(record_hooks(part, results)) or f"pre-commit exited with code {res.returncode}"
    if res.returncode != 0 and part.status != "failed":
        part.failed += 1
        part.fail(f"pre-commit exited with code {res.returncode} (see its output above)")
    return part
