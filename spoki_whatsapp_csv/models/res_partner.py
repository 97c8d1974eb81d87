import logging
import re
import time
from datetime import datetime

import pytz

from odoo import api, models
from odoo.tools import SQL, email_normalize, split_every

from odoo.addons.spoki_whatsapp.tools.names import split_name

from ..tools.languages import RecipientLanguages

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
    "phone_sanitized",  # sms: res.partner inherits mail.thread.phone
    "email_normalized",
    "complete_name",
    "commercial_partner_id",
    "commercial_company_name",
    "partner_share",
    "user_id",
    "company_registry",
    "wa_lang",  # spoki_whatsapp: from the number's calling code (tools/languages.py)
}
# Fields the bulk UPDATE writes on existing contacts. What depends on them is
# recomputed by the ORM afterwards, except, for contacts without parent that
# are not companies, complete_name (= name), email_normalized and
# commercial_company_name (empty), which the UPDATE sets itself.
BULK_UPDATE_FIELDS = ["name", "wa_first_name", "wa_last_name", "email", "lang", "active"]
BULK_UPDATE_COMPUTED = ["complete_name", "email_normalized", "commercial_company_name"]

# A plain ASCII address: email_normalize() gives its lower case form (checked
# by the tests); anything else goes through email_normalize() itself, which
# parses with the email package and costs ~100 µs.
SIMPLE_EMAIL_RE = re.compile(r"^[A-Za-z0-9_.+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+$")


def normalized_email(email):
    """``tools.email_normalize(email, strict=False)`` or None, fast for plain addresses."""
    if not email:
        return None
    if SIMPLE_EMAIL_RE.match(email):
        return email.lower()
    return email_normalize(email, strict=False) or None


class _Timer:
    """Phase durations for the log (``Manage CSV import: find 0.4 s, …``)."""

    def __init__(self):
        self.phases, self._last = [], time.monotonic()

    def __call__(self, name):
        now = time.monotonic()
        self.phases.append(f"{name} {now - self._last:.1f} s")
        self._last = now

    def __str__(self):
        return ", ".join(self.phases)


class ResPartner(models.Model):
    _inherit = "res.partner"

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_spoki_csv_export(self):
        """Export the selected contacts — or every contact of the current
        filter when "select all" went beyond the web client's id limit, or
        when nothing is selected — to CSV (streamed by the controller)."""
        return self._spoki_export("csv")

    def action_spoki_xlsx_export(self):
        """The same export as an Excel (XLSX) file."""
        return self._spoki_export("xlsx")

    def _spoki_export(self, file_format):
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
        export = self.env["spoki.csv.export"].create(dict(values, file_format=file_format))
        return export.action_download()

    # ------------------------------------------------------------
    # BULK IMPORT
    # ------------------------------------------------------------

    @api.model
    def _spoki_csv_find_by_phone(self, phones):
        """``{e164: (id, active, name, wa_first_name, wa_last_name, is_company, simple)}``
        for the contacts the user can read (archived ones too), one per number:
        the active one first, then the oldest (``simple``: no parent, not a
        company, no company name). Also returns the set of numbers held by
        more than one contact. One query per 10,000 numbers."""
        found, several = {}, set()
        partners = self.with_context(active_test=False)
        for chunk in split_every(10000, phones, list):
            query = partners._search([("wa_phone", "in", chunk)])
            self.env.cr.execute(
                SQL(
                    """SELECT id, wa_phone, active, name, wa_first_name, wa_last_name, is_company,
                              parent_id IS NULL AND NOT COALESCE(is_company, FALSE)
                                  AND COALESCE(company_name, '') = ''
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
    def _spoki_csv_upsert(self, rows, fields_by_name, list_id=None, tz_name=None, fire_list_entry=True):
        """Create or update contacts from clean rows, by normalised number.

        ``rows``: objects with ``phone`` (E.164, valid), ``first_name``,
        ``last_name``, ``email``, ``language`` (installed code or '') and
        ``values`` ({dynamic field name: normalised text}), numbers unique.
        ``fields_by_name``: the ON dynamic fields to write. Date-times in the
        rows are in ``tz_name`` (the user's) and stored in UTC.

        Existing contacts (archived ones are reactivated) get the non-empty
        values of their row; new contacts are created; the dynamic values
        are upserted; everyone goes into ``list_id`` when given (its entry
        rules run for the contacts added, unless ``fire_list_entry`` is False:
        the caller runs them; ``list_added_ids`` in the result). Set-based
        SQL in batches of 5,000 — the caller runs it in a savepoint.
        """
        timer = _Timer()
        self.env.flush_all()
        phones = [row.phone for row in rows]
        found, several = self._spoki_csv_find_by_phone(phones)
        existing_ids = [found[phone][0] for phone in phones if phone in found]
        if existing_ids:
            self._spoki_csv_check_access(existing_ids, "write")
        new_rows = [row for row in rows if row.phone not in found]
        if new_rows:
            self.check_access("create")
        reactivated = sum(1 for phone in phones if phone in found and not found[phone][1])
        update_rows = [(row, found[row.phone]) for row in rows if row.phone in found]
        timer("find")
        created_ids = self._spoki_csv_bulk_create(new_rows)
        timer("create")
        self._spoki_csv_bulk_update(update_rows)
        timer("update")
        id_by_phone = {phone: info[0] for phone, info in found.items()}
        id_by_phone.update(zip((row.phone for row in new_rows), created_ids))
        partner_ids = [id_by_phone[phone] for phone in phones]
        value_count = self._spoki_csv_write_values(rows, partner_ids, fields_by_name, tz_name, new_ids=created_ids)
        timer("dynamic values")
        added_ids = []
        if list_id:
            spoki_list = self.env["spoki.list"].browse(list_id)
            added_ids = spoki_list._spoki_csv_add_partner_ids(partner_ids, fire=fire_list_entry)
            timer("list")
        self.env.flush_all()
        timer("flush")
        _logger.info(
            "Manage CSV import: %s created, %s updated, %s dynamic values — %s",
            len(created_ids),
            len(update_rows),
            value_count,
            timer,
        )
        return {
            "partner_ids": partner_ids,
            "created": len(created_ids),
            "updated": len(update_rows),
            "reactivated": reactivated,
            "several": len(several),
            "values": value_count,
            "list_added": len(added_ids),
            "list_added_ids": added_ids,
        }

    @api.model
    def _spoki_csv_check_access(self, ids, operation):
        """``check_access(operation)`` for many records: the record rules are
        checked in SQL (one query per 50,000 ids) rather than record by record
        in Python; a refusal is raised by ``check_access`` itself."""
        self.browse().check_access(operation)
        if self.env.su:
            return
        domain = self.env["ir.rule"]._compute_domain(self._name, operation)
        if not domain:
            return
        partners = self.sudo().with_context(active_test=False)
        for chunk in split_every(50000, ids, list):
            allowed = set(partners.search([("id", "in", chunk)] + list(domain)).ids)
            if len(allowed) != len(set(chunk)):
                self.browse([i for i in chunk if i not in allowed]).check_access(operation)

    @api.model
    def _spoki_csv_insert_defaults(self):
        """``{column: SQL value}`` of the defaults a create() would apply
        (language, time zone, active, type… and those of other addons)."""
        names = [
            name
            for name, field in self._fields.items()
            if field.store
            and field.column_type
            and not field.compute
            and not field.related
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
        """INSERT the new contacts (ids in the order of ``rows``): one
        ``INSERT … SELECT … FROM unnest(arrays)`` per 10,000 contacts."""
        if not rows:
            return []
        cr = self.env.cr
        cr.execute(SQL("SELECT nextval('res_partner_id_seq') FROM generate_series(1, %s)", len(rows)))
        ids = [row[0] for row in cr.fetchall()]
        now, uid = cr.now(), self.env.uid
        defaults = self._spoki_csv_insert_defaults()
        default_lang = defaults.get("lang") or self.env.lang
        for name in ("name", "complete_name", "mobile", "wa_first_name", "wa_last_name", "email", "lang", "active"):
            defaults.pop(name, None)
        languages = RecipientLanguages()
        extra_columns = SQL("").join(SQL(", %s", SQL.identifier(name)) for name in defaults)
        extra_values = SQL("").join(
            SQL(", %s::%s", value, SQL(self._fields[name].column_type[1])) for name, value in defaults.items()
        )
        for start in range(0, len(rows), BATCH_SIZE * 2):
            batch_ids = ids[start : start + BATCH_SIZE * 2]
            batch = rows[start : start + BATCH_SIZE * 2]
            cr.execute(
                SQL(
                    """
                    INSERT INTO res_partner
                           (id, name, complete_name, mobile, wa_phone, wa_phone_valid, phone_sanitized,
                            wa_first_name, wa_last_name, email, email_normalized, lang, wa_lang, active,
                            commercial_partner_id, partner_share, create_uid, create_date, write_uid, write_date%s)
                    SELECT u.id, u.name, u.name, u.phone, u.phone, TRUE, u.phone,
                           u.first_name, u.last_name, u.email, u.email_normalized, u.lang, u.wa_lang, TRUE,
                           u.id, TRUE, %s, %s, %s, %s%s
                      FROM unnest(%s::int4[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[],
                                  %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[])
                           AS u(id, name, phone, first_name, last_name, email, email_normalized, lang, wa_lang)
                    """,
                    extra_columns,
                    uid,
                    now,
                    uid,
                    now,
                    extra_values,
                    batch_ids,
                    [" ".join(p for p in (row.first_name, row.last_name) if p) or row.phone for row in batch],
                    [row.phone for row in batch],
                    [row.first_name or None for row in batch],
                    [row.last_name or None for row in batch],
                    [row.email or None for row in batch],
                    [normalized_email(row.email) for row in batch],
                    [row.language or default_lang for row in batch],
                    [languages(row.phone, row.language or default_lang) for row in batch],
                )
            )
        records = self.browse(ids)
        self._spoki_csv_check_access(ids, "create")  # record rules, as create() does
        # (binary fields kept as attachments — image_128… resized from
        # image_1920 — have no column and nothing to compute without an image)
        left_over = [
            field
            for name, field in self._fields.items()
            if field.store and field.compute and field.column_type and name not in BULK_CREATE_COMPUTED
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
        (``pairs``: ``(row, (id, active, name, first, last, is_company, simple))``):
        first/last name (and the contact's name rebuilt from them, except for
        companies), email, language; archived contacts are reactivated."""
        if not pairs:
            return
        cr = self.env.cr
        pairs = sorted(pairs, key=lambda pair: pair[1][0])  # by id: index pages in order
        columns = [[] for _i in range(9)]
        simple_ids, fixed_ids = [], []
        languages = RecipientLanguages()
        for row, (partner_id, _active, name, first, last, is_company, simple) in pairs:
            new_name, new_first, new_last = None, row.first_name or None, row.last_name or None
            if (new_first or new_last) and not is_company:
                if not (first or last):
                    first, last = split_name(name)  # derived names, as _spoki_split_name
                # the file's value, else the current one, for both halves, and
                # the contact's name rebuilt from them (companies keep theirs)
                new_first, new_last = new_first or first or None, new_last or last or None
                new_name = " ".join(p for p in (new_first, new_last) if p) or None
            email = row.email or None
            # the language the contact is addressed in, when its number alone
            # decides it (else the ORM recomputes it from the new language)
            fixed, wa_lang = languages.fixed(row.phone)
            if fixed:
                fixed_ids.append(partner_id)
            for column, value in zip(
                columns,
                (
                    partner_id,
                    new_name,
                    new_first,
                    new_last,
                    email,
                    normalized_email(email),
                    row.language or None,
                    simple,
                    wa_lang,
                ),
            ):
                column.append(value)
            if simple:
                simple_ids.append(partner_id)
        fixed_set = set(fixed_ids)
        fixed_flags = [partner_id in fixed_set for partner_id in columns[0]]
        size = BATCH_SIZE * 2
        for start in range(0, len(pairs), size):
            cr.execute(
                SQL(
                    """
                    UPDATE res_partner p
                       SET name = COALESCE(v.name, p.name),
                           complete_name = CASE WHEN v.simple AND v.name IS NOT NULL THEN v.name
                                                ELSE p.complete_name END,
                           commercial_company_name = CASE WHEN v.simple THEN NULL ELSE p.commercial_company_name END,
                           wa_first_name = COALESCE(v.first_name, p.wa_first_name),
                           wa_last_name = COALESCE(v.last_name, p.wa_last_name),
                           email = COALESCE(v.email, p.email),
                           email_normalized = CASE WHEN v.email IS NULL THEN p.email_normalized
                                                   ELSE v.email_normalized END,
                           lang = COALESCE(v.lang, p.lang),
                           wa_lang = CASE WHEN v.fixed THEN v.wa_lang ELSE p.wa_lang END,
                           active = TRUE,
                           write_uid = %s,
                           write_date = %s
                      FROM unnest(%s::int4[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[],
                                  %s::varchar[], %s::varchar[], %s::bool[], %s::varchar[], %s::bool[])
                           AS v(id, name, first_name, last_name, email, email_normalized, lang, simple, wa_lang, fixed)
                     WHERE p.id = v.id
                    """,
                    self.env.uid,
                    cr.now(),
                    *(column[start : start + size] for column in columns),
                    fixed_flags[start : start + size],
                )
            )
        records = self.browse(columns[0])
        records.invalidate_recordset(BULK_UPDATE_FIELDS + BULK_UPDATE_COMPUTED + ["write_uid", "write_date", "wa_lang"])
        # dependents elsewhere (child contacts' complete name…) and of other
        # addons are recomputed by the ORM; those the UPDATE set are dropped
        records.modified(BULK_UPDATE_FIELDS)
        simple = self.browse(simple_ids)
        for fname in BULK_UPDATE_COMPUTED:
            if fname in self._fields:
                self.env.remove_to_compute(self._fields[fname], simple)
        if "wa_lang" in self._fields:
            self.env.remove_to_compute(self._fields["wa_lang"], self.browse(fixed_ids))
        records.flush_recordset()

    @api.model
    def _spoki_csv_write_values(self, rows, partner_ids, fields_by_name, tz_name=None, new_ids=None):
        """Write the non-empty dynamic values: ``INSERT … SELECT … FROM
        unnest(arrays)``, with ``ON CONFLICT (partner_id, field_id) DO UPDATE``
        (only when the value differs) for contacts that existed before
        (``new_ids``: those created by this import), 30,000 values per
        statement. Returns the number of values in the file."""
        if not fields_by_name:
            return 0
        Value = self.env["spoki.dynamic.value"]
        Value.check_access("create")
        Value.check_access("write")
        tz = pytz.timezone(tz_name or "UTC")
        cr = self.env.cr
        now, uid = cr.now(), self.env.uid
        columns = [[], [], [], [], []]
        partners, fields_, texts, dates, moments = columns
        utc_of = {}  # local date-time text → UTC (appointments repeat)
        for row, partner_id in zip(rows, partner_ids):
            for name, text in row.values.items():
                field = fields_by_name.get(name)
                if not text or field is None:
                    continue
                partners.append(partner_id)
                fields_.append(field.id)
                kind = field.field_type
                texts.append(text if kind == "text" else None)
                dates.append(text[:10] if kind == "date" else None)
                if kind == "datetime":
                    moment = utc_of.get(text)
                    if moment is None:
                        local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
                        moment = utc_of[text] = tz.localize(local).astimezone(pytz.utc).replace(tzinfo=None)
                    moments.append(moment)
                else:
                    moments.append(None)
        # in (partner, field) order, so that index pages are walked in order;
        # values of contacts created by this import can't exist yet: plain
        # INSERT for them, upsert for the others
        new_ids = set(new_ids or ())
        order = sorted(range(len(partners)), key=lambda i: (partners[i] in new_ids, partners[i], fields_[i]))
        columns = [[column[i] for i in order] for column in columns]
        split = len(columns[0]) - sum(1 for partner_id in partners if partner_id in new_ids)
        size = BATCH_SIZE * 6
        batches = [(start, min(start + size, split), True) for start in range(0, split, size)]
        batches += [(start, min(start + size, len(columns[0])), False) for start in range(split, len(columns[0]), size)]
        upsert = SQL(
            """ON CONFLICT (partner_id, field_id) DO UPDATE
               SET value_text = EXCLUDED.value_text,
                           value_date = EXCLUDED.value_date,
                           value_datetime = EXCLUDED.value_datetime,
                           write_uid = EXCLUDED.write_uid,
                           write_date = EXCLUDED.write_date
                     WHERE (spoki_dynamic_value.value_text, spoki_dynamic_value.value_date,
                            spoki_dynamic_value.value_datetime)
                           IS DISTINCT FROM (EXCLUDED.value_text, EXCLUDED.value_date, EXCLUDED.value_datetime)"""
        )
        for start, end, existing in batches:
            cr.execute(
                SQL(
                    """
                    INSERT INTO spoki_dynamic_value
                           (partner_id, field_id, value_text, value_date, value_datetime,
                            create_uid, create_date, write_uid, write_date)
                    SELECT u.partner_id, u.field_id, u.value_text, u.value_date, u.value_datetime, %s, %s, %s, %s
                      FROM unnest(%s::int4[], %s::int4[], %s::varchar[], %s::date[], %s::timestamp[])
                           AS u(partner_id, field_id, value_text, value_date, value_datetime)
                    %s
                    """,
                    uid,
                    now,
                    uid,
                    now,
                    *(column[start:end] for column in columns),
                    upsert if existing else SQL(),
                )
            )
        Value.invalidate_model()
        self.invalidate_model(["spoki_value_ids"])
        return len(partners)
