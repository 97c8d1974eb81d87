"""Which file column feeds which contact value.

Targets are the built-in ones (``phone``, ``first_name``, ``last_name``,
``email``, ``language``, ``company``: the company name, which names the
contact when the row has no person's name) plus the names of the dynamic fields switched ON
(``BIRTHDAY_DATE``…). No Odoo import.
"""

import re
import unicodedata

__all__ = [
    "BUILTIN_TARGETS",
    "CLEAN_HEADER",
    "normalize_header",
    "suggest_mapping",
    "tag_columns",
    "LanguageMatcher",
]

BUILTIN_TARGETS = ("phone", "first_name", "last_name", "email", "language", "company")

# Fixed header of the clean file (the platform's own import format), in order;
# the ON dynamic fields follow by name.
CLEAN_HEADER = {
    "phone": "phone",
    "first_name": "first name",
    "last_name": "last name",
    "email": "email",
    "language": "language",
}

# Normalised header texts that mean a target, best first. The clean-file
# header and Spoki's built-in dynamic field names (TELEFONO, NOME, COGNOME,
# EMAIL) are included so clean files and Spoki exports map by themselves.
SYNONYMS = {
    "phone": (
        "phone",
        "telefono",
        "cellulare",
        "mobile",
        "whatsapp",
        "numero whatsapp",
        "numero di telefono",
        "numero telefono",
        "numero cellulare",
        "telefono cellulare",
        "phone number",
        "mobile phone",
        "mobile number",
        "cell",
        "cellphone",
        "cell phone",
        "tel",
        "telephone",
        "wa phone",
        "whatsapp number",
        "movil",
        "telefon",
        "numero",
        "number",
    ),
    "first_name": ("first name", "nome", "firstname", "given name", "prenom", "nombre", "vorname", "name"),
    "last_name": (
        "last name",
        "cognome",
        "lastname",
        "surname",
        "family name",
        "nom",
        "apellido",
        "apellidos",
        "nachname",
    ),
    "email": (
        "email",
        "e mail",
        "mail",
        "email address",
        "indirizzo email",
        "indirizzo e mail",
        "posta elettronica",
        "correo",
        "correo electronico",
    ),
    "language": ("language", "lingua", "lang", "idioma", "langue", "sprache", "locale"),
    "company": (
        "company",
        "company name",
        "ragione sociale",
        "azienda",
        "nome azienda",
        "societa",
        "denominazione",
        "denominazione sociale",
        "organization",
        "organisation",
        "organizzazione",
        "business name",
        "empresa",
        "razon social",
        "firma",
        "firmenname",
        "entreprise",
        "raison sociale",
    ),
}

# Words that, inside a longer header, still point at the phone or email
# ("Telefono ufficio", "E-mail aziendale"). Names are matched exactly only:
# "Nome azienda" is not a first name.
CONTAINS = {
    "phone": ("telefono", "cellulare", "mobile", "phone", "whatsapp", "cell"),
    "email": ("email", "mail"),
}

TAG_HEADERS = ("tag", "tags", "etichetta", "etichette", "label", "labels", "etiqueta", "etiquetas")

_SEPARATORS_RE = re.compile(r"[\s_\-.:/]+")


def normalize_header(text):
    """Lower case, no accents, separators as single spaces:
    'E-Mail', 'e_mail ' → 'e mail'; 'Número' → 'numero'."""
    text = unicodedata.normalize("NFKD", str(text or ""))
    text = "".join(char for char in text if not unicodedata.combining(char))
    return _SEPARATORS_RE.sub(" ", text.lower()).strip()


_PHONE_VALUE_RE = re.compile(r"^\+?[\d\s().\-/]{6,}$")
_EMAIL_VALUE_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
VALUE_CHECKS = {
    "phone": lambda value: bool(_PHONE_VALUE_RE.match(value)) and sum(char.isdigit() for char in value) >= 6,
    "email": lambda value: bool(_EMAIL_VALUE_RE.match(value)),
}
_FIRST_VALUE_RE = re.compile(r"\s*(?::::|;|,)\s*")


def values_look_like(target, values):
    """True when most of the non-empty sample ``values`` look like a phone
    number / an e-mail (the first of several values in a cell counts)."""
    check = VALUE_CHECKS[target]
    values = [value for value in values if value]
    if not values:
        return False
    good = sum(1 for value in values if check(_FIRST_VALUE_RE.split(value.strip())[0]))
    return good * 2 > len(values)


def suggest_mapping(headers, dynamic_names=(), samples=None):
    """``{target: column index}`` for the targets a header matches: exact
    (case/accent-insensitive) name first, then synonyms in order, then — for
    phone and email — a header containing a telling word. A column feeds one
    target at most. Dynamic fields match by name ('BIRTHDAY_DATE',
    'Birthday date', 'birthday-date').

    ``samples`` (a list of values per column, optional): for phone and email,
    among the columns whose header matches, one whose values look like
    numbers / e-mails is preferred ("Phone 1 - Type" before "Phone 1 -
    Value": the column holding the numbers)."""
    normalized = [normalize_header(header) for header in headers]
    used, mapping = set(), {}

    def take(target, index):
        mapping[target] = index
        used.add(index)

    for name in dynamic_names:
        wanted = normalize_header(name)
        index = next((i for i, header in enumerate(normalized) if header == wanted and i not in used), None)
        if index is not None:
            take(name, index)
    for target in BUILTIN_TARGETS:
        for synonym in SYNONYMS[target]:
            index = next((i for i, header in enumerate(normalized) if header == synonym and i not in used), None)
            if index is not None:
                take(target, index)
                break
    for target, words in CONTAINS.items():
        if target in mapping:
            continue
        for i, header in enumerate(normalized):
            if i not in used and set(header.split()) & set(words):
                take(target, i)
                break
    if samples:
        _prefer_columns_by_values(normalized, samples, mapping, used)
    return mapping


def _prefer_columns_by_values(normalized, samples, mapping, used):
    """For phone and email: when the suggested column's sample values don't
    look like the target but another column whose header matches does, map
    that one instead."""
    for target, words in CONTAINS.items():
        current = mapping.get(target)
        if current is not None and values_look_like(target, samples[current]):
            continue
        candidates = [
            i
            for i, header in enumerate(normalized)
            if (i not in used or i == current)
            and (header in SYNONYMS[target] or set(header.split()) & set(words))
            and values_look_like(target, samples[i])
        ]
        if candidates:
            if current is not None:
                used.discard(current)
            mapping[target] = candidates[0]
            used.add(candidates[0])


def tag_columns(headers):
    """Indexes of columns that hold tags (never imported, reported)."""
    return [i for i, header in enumerate(headers) if normalize_header(header) in TAG_HEADERS]


class LanguageMatcher:
    """Match what a file says about a language ('it', 'IT', 'it-IT', 'it_IT',
    'Italiano', 'italian') to one of the installed language codes.

    ``languages``: iterable of ``(code, name)`` as Odoo's installed languages
    (``('it_IT', 'Italian / Italiano')``). Calling the matcher returns the code
    or ``None``.
    """

    def __init__(self, languages):
        self.lookup = {}
        by_iso = {}
        for code, name in languages:
            key = code.lower().replace("-", "_")
            self.lookup[key] = code
            iso = key.split("_")[0]
            # 'it' → it_IT rather than it_CH; 'en' → en_US (first installed otherwise)
            preferred = key in (f"{iso}_{iso}", "en_us", "pt_br" if iso == "pt" else "")
            if iso not in by_iso or preferred:
                by_iso[iso] = code
            for part in str(name or "").replace("(", "/").replace(")", "/").split("/"):
                part = normalize_header(part)
                if part and part not in self.lookup:
                    self.lookup[part] = code
        for iso, code in by_iso.items():
            self.lookup.setdefault(iso, code)

    def __call__(self, value):
        if not value:
            return None
        key = str(value).strip().lower().replace("-", "_")
        return self.lookup.get(key) or self.lookup.get(normalize_header(value))
