"""pytest setup for the plain-Python parts of the addons.

The addons' ``__init__.py`` import Odoo; the ``tools`` packages don't. Register
each addon as a bare namespace package (its ``__init__`` is not executed) so
that ``spoki_whatsapp.tools…`` imports without Odoo installed.
"""

import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

for _addon in ("spoki_whatsapp", "spoki_whatsapp_csv", "spoki_whatsapp_reports"):
    if _addon not in sys.modules:
        _module = types.ModuleType(_addon)
        _module.__path__ = [str(ROOT / _addon)]
        sys.modules[_addon] = _module
