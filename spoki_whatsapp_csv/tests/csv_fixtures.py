"""Fixture files for the CSV tool's tests, generated on the fly (no binary
blobs): shared by the addon's Odoo tests (``from .csv_fixtures import …`` in
tests/common.py) and the repository's pytest tests (tests/test_csv_tools.py,
``from spoki_whatsapp_csv.tests.csv_fixtures import …``).

No Odoo: the standard library plus openpyxl (an external dependency of the
addon) and, optionally, xlwt (test-only, for real .xls files). Not a test
module: Odoo only runs the ``test_*`` modules imported by tests/__init__.py."""

import csv
import datetime
import io

import openpyxl


def csv_bytes(rows, delimiter=",", encoding="utf-8", bom=False):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


#: the header of :func:`big_export_lines`' file
BIG_EXPORT_HEADER = "Cellulare;Nome;Cognome;Email;Lingua;Indirizzo;Città;CAP;Note;Codice;BIRTHDAY_DATE\r\n"


def big_export_lines(min_bytes):
    """A large semicolon-separated export of Italian contacts (11 columns, every
    number valid and different, a BIRTHDAY_DATE in DD/MM/YYYY), as lines of text
    (CRLF included) holding at least ``min_bytes`` once encoded in UTF-8:
    ``(lines, number of data rows)``."""
    lines, size, i = [BIG_EXPORT_HEADER], len(BIG_EXPORT_HEADER.encode()), 0
    while size < min_bytes:
        line = (
            f"+39 3{40 + i % 10} {i // 10:07d};Nome{i};Cognome{i};user{i}@example.com;it;"
            f"Via Giuseppe Garibaldi {i % 300};Città {i % 500};{10000 + i % 89999};"
            f"Cliente acquisito tramite la campagna {i % 17};C{i:09d};{1 + i % 28:02d}/{1 + i % 12:02d}/1990\r\n"
        )
        lines.append(line)
        size += len(line.encode())
        i += 1
    return lines, i


def xlsx_bytes(sheets):
    """``sheets``: {name: [rows]} → XLSX bytes."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xls_bytes(rows, date_columns=(), extra_sheets=()):
    """A real .xls written with xlwt (sheet "Contatti", dates in ``date_columns``
    formatted DD/MM/YYYY, then empty ``extra_sheets``); None without xlwt."""
    try:
        import xlwt  # noqa: PLC0415 - test-only optional dependency
    except ImportError:
        return None
    book = xlwt.Workbook()
    sheet = book.add_sheet("Contatti")
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if c in date_columns and isinstance(value, datetime.date):
                sheet.write(r, c, value, date_style)
            else:
                sheet.write(r, c, value)
    for name in extra_sheets:
        book.add_sheet(name)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
