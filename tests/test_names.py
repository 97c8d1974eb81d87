"""Plain-Python tests of spoki_whatsapp/tools/names.py (NOME/COGNOME from a
contact's name, as res.partner._spoki_split_name and the CSV export/import)."""

import pytest

from spoki_whatsapp.tools.names import split_name


@pytest.mark.parametrize(
    "name, is_company, expected",
    [
        ("Maria Grazia Verdi", False, ("Maria Grazia", "Verdi")),
        ("Mario Rossi", False, ("Mario", "Rossi")),
        ("  Mario Rossi  ", False, ("Mario", "Rossi")),
        ("Cher", False, ("Cher", "")),
        ("ACME Srl", True, ("ACME Srl", "")),
        ("", False, ("", "")),
        (None, False, ("", "")),
        (False, False, ("", "")),
    ],
)
def test_split_name(name, is_company, expected):
    assert split_name(name, is_company) == expected
