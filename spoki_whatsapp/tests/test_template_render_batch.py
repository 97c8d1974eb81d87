"""Set-based rendering of a template for many contacts (campaigns): the
contacts' data read in two queries gives what the ORM gives record by record,
and so does the rendering (the plain-Python renderer is compared with the
former per-record loop by tests/test_template_render.py)."""

from datetime import date, datetime
from unittest.mock import patch

from odoo.tests import tagged

from ..models.res_partner import ResPartner
from .test_template import SpokiTemplateCommon


@tagged("post_install", "-at_install")
class TestTemplateRenderBatch(SpokiTemplateCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.field_promo = cls.env["spoki.dynamic.field"].create(
            {"name": "TPL_PROMO", "field_type": "text", "company_id": cls.company_a.id}
        )
        specs = [
            {"name": "Maria Grazia Verdi", "mobile": "+39 333 100 0001", "tz": "Europe/Rome"},
            {"name": "ACME Srl", "is_company": True, "mobile": "+39 333 100 0002", "email": "info@acme.example"},
            {"name": "Cher", "mobile": "+1 650 253 0002", "lang": "en_US", "tz": "America/New_York"},
            {"name": "Juan Pérez", "mobile": "+34 622 100 003", "lang": "es_ES", "wa_first_name": "Juanito"},
            {"name": "Anna Bianchi", "mobile": "+44 7911 100004", "lang": "it_IT", "wa_last_name": "B."},
            {"name": "Hans Muster", "mobile": "+49 30 1234567", "tz": "Asia/Tokyo"},
            {"name": "Nobody Here", "mobile": "not a number"},
        ]
        cls.sample = Partner.browse([Partner.create(vals).id for vals in specs])
        values = [
            {"TPL_DATE": "2026-07-15", "TPL_WHEN": "2026-07-15 08:30:00", "TPL_PROMO": "SUMMER"},
            {"TPL_DATE": "2027-01-02", "TPL_PROMO": "  "},
            {"TPL_WHEN": "2026-12-31 23:30:00"},
            {"TPL_DATE": "2026-02-28", "TPL_WHEN": "2026-02-28 00:00:00", "TPL_PROMO": "line\nbreak"},
            {},
            {"TPL_WHEN": "2026-07-15 16:00:00", "TPL_PROMO": "X"},
            {"TPL_DATE": "2026-03-01"},
        ]
        for partner, partner_values in zip(cls.sample, values, strict=True):
            partner._spoki_set_values(partner_values)
        cls.env.flush_all()

    def test_render_data_set_based_equals_orm(self):
        self.maxDiff = None
        sql = self.sample._spoki_render_data_sql()
        orm = self.sample._spoki_render_data_orm()
        self.assertEqual(sql, orm)
        self.assertEqual(list(sql), self.sample.ids, "in the order of the contacts")
        first = sql[self.sample[0].id]
        self.assertEqual(first["values"]["TPL_DATE"], date(2026, 7, 15))
        self.assertEqual(first["values"]["TPL_WHEN"], datetime(2026, 7, 15, 8, 30))
        self.assertEqual((first["values"]["NOME"], first["values"]["COGNOME"]), ("Maria Grazia", "Verdi"))
        # values written and not flushed yet are read too
        self.sample[1].wa_first_name = "Wile"
        self.assertEqual(self.sample[1]._spoki_render_data_sql()[self.sample[1].id]["values"]["NOME"], "Wile")

    def test_render_for_partners_same_as_record_by_record(self):
        payload = {"TPL_CODE": "C-1"}
        for body_template in (self.template, self._template(body="Ciao %%NOME%% %%COGNOME%%: %%TPL_PROMO%%")):
            batch = body_template._render_for_partners(self.sample, payload)
            with patch.object(ResPartner, "_spoki_render_data", ResPartner._spoki_render_data_orm):
                per_record = {
                    partner.id: body_template._render_for_partner(partner, payload) for partner in self.sample
                }
            self.assertEqual(batch, per_record)
            self.assertTrue(any(r["missing"] for r in batch.values()))
        batch = self.template._render_for_partners(self.sample)
        self.assertEqual(batch[self.sample[0].id]["lang"], "it_IT")
        self.assertEqual(batch[self.sample[3].id]["lang"], "es_ES")
        self.assertIn("15/07/2026", batch[self.sample[0].id]["body"])

    def test_unsaved_contact_rendered_through_the_orm(self):
        partner = self.env["res.partner"].new({"name": "Luca Neri", "mobile": "+39 333 100 0099"})
        result = self._template(body="Ciao %%NOME%% %%COGNOME%%")._render_for_partner(partner)
        self.assertEqual((result["body"], result["missing"]), ("Ciao Luca Neri", []))
