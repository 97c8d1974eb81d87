"""pytest setup for the plain-Python parts of the addons.

The addons' ``__init__.py`` import Odoo; the ``tools`` packages don't. Register
each addon as a bare namespace package (its ``__init__`` is not executed) so
that ``spoki_whatsapp.tools…`` imports without Odoo installed.

The same for each addon's ``tests`` package: its ``__init__.py`` imports the
Odoo test modules, but the plain-Python helpers living there (the fake
Spoki/Meta server ``spoki_whatsapp.tests.fake_provider``, the fixture-file
writers ``spoki_whatsapp_csv.tests.csv_fixtures``) import without Odoo.
"""

import sys
import types
from pathlib import Path

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
