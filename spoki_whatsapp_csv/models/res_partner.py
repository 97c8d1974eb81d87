import logging
from datetime import datetime

import pytz

from odoo import api, models
from odoo.tools import SQL, email_normalize, split_every

_logger = logging.getLogger(__name__)

BATCH_SIZE = 5000

# Stored computed fields of res.partner that the bulk INSERT fills itself for
# a new contact without parent, company or user (the only kind the import
# creates). Any other stored computed field (added by another addon) is left
# to the ORM, which computes it for the new records at flush time.
BULK_CREATE_COMPUTED = {
    "wa_phone",
    "wa_phone_valid",
    "wa_phone_error",
    "phone_sanitized",
    "email_normalized",
    "complete_name",
    "commercial_partner_id",
    "commercial_company_name",
    "partner_share",
    "user_id",
    "company_registry",
}
# Fields the bulk UPDATE writes on existing contacts; the ORM recomputes what
# depends on them (complete_name, email_normalized…) in batch afterwards.
BULK_UPDATE_FIELDS = ["name", "wa_first_name", "wa_last_name", "email", "lang", "active"]


class ResPartner(models.Model):
    _inherit = "res.partner"

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_spoki_csv_export(self):
        """Export the selected contacts — or every contact of the current
        filter when "select all" went beyond the web client's id limit, or
        when nothing is selected — to CSV (streamed by the controller)."""
        context = self.env.context
        ids = context.get("active_ids") if context.get("active_model") == "res.partner" else None
        if ids is None:
            ids = self.ids
        limit = int(self.env["ir.config_parameter"].sudo().get_param("web.active_ids_limit", 20000))
        domain = context.get("active_domain")
        if ids and (len(ids) < limit or domain is None):
            values = {"partner_ids_text": ",".join(str(i) for i in ids)}
        else:
            values = {"domain": repr(domain or [])}
        export = self.env["spoki.csv.export"].create(values)
        return export.action_download()

    # ------------------------------------------------------------
    # BULK IMPORT
    # ------------------------------------------------------------

    @api.model
    def _spoki_csv_find_by_phone(self, phones):
        """``{e164: (id, active, name, wa_first_name, wa_last_name, is_company)}``
        for the contacts the user can read (archived ones too), one per number:
        the active one first, then the oldest. Also returns the set of numbers
        held by more than one contact. One query per 10,000 numbers."""
        found, several = {}, set()
        partners = self.with_context(active_test=False)
        for chunk in split_every(10000, phones, list):
            query = partners._search([("wa_phone", "in", chunk)])
            self.env.cr.execute(
                SQL(
                    """SELECT id, wa_phone, active, name, wa_first_name, wa_last_name, is_company
                         FROM res_partner WHERE id IN (%s)
                     ORDER BY active DESC, id""",
                    query.subselect(),
                )
            )
            for row in self.env.cr.fetchall():
                if row[1] in found:
                    several.add(row[1])
                else:
                    found[row[1]] = (row[0],) + row[2:]
        return found, several

    @api.model
    def _spoki_csv_upsert(self, rows, fields_by_name, list_id=None, tz_name=None):
        """Create or update contacts from clean rows, by normalised number.

        ``rows``: objects with ``phone`` (E.164, valid), ``first_name``,
        ``last_name``, ``email``, ``language`` (installed code or '') and
        ``values`` ({dynamic field name: normalised text}), numbers unique.
        ``fields_by_name``: the ON dynamic fields to write. Date-times in the
        rows are in ``tz_name`` (the user's) and stored in UTC.

        Existing contacts (archived ones are reactivated) get the non-empty
        values of their row; new contacts are created; the dynamic values
        are upserted; everyone goes into ``list_id`` when given. Set-based
        SQL in batches of 5,000 — the caller runs it in a savepoint.
        """
        self.env.flush_all()
        phones = [row.phone for row in rows]
        found, several = self._spoki_csv_find_by_phone(phones)
        existing_ids = [found[phone][0] for phone in phones if phone in found]
        if existing_ids:
            self.browse(existing_ids).check_access("write")
        new_rows = [row for row in rows if row.phone not in found]
        if new_rows:
            self.check_access("create")
        reactivated = sum(1 for phone in phones if phone in found and not found[phone][1])
        update_rows = [(row, found[row.phone]) for row in rows if row.phone in found]
        created_ids = self._spoki_csv_bulk_create(new_rows)
        self._spoki_csv_bulk_update(update_rows)
        id_by_phone = {phone: info[0] for phone, info in found.items()}
        id_by_phone.update(zip((row.phone for row in new_rows), created_ids))
        partner_ids = [id_by_phone[phone] for phone in phones]
        value_count = self._spoki_csv_write_values(rows, partner_ids, fields_by_name, tz_name)
        added = 0
        if list_id:
            added = self.env["spoki.list"].browse(list_id)._spoki_csv_add_partner_ids(partner_ids)
        return {
            "partner_ids": partner_ids,
            "created": len(created_ids),
            "updated": len(update_rows),
            "reactivated": reactivated,
            "several": len(several),
            "values": value_count,
            "list_added": added,
        }

    @api.model
    def _spoki_csv_insert_defaults(self):
        """``{column: SQL value}`` of the defaults a create() would apply
        (language, time zone, active, type… and those of other addons)."""
        names = [
            name
            for name, field in self._fields.items()
            if field.store and field.column_type and not field.compute and not field.related
            and name not in ("id", "create_uid", "create_date", "write_uid", "write_date")
        ]
        defaults = self.default_get(names)
        return {
            name: self._fields[name].convert_to_column_insert(value, self, validate=False)
            for name, value in defaults.items()
            if name in names
        }

    @api.model
    def _spoki_csv_bulk_create(self, rows):
        """INSERT the new contacts (ids in the order of ``rows``)."""
        if not rows:
            return []
        cr = self.env.cr
        cr.execute(SQL("SELECT nextval('res_partner_id_seq') FROM generate_series(1, %s)", len(rows)))
        ids = [row[0] for row in cr.fetchall()]
        now, uid = cr.now(), self.env.uid
        defaults = self._spoki_csv_insert_defaults()
        default_lang = defaults.get("lang") or self.env.lang
        for name in ("name", "mobile", "wa_first_name", "wa_last_name", "email", "lang", "active"):
            defaults.pop(name, None)
        extra_columns = list(defaults)
        extra_values = [defaults[name] for name in extra_columns]
        columns = [
            "id", "name", "complete_name", "mobile", "wa_phone", "wa_phone_valid", "phone_sanitized",
            "wa_first_name", "wa_last_name", "email", "email_normalized", "lang", "active",
            "commercial_partner_id", "partner_share", "create_uid", "create_date", "write_uid", "write_date",
        ] + extra_columns
        values = []
        for new_id, row in zip(ids, rows):
            name = " ".join(part for part in (row.first_name, row.last_name) if part) or row.phone
            values.append(
                [
                    new_id, name, name, row.phone, row.phone, True, row.phone,
                    row.first_name or None, row.last_name or None, row.email or None,
                    (email_normalize(row.email, strict=False) or None) if row.email else None,
                    row.language or default_lang, True, new_id, True, uid, now, uid, now,
                ]
                + extra_values
            )
        query = "INSERT INTO res_partner ({}) VALUES %s".format(", ".join(f'"{c}"' for c in columns))
        for batch in split_every(BATCH_SIZE, values, list):
            cr.execute_values(query, batch, page_size=BATCH_SIZE)
        records = self.browse(ids)
        records.check_access("create")  # record rules, as create() does
        left_over = [
            field
            for name, field in self._fields.items()
            if field.store and field.compute and name not in BULK_CREATE_COMPUTED
        ]
        for field in left_over:
            self.env.add_to_compute(field, records)
        if left_over:
            _logger.info("Bulk contact import: computing %s with the ORM", ", ".join(f.name for f in left_over))
        self.invalidate_model()
        return ids

    @api.model
    def _spoki_csv_bulk_update(self, pairs):
        """UPDATE existing contacts with the non-empty values of their row
        (``pairs``: ``(row, (id, active, name, first, last, is_company))``):
        first/last name (and the contact's name rebuilt from them, except for
        companies), email, language; archived contacts are reactivated."""
        if not pairs:
            return
        cr = self.env.cr
        values = []
        for row, (partner_id, _active, name, first, last, is_company) in pairs:
            new_name, new_first, new_last = None, row.first_name or None, row.last_name or None
            if (new_first or new_last) and not is_company:
                if not (first or last):
                    # derived names, as _spoki_split_name: the last word is the last name
                    head, _sep, tail = (name or "").strip().rpartition(" ")
                    first, last = (head, tail) if head else (tail, "")
                # the file's value, else the current one, for both halves, and
                # the contact's name rebuilt from them (companies keep theirs)
                new_first, new_last = new_first or first or None, new_last or last or None
                new_name = " ".join(p for p in (new_first, new_last) if p) or None
            values.append((partner_id, new_name, new_first, new_last, row.email or None, row.language or None))
        query = """
            UPDATE res_partner p
               SET name = COALESCE(v.name, p.name),
                   wa_first_name = COALESCE(v.first_name, p.wa_first_name),
                   wa_last_name = COALESCE(v.last_name, p.wa_last_name),
                   email = COALESCE(v.email, p.email),
                   lang = COALESCE(v.lang, p.lang),
                   active = TRUE,
                   write_uid = %s,
                   write_date = %s
              FROM (VALUES %%s) AS v(id, name, first_name, last_name, email, lang)
             WHERE p.id = v.id
        """
        query = cr.mogrify(query, (self.env.uid, cr.now())).decode()
        for batch in split_every(BATCH_SIZE, values, list):
            cr.execute_values(query, batch, page_size=BATCH_SIZE)
        records = self.browse([pair[1][0] for pair in pairs])
        records.invalidate_recordset(BULK_UPDATE_FIELDS + ["write_uid", "write_date"])
        records.modified(BULK_UPDATE_FIELDS)
        records.flush_recordset()

    @api.model
    def _spoki_csv_write_values(self, rows, partner_ids, fields_by_name, tz_name=None):
        """Upsert the non-empty dynamic values: INSERT … ON CONFLICT
        (partner_id, field_id) DO UPDATE, in batches. Returns the count."""
        if not fields_by_name:
            return 0
        Value = self.env["spoki.dynamic.value"]
        Value.check_access("create")
        Value.check_access("write")
        tz = pytz.timezone(tz_name or "UTC")
        cr = self.env.cr
        now, uid = cr.now(), self.env.uid
        values = []
        for row, partner_id in zip(rows, partner_ids):
            for name, text in row.values.items():
                field = fields_by_name.get(name)
                if not text or field is None:
                    continue
                value_text = value_date = value_datetime = None
                if field.field_type == "date":
                    value_date = text[:10]
                elif field.field_type == "datetime":
                    local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
                    value_datetime = tz.localize(local).astimezone(pytz.utc).replace(tzinfo=None)
                else:
                    value_text = text
                values.append((partner_id, field.id, value_text, value_date, value_datetime, uid, now, uid, now))
        query = """
            INSERT INTO spoki_dynamic_value
                   (partner_id, field_id, value_text, value_date, value_datetime,
                    create_uid, create_date, write_uid, write_date)
            VALUES %s
            ON CONFLICT (partner_id, field_id) DO UPDATE
               SET value_text = EXCLUDED.value_text,
                   value_date = EXCLUDED.value_date,
                   value_datetime = EXCLUDED.value_datetime,
                   write_uid = EXCLUDED.write_uid,
                   write_date = EXCLUDED.write_date
        """
        for batch in split_every(BATCH_SIZE * 2, values, list):
            cr.execute_values(query, batch, page_size=BATCH_SIZE * 2)
        Value.invalidate_model()
        self.invalidate_model(["spoki_value_ids"])
        return len(values)
