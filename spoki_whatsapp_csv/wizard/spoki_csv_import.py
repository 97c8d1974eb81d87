import base64
import logging
import time
from datetime import timedelta

import psycopg2
from markupsafe import Markup, escape
from psycopg2 import errorcodes

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.spoki_whatsapp.tools.dynamic_values import typed_text
from odoo.addons.spoki_whatsapp.tools.phone import default_region, is_e164

from ..tools.analysis import CleanRow, analyze
from ..tools.mapping import BUILTIN_TARGETS, LanguageMatcher, suggest_mapping, tag_columns
from ..tools.reader import FileReadError, open_table
from ..tools.writer import clean_header, write_clean_file, write_errors_file

_logger = logging.getLogger(__name__)

ISSUE_LINES = 500  # rows shown in the wizard; the errors file has them all
# Clean rows imported at a time: the import's memory doesn't grow with the file
IMPORT_CHUNK = 10000
PREVIEW_ROWS = 10
# Errors that must reach Odoo's request retry loop instead of our report.
CONCURRENCY_ERRORS = (
    errorcodes.SERIALIZATION_FAILURE,
    errorcodes.DEADLOCK_DETECTED,
    errorcodes.LOCK_NOT_AVAILABLE,
)


class CleanFileChanged(UserError):
    """The clean file doesn't hold what the analysis wrote: nothing is imported."""


class SpokiCsvImport(models.TransientModel):
    """Manage CSV: read a CSV/XLS/XLSX file, map its columns, analyse it
    (valid/invalid numbers, duplicates, missing values, existing vs new
    contacts), download the clean and errors files, and import the clean
    rows — all-or-nothing — into contacts, optionally into a list."""

    _name = "spoki.csv.import"
    _description = "Manage CSV"

    state = fields.Selection(
        [("upload", "Choose a file"), ("map", "Map columns"), ("analyzed", "Analyzed"), ("done", "Imported")],
        default="upload",
        required=True,
    )
    file = fields.Binary("File", attachment=False, help="CSV (any of , ; tab |), XLS or XLSX.")
    filename = fields.Char("File name")
    encoding = fields.Selection(
        [
            ("auto", "Detect"),
            ("utf-8", "UTF-8"),
            ("utf-16", "UTF-16"),
            ("cp1252", "Windows-1252"),
            ("latin-1", "Latin-1 (ISO-8859-1)"),
        ],
        default="auto",
        required=True,
        help="CSV files only: change it if accented letters look wrong in the examples.",
    )
    delimiter = fields.Selection(
        [("auto", "Detect"), ("comma", "Comma ,"), ("semicolon", "Semicolon ;"), ("tab", "Tab"), ("pipe", "Pipe |")],
        string="Separator",
        default="auto",
        required=True,
    )
    sheet_ids = fields.One2many("spoki.csv.import.sheet", "wizard_id", "Sheets")
    sheet_id = fields.Many2one(
        "spoki.csv.import.sheet", "Sheet", domain="[('wizard_id', '=', id)]", help="Workbook sheet to read."
    )
    sheet_count = fields.Integer(compute="_compute_sheet_count")
    file_format = fields.Char("Format", readonly=True)
    detected = fields.Char("Read as", readonly=True)
    header_row = fields.Integer("Column names in row", readonly=True)
    loaded_key = fields.Char(readonly=True)
    needs_reload = fields.Boolean(compute="_compute_needs_reload")
    column_ids = fields.One2many("spoki.csv.import.column", "wizard_id", "Columns")
    mapping_ids = fields.One2many("spoki.csv.import.mapping", "wizard_id", "Mapping")
    country_id = fields.Many2one(
        "res.country",
        "Country of numbers without prefix",
        default=lambda self: self._default_country(),
        help="Numbers written without the international prefix (347 123 4567) are read as numbers of this "
        "country: by default the country of your WhatsApp account's own number, else your company's.",
    )
    country_note = fields.Char("Numbers without prefix", compute="_compute_country_note")
    guessed_country_count = fields.Integer(
        "Numbers read with that country",
        readonly=True,
        help="Valid numbers written without the international prefix: their country was guessed.",
    )
    keep = fields.Selection(
        [("first", "The first row"), ("most_complete", "The most complete row")],
        "For a duplicated number, keep",
        default="first",
        required=True,
        help="When a number appears on several rows (however it is written), one row is kept: the first one "
        "in the file, or the one with the most filled values (the first of those on a tie).",
    )

    # Analysis
    analyzed_key = fields.Char(readonly=True)
    needs_analysis = fields.Boolean(compute="_compute_needs_analysis")
    row_count = fields.Integer("Rows", readonly=True)
    empty_row_count = fields.Integer("Empty rows skipped", readonly=True)
    valid_count = fields.Integer("Valid numbers", readonly=True)
    invalid_count = fields.Integer("Invalid or missing numbers", readonly=True)
    missing_phone_count = fields.Integer("Missing numbers", readonly=True)
    value_error_count = fields.Integer("Rows with a wrong value", readonly=True)
    duplicate_row_count = fields.Integer("Duplicate rows left out", readonly=True)
    duplicate_number_count = fields.Integer("Numbers on several rows", readonly=True)
    clean_count = fields.Integer("Rows in the clean file", readonly=True)
    existing_count = fields.Integer("Existing contacts (updated)", readonly=True)
    archived_count = fields.Integer("Archived contacts (reactivated)", readonly=True)
    new_count = fields.Integer("New contacts (created)", readonly=True)
    several_count = fields.Integer("Numbers held by several contacts", readonly=True)
    issue_ids = fields.One2many("spoki.csv.import.issue", "wizard_id", "Rows left out", readonly=True)
    issue_hidden_count = fields.Integer(readonly=True)
    notes_html = fields.Html("Notes", readonly=True, sanitize=True)
    preview_html = fields.Html("Preview of the clean file", readonly=True, sanitize=True)
    clean_attachment_id = fields.Many2one("ir.attachment", readonly=True)
    clean_checksum = fields.Char(readonly=True)
    errors_attachment_id = fields.Many2one("ir.attachment", readonly=True)

    # Import
    list_mode = fields.Selection(
        [("none", "No list"), ("existing", "An existing list"), ("new", "A new list")],
        "Put the contacts in",
        default="none",
        required=True,
    )
    list_id = fields.Many2one("spoki.list", "List")
    new_list_name = fields.Char("New list name")
    skip_invalid = fields.Boolean(
        "Import without the rows left out",
        default=True,
        help="Rows with errors and duplicates are never imported. Untick to refuse the import while the "
        "file has rows with errors.",
    )
    import_error = fields.Text(readonly=True)
    result_created = fields.Integer("Contacts created", readonly=True)
    result_updated = fields.Integer("Contacts updated", readonly=True)
    result_reactivated = fields.Integer("Archived contacts reactivated", readonly=True)
    result_values = fields.Integer("Dynamic values written", readonly=True)
    result_list_added = fields.Integer("Added to the list", readonly=True)
    result_list_id = fields.Many2one("spoki.list", "Imported into", readonly=True)
    result_seconds = fields.Float("Import time (s)", readonly=True, digits=(16, 1))
    result_since = fields.Datetime(readonly=True)

    # ------------------------------------------------------------
    # COMPUTE
    # ------------------------------------------------------------

    @api.depends("country_id")
    def _compute_country_note(self):
        for wizard in self:
            if wizard.country_id:
                wizard.country_note = self.env._(
                    "Numbers without prefix are read as %(country)s.", country=wizard.country_id.name
                )
            else:
                wizard.country_note = self.env._(
                    "Numbers without prefix can't be read: choose their country (Country of numbers without prefix)."
                )

    @api.depends("sheet_ids")
    def _compute_sheet_count(self):
        for wizard in self:
            wizard.sheet_count = len(wizard.sheet_ids)

    @api.depends("state", "encoding", "delimiter", "sheet_id", "loaded_key")
    def _compute_needs_reload(self):
        for wizard in self:
            wizard.needs_reload = wizard.state != "upload" and wizard.loaded_key != wizard._read_key()

    @api.depends("analyzed_key", "mapping_ids.column_id", "keep", "country_id", "loaded_key")
    def _compute_needs_analysis(self):
        for wizard in self:
            wizard.needs_analysis = wizard.analyzed_key != wizard._analysis_key()

    def _read_key(self):
        return f"{self.encoding}|{self.delimiter}|{self.sheet_id.name or ''}"

    def _analysis_key(self):
        mapping = ",".join(
            f"{line.target}:{line.column_id.sequence if line.column_id else ''}" for line in self.mapping_ids
        )
        return f"{self.loaded_key}|{mapping}|{self.keep}|{self.country_id.code or ''}"

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    def unlink(self):
        # the clean/errors files go with the wizard (transient records are vacuumed)
        self.env["ir.attachment"].sudo().search([("res_model", "=", self._name), ("res_id", "in", self.ids)]).unlink()
        return super().unlink()

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_load(self):
        """Read the file's header: sheets, columns, suggested mapping."""
        self.ensure_one()
        if not self.file:
            if self.filename:
                raise UserError(self.env._("The file is empty."))
            raise UserError(self.env._("Choose a file first."))
        table = self._read_table()
        self.sheet_ids.unlink()
        sheets = self.env["spoki.csv.import.sheet"].create(
            [{"wizard_id": self.id, "sequence": i, "name": name} for i, name in enumerate(table.sheets)]
        )
        sheet = sheets.filtered(lambda s: s.name == table.sheet)[:1]
        samples = [[] for _header in table.header]
        for _count, (_row, cells) in zip(range(20), table.rows):
            for index, value in enumerate(cells):
                if value and len(samples[index]) < 3 and value not in samples[index]:
                    samples[index].append(value)
        self.column_ids.unlink()
        columns = self.env["spoki.csv.import.column"].create(
            [
                {"wizard_id": self.id, "sequence": index, "name": name, "sample": ", ".join(samples[index])[:200]}
                for index, name in enumerate(table.header)
            ]
        )
        dynamic_fields = self._dynamic_fields()
        suggestion = suggest_mapping(table.header, dynamic_fields.mapped("name"), samples=samples)
        self.mapping_ids.unlink()
        labels = self._target_labels()
        lines = []
        for sequence, target in enumerate(BUILTIN_TARGETS):
            lines.append(
                {
                    "wizard_id": self.id,
                    "sequence": sequence,
                    "target": target,
                    "label": labels[target],
                    "required": target == "phone",
                    "column_id": columns[suggestion[target]].id if target in suggestion else False,
                }
            )
        for sequence, field in enumerate(dynamic_fields, start=len(lines)):
            lines.append(
                {
                    "wizard_id": self.id,
                    "sequence": sequence,
                    "target": field.name,
                    "label": field.name,
                    "dynamic_field_id": field.id,
                    "column_id": columns[suggestion[field.name]].id if field.name in suggestion else False,
                }
            )
        self.env["spoki.csv.import.mapping"].create(lines)
        detected = []
        if table.file_format == "csv":
            names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
            encodings = {
                "utf-8": "UTF-8",
                "utf-8-sig": self.env._("UTF-8 with BOM"),
                "utf-16": "UTF-16",
                "utf-16-le": "UTF-16 LE",
                "utf-16-be": "UTF-16 BE",
                "cp1252": "Windows-1252",
                "latin-1": "Latin-1",
            }
            detected = [
                encodings.get(table.encoding, table.encoding),
                dict(self._fields["delimiter"]._description_selection(self.env))[names[table.delimiter]],
            ]
        self.write(
            {
                "state": "map",
                "sheet_id": sheet.id,
                "file_format": table.file_format.upper(),
                "detected": " · ".join(detected),
                "header_row": table.header_row,
                "import_error": False,
            }
        )
        self.loaded_key = self._read_key()
        self._clear_analysis()
        return self._reopen()

    def action_reset(self):
        self.ensure_one()
        self._clear_analysis()
        self.sheet_ids.unlink()
        self.column_ids.unlink()
        self.mapping_ids.unlink()
        self.write({"state": "upload", "file": False, "filename": False, "loaded_key": False, "import_error": False})
        return self._reopen()

    def action_analyze(self):
        self.ensure_one()
        if self.needs_reload:
            raise UserError(self.env._("The sheet, encoding or separator changed: click “Read the file again” first."))
        analysis, table = self._analyze()
        phones = [clean.phone for clean in analysis.clean_rows]
        found, several = self.env["res.partner"]._spoki_csv_find_by_phone(phones)
        self._clear_analysis()
        labels = self._target_labels()
        issues = analysis.issues
        self.env["spoki.csv.import.issue"].create(
            [
                {
                    "wizard_id": self.id,
                    "row": issue.row,
                    "kind": issue.kind,
                    "phone": issue.phone,
                    "message": self._issue_message(issue, labels),
                    "kept_row": issue.kept_row or 0,
                }
                for issue in issues[:ISSUE_LINES]
            ]
        )
        for line in self.mapping_ids:
            line.empty_count = analysis.missing.get(line.target, 0) if line.column_id else 0
        dynamic_names = self._mapped_dynamic_fields().mapped("name")
        attachments = self.env["ir.attachment"].with_context(spoki_csv_no_index=True)
        stem = (self.filename or "contacts").rsplit(".", 1)[0]
        clean = attachments.create(
            {
                "name": f"{stem}-clean.csv",
                "raw": write_clean_file(analysis, dynamic_names),
                "mimetype": "text/csv",
                "res_model": self._name,
                "res_id": self.id,
            }
        )
        errors = attachments
        if issues:
            errors = attachments.create(
                {
                    "name": f"{stem}-errors.csv",
                    "raw": write_errors_file(
                        table.header,
                        self._read_table().rows,
                        analysis.issues_by_row(),
                        lambda issue: self._issue_message(issue, labels),
                    ),
                    "mimetype": "text/csv",
                    "res_model": self._name,
                    "res_id": self.id,
                }
            )
        existing = sum(1 for phone in phones if phone in found)
        self.write(
            {
                "state": "analyzed",
                "analyzed_key": self._analysis_key(),
                "row_count": analysis.total_rows,
                "empty_row_count": table.empty_rows,
                "valid_count": analysis.valid_numbers,
                "guessed_country_count": analysis.guessed_country,
                "invalid_count": analysis.invalid_numbers,
                "missing_phone_count": analysis.missing.get("phone", 0),
                "value_error_count": analysis.value_errors,
                "duplicate_row_count": analysis.duplicate_rows,
                "duplicate_number_count": analysis.duplicate_numbers,
                "clean_count": analysis.clean_count,
                "existing_count": existing,
                "archived_count": sum(1 for phone in phones if phone in found and not found[phone][1]),
                "new_count": analysis.clean_count - existing,
                "several_count": len(several),
                "issue_hidden_count": max(0, len(issues) - ISSUE_LINES),
                "notes_html": self._notes_html(analysis, table, len(several)),
                "preview_html": self._preview_html(analysis, dynamic_names),
                "clean_attachment_id": clean.id,
                "clean_checksum": clean.checksum,
                "errors_attachment_id": errors.id,
                "import_error": False,
            }
        )
        return self._reopen()

    def action_import(self):
        """Import the clean rows in one transaction (all-or-nothing): any
        failure rolls everything back and is reported on the wizard."""
        self.ensure_one()
        if self.state != "analyzed" or self.needs_analysis or self.needs_reload:
            raise UserError(self.env._("Analyze the file first: the mapping or the options changed."))
        if self.list_mode == "existing" and not self.list_id:
            raise UserError(self.env._("Choose the list to put the contacts in."))
        if self.list_mode == "new" and not (self.new_list_name or "").strip():
            raise UserError(self.env._("Give the new list a name."))
        started = time.monotonic()
        left_out = len(self.issue_ids) + self.issue_hidden_count
        if left_out and not self.skip_invalid:
            raise UserError(
                self.env._(
                    "%(count)s rows have errors or are duplicates: fix them (see the errors file) or tick "
                    "“Import without the rows left out”. Nothing was imported.",
                    count=left_out,
                )
            )
        if not self.clean_count:
            raise UserError(self.env._("No row can be imported: every row has an error. Nothing was imported."))
        fields_by_name = {field.name: field for field in self._mapped_dynamic_fields()}
        chunks = self._clean_row_chunks(list(fields_by_name))
        since = self.env.cr.now().replace(microsecond=0)
        self.env.flush_all()  # pending writes of the wizard itself belong outside the savepoint
        try:
            with self.env.cr.savepoint():
                target_list = self.list_id if self.list_mode == "existing" else self.env["spoki.list"]
                if self.list_mode == "new":
                    target_list = self.env["spoki.list"].create({"name": self.new_list_name.strip()})
                partners = self.env["res.partner"].with_context(tracking_disable=True)
                result = dict.fromkeys(("created", "updated", "reactivated", "values", "list_added"), 0)
                added_ids = []
                # a chunk of the clean file at a time, in the same savepoint
                for rows in chunks:
                    done = partners._spoki_csv_upsert(
                        rows,
                        fields_by_name,
                        list_id=target_list.id,
                        tz_name=self.env.context.get("tz") or self.env.user.tz,
                        fire_list_entry=False,
                    )
                    for key in result:
                        result[key] += done[key]
                    added_ids += done["list_added_ids"]
                # the list's entry rules run once for every contact added
                if target_list:
                    target_list._spoki_fire_entry(added_ids)
        except psycopg2.Error as exc:
            if exc.pgcode in CONCURRENCY_ERRORS:
                raise
            _logger.warning("Manage CSV import failed and was rolled back: %s", exc)
            return self._import_failed(str(exc.pgerror or exc))
        except CleanFileChanged:
            raise
        except UserError as exc:
            return self._import_failed(exc.args[0] if exc.args else str(exc))
        self.write(
            {
                "state": "done",
                "result_created": result["created"],
                "result_updated": result["updated"],
                "result_reactivated": result["reactivated"],
                "result_values": result["values"],
                "result_list_added": result["list_added"],
                "result_list_id": target_list.id,
                "result_seconds": time.monotonic() - started,
                "result_since": since,
                "import_error": False,
            }
        )
        _logger.info(
            "Manage CSV: %s contacts created, %s updated, %s dynamic values in %.1f s",
            result["created"],
            result["updated"],
            result["values"],
            time.monotonic() - started,
        )
        return self._reopen()

    def action_download_clean(self):
        return self._download(self.clean_attachment_id)

    def action_download_errors(self):
        return self._download(self.errors_attachment_id)

    def action_open_list(self):
        self.ensure_one()
        return self.result_list_id.action_view_contacts()

    def action_open_contacts(self):
        """The contacts this import created or updated."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("spoki_whatsapp.res_partner_action_spoki")
        action["domain"] = [
            ("write_uid", "=", self.env.uid),
            ("write_date", ">=", fields.Datetime.to_string(self.result_since)),
            ("write_date", "<", fields.Datetime.to_string(self.result_since + timedelta(seconds=1))),
        ]
        action["name"] = self.env._("Imported contacts")
        return action

    # ------------------------------------------------------------
    # HELPERS
    # ------------------------------------------------------------

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Manage CSV"),
            "context": dict(self.env.context),
        }

    def _download(self, attachment):
        self.ensure_one()
        if not attachment:
            raise UserError(self.env._("Nothing to download: analyze the file first."))
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "download",
        }

    def _import_failed(self, message):
        self.write({"import_error": self.env._("Nothing was imported: %(error)s", error=message)})
        return self._reopen()

    def _clear_analysis(self):
        self.issue_ids.unlink()
        (self.clean_attachment_id | self.errors_attachment_id).sudo().unlink()
        self.write({"analyzed_key": False, "notes_html": False, "preview_html": False})

    def _dynamic_fields(self):
        return self.env["spoki.dynamic.field"].search([("on_contacts", "=", True), ("builtin", "=", False)])

    def _mapped_dynamic_fields(self):
        return self.mapping_ids.filtered(lambda line: line.dynamic_field_id and line.column_id).dynamic_field_id

    def _target_labels(self):
        labels = {
            "phone": self.env._("Phone"),
            "first_name": self.env._("First name"),
            "last_name": self.env._("Last name"),
            "email": self.env._("Email"),
            "language": self.env._("Language"),
            "company": self.env._("Company name (when there is no first or last name)"),
        }
        return labels

    @api.model
    def _default_country(self):
        """The country of the company's WhatsApp account's own number, else
        the company's country (which is often empty or somewhere else)."""
        company = self.env.company
        account = self.env["spoki.account"].search([("company_id", "=", company.id)], order="id", limit=1)
        code = default_region(account.sudo().phone if account else None, company.country_id.code)
        return self.env["res.country"].search([("code", "=", code)], limit=1) if code else company.country_id

    def _read_table(self):
        self.ensure_one()
        data = base64.b64decode(self.file or b"")
        delimiters = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
        try:
            return open_table(
                data,
                self.filename,
                encoding=None if self.encoding == "auto" else self.encoding,
                delimiter=delimiters.get(self.delimiter),
                sheet=self.sheet_id.name or None,
            )
        except FileReadError as error:
            raise UserError(self._file_error_message(error)) from None

    def _analyze(self):
        """(Analysis, Table) of the whole file with the current mapping."""
        self.ensure_one()
        mapping = {line.target: line.column_id.sequence for line in self.mapping_ids if line.column_id}
        if "phone" not in mapping:
            raise UserError(self.env._("Choose the column that holds the phone numbers."))
        used = list(mapping.values())
        if len(used) != len(set(used)):
            raise UserError(self.env._("A file column can feed one field only: check the mapping."))
        table = self._read_table()
        parsers = {field.name: self._value_parser(field) for field in self._mapped_dynamic_fields()}
        languages = LanguageMatcher(self.env["res.lang"].get_installed())
        try:
            analysis = analyze(
                table.rows,
                mapping,
                region=self.country_id.code,
                keep=self.keep,
                parsers=parsers,
                language=languages,
            )
        except FileReadError as error:
            raise UserError(self._file_error_message(error)) from None
        return analysis, table

    def _read_clean_rows(self, dynamic_names):
        """Every row of the clean file (see :meth:`_clean_row_chunks`)."""
        return [row for rows in self._clean_row_chunks(dynamic_names) for row in rows]

    def _clean_row_chunks(self, dynamic_names, size=None):
        """The rows of the clean file written by the analysis, as lists of
        ``size`` (:data:`IMPORT_CHUNK`) rows read as the import goes: numbers
        already normalised and unique, values already checked — the import
        doesn't parse and validate the original file a second time, and holds
        one chunk at a time. The file must be the one the analysis wrote
        (same checksum, same columns: checked at once); a changed row raises
        :class:`CleanFileChanged` when it is reached."""
        attachment = self.clean_attachment_id
        if not attachment or attachment.checksum != self.clean_checksum:
            raise UserError(self.env._("The clean file is missing or was changed: analyze the file again."))
        table = open_table(attachment.raw, attachment.name)
        expected = clean_header(dynamic_names)
        if table.header != expected:
            raise UserError(self.env._("The clean file doesn't match the mapping: analyze the file again."))
        size = size or IMPORT_CHUNK

        def chunks():
            rows, seen = [], set()
            for row, cells in table.rows:
                phone = cells[0]
                if not is_e164(phone) or phone in seen:
                    raise CleanFileChanged(
                        self.env._("The clean file was changed (row %(row)s): analyze the file again.", row=row)
                    )
                seen.add(phone)
                rows.append(CleanRow(row, phone, *cells[1:5], values=dict(zip(dynamic_names, cells[5:]))))
                if len(rows) >= size:
                    yield rows
                    rows = []
            if rows:
                yield rows

        return chunks()

    def _value_parser(self, field):
        """Text → normalised text for a dynamic field of ``field``'s type
        (dates ISO, date-times 'YYYY-MM-DD HH:MM:SS' in the user's time),
        or ValueError with a translated message. Cached: dates repeat."""
        cache = {}
        kind = field.field_type
        if kind == "text":
            return None
        message = (
            self.env._("expects a date (YYYY-MM-DD or DD/MM/YYYY), got “%(value)s”")
            if kind == "date"
            else self.env._("expects a date and time (YYYY-MM-DD HH:MM), got “%(value)s”")
        )

        def parse(text):
            if text not in cache:
                try:
                    cache[text] = typed_text(kind, text)
                except ValueError:
                    raise ValueError(message % {"value": text}) from None
            return cache[text]

        return parse

    def _file_error_message(self, error):
        _ = self.env._
        params = error.params
        code = error.code
        if code == "empty":
            return _("The file is empty.")
        if code == "no_header":
            return _(
                "No row of column names found: the first row (row %(row)s) looks like data (%(value)s). "
                "Add a first row with the column names (e.g. phone, first name, last name).",
                row=params["row"],
                value=params["value"],
            )
        if code == "no_rows":
            return _("The file has column names but no rows.")
        if code == "encoding":
            return _("The file can't be read as %(encoding)s: choose another encoding.", encoding=params["encoding"])
        if code == "not_text":
            return _("This is not a CSV, XLS or XLSX file.")
        if code == "ods":
            return _("OpenDocument spreadsheets (.ods) are not supported: save the file as XLSX or CSV.")
        if code in ("bad_xlsx", "bad_xls", "bad_csv"):
            return self._broken_file_message(code, params)
        if code == "no_sheet":
            return _("The workbook has no sheet named “%(sheet)s”.", sheet=params["sheet"])
        return str(error)

    def _broken_file_message(self, code, params):
        """What went wrong, what to do about it (translated), and the file
        library's own words as a technical detail."""
        _ = self.env._
        advice = {
            "not_zip": _(
                "It is not a complete Excel workbook (renamed from another format, or cut short while "
                "downloading): export or download it again, or open it in Excel or LibreOffice and save it "
                "as XLSX or CSV."
            ),
            "truncated": _("The file was cut short: export or download it again."),
            "encrypted": _("The file is protected by a password: open it, remove the password and save it again."),
            "quote": _(
                'A quote (") is probably not closed: check the quotes near that row, or save the file again '
                "as CSV from your spreadsheet."
            ),
        }.get(
            params.get("hint"),
            _("Open it in Excel or LibreOffice and save it again as XLSX or CSV, then upload the new file."),
        )
        if code == "bad_xlsx":
            return _(
                "The Excel file (XLSX) is damaged or incomplete. %(advice)s (Technical detail: %(error)s)",
                advice=advice,
                error=params["error"],
            )
        if code == "bad_xls":
            return _(
                "The Excel 97-2003 file (XLS) is damaged or incomplete. %(advice)s (Technical detail: %(error)s)",
                advice=advice,
                error=params["error"],
            )
        return _(
            "The CSV file can't be read near row %(row)s. %(advice)s (Technical detail: %(error)s)",
            row=params["row"],
            advice=advice,
            error=params["error"],
        )

    def _phone_reason(self, reason):
        _ = self.env._
        return {
            "empty": _("no number"),
            "unparsable": _("not a phone number"),
            "no_region": _("no country prefix and no country to guess it from"),
            "too_short": _("too short"),
            "too_long": _("too long"),
            "invalid": _("not a valid number"),
        }.get(reason, reason)

    def _issue_message(self, issue, labels):
        _ = self.env._
        if issue.kind == "duplicate":
            return _("Duplicate of row %(row)s, which is kept", row=issue.kept_row)
        parts = []
        for code, target, detail in issue.reasons:
            if code == "phone_missing":
                parts.append(_("No number"))
            elif code == "phone_invalid":
                parts.append(_("Invalid number: %(reason)s", reason=self._phone_reason(detail)))
            else:
                parts.append(_("%(field)s %(error)s", field=labels.get(target, target), error=detail))
        return "; ".join(parts)

    def _notes_html(self, analysis, table, several):
        _ = self.env._
        notes = []
        tags = [table.header[i] for i in tag_columns(table.header)]
        if tags:
            notes.append(_("Tags are never imported: column %(columns)s is ignored.", columns=", ".join(tags)))
        mapped = {line.column_id.sequence for line in self.mapping_ids if line.column_id}
        ignored = [name for i, name in enumerate(table.header) if i not in mapped and name not in tags]
        if ignored:
            notes.append(_("Columns not imported: %(columns)s.", columns=", ".join(ignored)))
        if analysis.unknown_languages:
            languages = ", ".join(f"{text} ({count})" for text, count in analysis.unknown_languages.most_common(10))
            notes.append(_("Unknown or not installed languages, left empty: %(languages)s.", languages=languages))
        if table.empty_rows:
            notes.append(_("%(count)s empty rows skipped.", count=table.empty_rows))
        if several:
            notes.append(
                _(
                    "%(count)s numbers belong to several contacts: only one of them is updated (the active one, "
                    "else the oldest).",
                    count=several,
                )
            )
        if not notes:
            return False
        return Markup("<ul class='mb-0'>%s</ul>") % Markup("").join(Markup("<li>%s</li>") % note for note in notes)

    def _preview_html(self, analysis, dynamic_names):
        header = clean_header(dynamic_names)
        rows = [clean.as_list(dynamic_names) for clean in analysis.clean_rows[:PREVIEW_ROWS]]
        if not rows:
            return False
        head = Markup("").join(Markup("<th>%s</th>") % name for name in header)
        body = Markup("").join(
            Markup("<tr>%s</tr>") % Markup("").join(Markup("<td>%s</td>") % escape(value) for value in row)
            for row in rows
        )
        return Markup(
            "<table class='table table-sm table-striped o_spoki_csv_preview'><thead><tr>%s</tr></thead>"
            "<tbody>%s</tbody></table>"
        ) % (head, body)
