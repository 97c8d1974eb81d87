from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv.expression import AND, OR

from ..tools.dynamic_values import FIELD_NAME_RE as NAME_RE
from ..tools.dynamic_values import normalise_field_name

# Built-in names: always present, mapped to res.partner fields rather than to
# stored values (see res.partner._spoki_builtin_values).
BUILTIN_NAMES = ("NOME", "COGNOME", "TELEFONO", "EMAIL")


class SpokiDynamicField(models.Model):
    """A named variable usable in templates as %%NAME%%.

    Storage of the per-contact values: a typed value table
    (``spoki.dynamic.value``: partner, field, value_text / value_date /
    value_datetime) rather than Odoo's Properties (one JSONB blob per partner) or
    ``x_`` columns on res_partner. Reasons, for 100k+ contacts:

    * bulk import and campaign rendering read/write values with plain
      set-based SQL (``INSERT … ON CONFLICT``) and one indexed read per batch,
      without rewriting a JSON document per partner or altering a hot table;
    * typed columns with composite indexes ``(field_id, value_x)`` make
      "BIRTHDAY_DATE between …" an index range scan, while Properties filters
      are JSONB expressions the planner can't index per key;
    * creating or deleting a field is a row, not an ALTER TABLE on res_partner
      (which locks the table and grows every row), and values of OFF fields never
      take space on contacts.
    """

    _name = "spoki.dynamic.field"
    _description = "WhatsApp dynamic field"
    _order = "builtin desc, name"

    name = fields.Char(
        required=True,
        help="UPPER_SNAKE name, used in templates as %%NAME%% and as the column name in CSV files.",
    )
    field_type = fields.Selection(
        [("text", "Text"), ("date", "Date"), ("datetime", "Date and time")],
        "Type",
        required=True,
        default="text",
    )
    on_contacts = fields.Boolean(
        "Associated with contacts",
        default=True,
        help="ON: each contact holds a value, editable on the contact and importable from CSV. "
        "OFF: the value comes from outside (campaign or API payload) when a message is sent.",
    )
    builtin = fields.Boolean(readonly=True, help="Built-in fields map to the contact's own data.")
    description = fields.Char(translate=True)
    company_id = fields.Many2one("res.company", index=True, help="Leave empty to share it across companies.")
    active = fields.Boolean(default=True)
    value_count = fields.Integer("Contacts with a value", compute="_compute_value_count")

    @api.constrains("name", "company_id")
    def _check_name(self):
        for field in self:
            duplicate = self.with_context(active_test=False).search_count(
                [
                    ("id", "!=", field.id),
                    ("name", "=", field.name),
                    (
                        "company_id",
                        "in",
                        [False, field.company_id.id]
                        if field.company_id
                        else [False] + self.env["res.company"].sudo().search([]).ids,
                    ),
                ]
            )
            if duplicate:
                raise ValidationError(self.env._("A dynamic field named %(name)s already exists.", name=field.name))
            if not NAME_RE.match(field.name or ""):
                raise ValidationError(
                    self.env._(
                        "The dynamic field name “%(name)s” is not valid: use capital letters, digits "
                        "and underscores, starting with a letter (e.g. BIRTHDAY_DATE, LINK).",
                        name=field.name,
                    )
                )
            if not field.builtin and field.name in BUILTIN_NAMES:
                raise ValidationError(
                    self.env._("%(name)s is a built-in dynamic field and already exists.", name=field.name)
                )

    def _compute_value_count(self):
        counts = dict(
            self.env["spoki.dynamic.value"]._read_group([("field_id", "in", self.ids)], ["field_id"], ["__count"])
        )
        Partner = self.env["res.partner"]
        for field in self:
            if field.builtin and field.name in BUILTIN_NAMES:
                field.value_count = Partner.search_count(
                    AND([Partner._spoki_contact_domain(), self._builtin_value_domain(field.name)])
                )
            else:
                field.value_count = counts.get(field, 0)

    @api.model
    def _builtin_value_domain(self, name):
        """Partners whose own data gives the built-in field ``name`` a value
        (the same rules as res.partner._spoki_builtin_values)."""
        derived = [("wa_first_name", "=", False), ("wa_last_name", "=", False)]
        domains = {
            "NOME": OR([[("wa_first_name", "!=", False)], [*derived, ("name", "!=", False)]]),
            "COGNOME": OR(
                [[("wa_last_name", "!=", False)], [*derived, ("is_company", "=", False), ("name", "like", " ")]]
            ),
            "TELEFONO": [("wa_phone", "!=", False)],
            "EMAIL": [("email", "!=", False)],
        }
        return domains[name]

    @api.model
    def _normalised_name(self, raw):
        """What a user typed as a name, in UPPER_SNAKE ("promo code" → PROMO_CODE)."""
        return normalise_field_name(raw) or (raw or "").strip().upper()

    @api.onchange("name")
    def _onchange_name_normalise(self):
        """Apply the normalised name while typing, and say so."""
        if not self.name or self.builtin:
            return None
        normalised = self._normalised_name(self.name)
        if normalised == self.name:
            return None
        typed, self.name = self.name, normalised
        if normalised == typed.strip().upper() or not NAME_RE.match(normalised):
            return None
        return {
            "warning": {
                "title": self.env._("Name normalised"),
                "message": self.env._(
                    "Dynamic field names use capital letters, digits and underscores: “%(typed)s” becomes "
                    "%(name)s. Use it in templates as %%%%%(name)s%%%%.",
                    typed=typed,
                    name=normalised,
                ),
                "type": "notification",
            }
        }

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name"):
                vals["name"] = self._normalised_name(vals["name"])
        return super().create(vals_list)

    def write(self, vals):
        if self.filtered("builtin") and set(vals) - {"description", "active"}:
            raise UserError(self.env._("Built-in dynamic fields can't be changed."))
        if vals.get("name"):
            vals["name"] = self._normalised_name(vals["name"])
        if "field_type" in vals:
            used = self.filtered(lambda f: f.field_type != vals["field_type"] and f.value_count)
            if used:
                raise UserError(
                    self.env._(
                        "The type of %(names)s can't change: contacts already hold values of it.",
                        names=", ".join(used.mapped("name")),
                    )
                )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_builtin(self):
        if self.filtered("builtin"):
            raise UserError(self.env._("Built-in dynamic fields can't be deleted."))

    @api.model
    def _known_names(self):
        """Names usable as placeholders for the current companies."""
        return set(BUILTIN_NAMES) | set(self.search([]).mapped("name"))

    @api.model
    def _get_by_names(self, names, on_contacts=None):
        domain = [("name", "in", list(names))]
        if on_contacts is not None:
            domain.append(("on_contacts", "=", on_contacts))
        return {f.name: f for f in self.search(domain)}
