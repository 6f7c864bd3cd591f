"""Country names for addresses, in the current language, from Babel's CLDR data (no query)."""
from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.utils import translation


def country_name(code: str) -> str:
    """"DE" -> "Germany" (or "Deutschland" in German); an unknown code comes back as it is."""
    if not code:
        return ""
    try:
        locale = Locale.parse(translation.to_locale(translation.get_language() or settings.LANGUAGE_CODE))
    except (UnknownLocaleError, ValueError):
        return code
    return locale.territories.get(code.upper(), code)
