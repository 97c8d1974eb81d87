import pytz

from odoo import fields, models
from odoo.tools import SQL, split_every
from odoo.tools.safe_eval import safe_eval

from odoo.addons.spoki_whatsapp.tools.names import split_name

from ..tools.mapping import CLEAN_HEADER
from ..tools.writer import CsvChunkWriter, write_xlsx

CHUNK_SIZE = 5000


class SpokiCsvExport(models.TransientModel):
    """One contact export request: the selection (ids) or the filter
    (domain) it covers, and the file format. The controller streams the CSV
    (or sends the XLSX, same columns and rules) from it."""

    _name = "spoki.csv.export"
    _description = "WhatsApp contacts export"

    domain = fields.Char(help="Filter of the contacts to export, when no selection is given.")
    partner_ids_text = fields.Text("Selected contacts", help="Comma-separated ids of the selected contacts.")
    file_format = fields.Selection(
        [("csv", "CSV"), ("xlsx", "Excel (XLSX)")], "File format", default="csv", required=True
    )

    def action_download(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/spoki_whatsapp_csv/export/{self.id}",
            "target": "download",
        }

    # ------------------------------------------------------------
    # CONTENT
    # ------------------------------------------------------------

    def _get_partner_ids(self):
        """Ids of the contacts to export that the user can read, by id."""
        self.ensure_one()
        Partner = self.env["res.partner"]
        if self.partner_ids_text:
            ids = [int(i) for i in self.partner_ids_text.split(",") if i.strip()]
            Partner = Partner.with_context(active_test=False)
            result = []
            for chunk in split_every(10000, ids, list):
                result.extend(Partner.search([("id", "in", chunk)], order="id").ids)
            return result
        domain = safe_eval(self.domain or "[]")
        return Partner.search(domain, order="id").ids

    def _get_header(self, dynamic_fields):
        return (
            list(CLEAN_HEADER.values()) + dynamic_fields.mapped("name") + ["tags", "lists", "valid number", "opt-out"]
        )

    def _iter_csv(self, partner_ids):
        """The CSV file as chunks of bytes: header, then the contacts
        ``CHUNK_SIZE`` at a time (two queries per chunk), so that 100,000
        contacts never sit in memory together. Values are neutralised against
        formula injection by the writer (E.164 numbers in the phone column
        are written plain)."""
        chunks = self._iter_row_chunks(partner_ids)
        writer = CsvChunkWriter(next(chunks), phone_columns=(0,))
        yield writer.take()
        for rows in chunks:
            writer.rows(rows)
            yield writer.take()

    def _xlsx_content(self, partner_ids):
        """The same export as an XLSX workbook (bytes): same columns, same
        neutralisation, string cells; rows written to disk as they are read."""
        chunks = self._iter_row_chunks(partner_ids)
        return write_xlsx(next(chunks), chunks, phone_columns=(0,))

    def _iter_row_chunks(self, partner_ids):
        """The header (a list), then lists of rows of ``CHUNK_SIZE`` contacts."""
        self.ensure_one()
        env = self.env
        cr = env.cr
        dynamic_fields = env["spoki.dynamic.field"].search([("on_contacts", "=", True), ("builtin", "=", False)])
        field_index = {field.id: i for i, field in enumerate(dynamic_fields)}
        field_types = {field.id: field.field_type for field in dynamic_fields}
        list_ids = env["spoki.list"].search([]).ids
        lang = env.lang or "en_US"
        tz = pytz.timezone(env.context.get("tz") or env.user.tz or "UTC")
        yes, no = "yes", "no"
        yield self._get_header(dynamic_fields)
        for chunk in split_every(CHUNK_SIZE, partner_ids, list):
            cr.execute(
                SQL(
                    """
                    SELECT p.id,
                           CASE WHEN p.wa_phone_valid THEN p.wa_phone
                                ELSE COALESCE(NULLIF(p.mobile, ''), NULLIF(p.phone, ''), p.wa_phone) END,
                           p.name, p.wa_first_name,
                           p.wa_last_name, p.is_company, p.email, p.lang, p.wa_phone_valid, p.wa_opt_out,
                           (SELECT string_agg(COALESCE(c.name->>%(lang)s, c.name->>'en_US'), ', '
                                              ORDER BY COALESCE(c.name->>%(lang)s, c.name->>'en_US'))
                              FROM res_partner_res_partner_category_rel r
                              JOIN res_partner_category c ON c.id = r.category_id
                             WHERE r.partner_id = p.id),
                           (SELECT string_agg(l.name, ', ' ORDER BY l.name)
                              FROM spoki_list_res_partner_rel r
                              JOIN spoki_list l ON l.id = r.list_id
                             WHERE r.partner_id = p.id AND l.id = ANY(%(lists)s))
                      FROM res_partner p
                     WHERE p.id = ANY(%(ids)s)
                  ORDER BY p.id
                    """,
                    lang=lang,
                    lists=list_ids,
                    ids=chunk,
                )
            )
            partners = cr.fetchall()
            values = {}
            if field_index:
                cr.execute(
                    SQL(
                        """SELECT partner_id, field_id, value_text, value_date, value_datetime
                             FROM spoki_dynamic_value
                            WHERE partner_id = ANY(%s) AND field_id = ANY(%s)""",
                        chunk,
                        list(field_index),
                    )
                )
                for partner_id, field_id, text, date, moment in cr.fetchall():
                    kind = field_types[field_id]
                    if kind == "date":
                        value = date.isoformat() if date else ""
                    elif kind == "datetime":
                        value = pytz.utc.localize(moment).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else ""
                    else:
                        value = text or ""
                    values.setdefault(partner_id, [""] * len(field_index))[field_index[field_id]] = value
            empty = [""] * len(field_index)
            rows = []
            for pid, phone, name, first, last, is_company, email, plang, valid, opt_out, tags, lists in partners:
                if not (first or last):
                    first, last = split_name(name, is_company)
                rows.append(
                    [phone or "", first or "", last or "", email or "", plang or ""]
                    + values.get(pid, empty)
                    + [tags or "", lists or "", yes if valid else no, yes if opt_out else no]
                )
            yield rows
