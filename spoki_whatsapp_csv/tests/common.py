import base64

from odoo.addons.spoki_whatsapp.tests.common import SpokiCommon

from .csv_fixtures import csv_bytes, xls_bytes, xlsx_bytes  # noqa: F401


class SpokiCsvCommon(SpokiCommon):
    """SpokiCommon plus three ON dynamic fields (date, date-time, text), an
    OFF one, and helpers to run Manage CSV as the agent."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Field = cls.env["spoki.dynamic.field"]
        # exactly these ON fields (demo data may hold some of them, or others)
        Field.search([("builtin", "=", False)]).on_contacts = False
        cls.field_birthday = cls._dynamic_field("BIRTHDAY_DATE", "date")
        cls.field_appointment = cls._dynamic_field("APPOINTMENT", "datetime")
        cls.field_link = cls._dynamic_field("LINK", "text")
        cls.field_off = cls._dynamic_field("EXTERNAL_ONLY", "text", on_contacts=False)
        cls.agent.tz = "Europe/Rome"
        # an ordinary internal user: Odoo's default user template gives "Contact Creation"
        cls.agent.groups_id += cls.env.ref("base.group_partner_manager")
        cls.env.ref("base.lang_it").active = True

    @classmethod
    def _dynamic_field(cls, name, field_type, on_contacts=True):
        Field = cls.env["spoki.dynamic.field"]
        field = Field.search([("name", "=", name), ("company_id", "=", False)], limit=1)
        values = {"field_type": field_type, "on_contacts": on_contacts}
        if field:
            field.write(values)
            return field
        return Field.create(dict(values, name=name))

    def _wizard(self, data, filename="contacts.csv", user=None, load=True, **values):
        wizard = (
            self.env["spoki.csv.import"]
            .with_user(user or self.agent)
            .create(dict({"file": base64.b64encode(data), "filename": filename}, **values))
        )
        if load:
            wizard.action_load()
        return wizard

    def _mapping(self, wizard):
        return {line.target: line.column_id.name for line in wizard.mapping_ids if line.column_id}

    def _map(self, wizard, target, column_name):
        line = wizard.mapping_ids.filtered(lambda m: m.target == target)
        column = wizard.column_ids.filtered(lambda c: c.name == column_name)
        line.column_id = column

    def _partners_by_phone(self, *phones):
        partners = self.env["res.partner"].with_context(active_test=False).search([("wa_phone", "in", list(phones))])
        return {p.wa_phone: p for p in partners}

    def _partner_count(self):
        return self.env["res.partner"].with_context(active_test=False).search_count([])

    def _attachment_text(self, attachment):
        return base64.b64decode(attachment.datas).decode("utf-8-sig")
