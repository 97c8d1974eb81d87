"""First and last name of a contact for NOME/COGNOME (plain Python, no Odoo import)."""

__all__ = ["split_name"]


def split_name(name, is_company=False):
    """``(first, last)`` derived from a contact's name: the *last* word is the
    last name ("Maria Grazia Rossi" → "Maria Grazia", "Rossi"), so double first
    names stay whole. A single word, or a company, is all first name."""
    name = (name or "").strip()
    if is_company or " " not in name:
        return name, ""
    head, _sep, tail = name.rpartition(" ")
    return head, tail
