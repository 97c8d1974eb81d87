"""Fixtures of the fault tests: real Odoo 18 server processes on a fresh database,
the loopback fake Meta / Spoki server in a process of its own, SQL on the
database. See ``fault_harness.py`` for the processes and README.md ("Fault
tests") for what the scenarios prove.

* ``fault_session`` (session): the fake server process, and a template
  database with ``spoki_whatsapp`` installed (no demo data), two Meta
  accounts and a Spoki account pointing at the fake, an approved template
  each, 20,000 contacts and the lists the scenarios use;
* ``scenario`` (per test): a copy of that database (``CREATE DATABASE …
  TEMPLATE``), the fake reset, ``start_server()`` for Odoo servers on it, the
  cron ticker; servers stopped and the database dropped afterwards, whatever
  happened.

Each test module skips itself (``pytest.skip`` at module level) when Odoo 18
or PostgreSQL is missing: ``fault_harness.skip_without_odoo()``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fault_harness import (  # tests/fault is on sys.path (pytest's default "prepend" import mode)
    CONTACTS,
    LISTS,
    LOCK_NS_WORKER,
    META,
    PARAMS,
    SPOKI_KEY,
    SPOKI_SECRET,
    CronTicker,
    FakeServer,
    OdooContext,
    OdooServer,
    Pg,
    environment,
    wait_until,
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "fault: fault tests against real Odoo 18 server processes and the fake provider (minutes; "
        "run by `python3 tests/run_all.py`, skipped with `-m 'not fault'`)",
    )


SETUP_SCRIPT = """
import json
cfg = json.loads({config!r})
ICP = env["ir.config_parameter"].sudo()
for key, value in cfg["params"].items():
    ICP.set_param("spoki_whatsapp." + key, value)
unlimited = env.ref("spoki_whatsapp.tier_guide_4")
Account = env["spoki.account"].with_context(tracking_disable=True)
meta = Account.create({{
    "name": "Fault Meta", "phone": "+390200000001", "provider": "meta", "api_endpoint": cfg["fake_url"],
    "meta_access_token": cfg["meta"]["token"], "meta_phone_number_id": cfg["meta"]["phone_number_id"],
    "meta_waba_id": cfg["meta"]["waba_id"], "meta_app_secret": cfg["meta"]["app_secret"],
    "tier_level_id": unlimited.id,
}})
spoki = Account.create({{
    "name": "Fault Spoki", "phone": "+390200000002", "provider": "spoki",
    "api_endpoint": cfg["fake_url"] + "/api/1", "spoki_api_key": cfg["spoki_key"],
    "spoki_webhook_secret": cfg["spoki_secret"], "tier_level_id": unlimited.id,
}})
meta_b = Account.create({{
    "name": "Fault Meta B", "phone": "+390200000003", "provider": "meta", "api_endpoint": cfg["fake_url"],
    "meta_access_token": cfg["meta"]["token"], "meta_phone_number_id": cfg["meta"]["phone_number_id"],
    "meta_waba_id": cfg["meta"]["waba_id"], "meta_app_secret": cfg["meta"]["app_secret"],
    "tier_level_id": unlimited.id,
}})
Template = env["spoki.template"].with_context(tracking_disable=True)
body = "Hello %%NOME%%, our June offers are waiting for you in the shop."
for account, name in ((meta, "fault_promo"), (spoki, "fault_promo_spoki"), (meta_b, "fault_promo_b")):
    template = Template.create({{"name": name, "account_id": account.id, "lang": "en_US", "body": body}})
    template.write({{"state": "approved", "provider_name": name}})
cr = env.cr
cr.execute(
    '''INSERT INTO res_partner (name, complete_name, active, type, is_company, lang, mobile, wa_phone,
                                wa_phone_valid, wa_opt_out, create_date, write_date, create_uid, write_uid)
       SELECT 'Fault Contact ' || i, 'Fault Contact ' || i, TRUE, 'contact', FALSE, 'en_US',
              '+39347' || lpad(i::text, 7, '0'), '+39347' || lpad(i::text, 7, '0'), TRUE, FALSE,
              now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', 1, 1
         FROM generate_series(1, %s) AS i''', [cfg["contacts"]])
cr.execute("UPDATE res_partner SET commercial_partner_id = id WHERE name LIKE 'Fault Contact %%'")
lists = {{}}
for name, (first, last) in cfg["lists"].items():
    spoki_list = env["spoki.list"].create({{"name": name}})
    cr.execute(
        '''INSERT INTO spoki_list_res_partner_rel (list_id, partner_id)
           SELECT %s, id FROM res_partner WHERE wa_phone BETWEEN %s AND %s''',
        [spoki_list.id, "+39347%07d" % first, "+39347%07d" % last])
    lists[name] = spoki_list.id
env.cr.commit()
print("SETUP " + json.dumps({{"meta": meta.id, "spoki": spoki.id, "meta_b": meta_b.id, "lists": lists,
    "templates": {{t.name: t.id for t in Template.search([])}}}}))
"""


@dataclass
class Session:
    pg: Pg
    context: OdooContext
    fake: FakeServer
    template: str
    ids: dict
    base: Path


@dataclass
class Scenario:
    """One test's database and servers (see ``scenario``)."""

    session: Session
    dbname: str
    logs: Path
    servers: list = field(default_factory=list)
    ticker: CronTicker | None = None

    @property
    def pg(self):
        return self.session.pg

    @property
    def fake(self):
        return self.session.fake

    @property
    def ids(self):
        return self.session.ids

    def sql(self, query, params=None):
        return self.pg.rows(self.dbname, query, params)

    def value(self, query, params=None):
        return self.pg.value(self.dbname, query, params)

    def start_server(self, workers=2, cron_workers=1, name=None):
        """An Odoo server on this database (prefork: ``workers`` HTTP workers,
        ``cron_workers`` cron worker processes)."""
        name = name or f"odoo-{len(self.servers) + 1}"
        server = OdooServer(self.session.context, self.dbname, self.logs / f"{name}.log", workers, cron_workers)
        self.servers.append(server)
        return server.start()

    def start_ticker(self):
        if self.ticker is None:
            self.ticker = CronTicker(self.pg, self.dbname).start()
        return self.ticker

    def webhook_url(self, server, account="meta"):
        return f"{server.url}/spoki/webhook/{self.ids[account]}"

    def states(self, account="meta"):
        """``{state: rows}`` of the account's outgoing messages."""
        rows = self.sql(
            """SELECT state, COUNT(*) FROM spoki_message WHERE account_id = %s AND direction = 'outgoing'
            GROUP BY state""",
            [self.ids[account]],
        )
        return dict(rows)

    def start_campaign(self, server, account, list_name, name=None):
        """A campaign of the account's template to a list, started as admin
        through JSON-RPC (the enqueue job then queues it)."""
        template = self.ids["templates"][
            {"meta": "fault_promo", "spoki": "fault_promo_spoki", "meta_b": "fault_promo_b"}[account]
        ]
        campaign = server.call(
            "spoki.campaign",
            "create",
            {
                "name": name or f"Fault {list_name}",
                "account_id": self.ids[account],
                "template_id": template,
                "list_ids": [(6, 0, [self.ids["lists"][list_name]])],
            },
        )
        server.call("spoki.campaign", "action_start", [campaign])
        return campaign

    def wait_enqueued(self, *campaigns, timeout=120):
        """Until the enqueue job has queued every recipient of the campaigns."""
        wait_until(
            lambda: (
                self.value(
                    "SELECT COUNT(*) FROM spoki_campaign WHERE id = ANY(%s) AND enqueued_at IS NOT NULL",
                    [list(campaigns)],
                )
                == len(campaigns)
            ),
            timeout,
            f"campaigns {campaigns} to be queued",
        )

    def set_param(self, server, key, value):
        """``spoki_whatsapp.<key>`` through the ORM (the servers' caches follow)."""
        server.call("ir.config_parameter", "set_param", f"spoki_whatsapp.{key}", str(value))

    def cron_id(self, xmlid):
        return self.value(
            "SELECT res_id FROM ir_model_data WHERE module = 'spoki_whatsapp' AND name = %s AND model = 'ir.cron'",
            [xmlid],
        )

    def run_cron(self, server, xmlid, timeout=120):
        """*Run manually* a cron job (JSON-RPC as admin; returns when it is
        done), once a cron worker running it has finished."""
        cron_id = self.cron_id(xmlid)

        def run():
            try:
                server.call("ir.cron", "method_direct_trigger", [cron_id])
            except AssertionError as exc:
                if "currently being executed" in str(exc):
                    return False
                raise
            return True

        wait_until(run, timeout, f"a manual run of {xmlid}", interval=1)

    def send_worker_pids(self):
        """OS pids of the Odoo processes holding a send worker lock (the
        send queue in progress): Odoo names its connections ``odoo-<pid>``."""
        rows = self.sql(
            """SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.database = (
                      SELECT oid FROM pg_database WHERE datname = current_database())""",
            [LOCK_NS_WORKER],
        )
        return sorted({int(name.split("-", 1)[1]) for (name,) in rows if name.startswith("odoo-")})

    def report(self):
        """What the test measured, for the report on failure (captured output)."""
        for server in self.servers:
            errors = server.log_errors()
            print(f"--- {server.log_path.name}: {len(errors)} ERROR/CRITICAL lines")
            for line in errors[:20]:
                print(line)


@pytest.fixture(scope="session")
def fault_session(tmp_path_factory):
    odoo, reason = environment()
    if odoo is None:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("fault")
    (base / "data").mkdir()
    pg = Pg()
    context = OdooContext(odoo, base / "data", pg)
    fake = FakeServer(base / "fake.log")
    template = f"spoki_fault_tpl_{os.getpid()}"
    try:
        fake.start()
        pg.drop(template)
        started = time.monotonic()
        context.run(
            template,
            "-i",
            "spoki_whatsapp",
            "--without-demo=all",
            "--stop-after-init",
            "--no-http",
            "--log-level=warn",
            log=base / "install.log",
        )
        config = {
            "fake_url": fake.url,
            "meta": META,
            "spoki_key": SPOKI_KEY,
            "spoki_secret": SPOKI_SECRET,
            "contacts": CONTACTS,
            "lists": LISTS,
            "params": PARAMS,
        }
        out = context.shell(template, SETUP_SCRIPT.format(config=json.dumps(config)))
        line = next(line for line in out.splitlines() if line.startswith("SETUP "))
        ids = json.loads(line[len("SETUP ") :])
        print(f"fault tests: template database {template} ready in {time.monotonic() - started:.0f} s")
        yield Session(pg, context, fake, template, ids, base)
    finally:
        fake.stop()
        pg.drop(template)
        context.drop_filestore(template)


@pytest.fixture
def scenario(fault_session, request):
    session = fault_session
    name = request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:40].lower()
    dbname = f"spoki_fault_{name}_{os.getpid()}"
    logs = session.base / name
    logs.mkdir(exist_ok=True)
    session.pg.clone(session.template, dbname)
    session.context.copy_filestore(session.template, dbname)
    fake = session.fake
    fake.call("reset")
    fake.call("set_account", messaging_limit_tier="TIER_UNLIMITED", daily_limit=0)
    spoki_template = fake.call("add_template", name="fault_promo_spoki", provider="spoki", body="Hello {{1}}")
    session.pg.execute(
        dbname,
        "UPDATE spoki_template SET external_id = %s WHERE id = %s",
        [spoki_template, session.ids["templates"]["fault_promo_spoki"]],
    )
    current = Scenario(session, dbname, logs)
    try:
        yield current
    finally:
        if current.ticker:
            current.ticker.stop()
        fake.call("release")
        fake.call("clear_failures")
        current.report()
        for server in current.servers:
            server.stop()
        session.pg.drop(dbname)
        session.context.drop_filestore(dbname)
