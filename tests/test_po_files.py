"""The translation files stay loadable after merges (plain Python, no polib).

Git's union merge of two branches that both appended entries can glue them
together: an entry without ``msgstr``, or without its ``#. module:`` line —
Odoo's loader then fails on install (``match.groups()`` on None) because the
.pot is merged into the .po it loads — or a code term without its
``#. odoo-python`` line, which Odoo then never translates."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(ROOT.glob("spoki_whatsapp*/i18n/*.po")) + sorted(ROOT.glob("spoki_whatsapp*/i18n/*.pot"))


def _entries(path):
    """(line number, lines) of each entry: a run of comment lines, msgid,
    msgstr (with their continuation lines)."""
    entry, start = [], 0
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        if line.startswith("#") and entry and not entry[-1].startswith("#"):
            yield start, entry
            entry = []
        if not entry:
            start = number
        entry.append(line)
    if entry:
        yield start, entry


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_entry_is_complete(path):
    assert FILES, "no translation files found"
    seen = {}
    problems = []
    for start, lines in list(_entries(path))[1:]:  # the first entry is the header
        keywords = [line.split(" ", 1)[0] for line in lines if re.match(r"msg(id|str|ctxt)", line)]
        if keywords != ["msgid", "msgstr"]:
            problems.append(f"line {start}: {keywords} instead of msgid, msgstr")
        if not any(line.startswith("#. module: ") for line in lines):
            problems.append(f"line {start}: no '#. module:' line")
        if not any(line.startswith("#: ") for line in lines):
            problems.append(f"line {start}: no reference ('#:') line")
        # Odoo loads a code term as Python / JS translation only with this comment
        references = [line for line in lines if line.startswith("#: code:")]
        for suffix, kind in ((".py:", "#. odoo-python"), (".js:", "#. odoo-javascript")):
            if any(suffix in line for line in references) and kind not in lines:
                problems.append(f"line {start}: a {suffix[:-1]} reference without '{kind}'")
        body = "\n".join(line for line in lines if not line.startswith("#"))
        msgid = body.split("msgstr", 1)[0]
        if msgid in seen:
            problems.append(f"line {start}: same msgid as line {seen[msgid]}")
        seen.setdefault(msgid, start)
    assert not problems, "\n".join(problems[:20])
