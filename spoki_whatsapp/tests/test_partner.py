import ast

from odoo.tests import tagged

from .common import SpokiCommon


@tagged("post_install", "-at_install")
class TestSpokiPartner(SpokiCommon):
    def test_normalisation_italian_variants(self):
        Partner = self.env["res.partner"]
        it = self.env.ref("base.it")
        raws = ["+39 347 123 4567", "0039 347-1234567", "347 1234567", "347-123-4567", "3471234567"]
        partners = Partner.create([{"name": f"P{i}", "mobile": raw, "country_id": it.id} for i, raw in enumerate(raws)])
        self.assertEqual(set(partners.mapped("wa_phone")), {"+393471234567"})
        self.assertTrue(all(partners.mapped("wa_phone_valid")))
        # raw values stay as typed
        self.assertEqual(partners.mapped("mobile"), raws)

    def test_region_from_partner_then_company(self):
        Partner = self.env["res.partner"]
        spanish = Partner.create({"name": "ES", "mobile": "612 345 678", "country_id": self.env.ref("base.es").id})
        self.assertEqual(spanish.wa_phone, "+34612345678")
        # no country on the partner: the company's (Italy)
        no_country = Partner.create({"name": "No country", "mobile": "347 765 4321"})
        self.assertEqual(no_country.wa_phone, "+393477654321")
        foreign = Partner.create({"name": "UK", "phone": "+44 7911 123456"})
        self.assertEqual(foreign.wa_phone, "+447911123456")
        self.assertTrue(foreign.wa_phone_valid)

    def test_mobile_preferred_and_recomputed(self):
        partner = self.env["res.partner"].create(
            {
                "name": "Both",
                "phone": "06 1234 5678",
                "mobile": "333 111 2222",
                "country_id": self.env.ref("base.it").id,
            }
        )
        self.assertEqual(partner.wa_phone, "+393331112222")
        partner.mobile = False
        self.assertEqual(partner.wa_phone, "+390612345678")
        partner.country_id = self.env.ref("base.fr")
        self.assertEqual(partner.wa_phone, "+33612345678")

    def test_garbage_is_invalid(self):
        Partner = self.env["res.partner"]
        garbage = Partner.create({"name": "Garbage", "mobile": "call me maybe"})
        self.assertFalse(garbage.wa_phone)
        self.assertFalse(garbage.wa_phone_valid)
        self.assertTrue(garbage.wa_phone_error)
        self.assertFalse(self.partner_bad.wa_phone_valid)
        self.assertEqual(self.partner_bad.wa_phone_error, "too_short")
        empty = Partner.create({"name": "Empty"})
        self.assertFalse(empty.wa_phone_valid)
        self.assertFalse(empty.wa_phone_error)

    def test_builtin_values_and_name_split(self):
        values = self.partner_it._spoki_get_values()[self.partner_it]
        self.assertEqual(values["NOME"], "Mario")
        self.assertEqual(values["COGNOME"], "Rossi")
        self.assertEqual(values["TELEFONO"], "+393471234567")
        double = self.env["res.partner"].create({"name": "Maria Grazia Verdi"})
        self.assertEqual(double._spoki_split_name(), ("Maria Grazia", "Verdi"))
        single = self.env["res.partner"].create({"name": "Cher"})
        self.assertEqual(single._spoki_split_name(), ("Cher", ""))
        company = self.env["res.partner"].create({"name": "ACME Srl", "is_company": True})
        self.assertEqual(company._spoki_split_name(), ("ACME Srl", ""))
        explicit = self.env["res.partner"].create({"name": "X", "wa_first_name": "Anna", "wa_last_name": "Neri"})
        self.assertEqual(explicit._spoki_builtin_values()["COGNOME"], "Neri")

    def test_delete_archives_in_whatsapp_menu(self):
        partner = self.env["res.partner"].create({"name": "To delete", "mobile": "+393330000001"})
        partner.with_context(spoki_archive_on_delete=True).unlink()
        self.assertTrue(partner.exists())
        self.assertFalse(partner.active)
        Partner = self.env["res.partner"]
        deleted = Partner.search([("active", "=", False), ("id", "=", partner.id)])
        self.assertEqual(deleted, partner)
        self.assertFalse(Partner.search([("id", "=", partner.id)]))
        # outside the WhatsApp menu, Odoo's normal deletion applies
        other = Partner.create({"name": "Really delete"})
        other.unlink()
        self.assertFalse(other.exists())

    def test_opt_out_and_explicit_lift(self):
        self.partner_it.action_spoki_opt_out()
        self.assertTrue(self.partner_it.wa_opt_out)
        self.assertTrue(self.partner_it.wa_opt_out_date)
        self.partner_it.action_spoki_opt_in()
        self.assertFalse(self.partner_it.wa_opt_out)

    def test_search_filters(self):
        Partner = self.env["res.partner"].with_context(active_test=False)
        tag = self.env["res.partner.category"].create({"name": "VIP"})
        self.partner_it.category_id = tag
        self.partner_es.lang = "en_US"
        spoki_list = self.env["spoki.list"].create({"name": "L", "partner_ids": [(4, self.partner_es.id)]})
        archived = self.env["res.partner"].create({"name": "Gone", "mobile": "+393330000002", "active": False})
        mine = [("id", "in", (self.partner_it | self.partner_es | self.partner_bad | archived).ids)]
        view = self.env.ref("spoki_whatsapp.res_partner_view_search_spoki")
        filters = {
            f.get("name"): f.get("domain")
            for f in __import__("lxml.etree", fromlist=["etree"]).fromstring(view.arch.encode()).iter("filter")
        }
        from odoo.tools.safe_eval import safe_eval

        def run(name):
            domain = safe_eval(filters[name])
            return Partner.search(mine + domain)

        self.assertIn(self.partner_it, run("filter_valid_phone"))
        self.assertNotIn(self.partner_bad, run("filter_valid_phone"))
        self.assertEqual(run("filter_invalid_phone"), self.partner_bad)
        self.assertEqual(run("filter_deleted"), archived)
        self.assertEqual(Partner.search(mine + [("category_id", "in", tag.ids)]), self.partner_it)
        self.assertEqual(Partner.search(mine + [("spoki_list_ids", "in", spoki_list.ids)]), self.partner_es)
        self.assertIn(self.partner_es, Partner.search(mine + [("lang", "=", "en_US")]))
        groups = Partner._read_group(mine + [("active", "=", True)], ["spoki_list_ids"], ["__count"])
        self.assertIn((spoki_list, 1), groups)
        groups = Partner._read_group(mine, ["wa_phone_valid"], ["__count"])
        self.assertEqual(dict(groups)[False], 1)

    def test_views_load(self):
        for model, types in (
            ("res.partner", ["form", "list", "search"]),
            ("spoki.list", ["form", "list", "search"]),
            ("spoki.account", ["form", "list", "search"]),
            ("spoki.dynamic.field", ["form", "list", "search"]),
            ("spoki.list.add.contacts", ["form"]),
        ):
            views = self.env[model].with_user(self.manager).get_views([(False, t) for t in types])
            self.assertEqual(set(views["views"]), set(types))
        action = self.env.ref("spoki_whatsapp.res_partner_action_spoki")
        views = (
            self.env["res.partner"]
            .with_user(self.agent)
            .get_views([(v.view_id.id, v.view_mode) for v in action.view_ids] + [(action.search_view_id.id, "search")])
        )
        self.assertIn("wa_phone", views["views"]["list"]["arch"])

    def test_technical_partners_are_not_whatsapp_contacts(self):
        """WhatsApp › Contacts (and its "Only deleted contacts") never show Odoo's
        technical partners; the admin's and the company's own partners only with a number."""
        Partner = self.env["res.partner"].with_context(active_test=False)
        action = self.env.ref("spoki_whatsapp.res_partner_action_spoki")
        action_domain = ast.literal_eval(action.domain)
        portal_template = self.env.ref("base.template_portal_user_id", raise_if_not_found=False)
        technical = self.env.ref("base.partner_root") | self.env.ref("base.public_partner")
        if portal_template:
            technical |= portal_template.partner_id
        admin, company = self.env.ref("base.user_admin").partner_id, self.env.company.partner_id
        (admin | company).write({"mobile": False, "phone": False})
        portal = self.env["res.users"].create(
            {
                "name": "Portal Customer",
                "login": "portal14",
                "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        self.partner_es.action_archive()

        shown = Partner.search(action_domain + [("active", "in", [True, False])])
        deleted = Partner.search(action_domain + [("active", "=", False)])  # "Only deleted contacts"
        self.assertFalse(shown & (technical | admin | company))
        self.assertFalse(deleted & (technical | admin | company))
        self.assertIn(self.partner_es, deleted)
        self.assertIn(self.partner_it, shown)
        self.assertIn(portal.partner_id, shown)
        self.assertEqual(shown, Partner.search([("spoki_contact", "=", True)]))
        self.assertEqual(Partner.search([("spoki_contact", "=", False)]) & shown, Partner)
        self.assertFalse(admin.spoki_contact)
        self.assertTrue(self.partner_it.spoki_contact)
        # with a WhatsApp number the admin and the company are people one would message
        (admin | company).write({"mobile": "+39 347 555 0101"})
        self.assertTrue(admin.spoki_contact)
        self.assertEqual(Partner.search(action_domain + [("id", "in", (admin | company).ids)]), admin | company)
        # OdooBot stays technical whatever its number
        technical[0].mobile = "+39 347 555 0102"
        self.assertFalse(Partner.search(action_domain + [("id", "=", technical[0].id)]))

    def test_language_filter_by_prefix_then_contact_language(self):
        """The guide's "Lingua" filter: the language of the number's prefix, else the contact's language."""
        Partner = self.env["res.partner"]
        no_number = Partner.create({"name": "Senza Numero", "lang": "en_US"})
        nothing = Partner.create({"name": "Nothing Known", "lang": False})
        self.partner_es.lang = "en_US"  # a Spanish number: addressed in Spanish, as a template would be sent
        self.assertEqual(self.partner_it.wa_lang, "it")
        self.assertEqual(self.partner_es.wa_lang, "es")
        self.assertEqual(no_number.wa_lang, "en")
        self.assertFalse(nothing.wa_lang)
        mine = [("id", "in", (self.partner_it | self.partner_es | no_number | nothing).ids)]
        self.assertEqual(Partner.search(mine + [("wa_lang", "=", "it")]), self.partner_it)
        self.assertEqual(Partner.search(mine + [("wa_lang", "=", "es")]), self.partner_es)
        # recomputed when the number changes
        no_number.mobile = "+39 347 555 0199"
        self.assertEqual(no_number.wa_lang, "it")
        # in the WhatsApp contacts search: a field, a group-by, named in the user's language
        arch = self.env.ref("spoki_whatsapp.res_partner_view_search_spoki").arch
        self.assertIn('<field name="wa_lang"/>', arch)
        self.assertIn("'group_by': 'wa_lang'", arch)
        self.env["res.lang"]._activate_lang("it_IT")
        selection = dict(Partner.with_context(lang="it_IT").fields_get(["wa_lang"])["wa_lang"]["selection"])
        self.assertEqual(selection["it"], "italiano")
        self.assertEqual(dict(Partner.fields_get(["wa_lang"])["wa_lang"]["selection"])["es"], "Spanish")
