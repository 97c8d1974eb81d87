"""CSV files we hand to users: the clean file (the platform's import format),
the errors file and the contact export.

All are UTF-8 with a BOM (Excel then shows accents right; our reader and
every CSV library skip it), comma-separated, CRLF line ends (RFC 4180).

Spreadsheet formula injection: a value starting with ``= + - @``, a tab or a
carriage return is written with a leading ``'`` so that Excel/LibreOffice
show it as text instead of evaluating it (OWASP "CSV injection").
:mod:`.reader` removes that quote when the file comes back. The one
exception is a phone column (``phone_columns``): a value that is only ``+``
and digits (E.164) is no formula and is written plain, as the platforms that
import the clean file expect it. The contact export is also written as XLSX
(:func:`write_xlsx`) with the same rules, every cell a string cell. No Odoo
import.
"""

import csv
import io
import re

from .analysis import issue_message
from .mapping import CLEAN_HEADER

__all__ = [
    "BOM",
    "CsvChunkWriter",
    "clean_header",
    "neutralize",
    "write_clean_file",
    "write_errors_file",
    "write_xlsx",
]

BOM = "\ufeff"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
E164_RE = re.compile(r"^\+\d+$")


def neutralize(value, phone=False):
    """``value`` as text, prefixed with ``'`` when a spreadsheet would read
    it as a formula. ``phone``: the cell is in a phone column, where a value
    that is only ``+`` and digits is written plain."""
    if value is None or value is False:
        return ""
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not (phone and E164_RE.match(text)):
        return "'" + text
    return text


class CsvChunkWriter:
    """Rows in, encoded CSV chunks out: ``writer.row([...])`` buffers,
    ``writer.take()`` returns the bytes written since the last call (for
    streaming responses); the BOM comes with the first chunk.
    ``phone_columns``: indexes of the columns holding phone numbers (E.164
    numbers there are written plain, see :func:`neutralize`)."""

    def __init__(self, header=None, encoding="utf-8", phone_columns=()):
        self._phones = frozenset(phone_columns)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._encoding = encoding
        self._buffer.write(BOM)
        if header is not None:
            self._writer.writerow([neutralize(value) for value in header])

    def _cells(self, values):
        # neutralize() inline for text cells (the clean file and the exports
        # write hundreds of thousands of rows): same result
        phones = self._phones
        cells = []
        for index, value in enumerate(values):
            if value.__class__ is str:
                if value.startswith(FORMULA_PREFIXES) and not (index in phones and E164_RE.match(value)):
                    value = "'" + value
                cells.append(value)
            else:
                cells.append(neutralize(value, index in phones))
        return cells

    def row(self, values):
        self._writer.writerow(self._cells(values))

    def rows(self, rows):
        self._writer.writerows(self._cells(values) for values in rows)

    def take(self):
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode(self._encoding)


def clean_header(dynamic_names=()):
    """phone, first name, last name, email, language, then the dynamic fields."""
    return list(CLEAN_HEADER.values()) + list(dynamic_names)


def write_clean_file(analysis, dynamic_names=()):
    """The clean file of ``analysis`` as bytes: deduplicated, invalid rows
    excluded, numbers in E.164, languages as codes, dates in ISO form."""
    writer = CsvChunkWriter(clean_header(dynamic_names), phone_columns=(0,))
    writer.rows(clean.as_list(dynamic_names) for clean in analysis.clean_rows)
    return writer.take()


def write_errors_file(header, rows, issues_by_row, message=None):
    """The rows of ``rows`` (``(row_number, cells)``, a second pass over the
    file) that have an issue, with the row number and the reason first and
    the original cells after, as bytes. ``message(issue)`` gives the reason
    text (English by default)."""
    message = message or issue_message
    writer = CsvChunkWriter(["row", "error"] + list(header))
    if issues_by_row:
        last = max(issues_by_row)
        for row, cells in rows:
            issue = issues_by_row.get(row)
            if issue is not None:
                writer.row([row, message(issue)] + list(cells))
            if row >= last:
                break
    return writer.take()


def write_xlsx(header, row_chunks, phone_columns=(), sheet_name="Contacts"):
    """An XLSX workbook as bytes: ``header`` (bold, frozen), then the rows of
    each list of ``row_chunks`` (an iterable, consumed once). Cells follow
    the CSV rules (:func:`neutralize`: E.164 plain in ``phone_columns``,
    other text starting with ``= + - @``, a tab or CR gets a leading ``'``)
    and are written as string cells, never formulas. Rows go to disk as they
    come (xlsxwriter's constant memory mode)."""
    import xlsxwriter  # noqa: PLC0415 - only for XLSX downloads

    phones = frozenset(phone_columns)
    output = io.BytesIO()
    workbook = xlsxwriter.Workbook(output, {"constant_memory": True, "strings_to_formulas": False})
    sheet = workbook.add_worksheet(sheet_name)
    bold = workbook.add_format({"bold": True})
    widths = [len(str(title)) for title in header]
    for col, title in enumerate(header):
        sheet.write_string(0, col, neutralize(title), bold)
    sheet.freeze_panes(1, 0)
    row_index = 0
    for rows in row_chunks:
        for values in rows:
            row_index += 1
            for col, value in enumerate(values):
                text = neutralize(value, col in phones)
                if text:
                    sheet.write_string(row_index, col, text)
                    if col < len(widths) and len(text) > widths[col]:
                        widths[col] = len(text)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(max(width, 8), 60) + 2)
    workbook.close()
    return output.getvalue()
