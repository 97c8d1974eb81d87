"""Access matrix of Manage CSV (issue 11): its models, methods, menu, actions
and download route as public, portal, agent and manager of company A, manager
of company B (tables below; the case is the core addon's ``access_matrix``).
Manage CSV sessions and exports belong to the user who created them."""

import base64
import csv
import io

from odoo.tests import tagged

from odoo.addons.spoki_whatsapp.tests.access_matrix import (
    NAVIGATION,
    WA_USERS,
    AccessMatrixCase,
    Call,
    Route,
)

from .csv_fixtures import csv_bytes

#: the agent created the samples: sessions and exports are their creator's only
CREATOR = frozenset({"agent"})

# model: (agent rights, manager rights, shared) — all wizards: the rules keep
# each session to its creator (checked through the methods and the route)
MODELS = {
    "spoki.csv.export": ("rwcd", "rwcd", False),
    "spoki.csv.import": ("rwcd", "rwcd", False),
    "spoki.csv.import.column": ("rwcd", "rwcd", False),
    "spoki.csv.import.issue": ("rwcd", "rwcd", False),
    "spoki.csv.import.mapping": ("rwcd", "rwcd", False),
    "spoki.csv.import.sheet": ("rwcd", "rwcd", False),
}

METHODS = {
    # creates the user's own export request: it holds only the contacts the user can read
    ("res.partner", "action_spoki_csv_export"): Call(WA_USERS),
    ("res.partner", "action_spoki_xlsx_export"): Call(WA_USERS),
    ("spoki.list", "action_spoki_csv_import"): Call(NAVIGATION),
    # the download URL: the route serves it to the export's creator only (see ROUTES)
    ("spoki.csv.export", "action_download"): Call(NAVIGATION),
    ("spoki.csv.import", "action_analyze"): Call(CREATOR),
    ("spoki.csv.import", "action_download_clean"): Call(CREATOR),
    ("spoki.csv.import", "action_download_errors"): Call(CREATOR),
    ("spoki.csv.import", "action_import"): Call(CREATOR),
    ("spoki.csv.import", "action_load"): Call(CREATOR),
    ("spoki.csv.import", "action_open_contacts"): Call(CREATOR),
    ("spoki.csv.import", "action_open_list"): Call(CREATOR),
    ("spoki.csv.import", "action_reset"): Call(CREATOR),
}

MENUS = {"spoki_csv_import_menu": WA_USERS}

ACTIONS = {
    "spoki_csv_import_action": WA_USERS,
    "spoki_csv_import_action_new_list": WA_USERS,
    # the contacts' "Export to CSV" (runs for users who may edit contacts)
    "res_partner_action_spoki_csv_export": WA_USERS,
    "res_partner_action_spoki_xlsx_export": WA_USERS,
}

ROUTES = {
    "/spoki_whatsapp_csv/export/<int:export_id>": Route(
        lambda case: f"/spoki_whatsapp_csv/export/{case.samples['spoki.csv.export'].id}", ok=CREATOR
    ),
}


@tagged("post_install", "-at_install")
class TestCsvAccessMatrix(AccessMatrixCase):
    addon = "spoki_whatsapp_csv"
    matrix_models = MODELS
    matrix_methods = METHODS
    matrix_menus = MENUS
    matrix_actions = ACTIONS
    matrix_routes = ROUTES

    @classmethod
    def _build_samples(cls):
        env = cls.env
        partner = env["res.partner"].create(
            {"name": "Matrix CSV", "mobile": "+39 347 000 2001", "company_id": cls.company_a.id}
        )
        spoki_list = env["spoki.list"].create({"name": "Matrix CSV list", "company_id": cls.company_a.id})
        agent = cls.users["agent"]
        data = csv_bytes([["telefono", "nome"], ["+393470002002", "Ada"], ["12", "Bad"]])
        session = (
            env["spoki.csv.import"]
            .with_user(agent)
            .create({"file": base64.b64encode(data), "filename": "matrix.csv", "list_id": spoki_list.id})
        )
        session.action_load()
        export = env["spoki.csv.export"].with_user(agent).create({"partner_ids_text": str(partner.id)})
        return {
            "res.partner": partner,
            "spoki.list": spoki_list,
            "spoki.csv.import": session.sudo(),
            "spoki.csv.export": export.sudo(),
        }

    def test_export_of_other_company_contacts_is_empty(self):
        """A manager of company B may ask to export company A's contacts by id:
        the file holds none of them."""
        partner = self.samples["res.partner"]
        action = partner.with_user(self.users["manager_b"]).action_spoki_csv_export()
        self.login("manager_b")
        response = self.url_open(action["url"], allow_redirects=False)
        self.assertEqual(response.status_code, 200)
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        self.assertEqual(len(rows), 1, "the header only")
        self.assertNotIn(partner.name, response.text)
