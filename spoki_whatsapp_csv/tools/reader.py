"""Read contact files: CSV (any of , ; tab |, UTF-8 with or without BOM,
UTF-16, Windows-1252/Latin-1), XLS (xlrd) and XLSX (openpyxl, read-only
streaming) into one shape: a header and an iterator of text rows.

No Odoo import. Every cell comes out as a stripped ``str``:

* spreadsheet numbers that are whole come out as digits (``393471234567.0`` →
  ``'393471234567'``, never ``3.93E+11``); text cells keep their leading zeros;
* dates come out as ISO text (``2024-05-01``, ``2024-05-01 10:30:00``);
* a leading ``'`` written by our own writers in front of ``= + - @`` (formula
  neutralisation) is removed, so exported files read back unchanged.

Errors are :class:`FileReadError` with a stable ``code`` and ``params`` that
the Odoo side turns into a translated message.
"""

import codecs
import csv
import datetime
import io
import math
import re
import zipfile

__all__ = [
    "DELIMITERS",
    "ENCODINGS",
    "FileReadError",
    "Table",
    "cell_to_text",
    "decode_text",
    "detect_delimiter",
    "detect_encoding",
    "detect_format",
    "open_table",
]

DELIMITERS = (",", ";", "\t", "|")
# Encodings a user may force (the automatic detection picks among them).
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1")

HEADER_SCAN_ROWS = 20
SNIFF_BYTES = 64 * 1024
DECODE_CHUNK = 1024 * 1024

ERROR_MESSAGES = {
    "empty": "The file is empty.",
    "no_header": "No row of column names found: the first row (row %(row)s) looks like data "
    "(%(value)s). Add a first row with the column names (e.g. phone, first name, last name).",
    "no_rows": "The file has column names but no rows.",
    "encoding": "The file can't be read as %(encoding)s: choose another encoding.",
    "not_text": "This is not a CSV, XLS or XLSX file.",
    "ods": "OpenDocument spreadsheets (.ods) are not supported: save the file as XLSX or CSV.",
    "bad_xlsx": "The Excel file (XLSX) is damaged or incomplete: %(error)s",
    "bad_xls": "The Excel 97-2003 file (XLS) is damaged or incomplete: %(error)s",
    "bad_csv": "The CSV file can't be read near row %(row)s: %(error)s",
    "no_sheet": "The workbook has no sheet named “%(sheet)s”.",
}

# What the user should do about a file library's error (the ``hint`` param of
# the 'bad_*' errors; the raw error stays in ``error``).
HINTS = {
    "not_zip": "It is not a complete Excel workbook (renamed from another format, or cut short while "
    "downloading): export or download it again, or open it in Excel or LibreOffice and save it as XLSX or CSV.",
    "truncated": "The file was cut short: export or download it again.",
    "encrypted": "The file is protected by a password: open it, remove the password and save it again.",
    "quote": 'A quote (") is probably not closed: check the quotes near that row, or save the file again '
    "as CSV from your spreadsheet.",
    "resave": "Open it in Excel or LibreOffice and save it again as XLSX or CSV, then upload the new file.",
}

_TRUNCATED_WORDS = ("truncat", "eof", "unexpected end", "bad crc", "out of range", "no element found")


def error_hint(exc):
    """The :data:`HINTS` code for a file library's exception."""
    text = str(exc).lower()
    if isinstance(exc, zipfile.BadZipFile) or "not a zip file" in text:
        return "not_zip"
    if "encrypt" in text or "password" in text:
        return "encrypted"
    if any(word in text for word in _TRUNCATED_WORDS):
        return "truncated"
    if "field larger than field limit" in text or "unexpected end of data" in text:
        return "quote"
    return "resave"


class FileReadError(ValueError):
    """A file that can't be read, with a stable ``code`` for translation."""

    def __init__(self, code, **params):
        self.code = code
        self.params = params
        message = ERROR_MESSAGES[code] % params if params else ERROR_MESSAGES[code]
        if params.get("hint"):
            message = f"{message} {HINTS[params['hint']]}"
        super().__init__(message)

    @classmethod
    def broken(cls, code, exc, **params):
        """A 'bad_*' error for the library exception ``exc``: its text and what to do."""
        return cls(code, error=str(exc) or type(exc).__name__, hint=error_hint(exc), **params)


# ------------------------------------------------------------
# Sniffing
# ------------------------------------------------------------


def detect_format(data, filename=None):
    """'csv', 'xls' or 'xlsx' from the content (the extension only breaks
    ties): many "xls" exports are really HTML or CSV, and the reverse."""
    if not data:
        raise FileReadError("empty")
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    if data[:2] == b"PK":
        head = data[:200]
        if b"mimetypeapplication/vnd.oasis.opendocument" in head:
            raise FileReadError("ods")
        return "xlsx"
    return "csv"


def detect_encoding(data, override=None):
    """Encoding of CSV bytes: ``override`` when given (checked), else a BOM
    (UTF-8, UTF-16), else UTF-16 without BOM by its NUL bytes, else strict
    UTF-8, else Windows-1252, else Latin-1 (which accepts any byte)."""
    if override:
        codecs.lookup(override)  # LookupError for a wrong name: a programming error
        return override
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = data[:SNIFF_BYTES]
    if len(sample) >= 4:
        even_nul = sample[0::2].count(0)
        odd_nul = sample[1::2].count(0)
        half = len(sample) // 2
        if odd_nul > half * 0.3 and even_nul < half * 0.05:
            return "utf-16-le"
        if even_nul > half * 0.3 and odd_nul < half * 0.05:
            return "utf-16-be"
    if data.isascii() or _decodes(data, "utf-8"):
        return "utf-8"
    if _decodes(data, "cp1252"):
        return "cp1252"
    return "latin-1"


def _decodes(data, encoding, chunk=DECODE_CHUNK):
    """Whether ``data`` decodes strictly as ``encoding``, checked a chunk at a
    time: the file is never held a second time as text (a 50 MB file would
    be 50 to 200 MB of ``str``)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    view = memoryview(data)
    try:
        for start in range(0, len(view), chunk):
            decoder.decode(view[start : start + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def decode_text(data, encoding):
    """``data`` as text in ``encoding`` (strict), without a BOM."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise FileReadError("encoding", encoding=encoding) from None
    return text.lstrip("\ufeff")


def detect_delimiter(sample):
    """The delimiter among , ; tab | that splits the first records of
    ``sample`` into the most consistent number of fields (>1); ',' for a
    single-column file."""
    if len(sample) > SNIFF_BYTES:
        cut = sample.rfind("\n", 0, SNIFF_BYTES)
        sample = sample[: cut if cut > 0 else SNIFF_BYTES]
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        counts = []
        try:
            for record in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
                if any(cell.strip() for cell in record):
                    counts.append(len(record))
                if len(counts) >= 50:
                    break
        except csv.Error:
            continue
        if not counts:
            continue
        width = max(set(counts), key=lambda n: (counts.count(n), n))
        if width < 2:
            continue
        score = (round(counts.count(width) / len(counts), 2), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# ------------------------------------------------------------
# Cells
# ------------------------------------------------------------

_NEUTRALISED_RE = re.compile(r"^'(?=[=+\-@\t\r])")


def _format_datetime(value):
    if value.hour == value.minute == value.second == value.microsecond == 0:
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M:%S")


def cell_to_text(value):
    """A spreadsheet cell value as text (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        if value.is_integer():
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, datetime.datetime):
        return _format_datetime(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, datetime.timedelta):
        seconds = int(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return _clean_text(str(value))


def _clean_text(text):
    text = text.strip()  # also strips no-break spaces
    if text[:1] == "'":
        text = _NEUTRALISED_RE.sub("", text)
    return text


# ------------------------------------------------------------
# Raw rows per format: (row_number, [text, ...])
# ------------------------------------------------------------


def _csv_rows(data, encoding, delimiter):
    # Decoded while reading (a 50 MB file is never held twice as text).
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="strict", newline="")
    reader = csv.reader(stream, delimiter=delimiter)
    row_number = 0
    try:
        for row_number, record in enumerate(reader, start=1):
            if row_number == 1 and record and record[0].startswith("\ufeff"):
                record[0] = record[0][1:]
            if "\x00" in "".join(record[:5]):
                raise FileReadError("not_text")
            cells = [cell.strip() for cell in record]
            if "'" in "".join(cell[:1] for cell in cells):
                cells = [_clean_text(cell) for cell in cells]
            yield row_number, cells
    except UnicodeDecodeError:
        raise FileReadError("encoding", encoding=encoding) from None
    except csv.Error as exc:
        raise FileReadError.broken("bad_csv", exc, row=row_number + 1) from None


def _xlsx_sheets_and_rows(data, sheet):
    import openpyxl  # noqa: PLC0415 - optional heavy import, only for XLSX

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, TypeError) as exc:
        raise FileReadError.broken("bad_xlsx", exc) from None
    except Exception as exc:  # noqa: BLE001 - openpyxl raises XML parser errors of several kinds
        raise FileReadError.broken("bad_xlsx", exc) from None
    names = list(workbook.sheetnames)
    name = _pick_sheet(names, sheet)

    def rows():
        try:
            worksheet = workbook[name]
            worksheet.reset_dimensions()
            for row_number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
                yield row_number, [cell_to_text(value) for value in values]
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
            raise FileReadError.broken("bad_xlsx", exc) from None
        except FileReadError:
            raise
        except Exception as exc:  # noqa: BLE001 - XML errors from a truncated member
            raise FileReadError.broken("bad_xlsx", exc) from None
        finally:
            workbook.close()

    return names, name, rows()


def _xls_sheets_and_rows(data, sheet):
    import xlrd  # noqa: PLC0415 - optional import, only for XLS

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True, logfile=io.StringIO())
        names = book.sheet_names()
        name = _pick_sheet(names, sheet)
        worksheet = book.sheet_by_name(name)
    except FileReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - xlrd raises XLRDError, CompDocError, struct.error…
        raise FileReadError.broken("bad_xls", exc) from None

    def rows():
        date_type, number_type = xlrd.XL_CELL_DATE, xlrd.XL_CELL_NUMBER
        bool_type, error_type = xlrd.XL_CELL_BOOLEAN, xlrd.XL_CELL_ERROR
        for index in range(worksheet.nrows):
            cells = []
            for ctype, value in zip(worksheet.row_types(index), worksheet.row_values(index)):
                if ctype == date_type:
                    if value < 1:
                        value = xlrd.xldate_as_datetime(value, book.datemode).time()
                    else:
                        value = xlrd.xldate_as_datetime(value, book.datemode)
                    cells.append(cell_to_text(value))
                elif ctype == number_type:
                    cells.append(cell_to_text(float(value)))
                elif ctype == bool_type:
                    cells.append(cell_to_text(bool(value)))
                elif ctype == error_type:
                    cells.append(xlrd.error_text_from_code.get(value, "#ERR"))
                else:
                    cells.append(cell_to_text(value))
            yield index + 1, cells
        book.release_resources()

    return names, name, rows()


def _pick_sheet(names, sheet):
    if sheet in (None, "", False):
        return names[0] if names else None
    if isinstance(sheet, int):
        if 0 <= sheet < len(names):
            return names[sheet]
        raise FileReadError("no_sheet", sheet=str(sheet))
    if sheet not in names:
        raise FileReadError("no_sheet", sheet=sheet)
    return sheet


# ------------------------------------------------------------
# Header detection and the table
# ------------------------------------------------------------

_DATA_LIKE_RE = re.compile(
    r"^(?:\+?[\d][\d\s().\-/]{5,}|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T].*)?|[^@\s]+@[^@\s]+\.[^@\s]+)$"
)


def looks_like_data(text):
    """A value that can't be a column name: a number/phone, a date, an email."""
    return bool(_DATA_LIKE_RE.match(text.strip()))


def _filled(cells):
    return sum(1 for cell in cells if cell)


class Table:
    """A file read as a table: ``header`` (unique column names),
    ``header_row`` (1-based), ``rows`` (iterator of ``(row_number, cells)``
    with as many cells as the header, fully empty rows skipped and counted in
    ``empty_rows`` once consumed), plus how it was read (``file_format``,
    ``encoding``, ``delimiter``, ``sheets``, ``sheet``)."""

    def __init__(self, raw_rows, file_format, encoding=None, delimiter=None, sheets=(), sheet=None):
        self.file_format = file_format
        self.encoding = encoding
        self.delimiter = delimiter
        self.sheets = list(sheets)
        self.sheet = sheet
        self.empty_rows = 0
        self._raw = iter(raw_rows)
        buffered = []
        for item in self._raw:
            buffered.append(item)
            if len(buffered) >= HEADER_SCAN_ROWS:
                break
        self.header_row, self.header, rest = self._find_header(buffered)
        self._buffer = rest

    @staticmethod
    def _find_header(buffered):
        filled_rows = [(number, cells) for number, cells in buffered if _filled(cells)]
        if not filled_rows:
            raise FileReadError("empty")
        width = max(_filled(cells) for _number, cells in filled_rows)
        needed = max(1, math.ceil(width / 2))
        header_row, header_cells = next((number, cells) for number, cells in filled_rows if _filled(cells) >= needed)
        data_like = next((cell for cell in header_cells if cell and looks_like_data(cell)), None)
        if data_like is not None:
            raise FileReadError("no_header", row=header_row, value=data_like)
        rest = [(number, cells) for number, cells in buffered if number > header_row]
        data_width = max([len(cells) for _n, cells in rest if _filled(cells)] or [0])
        while header_cells and not header_cells[-1] and len(header_cells) > data_width:
            header_cells = header_cells[:-1]
        size = max(len(header_cells), data_width)
        header, seen = [], set()
        for index in range(size):
            name = header_cells[index] if index < len(header_cells) else ""
            name = " ".join(name.split()) or f"Column {index + 1}"
            base, copy = name, 2
            while name.lower() in seen:
                name, copy = f"{base} ({copy})", copy + 1
            seen.add(name.lower())
            header.append(name)
        return header_row, header, rest

    @property
    def rows(self):
        size = len(self.header)
        for source in (self._buffer, self._raw):
            for number, cells in source:
                if not _filled(cells):
                    self.empty_rows += 1
                    continue
                if len(cells) < size:
                    cells = cells + [""] * (size - len(cells))
                elif len(cells) > size:
                    cells = cells[:size]
                yield number, cells
        self._buffer = []

    def check_has_rows(self):
        """FileReadError('no_rows') when only the header is filled (checks the
        buffered rows only: cheap, call before a full pass)."""
        if not any(_filled(cells) for _n, cells in self._buffer):
            # The buffer holds up to HEADER_SCAN_ROWS rows; look further.
            for item in self._raw:
                self._buffer.append(item)
                if _filled(item[1]):
                    return
            raise FileReadError("no_rows")


def open_table(data, filename=None, encoding=None, delimiter=None, sheet=None):
    """Read ``data`` (bytes) as a :class:`Table`. ``encoding``/``delimiter``
    force those for CSV (detected otherwise); ``sheet`` (name or 0-based
    index) picks a workbook sheet (the first otherwise)."""
    file_format = detect_format(data, filename)
    if file_format == "xlsx":
        sheets, name, rows = _xlsx_sheets_and_rows(data, sheet)
        table = Table(rows, "xlsx", sheets=sheets, sheet=name)
    elif file_format == "xls":
        sheets, name, rows = _xls_sheets_and_rows(data, sheet)
        table = Table(rows, "xls", sheets=sheets, sheet=name)
    else:
        encoding = detect_encoding(data, encoding)
        head = data[: SNIFF_BYTES * 2]
        try:
            sample = head.decode(encoding)
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is fine.
            if exc.start < len(head) - 4:
                raise FileReadError("encoding", encoding=encoding) from None
            sample = head[: exc.start].decode(encoding)
        sample = sample.lstrip("\ufeff")
        if not sample.strip():
            raise FileReadError("empty")
        if "\x00" in sample:
            raise FileReadError("not_text")
        delimiter = delimiter or detect_delimiter(sample)
        table = Table(_csv_rows(data, encoding, delimiter), "csv", encoding=encoding, delimiter=delimiter)
    table.check_has_rows()
    return table
