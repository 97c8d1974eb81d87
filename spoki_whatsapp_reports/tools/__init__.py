# Plain Python helpers (no ``odoo`` import): period arithmetic in a timezone and
# CSV/XLSX writers. Unit-tested without Odoo (tests/test_reports_tools.py at the
# repository root).
