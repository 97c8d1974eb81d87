from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools import template_rules
from ..tools.names import split_name
from ..tools.phone import normalize_phone
from ..tools.template_render import builtin_values
from .spoki_dynamic_field import BUILTIN_NAMES

# Why a number can't be used (codes of tools.phone.normalize_phone).
PHONE_PROBLEMS = [
    ("unparsable", "Not a phone number"),
    ("no_region", "No country prefix and no country to guess it from"),
    ("too_short", "Too short"),
    ("too_long", "Too long"),
    ("invalid", "Not a valid number"),
]


class ResPartner(models.Model):
    _inherit = "res.partner"

    wa_phone = fields.Char(
        "WhatsApp number",
        compute="_compute_wa_phone",
        store=True,
        index=True,
        readonly=False,
        help="Mobile (or phone) normalised to E.164 (+393471234567); the region comes from the "
        "contact's country, else the company's. Edit mobile/phone to change it.",
    )
    wa_phone_valid = fields.Boolean("Valid WhatsApp number", compute="_compute_wa_phone", store=True)
    wa_phone_error = fields.Selection(PHONE_PROBLEMS, "Number problem", compute="_compute_wa_phone", store=True)
    wa_first_name = fields.Char("First name (WhatsApp)", help="%%NOME%%; derived from the name when empty.")
    wa_last_name = fields.Char("Last name (WhatsApp)", help="%%COGNOME%%; derived from the name when empty.")
    wa_opt_out = fields.Boolean(
        "WhatsApp opt-out",
        tracking=True,
        copy=False,
        help="The contact asked not to receive WhatsApp messages: nothing is ever sent to it.",
    )
    wa_opt_out_date = fields.Datetime("Opted out on", copy=False, readonly=True)
    spoki_list_ids = fields.Many2many(
        "spoki.list",
        "spoki_list_res_partner_rel",
        "partner_id",
        "list_id",
        string="WhatsApp lists",
    )
    spoki_value_ids = fields.One2many(
        "spoki.dynamic.value",
        "partner_id",
        string="Dynamic fields",
    )

    wa_lang = fields.Selection(
        selection="_selection_wa_lang",
        string="WhatsApp language",
        compute="_compute_wa_lang",
        store=True,
        index=True,
        help="Language the contact is addressed in: from the number's country prefix (+39 → Italian), "
        "else the contact's own language.",
    )
    spoki_contact = fields.Boolean(
        "WhatsApp contact",
        compute="_compute_spoki_contact",
        search="_search_spoki_contact",
        help="People and companies a user would message. Not WhatsApp contacts: Odoo's technical partners "
        "(OdooBot, the public user, user templates, archived users), and the internal users' and the companies' "
        "own partners unless they have a WhatsApp number.",
    )

    @api.depends("mobile", "phone", "country_id", "company_id.country_id")
    def _compute_wa_phone(self):
        default_region = self.env.company.country_id.code
        for partner in self:
            raw = partner.mobile or partner.phone
            region = partner.country_id.code or partner.company_id.country_id.code or default_region
            result = normalize_phone(raw, region)
            partner.wa_phone = result.e164 or False
            partner.wa_phone_valid = result.valid
            partner.wa_phone_error = False if result.valid or result.reason == "empty" else result.reason

    @api.model
    def _selection_wa_lang(self):
        return template_rules.language_names(self.env.lang)

    @api.depends("wa_phone", "lang")
    def _compute_wa_lang(self):
        for partner in self:
            partner.wa_lang = template_rules.recipient_language(partner.wa_phone, partner.lang) or False

    @api.depends("wa_phone")
    def _compute_spoki_contact(self):
        contacts = self.filtered_domain(self._spoki_contact_domain())
        for partner in self:
            partner.spoki_contact = partner in contacts

    def _search_spoki_contact(self, operator, value):
        if operator not in ("=", "!="):
            raise NotImplementedError(f"Unsupported search on spoki_contact: {operator}")
        domain = self._spoki_contact_domain()
        return domain if (operator == "=") == bool(value) else ["!", *domain]

    @api.model
    def _spoki_contact_domain(self):
        """The one rule of who is a WhatsApp contact (WhatsApp › Contacts, its
        "Only deleted contacts", a list's "Add a line" and "Select all
        matching"): every partner except

        * Odoo's technical partners: OdooBot, the public partner and the
          partners of archived users (public user, portal and internal user
          templates, former users), always;
        * the partners of internal users (the admin…) and the companies' own
          partners, unless they have a WhatsApp number.

        Portal users' partners are customers: they stay contacts."""
        users = self.env["res.users"].sudo().with_context(active_test=False).search([])
        technical = set(users.filtered(lambda user: not user.active).partner_id.ids)
        for xmlid in ("base.partner_root", "base.public_partner"):
            partner = self.env.ref(xmlid, raise_if_not_found=False)
            if partner:
                technical.add(partner.id)
        own = set(users.filtered(lambda user: user.active and not user.share).partner_id.ids)
        own |= set(self.env["res.company"].sudo().with_context(active_test=False).search([]).partner_id.ids)
        return [
            "&",
            ("id", "not in", sorted(technical)),
            "|",
            ("wa_phone", "!=", False),
            ("id", "not in", sorted(own - technical)),
        ]

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        partners = super().create(vals_list)
        with_lists = partners.filtered("spoki_list_ids")
        if with_lists:
            for spoki_list in with_lists.spoki_list_ids:
                spoki_list._apply_member_tags((with_lists & spoki_list.partner_ids).ids)
                spoki_list._spoki_fire_entry((with_lists & spoki_list.partner_ids).ids)
        return partners

    def write(self, vals):
        """Contacts put in a list from their form get its member tags."""
        before = {partner.id: partner.spoki_list_ids for partner in self} if "spoki_list_ids" in vals else None
        result = super().write(vals)
        if before is not None:
            added = {}
            for partner in self:
                for spoki_list in partner.spoki_list_ids - before[partner.id]:
                    added.setdefault(spoki_list, []).append(partner.id)
            for spoki_list, partner_ids in added.items():
                spoki_list._apply_member_tags(partner_ids)
                spoki_list._spoki_fire_entry(partner_ids)
        return result

    def unlink(self):
        # The WhatsApp contacts menu follows the guide: "Delete" archives, and
        # deleted contacts stay visible under "Only deleted contacts".
        if self.env.context.get("spoki_archive_on_delete"):
            self.filtered("active").action_archive()
            return True
        return super().unlink()

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_spoki_opt_in(self):
        """The only way to lift an opt-out: an explicit action by a user."""
        self.write({"wa_opt_out": False, "wa_opt_out_date": False})
        for partner in self:
            partner.message_post(body=self.env._("WhatsApp opt-out lifted by %(user)s.", user=self.env.user.name))
        return True

    def action_spoki_opt_out(self):
        self.write({"wa_opt_out": True, "wa_opt_out_date": fields.Datetime.now()})
        return True

    def action_spoki_add_to_list(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Add to WhatsApp list"),
            "res_model": "spoki.list.add.contacts",
            "view_mode": "form",
            "target": "new",
            "context": {"default_mode": "selection", "default_partner_ids": self.ids},
        }

    # ------------------------------------------------------------
    # DYNAMIC FIELDS
    # ------------------------------------------------------------

    def _spoki_split_name(self):
        """(first, last) for NOME/COGNOME: explicit fields first, else the name
        split at the first space ("Maria Grazia Rossi" → "Maria", "Grazia Rossi"
        would be wrong for double first names, so the *last* word is the last
        name: "Maria Grazia", "Rossi"). Companies have no first/last name."""
        self.ensure_one()
        first, last = self.wa_first_name, self.wa_last_name
        if first or last:
            return first or "", last or ""
        return split_name(self.name, self.is_company)

    def _spoki_builtin_values(self):
        self.ensure_one()
        first, last = self._spoki_split_name()
        return {"NOME": first, "COGNOME": last, "TELEFONO": self.wa_phone or "", "EMAIL": self.email or ""}

    def _spoki_render_data(self):
        """``{partner id: {'wa_phone', 'lang', 'tz', 'values'}}``: what a
        template needs to be rendered for these contacts, ``values`` being
        ``{NAME: typed value}`` as :meth:`_spoki_get_values` gives it. Stored
        contacts are read set-based (one query for the contacts, one for their
        dynamic values, whatever their number: a campaign renders thousands at
        a time); new records (a form's, with unsaved changes) through the ORM."""
        if any(not isinstance(partner_id, int) for partner_id in self._ids):
            return self._spoki_render_data_orm()
        return self._spoki_render_data_sql()

    def _spoki_render_data_orm(self):
        """:meth:`_spoki_render_data` read record by record through the ORM."""
        values = self._spoki_get_values()
        return {
            partner.id: {
                "wa_phone": partner.wa_phone,
                "lang": partner.lang,
                "tz": partner.tz,
                "values": values[partner],
            }
            for partner in self
        }

    def _spoki_render_data_sql(self):
        """:meth:`_spoki_render_data` in two queries, after the same access
        checks as the ORM's (the contacts readable, their values through the
        value model's record rules)."""
        if not self:
            return {}
        self.check_access("read")
        columns = ["wa_phone", "lang", "tz", "name", "is_company", "wa_first_name", "wa_last_name", "email"]
        self.flush_recordset(columns)
        cr = self.env.cr
        cr.execute(
            SQL(
                "SELECT id, %s FROM res_partner WHERE id = ANY(%s)",
                SQL(", ").join(SQL.identifier(column) for column in columns),
                list(self.ids),
            )
        )
        rows = {}
        for partner_id, wa_phone, lang, tz, name, is_company, first, last, email in cr.fetchall():
            rows[partner_id] = {  # False for NULL, as the ORM reads it
                "wa_phone": wa_phone or False,
                "lang": lang or False,
                "tz": tz or False,
                "values": builtin_values(name, is_company, first, last, wa_phone, email),
            }
        Value = self.env["spoki.dynamic.value"]
        Value.flush_model(["partner_id", "field_id", "value_text", "value_date", "value_datetime"])
        self.env["spoki.dynamic.field"].flush_model(["name", "field_type"])
        query = Value._search([("partner_id", "in", list(rows))])
        cr.execute(
            SQL(
                """SELECT v.partner_id, f.name,
                          CASE f.field_type WHEN 'text' THEN v.value_text END,
                          CASE f.field_type WHEN 'date' THEN v.value_date END,
                          CASE f.field_type WHEN 'datetime' THEN v.value_datetime END
                     FROM spoki_dynamic_value v
                     JOIN spoki_dynamic_field f ON f.id = v.field_id
                    WHERE v.id IN (%s)
                 ORDER BY v.field_id""",
                query.select(SQL.identifier("spoki_dynamic_value", "id")),
            )
        )
        for partner_id, name, text, day, moment in cr.fetchall():
            rows[partner_id]["values"][name] = text or day or moment or ""
        return {partner_id: rows[partner_id] for partner_id in self.ids if partner_id in rows}

    def _spoki_get_values(self):
        """{partner: {NAME: typed value}} with built-ins and ON fields, read in
        one query for the whole recordset."""
        result = {partner: partner._spoki_builtin_values() for partner in self}
        if not self:
            return result
        values = self.env["spoki.dynamic.value"].search_read(
            [("partner_id", "in", self.ids)],
            ["partner_id", "field_id", "value_text", "value_date", "value_datetime"],
            load=False,
        )
        fields_by_id = {f.id: f for f in self.env["spoki.dynamic.field"].browse({v["field_id"] for v in values})}
        by_id = {p.id: p for p in self}
        for row in values:
            field = fields_by_id[row["field_id"]]
            typed = row[f"value_{field.field_type}"]
            result[by_id[row["partner_id"]]][field.name] = typed or ""
        return result

    def _spoki_set_values(self, values):
        """Set ON dynamic field values by name: ``{'BIRTHDAY_DATE': '1990-05-01'}``.
        Empty values remove the stored value; a badly typed value is a clear
        ValidationError (nothing is written)."""
        if not values:
            return
        unknown = set(values) - set(BUILTIN_NAMES)
        fields_by_name = self.env["spoki.dynamic.field"]._get_by_names(unknown, on_contacts=True)
        missing = unknown - set(fields_by_name)
        if missing:
            raise UserError(
                self.env._(
                    "Unknown dynamic fields (or not associated with contacts): %(names)s",
                    names=", ".join(sorted(missing)),
                )
            )
        Value = self.env["spoki.dynamic.value"]
        parsed = {
            name: Value._vals_for(fields_by_name[name], raw) for name, raw in values.items() if name in fields_by_name
        }
        existing = {
            (v.partner_id.id, v.field_id.id): v
            for v in Value.search(
                [("partner_id", "in", self.ids), ("field_id", "in", [f.id for f in fields_by_name.values()])]
            )
        }
        to_create, to_unlink, to_write = [], Value, {}
        for partner in self:
            for name, vals in parsed.items():
                field = fields_by_name[name]
                current = existing.get((partner.id, field.id))
                empty = not any(vals.values())
                if current and empty:
                    to_unlink |= current
                elif current:
                    key = tuple(sorted(vals.items()))
                    to_write[key] = to_write.get(key, Value) | current
                elif not empty:
                    to_create.append(dict(vals, partner_id=partner.id, field_id=field.id))
        to_unlink.unlink()
        for key, records in to_write.items():
            records.write(dict(key))
        Value.create(to_create)
        builtin = {k: v for k, v in values.items() if k in BUILTIN_NAMES}
        if builtin:
            mapping = {"NOME": "wa_first_name", "COGNOME": "wa_last_name", "TELEFONO": "mobile", "EMAIL": "email"}
            self.write({mapping[k]: v for k, v in builtin.items()})
