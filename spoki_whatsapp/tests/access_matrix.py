"""The access matrix: who may read, write, create, delete, open or call what.

Not a test module: each addon's ``test_access_matrix.py`` subclasses
:class:`AccessMatrixCase` with its own tables and samples, so every addon
checks its own part and passes when deployed alone. The case discovers what
the addon ships (models, public methods, menus, actions, HTTP routes) from the
registry and its XML ids, and fails on anything its tables don't mention: a
new model, button or route needs a line saying who may use it.

Five roles: ``public`` (not logged in), ``portal``, ``agent`` (WhatsApp user)
and ``manager`` (WhatsApp manager) of company A, ``manager_b`` (WhatsApp
manager of company B). Samples are records of company A.
"""

from contextlib import closing

from odoo.exceptions import AccessError
from odoo.models import BaseModel
from odoo.tests import HttpCase, new_test_user
from odoo.tools import mute_logger

ROLES = ("public", "portal", "agent", "manager", "manager_b")
NOBODY = frozenset()
#: WhatsApp users and managers of company A (managers are users too)
AGENTS = frozenset({"agent", "manager"})
#: WhatsApp managers of company A
MANAGERS = frozenset({"manager"})
#: everybody with the WhatsApp app, whatever the company (menus, shared data)
WA_USERS = frozenset({"agent", "manager", "manager_b"})
WA_MANAGERS = frozenset({"manager", "manager_b"})
#: methods that only return a window action (or nothing) for the client to
#: open: no data, no side effect; what they open is guarded by the model rights
NAVIGATION = frozenset(ROLES)
#: logged-in users (``auth='user'`` routes let them in; the data decides)
LOGGED_IN = frozenset({"portal", "agent", "manager", "manager_b"})
EVERYBODY = frozenset(ROLES)

OPS = (("r", "read"), ("w", "write"), ("c", "create"), ("d", "unlink"))
#: methods of the ORM an addon may override: their access is the CRUD matrix's
ORM_METHODS = frozenset(name for name in dir(BaseModel) if not name.startswith("_"))


class Call:
    """One public method of the matrix: who may call it (the others get
    AccessError), on the model's sample (``on='sample'``) or on the empty
    model (``on='model'``), with keyword arguments ``kwargs(case)``."""

    def __init__(self, who, on="sample", kwargs=None):
        self.who = who
        self.on = on
        self.kwargs = kwargs or (lambda case: {})


class Route:
    """One HTTP route of the matrix: ``url(case)`` and ``data(case)`` build
    the request (POST when data is given); ``ok`` are the roles answered 200,
    everybody else gets a refusal (403, 404 or the login redirect), and
    ``refused`` lists the statuses that count as a refusal."""

    def __init__(self, url, ok=NOBODY, data=None, headers=None, refused=(303, 400, 403, 404)):
        self.url = url
        self.ok = ok
        self.data = data
        self.headers = headers
        self.refused = refused


class AccessMatrixCase(HttpCase):
    """Users, companies, the checks and the tests running them; subclasses set
    ``addon`` and the tables (``matrix_models``, ``matrix_methods``,
    ``matrix_menus``, ``matrix_actions``, ``matrix_routes``: see the
    ``check_*`` methods) and return ``samples`` ({model: record of company A})
    from ``_build_samples``."""

    #: the subclasses run the tests below (Odoo runs only a case's own test methods otherwise)
    allow_inherited_tests_method = True
    addon = None
    matrix_models = matrix_methods = matrix_menus = matrix_actions = matrix_routes = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        env = cls.env
        cls.company_a = env.company
        cls.company_a.country_id = env.ref("base.it")
        cls.company_b = env["res.company"].create({"name": "Matrix B", "country_id": env.ref("base.es").id})

        def user(login, groups, company):
            return new_test_user(
                env,
                login=login,
                groups=groups,
                company_id=company.id,
                company_ids=[(6, 0, company.ids)],
                context={"mail_create_nolog": True, "no_reset_password": True},
            )

        # internal users as Odoo creates them by default: they may create and edit contacts
        internal = "base.group_user,base.group_partner_manager"
        cls.users = {
            "public": env.ref("base.public_user"),
            "portal": user("matrix_portal", "base.group_portal", cls.company_a),
            "agent": user("matrix_agent", f"{internal},spoki_whatsapp.group_spoki_user", cls.company_a),
            "manager": user("matrix_manager", f"{internal},spoki_whatsapp.group_spoki_manager", cls.company_a),
            "manager_b": user("matrix_manager_b", f"{internal},spoki_whatsapp.group_spoki_manager", cls.company_b),
        }
        cls.account = env["spoki.account"].create(
            {"name": "Matrix A", "phone": "+390200001001", "company_id": cls.company_a.id}
        )
        cls.account_b = env["spoki.account"].create(
            {"name": "Matrix B", "phone": "+34910001001", "company_id": cls.company_b.id}
        )
        cls.samples = cls._build_samples()
        for model, record in cls.samples.items():
            assert record, model

    @classmethod
    def _build_samples(cls):
        """{model: a record of company A} for the checks on records."""
        return {}

    # ------------------------------------------------------------
    # the tests
    # ------------------------------------------------------------

    def test_models(self):
        self.check_models(self.matrix_models)

    def test_methods(self):
        self.check_methods(self.matrix_methods)

    def test_menus(self):
        self.check_menus(self.matrix_menus)

    def test_actions(self):
        self.check_actions(self.matrix_actions)

    def test_routes(self):
        self.check_routes(self.matrix_routes)

    # ------------------------------------------------------------
    # discovery
    # ------------------------------------------------------------

    def addon_records(self, model):
        """{xml id name: record} of ``model`` shipped by the addon."""
        data = self.env["ir.model.data"].search([("module", "=", self.addon), ("model", "=", model)])
        return {d.name: self.env[model].browse(d.res_id) for d in data}

    def addon_models(self):
        """Models the addon defines or extends."""
        return sorted(model.model for model in self.addon_records("ir.model").values())

    def public_methods(self, model):
        """Methods a client may call over RPC that the addon defines on ``model``
        (no leading underscore, not an ORM method)."""
        names = set()
        for klass in type(self.env[model]).mro():
            if klass.__module__.startswith(f"odoo.addons.{self.addon}."):
                names.update(
                    name
                    for name, value in vars(klass).items()
                    if callable(value) and not name.startswith("_") and name not in ORM_METHODS
                )
        return names

    def addon_routes(self):
        """{rule: routing} of the addon's controllers."""
        routes = {}
        for rule in self.env["ir.http"].routing_map().iter_rules():
            endpoint = rule.endpoint
            func = getattr(endpoint, "func", endpoint)
            if getattr(func, "__module__", "").startswith(f"odoo.addons.{self.addon}."):
                routes[rule.rule] = endpoint.routing
        return routes

    # ------------------------------------------------------------
    # checks
    # ------------------------------------------------------------

    def _rights(self, records, role):
        records = records.with_user(self.users[role])
        return "".join(letter for letter, op in OPS if records.has_access(op))

    def check_models(self, models):
        """``models``: {model: (agent rights, manager rights, shared)} with
        rights as "rwcd" letters. Portal and public users have none; the
        manager of company B has the manager's rights on the model but none
        on a sample of company A, unless the model is ``shared`` (data common
        to all companies)."""
        defined = [
            m for m in self.addon_models() if self.env[m]._original_module == self.addon and not self.env[m]._abstract
        ]
        self.assertEqual(sorted(set(defined) - set(models)), [], "models without an expectation")
        for model, (agent, manager, shared) in models.items():
            if model not in self.env or self.env[model]._abstract:
                continue  # not installed yet, or no records (its methods are in the methods' matrix)
            expected = {"public": "", "portal": "", "agent": agent, "manager": manager, "manager_b": manager}
            for role in ROLES:
                with self.subTest(model=model, role=role, on="model"):
                    self.assertEqual(self._rights(self.env[model], role), expected[role])
            sample = self.samples.get(model)
            if sample is None or self.env[model]._transient:
                continue  # wizards: the rights on the model are the whole story
            expected["manager_b"] = manager if shared else ""
            for role in ROLES:
                with self.subTest(model=model, role=role, on="sample of company A"):
                    self.assertEqual(self._rights(sample, role), expected[role])

    def check_methods(self, calls):
        """``calls``: {(model, method): Call}. Every public method of the
        addon is listed; each is called as every role: the roles of ``who``
        pass the access checks (they may still meet a business error), the
        others get AccessError."""
        found = {(model, method) for model in self.addon_models() for method in self.public_methods(model)}
        self.assertEqual(sorted(found - set(calls)), [], "public methods without an expectation")
        for (model, method), call in sorted(calls.items()):
            if (model, method) not in found:
                continue
            for role in ROLES:
                receiver = self.samples[model] if call.on == "sample" else self.env[model]
                receiver = receiver.with_user(self.users[role])
                with self.subTest(method=f"{model}.{method}", role=role):
                    outcome, detail = "allowed", "returned"
                    try:
                        with closing(self.env.cr.savepoint()):  # always rolled back
                            getattr(receiver, method)(**call.kwargs(self))
                            receiver.env.flush_all()
                    except AccessError as exc:
                        outcome, detail = "AccessError", exc
                    except Exception as exc:  # noqa: BLE001 - a business error: the access checks passed
                        detail = f"{type(exc).__name__}: {exc}"
                    self.env.invalidate_all()
                    self.assertEqual(outcome, "allowed" if role in call.who else "AccessError", detail)

    def check_menus(self, menus):
        """``menus``: {menu xml id name: roles that see it}."""
        shipped = self.addon_records("ir.ui.menu")
        self.assertEqual(sorted(set(shipped) - set(menus)), [], "menus without an expectation")
        for role in ROLES:
            try:
                visible = self.env["ir.ui.menu"].with_user(self.users[role])._visible_menu_ids()
            except AccessError:
                visible = set()  # the public user can't read menus at all
            for name, menu in shipped.items():
                with self.subTest(menu=name, role=role):
                    # shown when it and every menu above it are visible
                    shown = all(m.id in visible for m in self._menu_path(menu))
                    self.assertEqual(shown, role in menus[name])

    def _menu_path(self, menu):
        path = menu.sudo()
        while path[-1:].parent_id:
            path |= path[-1].parent_id
        return path

    def _can_open(self, action, role):
        user = self.users[role]
        groups = getattr(action.sudo(), "groups_id", None)
        if groups and not (groups & user.groups_id):
            return False
        if action._name == "ir.actions.act_window":
            return self.env[action.res_model].with_user(user).has_access("read")
        if action._name == "ir.actions.report":
            return self.env[action.model].with_user(user).has_access("read")
        if action._name == "ir.actions.server":
            try:
                with closing(self.env.cr.savepoint()), mute_logger("odoo.addons.base.models.ir_actions"):
                    action.with_user(user).run()
            except AccessError:
                return False
            except Exception:  # noqa: BLE001 - a business error: it ran past the access check
                return True
            finally:
                self.env.invalidate_all()
            return True
        return True  # client actions: their data calls are in the methods' matrix

    def check_actions(self, actions):
        """``actions``: {action xml id name: roles that may open (window,
        report) or run (server) it}."""
        shipped = {}
        for model in ("ir.actions.act_window", "ir.actions.server", "ir.actions.report", "ir.actions.client"):
            shipped.update(self.addon_records(model))
        self.assertEqual(sorted(set(shipped) - set(actions)), [], "actions without an expectation")
        for name, action in shipped.items():
            for role in ROLES:
                with self.subTest(action=name, role=role):
                    self.assertEqual(self._can_open(action, role), role in actions[name])

    def login(self, role):
        user = self.users[role]
        if role == "public":
            self.authenticate(None, None)
        else:
            self.authenticate(user.login, user.login)

    def check_routes(self, routes):
        """``routes``: {route rule: Route or [Route, …]}. Every route of the
        addon is listed and requested as every role."""
        shipped = self.addon_routes()
        self.assertEqual(sorted(set(shipped) - set(routes)), [], "routes without an expectation")
        for rule, checks in routes.items():
            if rule not in shipped:
                continue
            for check in checks if isinstance(checks, list) else [checks]:
                for role in ROLES:
                    self.login(role)
                    with self.subTest(route=rule, role=role):
                        data = check.data(self) if check.data else None
                        response = self.url_open(
                            check.url(self),
                            data=data,
                            headers=check.headers,
                            allow_redirects=False,
                        )
                        if role in check.ok:
                            self.assertEqual(response.status_code, 200, response.text[:300])
                        else:
                            self.assertIn(response.status_code, check.refused, response.text[:300])
