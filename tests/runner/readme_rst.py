#!/usr/bin/env python3
"""README.rst of each addon, generated from its readme/*.md fragments (the OCA
layout) and its manifest: title, licence badge, DESCRIPTION, table of contents,
INSTALL, CONFIGURE, USAGE, ROADMAP, HISTORY, then Credits (the manifest's
authors, CONTRIBUTORS, CREDITS). Markdown becomes reStructuredText with mistune's
RST renderer (the fragment's line breaks kept); headings inside a fragment sit
one level below its section.

    python3 tests/runner/readme_rst.py            # regenerate every README.rst
    python3 tests/runner/readme_rst.py --check    # exit 1 when one differs (pre-commit hook readme-rst)

Needs mistune, the version .pre-commit-config.yaml pins for the hook readme-rst
(another one may render differently), and checks the result with docutils when
it is importable.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
ADDONS = ("spoki_whatsapp", "spoki_whatsapp_csv", "spoki_whatsapp_reports")
SECTIONS = (  # fragment, section title (None: no title, before the table of contents)
    ("DESCRIPTION", None),
    ("INSTALL", "Installation"),
    ("CONFIGURE", "Configuration"),
    ("USAGE", "Usage"),
    ("ROADMAP", "Known issues / Roadmap"),
    ("HISTORY", "Changelog"),
)
CREDITS = (("CONTRIBUTORS", "Contributors"), ("CREDITS", "Other credits"))
BADGES = {
    "LGPL-3": (
        "https://img.shields.io/badge/licence-LGPL--3-blue.png",
        "http://www.gnu.org/licenses/lgpl-3.0-standalone.html",
    ),
}


def to_rst(markdown):
    try:
        import mistune  # noqa: PLC0415 (only this script needs it)
        from mistune.renderers.rst import RSTRenderer  # noqa: PLC0415
    except ImportError:
        sys.exit(f"{__file__} needs mistune: pip install mistune==<the version .pre-commit-config.yaml pins>")

    class Renderer(RSTRenderer):
        HEADING_MARKERS = {1: "-", 2: "~", 3: "^", 4: '"', 5: "'", 6: "'"}

        def softbreak(self, token, state):  # keep the fragment's line breaks
            return "\n"

    return mistune.create_markdown(renderer=Renderer())(markdown).strip() + "\n"


def heading(title, char):
    return f"{title}\n{char * len(title)}\n\n"


def fragment(addon_dir, name):
    path = addon_dir / "readme" / f"{name}.md"
    return to_rst(path.read_text(encoding="utf-8")) if path.is_file() else None


def generate(addon_dir):
    manifest = ast.literal_eval((addon_dir / "__manifest__.py").read_text(encoding="utf-8"))
    name, licence = manifest["name"], manifest.get("license", "LGPL-3")
    image, target = BADGES[licence]
    out = ["=" * len(name) + f"\n{name}\n" + "=" * len(name) + "\n\n"]
    out.append(".. This file is generated from the readme/ fragments by tests/runner/readme_rst.py;\n")
    out.append("   edit those instead.\n\n")
    out.append(f"|badge1|\n\n.. |badge1| image:: {image}\n    :target: {target}\n    :alt: License: {licence}\n\n")
    for key, title in SECTIONS:
        text = fragment(addon_dir, key)
        if text and title:
            out.append(heading(title, "=") + text + "\n")
        elif text:
            out.append(text + "\n**Table of contents**\n\n.. contents::\n   :local:\n\n")
    out.append(heading("Credits", "="))
    authors = [a.strip() for a in manifest.get("author", "").split(",") if a.strip()]
    out.append(heading("Authors", "-") + "".join(f"- {a}\n" for a in authors) + "\n")
    for key, title in CREDITS:
        text = fragment(addon_dir, key)
        if text:
            out.append(heading(title, "-") + text + "\n")
    return "".join(out).rstrip("\n") + "\n"


def rst_problems(text):
    """docutils' warnings and errors on the generated text ([] without docutils)."""
    try:
        import docutils.core  # noqa: PLC0415
        import docutils.utils  # noqa: PLC0415
    except ImportError:
        return []

    stream = io.StringIO()
    overrides = {"report_level": 2, "halt_level": 5, "warning_stream": stream}
    docutils.core.publish_doctree(text, settings_overrides=overrides)
    return [line for line in stream.getvalue().splitlines() if line.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when a README.rst differs")
    args = parser.parse_args(argv)
    failed = False
    for addon in ADDONS:
        addon_dir = ROOT / addon
        if not (addon_dir / "__manifest__.py").is_file():
            continue
        path = addon_dir / "README.rst"
        text = generate(addon_dir)
        for problem in rst_problems(text):
            print(f"{path.relative_to(ROOT)}:1: generated reStructuredText: {problem}")
            failed = True
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current == text:
            continue
        if args.check:
            print(f"{path.relative_to(ROOT)}:1: differs from {addon}/readme/: run python3 tests/runner/readme_rst.py")
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(), "README.rst", "generated", lineterm="")
            print("\n".join(list(diff)[:60]))
            failed = True
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
