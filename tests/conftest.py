"""pytest setup for the plain-Python parts of the addons.

The addons' ``__init__.py`` import Odoo; the ``tools`` packages don't. Register
each addon as a bare namespace package (its ``__init__`` is not executed) so
that ``spoki_whatsapp.tools…`` imports without Odoo installed.

The same for each addon's ``tests`` package: its ``__init__.py`` imports the
Odoo test modules, but the plain-Python helpers living there (the fake
Spoki/Meta server ``spoki_whatsapp.tests.fake_provider``, the fixture-file
writers ``spoki_whatsapp_csv.tests.csv_fixtures``) import without Odoo.

Fixtures of the provider tests (they import the addons' modules when used,
after the set-up above): ``server``, the fake Meta / Spoki server of a test
module; ``fake``, the same reset for each test; ``meta`` and ``spoki``,
provider clients on it; ``gone_meta``, a Meta client of a fake server that has
stopped (nothing listens at its port). A module may set ``FAKE_TIMEOUT_DELAY``
(how long the fake holds a request it times out, 1.5 s by default) and
``CLIENT_TIMEOUT`` (the clients' timeout, their default if unset).
"""

import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _namespace(name, path):
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)


for _addon in ("spoki_whatsapp", "spoki_whatsapp_csv", "spoki_whatsapp_reports"):
    _namespace(_addon, ROOT / _addon)
    if (ROOT / _addon / "tests").is_dir():
        _namespace(f"{_addon}.tests", ROOT / _addon / "tests")


@pytest.fixture(scope="module")
def server(request):
    from spoki_whatsapp.tests.fake_provider import FakeProvider

    with FakeProvider(timeout_delay=getattr(request.module, "FAKE_TIMEOUT_DELAY", 1.5)) as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    server.latency = 0
    server.check_auth = True
    return server


def _client(request, fake, kind):
    from spoki_whatsapp.tools.providers import get_provider

    timeout = getattr(request.module, "CLIENT_TIMEOUT", None)
    options = {} if timeout is None else {"timeout": timeout}
    config = fake.meta_config(**options) if kind == "meta" else fake.spoki_config(**options)
    return get_provider(kind, config)


@pytest.fixture
def meta(request, fake):
    return _client(request, fake, "meta")


@pytest.fixture
def spoki(request, fake):
    return _client(request, fake, "spoki")


@pytest.fixture
def gone_meta():
    from spoki_whatsapp.tests.fake_provider import FakeProvider
    from spoki_whatsapp.tools.providers import get_provider

    with FakeProvider() as gone:
        config = gone.meta_config(timeout=1)
    return get_provider("meta", config)  # the port is closed now
