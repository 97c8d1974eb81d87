"""CSV and XLSX writers shared by the monthly report and the chart download. Pure Python.

Cells written from user data (account names, labels…) never become formulas
(OWASP "CSV injection"): in CSV a text starting with ``= + - @``, a tab or a
carriage return gets a leading ``'`` — the rule of the CSV tool's writer
(``spoki_whatsapp_csv/tools/writer.py``); in XLSX every text is written as a
string cell, which a spreadsheet shows as is and never evaluates (so an E.164
number stays ``+393471234567``, without a quote). Numbers and dates stay typed.
"""

import csv
import io
import re
from datetime import date, datetime

__all__ = ["csv_bytes", "xlsx_bytes", "CSV_MIMETYPE", "XLSX_MIMETYPE"]

CSV_MIMETYPE = "text/csv;charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value):
    if value is None or value is False:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_bytes(header, rows, delimiter=","):
    """UTF-8 CSV (with BOM, so spreadsheets detect the encoding)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([_csv_value(value) for value in header])
    for row in rows:
        writer.writerow([_csv_value(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def _sheet_title(title, used):
    base = _BAD_SHEET_CHARS.sub(" ", str(title)).strip()[:31] or "Sheet"
    candidate, index = base, 2
    while candidate.lower() in used:
        suffix = f" ({index})"
        candidate = base[: 31 - len(suffix)] + suffix
        index += 1
    used.add(candidate.lower())
    return candidate


def xlsx_bytes(sheets):
    """XLSX workbook from ``[(title, header, rows), …]``: bold frozen header,
    real dates/numbers in the cells, columns sized to their content."""
    from openpyxl import Workbook  # noqa: PLC0415 (external dependency, imported on use)
    from openpyxl.styles import Font  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    workbook = Workbook()
    workbook.remove(workbook.active)
    used = set()
    bold = Font(bold=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(_sheet_title(title, used))
        sheet.append(list(header))
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"
        widths = [len(str(value)) for value in header]
        for row in rows:
            values = [None if value is False else value for value in row]
            sheet.append(values)
            for index, value in enumerate(values):
                if index < len(widths):
                    widths[index] = max(widths[index], len(str(_csv_value(value))))
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text, never a formula (openpyxl reads "=…" as one)
                elif isinstance(cell.value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
                elif isinstance(cell.value, date):
                    cell.number_format = "yyyy-mm-dd"
        for index, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = min(60, width + 2)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
