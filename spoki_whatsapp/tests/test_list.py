import ast

from lxml import etree

from odoo.tests import tagged

from .common import SpokiCommon


@tagged("post_install", "-at_install")
class TestSpokiList(SpokiCommon):
    def test_empty_list_and_from_selection(self):
        empty = self.env["spoki.list"].create({"name": "Empty"})
        self.assertEqual(empty.contact_count, 0)
        wizard = self.env["spoki.list.add.contacts"].create(
            {
                "mode": "selection",
                "partner_ids": [(6, 0, (self.partner_it | self.partner_es).ids)],
                "new_list_name": "Picked",
            }
        )
        self.assertEqual(wizard.match_count, 2)
        wizard.action_apply()
        picked = self.env["spoki.list"].search([("name", "=", "Picked")])
        self.assertEqual(picked.partner_ids, self.partner_it | self.partner_es)
        self.assertEqual(picked.contact_count, 2)
        self.assertEqual(picked.valid_count, 2)

    def test_select_all_matching_over_5000(self):
        tag = self.env["res.partner.category"].create({"name": "Bulk"})
        partners = self._create_partners(5200, prefix="+39340", category_id=[(4, tag.id)])
        self.assertTrue(all(partners.mapped("wa_phone_valid")))
        spoki_list = self.env["spoki.list"].create({"name": "Bulk list", "partner_ids": [(4, self.partner_it.id)]})
        wizard = self.env["spoki.list.add.contacts"].create(
            {"list_id": spoki_list.id, "mode": "domain", "domain": f"[('category_id', 'in', [{tag.id}])]"}
        )
        self.assertEqual(wizard.match_count, 5200)
        wizard.action_apply()
        self.assertEqual(spoki_list.contact_count, 5201)
        self.assertEqual(len(spoki_list.partner_ids), 5201)
        # applying again adds nothing twice
        self.assertEqual(spoki_list._add_partners_by_domain([("category_id", "in", tag.ids)]), 0)
        # removal by filter
        removed = spoki_list._remove_partners_by_domain([("id", "in", partners[:200].ids)])
        self.assertEqual(removed, 200)
        self.assertEqual(spoki_list.contact_count, 5001)
        self.assertNotIn(partners[0], spoki_list.partner_ids)
        self.assertIn(spoki_list, partners[300].spoki_list_ids)

    def test_archived_contacts_not_counted(self):
        spoki_list = self.env["spoki.list"].create(
            {"name": "With archived", "partner_ids": [(6, 0, (self.partner_it | self.partner_es).ids)]}
        )
        self.partner_es.action_archive()
        spoki_list.invalidate_recordset()
        self.assertEqual(spoki_list.contact_count, 1)

    def test_bad_domain_is_clear_error(self):
        wizard = self.env["spoki.list.add.contacts"].create({"new_list_name": "X", "domain": "[('name', '=',"})
        with self.assertRaisesRegex(Exception, "filter is not valid"):
            wizard.action_apply()

    def test_deleted_and_technical_never_join(self):
        """ "Select all matching" adds what its count shows: no archived contact, no OdooBot/public/admin."""
        spoki_list = self.env["spoki.list"].create({"name": "Clean"})
        admin = self.env.ref("base.user_admin").partner_id
        admin.write({"mobile": False, "phone": False})
        technical = self.env.ref("base.partner_root") | self.env.ref("base.public_partner") | admin
        self.partner_es.action_archive()
        candidates = (self.partner_it | self.partner_es | technical).ids
        wizard = self.env["spoki.list.add.contacts"].create(
            {"list_id": spoki_list.id, "mode": "domain", "domain": f"[('id', 'in', {candidates})]"}
        )
        self.assertEqual(wizard.match_count, 1)
        wizard.action_apply()
        self.assertEqual(spoki_list.with_context(active_test=False).partner_ids, self.partner_it)
        self.assertEqual(spoki_list._add_partners_by_domain([("id", "in", candidates)]), 0)
        selection = self.env["spoki.list.add.contacts"].create(
            {"list_id": spoki_list.id, "mode": "selection", "partner_ids": [(6, 0, self.partner_es.ids)]}
        )
        selection.action_apply()
        self.assertNotIn(self.partner_es, spoki_list.with_context(active_test=False).partner_ids)

    def test_add_a_line_dialog_offers_whatsapp_contacts(self):
        """The list form's "Add a line" dialog: active WhatsApp contacts only, with the WhatsApp columns and filters."""
        arch = etree.fromstring(self.env["spoki.list"].get_view(view_type="form")["arch"])
        field = arch.xpath("//field[@name='partner_ids']")[0]
        self.assertEqual(field.get("domain"), "[('active', '=', True), ('spoki_contact', '=', True)]")
        self.assertIn("'list_view_ref': 'spoki_whatsapp.res_partner_view_list_spoki'", field.get("context"))
        self.assertIn("'search_view_ref': 'spoki_whatsapp.res_partner_view_search_spoki'", field.get("context"))
        self.partner_es.action_archive()
        offered = self.env["res.partner"].with_context(active_test=False).search(ast.literal_eval(field.get("domain")))
        self.assertNotIn(self.partner_es, offered)
        self.assertNotIn(self.env.ref("base.partner_root"), offered)
        self.assertNotIn(self.env.ref("base.public_partner"), offered)
        self.assertIn(self.partner_it, offered)
        dialog_list = self.env["res.partner"].get_view(self.env.ref("spoki_whatsapp.res_partner_view_list_spoki").id)
        for column in ("wa_phone", "wa_phone_valid", "category_id"):
            self.assertIn(f'name="{column}"', dialog_list["arch"])
