"""The parts of ``tests/run_all.py`` (the project's one test command).

    common.py       output (say, banner), a part's outcome (Part), subprocesses, pip/apt installs
    pytest_part.py  (a) the plain-Python tests in tests/
    pg.py           PostgreSQL for (b): start the server, create the role odoo/odoo
    odoo_find.py    (b) finding Odoo 18 (``import odoo``, odoo-bin/odoo on PATH) and Chromium
    odoo_log.py     (b) following Odoo's log (tests started, result line, echo) and checklog-odoo
    odoo_part.py    (b) installing the addons in a fresh database, running their tests, the verdict
    static.py       (c) the hooks of .pre-commit-config.yaml, run by pre-commit
    readme_rst.py   README.rst of each addon generated from its readme/ fragments (a hook of (c))

Standard library only (the tools they use are pip-installed on demand). No file
here is named ``test_*.py``: pytest, which collects tests/, does not collect them.
"""
