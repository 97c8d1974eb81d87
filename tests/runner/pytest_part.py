"""(a) pytest: the plain-Python tests in tests/ (no Odoo needed)."""

from __future__ import annotations

import shlex
import sys
import xml.etree.ElementTree as ET

from .common import OUT, Part, banner, ensure_python_tools, run, say


def junit_counts(junit):
    """(tests, failures, errors, skipped) of a JUnit XML report."""
    counts = [0, 0, 0, 0]
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    for suite in suites:
        for i, key in enumerate(("tests", "failures", "errors", "skipped")):
            counts[i] += int(suite.get(key, 0))
    return tuple(counts)


def run_pytest(args):
    part = Part("pytest")
    banner("(a) pytest: plain-Python tests in tests/")
    if ensure_python_tools({"pytest": "pytest>=7"}):
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
    tests, failures, errors, skipped = junit_counts(junit)
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
