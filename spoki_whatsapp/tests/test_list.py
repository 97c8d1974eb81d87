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
