"""Plain-Python tests of spoki_whatsapp_csv/tools (reader, mapping, analysis,
writers). Every fixture file is generated here."""

import csv
import datetime
import io
import os
import time

import openpyxl
import pytest

from spoki_whatsapp_csv.tests import csv_fixtures
from spoki_whatsapp_csv.tests.csv_fixtures import csv_bytes, xlsx_bytes
from spoki_whatsapp_csv.tools.analysis import analyze, issue_message
from spoki_whatsapp_csv.tools.mapping import LanguageMatcher, normalize_header, suggest_mapping, tag_columns
from spoki_whatsapp_csv.tools.reader import (
    FileReadError,
    cell_to_text,
    detect_delimiter,
    detect_encoding,
    open_table,
)
from spoki_whatsapp_csv.tools.writer import (
    CsvChunkWriter,
    clean_header,
    neutralize,
    write_clean_file,
    write_errors_file,
)

LANGS = LanguageMatcher([("it_IT", "Italian / Italiano"), ("en_US", "English (US)"), ("es_ES", "Spanish / Español")])


def rows_of(table):
    return list(table.rows)


def xls_bytes(rows, date_columns=()):
    data = csv_fixtures.xls_bytes(rows, date_columns, extra_sheets=("Vuoto",))
    if data is None:
        pytest.skip("xlwt is needed to write a real .xls fixture")
    return data


# ------------------------------------------------------------
# Encodings and delimiters
# ------------------------------------------------------------


def test_semicolon_cp1252_with_italian_accents():
    data = csv_bytes(
        [
            ["Nome", "Cognome", "Cellulare", "Città"],
            ["Niccolò", "Società", "347 123 4567", "Forlì"],
            ["Zoë", "Perché", "+39 348 765 4321", "Cantù"],
        ],
        delimiter=";",
        encoding="cp1252",
    )
    table = open_table(data)
    assert (table.encoding, table.delimiter, table.file_format) == ("cp1252", ";", "csv")
    assert table.header == ["Nome", "Cognome", "Cellulare", "Città"]
    assert rows_of(table) == [
        (2, ["Niccolò", "Società", "347 123 4567", "Forlì"]),
        (3, ["Zoë", "Perché", "+39 348 765 4321", "Cantù"]),
    ]


def test_utf8_bom():
    data = csv_bytes([["telefono", "nome"], ["3471234567", "Perù"]], bom=True)
    table = open_table(data)
    assert table.encoding == "utf-8-sig"
    assert table.header == ["telefono", "nome"]  # no BOM glued to the first name
    assert rows_of(table) == [(2, ["3471234567", "Perù"])]


def test_utf16_with_bom_tab_separated():
    # Excel's "Unicode text" export: UTF-16 LE with BOM, tab-separated
    text = "Phone\tFirst name\tLast name\r\n+39 347 1234567\tJosé\tNúñez\r\n"
    table = open_table(text.encode("utf-16"))
    assert table.encoding == "utf-16"
    assert table.delimiter == "\t"
    assert rows_of(table) == [(2, ["+39 347 1234567", "José", "Núñez"])]


def test_utf16_without_bom_is_detected():
    data = "phone|name\r\n3471234567|Renée\r\n".encode("utf-16-le")
    assert detect_encoding(data) == "utf-16-le"
    table = open_table(data)
    assert table.delimiter == "|"
    assert rows_of(table) == [(2, ["3471234567", "Renée"])]


def test_utf8_strict_then_cp1252_then_latin1():
    assert detect_encoding("città".encode()) == "utf-8"
    assert detect_encoding("città".encode("cp1252")) == "cp1252"
    # 0x81 is undefined in cp1252: only Latin-1 reads it
    assert detect_encoding(b"name\n\x81abc\n") == "latin-1"


def test_encoding_override_and_bad_override():
    data = csv_bytes([["phone", "name"], ["3471234567", "Forlì"]], encoding="cp1252")
    table = open_table(data, encoding="latin-1")
    assert rows_of(table)[0][1][1] == "Forlì"
    with pytest.raises(FileReadError) as error:
        open_table(data, encoding="utf-8")
    assert error.value.code == "encoding"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters(delimiter):
    data = csv_bytes(
        [["phone", "name", "note"], ["3471234567", "A, B; C", "x|y"], ["3471234568", "D", ""]], delimiter=delimiter
    )
    table = open_table(data)
    assert table.delimiter == delimiter
    assert rows_of(table)[0][1] == ["3471234567", "A, B; C", "x|y"]


def test_delimiter_prefers_consistent_split():
    sample = "Nome;Importo;Telefono\nMario;3,50;347\nLuca;1,25;348\n"
    assert detect_delimiter(sample) == ";"
    assert detect_delimiter("phone\n3471234567\n") == ","


def test_quoted_fields_with_newlines():
    data = b'phone,note\r\n3471234567,"line one\nline two"\r\n3471234568,plain\r\n'
    table = open_table(data)
    assert rows_of(table) == [(2, ["3471234567", "line one\nline two"]), (3, ["3471234568", "plain"])]


# ------------------------------------------------------------
# Header detection, empty files
# ------------------------------------------------------------


def test_empty_file():
    for data in (b"", b"   \r\n\r\n", b"\xef\xbb\xbf"):
        with pytest.raises(FileReadError) as error:
            open_table(data)
        assert error.value.code == "empty"


def test_only_headers():
    with pytest.raises(FileReadError) as error:
        open_table(b"phone;first name;last name\r\n;;\r\n")
    assert error.value.code == "no_rows"
    with pytest.raises(FileReadError) as error:
        open_table(xlsx_bytes({"Sheet": [["phone", "name"]]}))
    assert error.value.code == "no_rows"


def test_no_header_is_a_clear_error():
    with pytest.raises(FileReadError) as error:
        open_table(b"3471234567,Mario,Rossi\n3471234568,Luca,Bianchi\n")
    assert error.value.code == "no_header"
    assert error.value.params["row"] == 1
    assert "3471234567" in str(error.value)


def test_title_rows_before_header_are_skipped():
    data = xlsx_bytes(
        {"Export": [["Contacts export 12/03/2024"], [], ["Phone", "Name", "Email"], [393471234567, "Mario", "m@x.it"]]}
    )
    table = open_table(data)
    assert table.header_row == 3
    assert table.header == ["Phone", "Name", "Email"]
    assert rows_of(table) == [(4, ["393471234567", "Mario", "m@x.it"])]


def test_unnamed_and_duplicate_columns():
    table = open_table(b"phone,,name,Name\n3471234567,x,a,b\n")
    assert table.header == ["phone", "Column 2", "name", "Name (2)"]


def test_short_and_long_rows_padded_and_empty_rows_skipped():
    table = open_table(b"phone,name\n3471234567\n\n,\n3471234568,b,extra\n")
    assert table.header == ["phone", "name", "Column 3"]
    assert rows_of(table) == [(2, ["3471234567", "", ""]), (5, ["3471234568", "b", "extra"])]
    assert table.empty_rows == 2


def test_not_a_spreadsheet():
    with pytest.raises(FileReadError) as error:
        open_table(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" + bytes(range(256)))
    assert error.value.code == "not_text"


# ------------------------------------------------------------
# Excel
# ------------------------------------------------------------


def test_xlsx_numeric_phones_two_sheets_and_dates():
    data = xlsx_bytes(
        {
            "Clienti": [
                ["Telefono", "Nome", "Data nascita", "Codice"],
                [393471234567, "Anna", datetime.datetime(1990, 5, 1), "00123"],
                [3471234568.0, "Bruno", datetime.datetime(1985, 12, 31, 10, 30), 12.5],
            ],
            "Fornitori": [["phone", "company"], ["+34612345678", "ACME"]],
        }
    )
    table = open_table(data)
    assert table.file_format == "xlsx"
    assert table.sheets == ["Clienti", "Fornitori"]
    assert table.sheet == "Clienti"
    assert rows_of(table) == [
        (2, ["393471234567", "Anna", "1990-05-01", "00123"]),
        (3, ["3471234568", "Bruno", "1985-12-31 10:30:00", "12.5"]),
    ]
    second = open_table(data, sheet="Fornitori")
    assert second.header == ["phone", "company"]
    assert rows_of(second) == [(2, ["+34612345678", "ACME"])]
    assert rows_of(open_table(data, sheet=1)) == rows_of(open_table(data, sheet="Fornitori"))
    with pytest.raises(FileReadError) as error:
        open_table(data, sheet="Nope")
    assert error.value.code == "no_sheet"


def test_xlsx_formula_cell():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["phone", "name", "total"])
    sheet.append(["3471234567", '=HYPERLINK("http://evil","x")', "=1+1"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    # openpyxl stores no cached value for formulas: read as empty, never as
    # a formula to evaluate
    assert rows_of(open_table(buffer.getvalue())) == [(2, ["3471234567", "", ""])]


def test_truncated_xlsx():
    data = xlsx_bytes({"Sheet": [["phone"], ["3471234567"]] * 50})
    for size in (len(data) // 2, 30, len(data) - 10):
        with pytest.raises(FileReadError) as error:
            rows_of(open_table(data[:size]))
        assert error.value.code == "bad_xlsx"


def test_ods_is_refused():
    with pytest.raises(FileReadError) as error:
        open_table(b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet")
    assert error.value.code == "ods"


def test_xls_with_date_column_and_numeric_phones():
    data = xls_bytes(
        [
            ["Cellulare", "Nome", "Compleanno", "Fisso"],
            [393471234567, "Anna", datetime.date(1990, 5, 1), "0612345678"],
            [3481234567, "Bruno", datetime.date(2001, 1, 31), 2.5],
        ],
        date_columns=(2,),
    )
    table = open_table(data)
    assert table.file_format == "xls"
    assert table.sheets == ["Contatti", "Vuoto"]
    assert rows_of(table) == [
        (2, ["393471234567", "Anna", "1990-05-01", "0612345678"]),
        (3, ["3481234567", "Bruno", "2001-01-31", "2.5"]),
    ]


def test_truncated_xls():
    data = xls_bytes([["phone"], ["3471234567"]])
    with pytest.raises(FileReadError) as error:
        rows_of(open_table(data[:600]))
    assert error.value.code == "bad_xls"


@pytest.mark.parametrize(
    "value,text",
    [
        (393471234567.0, "393471234567"),
        (393471234567, "393471234567"),
        (3.93471234567e11, "393471234567"),
        (0.1 + 0.2, "0.3"),
        (True, "TRUE"),
        (None, ""),
        (datetime.date(2024, 2, 29), "2024-02-29"),
        (datetime.datetime(2024, 2, 29, 0, 0), "2024-02-29"),
        (datetime.datetime(2024, 2, 29, 8, 5, 3), "2024-02-29 08:05:03"),
        ("  0039 347 \xa0", "0039 347"),
        ("'=1+1", "=1+1"),
        ("'+393471234567", "+393471234567"),
        ("'quoted", "'quoted"),
    ],
)
def test_cell_to_text(value, text):
    assert cell_to_text(value) == text


# ------------------------------------------------------------
# Mapping
# ------------------------------------------------------------


def test_mapping_synonyms_case_and_accents():
    headers = ["CELLULARE", "Nome", "Cognome", "E-Mail", "Lingua", "Tags", "BIRTHDAY_DATE", "Città"]
    assert suggest_mapping(headers, ["BIRTHDAY_DATE"]) == {
        "phone": 0,
        "first_name": 1,
        "last_name": 2,
        "email": 3,
        "language": 4,
        "BIRTHDAY_DATE": 6,
    }
    assert tag_columns(headers) == [5]
    english = suggest_mapping(
        ["Mobile", "First Name", "Surname", "mail", "Language", "birthday date"], ["BIRTHDAY_DATE"]
    )
    assert english == {"phone": 0, "first_name": 1, "last_name": 2, "email": 3, "language": 4, "BIRTHDAY_DATE": 5}
    # clean-file header maps onto itself
    assert suggest_mapping(clean_header(["LINK"]), ["LINK"]) == {
        "phone": 0,
        "first_name": 1,
        "last_name": 2,
        "email": 3,
        "language": 4,
        "LINK": 5,
    }


def test_mapping_contains_only_for_phone_and_email():
    mapping = suggest_mapping(["Numero di telefono", "Nome azienda", "Indirizzo E-mail aziendale", "Número"])
    assert mapping["phone"] == 0
    assert mapping["email"] == 2
    assert "first_name" not in mapping  # "Nome azienda" is not a first name
    assert normalize_header(" Número_Telefono ") == "numero telefono"


def test_language_matcher():
    assert [
        LANGS(v) for v in ("it", "IT", "it-IT", "it_it", "Italiano", "italian", "English", "en", "español", "xx", "")
    ] == [
        "it_IT",
        "it_IT",
        "it_IT",
        "it_IT",
        "it_IT",
        "it_IT",
        "en_US",
        "en_US",
        "es_ES",
        None,
        None,
    ]


# ------------------------------------------------------------
# Analysis
# ------------------------------------------------------------


def _analyze(data, keep="first", dynamic=(), parsers=None):
    table = open_table(data)
    mapping = suggest_mapping(table.header, dynamic)
    return table, analyze(table.rows, mapping, region="IT", keep=keep, parsers=parsers, language=LANGS)


DUPLICATES = csv_bytes(
    [
        ["telefono", "nome", "cognome", "email", "lingua"],
        ["+39 347 1234567", "Mario", "", "", ""],  # 2
        ["0039347 123 4567", "Mario", "Rossi", "m@rossi.it", "it"],  # 3: same number, more complete
        ["347 1234567", "", "", "", ""],  # 4: same number
        ["348 7654321", "Anna", "Bianchi", "", "english"],  # 5
        ["12", "Bad", "", "", ""],  # 6: too short
        ["", "No number", "", "", ""],  # 7: missing
        ["abc", "Text", "", "", "klingon"],  # 8: unparsable
    ],
    delimiter=";",
)


def test_duplicates_written_differently_keep_first():
    _table, result = _analyze(DUPLICATES)
    assert result.total_rows == 7
    assert result.valid_numbers == 4
    assert result.invalid_numbers == 3
    assert result.duplicate_numbers == 1
    assert result.duplicate_rows == 2
    assert [(c.row, c.phone) for c in result.clean_rows] == [(2, "+393471234567"), (5, "+393487654321")]
    assert result.duplicates == {"+393471234567": (2, [3, 4])}
    assert [(i.row, i.kind, i.reasons) for i in result.invalid_rows] == [
        (6, "invalid", [("phone_invalid", "phone", "too_short")]),
        (7, "invalid", [("phone_missing", "phone", "")]),
        (8, "invalid", [("phone_invalid", "phone", "unparsable")]),
    ]
    assert result.clean_rows[1].language == "en_US"
    assert result.missing == {"phone": 1, "first_name": 1, "last_name": 5, "email": 6, "language": 4}
    assert dict(result.unknown_languages) == {"klingon": 1}


def test_duplicates_keep_most_complete():
    _table, result = _analyze(DUPLICATES, keep="most_complete")
    kept = result.clean_rows[0]
    assert (kept.row, kept.first_name, kept.last_name, kept.email, kept.language) == (
        3,
        "Mario",
        "Rossi",
        "m@rossi.it",
        "it_IT",
    )
    assert result.duplicates == {"+393471234567": (3, [2, 4])}
    assert issue_message(result.issues_by_row()[2]) == "Duplicate of row 3 (+393471234567), which is kept"


def test_dynamic_value_parsers_make_row_invalid():
    def date_parser(text):
        try:
            return datetime.datetime.strptime(text, "%d/%m/%Y").date().isoformat()
        except ValueError:
            if len(text) == 10 and text[4] == "-":
                return text
            raise ValueError(f"expects a date, got “{text}”") from None

    data = csv_bytes(
        [["phone", "BIRTHDAY_DATE"], ["3471234567", "01/05/1990"], ["3481234567", "soon"], ["3491234567", ""]]
    )
    _table, result = _analyze(data, dynamic=["BIRTHDAY_DATE"], parsers={"BIRTHDAY_DATE": date_parser})
    assert [(c.row, c.values) for c in result.clean_rows] == [
        (2, {"BIRTHDAY_DATE": "1990-05-01"}),
        (4, {"BIRTHDAY_DATE": ""}),
    ]
    assert result.value_errors == 1
    issue = result.invalid_rows[0]
    assert issue.row == 3
    assert issue_message(issue) == "BIRTHDAY_DATE: expects a date, got “soon”"


def test_phone_must_be_mapped():
    table = open_table(b"name\nMario\n")
    with pytest.raises(ValueError):
        analyze(table.rows, {"first_name": 0})


# ------------------------------------------------------------
# Writers
# ------------------------------------------------------------


@pytest.mark.parametrize(
    "value,expected",
    [
        ("=1+1", "'=1+1"),
        ("+393471234567", "'+393471234567"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Mario", "Mario"),
        ("a=b", "a=b"),
        (None, ""),
        (12, "12"),
    ],
)
def test_neutralize(value, expected):
    assert neutralize(value) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        ("+393471234567", "+393471234567"),  # only + and digits: plain E.164
        ("+39 347 1234567", "'+39 347 1234567"),
        ("+1+1", "'+1+1"),
        ("+39347)", "'+39347)"),
        ("=1+1", "'=1+1"),
        ("-393471234567", "'-393471234567"),
        ("@393471234567", "'@393471234567"),
        ("\t+393471234567", "'\t+393471234567"),
        ("+", "'+"),
        ("3471234567", "3471234567"),
    ],
)
def test_neutralize_phone_column(value, expected):
    assert neutralize(value, phone=True) == expected


def test_phone_columns_are_plain_e164_other_columns_neutralised():
    writer = CsvChunkWriter(["phone", "name"], phone_columns=(0,))
    writer.rows([["+393471234567", "+393471234567"], ["+1+1", "=1+1"]])
    rows = list(csv.reader(io.StringIO(writer.take().decode("utf-8-sig"))))
    assert rows[1:] == [["+393471234567", "'+393471234567"], ["'+1+1", "'=1+1"]]


def test_clean_file_and_errors_file_round_trip():
    table, result = _analyze(DUPLICATES)
    clean = write_clean_file(result)
    assert clean.startswith(b"\xef\xbb\xbf")
    text = clean.decode("utf-8-sig")
    assert text.splitlines() == [
        "phone,first name,last name,email,language",
        "+393471234567,Mario,,,",
        "+393487654321,Anna,Bianchi,,en_US",
    ]
    # the clean file reads back as itself: no duplicates, no errors
    _table, again = _analyze(clean)
    assert [(c.phone, c.first_name, c.language) for c in again.clean_rows] == [
        ("+393471234567", "Mario", ""),
        ("+393487654321", "Anna", "en_US"),
    ]
    assert again.issues == []
    errors = write_errors_file(table.header, open_table(DUPLICATES).rows, result.issues_by_row())
    lines = list(csv.reader(io.StringIO(errors.decode("utf-8-sig"))))
    assert lines[0] == ["row", "error", "telefono", "nome", "cognome", "email", "lingua"]
    assert [line[:2] for line in lines[1:]] == [
        ["3", "Duplicate of row 2 (+393471234567), which is kept"],
        ["4", "Duplicate of row 2 (+393471234567), which is kept"],
        ["6", "Invalid number: Too short"],
        ["7", "No number"],
        ["8", "Invalid number: Not a phone number"],
    ]
    assert lines[1][2] == "0039347 123 4567"


def test_formula_cells_are_data_in_and_neutralised_out():
    data = csv_bytes([["phone", "first name"], ["3471234567", '=HYPERLINK("http://x";"y")'], ["3481234567", "@cmd"]])
    _table, result = _analyze(data)
    assert [c.first_name for c in result.clean_rows] == ['=HYPERLINK("http://x";"y")', "@cmd"]
    out = write_clean_file(result).decode("utf-8-sig")
    assert "'=HYPERLINK" in out and "'@cmd" in out
    # and back again unchanged
    _table, again = _analyze(out.encode())
    assert [c.first_name for c in again.clean_rows] == ['=HYPERLINK("http://x";"y")', "@cmd"]


def test_chunk_writer_streams():
    writer = CsvChunkWriter(["a", "b"])
    first = writer.take()
    writer.row(["=x", "y"])
    second = writer.take()
    assert first == "\ufeffa,b\r\n".encode()
    assert second == b"'=x,y\r\n"
    assert writer.take() == b""


# ------------------------------------------------------------
# Size
# ------------------------------------------------------------


def test_50mb_csv_analysis_speed():
    """A 50 MB export (11 columns) analysed in one pass."""
    chunks, i = csv_fixtures.big_export_lines(50 * 1024 * 1024)
    data = "".join(chunks).encode("utf-8")
    del chunks
    assert len(data) >= 50 * 1024 * 1024
    started, cpu_started = time.monotonic(), time.process_time()
    table = open_table(data)
    result = analyze(table.rows, suggest_mapping(table.header), region="IT", language=LANGS)
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu_started
    assert result.total_rows == i
    assert result.invalid_numbers == 0
    # every number is different (the 3xx prefix repeats every 10 rows, the rest doesn't)
    assert result.clean_count + result.duplicate_rows == i
    print(f"\n50 MB CSV: {i} rows analysed in {elapsed:.1f} s ({cpu:.1f} s CPU)")
    # CPU time: the wall clock depends on what else runs on the machine
    limit = float(os.environ.get("SPOKI_CSV_50MB_CPU_LIMIT", "60"))
    assert cpu < limit


def test_fast_normalizer_matches_normalize_phone():
    import random

    from spoki_whatsapp.tools.phone import normalize_phone
    from spoki_whatsapp_csv.tools.analysis import fast_normalizer

    fast = fast_normalizer()
    rng = random.Random(7)
    samples = [
        "+39 347 123 4567",
        "0039 347 1234567",
        "347 1234567",
        "393471234567",
        393471234567.0,
        "06 1234 5678",
        "+1 650 253 0000",
        "(650) 253-0000",
        "07911 123456",
        "+44 7911 123456",
        "12",
        "",
        None,
        "abc",
        "+",
        "00",
        "+39 000",
        "3471234567890123",
        "+34 612 345 678",
        "0034612345678",
        "612345678",
    ]
    samples += [
        f"{rng.choice(['+39', '0039', '', '+34', '+1', '39'])}{rng.randrange(10**6, 10**11)}" for _ in range(3000)
    ]
    for region in ("IT", "ES", "US", None, "it"):
        for raw in samples:
            assert fast(raw, region) == normalize_phone(raw, region), (raw, region)


# ------------------------------------------------------------
# Issue 14: first-use polish
# ------------------------------------------------------------


def test_cells_with_several_values_take_the_first():
    data = csv_bytes(
        [
            ["phone", "first name", "email"],
            ["+39 347 1234567 ::: +39 348 7654321", "Mario ::: Mariolino", "m@rossi.it ::: mario@work.it"],
            ["+39 349 1112222; +39 349 3334444", "Anna", "anna@example.it, anna@work.it"],
            ["+39 340 5556666, 02 1234567", "Luca", "luca@example.it;luca@work.it"],
            ["+39 333 1234567", "Single", "one@example.it"],
        ]
    )
    _table, result = _analyze(data)
    assert result.invalid_numbers == 0
    assert [(c.phone, c.first_name, c.email) for c in result.clean_rows] == [
        ("+393471234567", "Mario", "m@rossi.it"),
        ("+393491112222", "Anna", "anna@example.it"),
        ("+393405556666", "Luca", "luca@example.it"),
        ("+393331234567", "Single", "one@example.it"),
    ]


def test_first_value():
    from spoki_whatsapp_csv.tools.analysis import first_value

    assert first_value("a ::: b", "first_name") == "a"
    assert first_value("Rossi, Bianchi", "last_name") == "Rossi, Bianchi"  # a name may hold a comma
    assert first_value("1; 2", "phone") == "1"
    assert first_value(" ::: x@y.it", "email") == "x@y.it"
    assert first_value("", "phone") == ""


@pytest.mark.parametrize("no_date", ["00/00/0000", "0000-00-00", "0000-00-00 00:00:00", "__/__/____", "-", " / / "])
def test_no_date_values_are_empty_not_invalid(no_date):
    def date_parser(text):
        try:
            return datetime.datetime.strptime(text, "%d/%m/%Y").date().isoformat()
        except ValueError:
            raise ValueError(f"expects a date, got “{text}”") from None

    data = csv_bytes([["phone", "BIRTHDAY_DATE"], ["3471234567", no_date], ["3481234567", "01/05/1990"]])
    _table, result = _analyze(data, dynamic=["BIRTHDAY_DATE"], parsers={"BIRTHDAY_DATE": date_parser})
    assert result.value_errors == 0
    assert [(c.row, c.values) for c in result.clean_rows] == [
        (2, {"BIRTHDAY_DATE": ""}),
        (3, {"BIRTHDAY_DATE": "1990-05-01"}),
    ]
    assert result.missing["BIRTHDAY_DATE"] == 1


def test_mapping_looks_at_the_values():
    headers = ["Name", "E-mail 1 - Type", "E-mail 1 - Value", "Phone 1 - Type", "Phone 1 - Value"]
    samples = [["Mario"], ["* Home", "Work"], ["m@rossi.it"], ["Mobile", "Home"], ["+39 347 1234567 ::: 02 123456"]]
    assert suggest_mapping(headers, samples=samples) == {"first_name": 0, "phone": 4, "email": 2}
    # without values, the header order decides (as before)
    assert suggest_mapping(headers) == {"first_name": 0, "phone": 3, "email": 1}
    # a matching column whose values look right stays
    assert suggest_mapping(["Telefono", "Telefono note"], samples=[["347 1234567"], ["ufficio"]]) == {"phone": 0}


def test_rows_with_only_a_company_name_are_named_after_it():
    data = csv_bytes(
        [
            ["Ragione sociale", "Telefono", "Nome", "Cognome"],
            ["Rossi Impianti Srl", "347 1234567", "", ""],
            ["Bianchi SpA", "348 7654321", "Anna", ""],
        ]
    )
    table = open_table(data)
    mapping = suggest_mapping(table.header)
    assert mapping == {"company": 0, "phone": 1, "first_name": 2, "last_name": 3}
    result = analyze(table.rows, mapping, region="IT")
    assert [(c.phone, c.first_name, c.last_name) for c in result.clean_rows] == [
        ("+393471234567", "Rossi Impianti Srl", ""),
        ("+393487654321", "Anna", ""),
    ]
    assert suggest_mapping(["Company", "Phone"]) == {"company": 0, "phone": 1}


def test_library_errors_come_with_what_to_do():
    from spoki_whatsapp_csv.tools.reader import error_hint

    data = xlsx_bytes({"Sheet": [["phone"], ["3471234567"]] * 50})
    with pytest.raises(FileReadError) as error:
        rows_of(open_table(data[: len(data) // 2]))
    assert error.value.params == {"error": "File is not a zip file", "hint": "not_zip"}
    assert "export or download it again" in str(error.value)
    assert "File is not a zip file" in str(error.value)
    assert error_hint(EOFError("Unexpected EOF")) == "truncated"
    assert error_hint(ValueError("Workbook is encrypted")) == "encrypted"
    assert error_hint(csv.Error("field larger than field limit (131072)")) == "quote"
    assert error_hint(ValueError("Unsupported format, or corrupt file")) == "resave"


def test_numbers_without_prefix_counted_as_guessed():
    """Numbers without a prefix are read with the chosen country and counted;
    full numbers (with +, 00, or an international number that lost its +)
    are not guesses."""
    rows = [
        (2, ["347 555 1234"]),  # national: guessed as Italian
        (3, ["+39 347 555 1235"]),
        (4, ["0039 347 555 1236"]),
        (5, ["393475551237"]),  # international without +
        (6, ["3475551234"]),  # same guessed number again: a duplicate row, still a guess
        (7, ["12"]),  # invalid: not counted
    ]
    analysis = analyze(rows, {"phone": 0}, region="IT")
    assert analysis.guessed_country == 2
    assert analysis.valid_numbers == 5
    # read as US numbers, the Italian mobile is a valid New York number: a guess the user must see
    as_us = analyze(rows, {"phone": 0}, region="US")
    assert as_us.guessed_country == 2
    assert "+13475551234" in {clean.phone for clean in as_us.clean_rows}
    assert analyze(rows, {"phone": 0}, region=None).guessed_country == 0
