"""WhatsApp's own template languages (plain Python, no Odoo import).

Meta accepts message templates in a fixed list of language codes, independent
of the languages installed in Odoo (Spoki forwards them to Meta unchanged):
https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/supported-languages

``LANGUAGES`` keeps Meta's codes and English names; :func:`language_choices`
names them in the user's language (CLDR through babel) as "Name (code)".
"""

from babel import Locale, UnknownLocaleError

#: (Meta code, Meta's English name), in Meta's order.
LANGUAGES = (
    ("af", "Afrikaans"),
    ("sq", "Albanian"),
    ("ar", "Arabic"),
    ("az", "Azerbaijani"),
    ("bn", "Bengali"),
    ("bg", "Bulgarian"),
    ("ca", "Catalan"),
    ("zh_CN", "Chinese (CHN)"),
    ("zh_HK", "Chinese (HKG)"),
    ("zh_TW", "Chinese (TAI)"),
    ("hr", "Croatian"),
    ("cs", "Czech"),
    ("da", "Danish"),
    ("nl", "Dutch"),
    ("en", "English"),
    ("en_GB", "English (UK)"),
    ("en_US", "English (US)"),
    ("et", "Estonian"),
    ("fil", "Filipino"),
    ("fi", "Finnish"),
    ("fr", "French"),
    ("ka", "Georgian"),
    ("de", "German"),
    ("el", "Greek"),
    ("gu", "Gujarati"),
    ("ha", "Hausa"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("hu", "Hungarian"),
    ("id", "Indonesian"),
    ("ga", "Irish"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("kn", "Kannada"),
    ("kk", "Kazakh"),
    ("rw_RW", "Kinyarwanda"),
    ("ko", "Korean"),
    ("ky_KG", "Kyrgyz (Kyrgyzstan)"),
    ("lo", "Lao"),
    ("lv", "Latvian"),
    ("lt", "Lithuanian"),
    ("mk", "Macedonian"),
    ("ms", "Malay"),
    ("ml", "Malayalam"),
    ("mr", "Marathi"),
    ("nb", "Norwegian"),
    ("fa", "Persian"),
    ("pl", "Polish"),
    ("pt_BR", "Portuguese (BR)"),
    ("pt_PT", "Portuguese (POR)"),
    ("pa", "Punjabi"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("sr", "Serbian"),
    ("sk", "Slovak"),
    ("sl", "Slovenian"),
    ("es", "Spanish"),
    ("es_AR", "Spanish (ARG)"),
    ("es_ES", "Spanish (SPA)"),
    ("es_MX", "Spanish (MEX)"),
    ("sw", "Swahili"),
    ("sv", "Swedish"),
    ("ta", "Tamil"),
    ("te", "Telugu"),
    ("th", "Thai"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("uz", "Uzbek"),
    ("vi", "Vietnamese"),
    ("zu", "Zulu"),
)
CODES = frozenset(code for code, _name in LANGUAGES)
ENGLISH_NAMES = dict(LANGUAGES)


def whatsapp_code(code):
    """The WhatsApp code of a language code ('it_IT' → 'it', 'en_US' →
    'en_US', 'es_ES' → 'es_ES', 'de_CH' → 'de', 'sr@latin' → 'sr'); None when
    WhatsApp has no such language."""
    code = (code or "").replace("-", "_").split("@")[0].split(".")[0].strip()
    if code in CODES:
        return code
    base = code.split("_")[0].lower()
    return base if base in CODES else None


def language_name(code, display_lang=None):
    """Name of a WhatsApp language ``code`` in ``display_lang`` (Odoo code,
    e.g. 'it_IT'); Meta's English name in English or when CLDR has none."""
    english = ENGLISH_NAMES.get(code, code)
    display = (display_lang or "en").replace("-", "_").split("@")[0]
    if display.split("_")[0].lower() == "en":
        return english
    try:
        name = Locale.parse(code).get_display_name(Locale.parse(display))
    except (ValueError, TypeError, UnknownLocaleError):
        return english
    return (name[:1].upper() + name[1:]) if name else english


def language_label(code, display_lang=None):
    """ "Italian (it)", "English (US) (en_US)": the name and the code."""
    return f"{language_name(code, display_lang)} ({code})"


def language_choices(display_lang=None):
    """``[(code, "Name (code)")]`` of every WhatsApp language, sorted by name
    in ``display_lang``."""
    return sorted(
        ((code, language_label(code, display_lang)) for code in CODES),
        key=lambda item: item[1].lower(),
    )
