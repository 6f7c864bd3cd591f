"""Money: Decimal amounts in the store currency, rounded and formatted in one place."""
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, get_currency_precision
from django import forms
from django.conf import settings


def currency_code() -> str:
    return settings.STORE_CURRENCY


def quantize(amount: Decimal, currency: str | None = None) -> Decimal:
    """Round `amount` to the currency's minor unit (2 places for USD, none for JPY or KRW)."""
    return Decimal(amount).quantize(_minor_unit(currency or currency_code()), rounding=ROUND_HALF_UP)


@lru_cache(maxsize=32)
def _minor_unit(currency: str) -> Decimal:
    """Decimal("0.01") for USD: Babel's precision lookup, once per currency (pages round dozens of amounts)."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def format_money(amount: Decimal | None, currency: str | None = None, locale: str | None = None) -> str:
    """Format `amount` the way the currency is written: "$1,234.50", "¥1,235", "₩12,000"."""
    if amount is None:
        return ""
    currency = currency or currency_code()
    rounded = quantize(amount, currency)
    return _formatted(rounded, rounded.is_signed(), currency, locale or settings.STORE_LOCALE)


@lru_cache(maxsize=4096)
def _formatted(amount: Decimal, _signed: bool, currency: str, locale: str) -> str:
    """Babel's text for an amount already rounded, once per process: ~0.05 ms a call, and pages
    show the same prices again and again (a product page's price, its neighbours' cards, a cart's
    lines and totals). Equal amounts are equal keys whatever their exponent (which rounding made
    the currency's own anyway), but -0.00 equals 0.00 and prints "-$0.00": the sign is in the key."""
    return format_currency(amount, currency, locale=_locale(locale), currency_digits=True)


@lru_cache(maxsize=32)
def _locale(name: str) -> Locale:
    """Babel's locale `name`, parsed once: given a name, format_currency parses it on every call,
    two thirds of its time (a cart page formats some thirty amounts)."""
    return Locale.parse(name)


class MoneyField(forms.DecimalField):
    """A form field for an amount of money: shows its value the way money is written ("119.90").

    An initial value computed by the database (a sum, a difference of sums) can carry more places
    than the currency has: SQLite adds decimals as floating point numbers, and Django rounds only
    plain columns, so a refund form offered "119.900000000000". This shows any Decimal value
    rounded to the currency's minor unit; what staff type is validated as before.
    """

    def __init__(self, *, currency: str | None = None, **kwargs) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)
        self.currency = currency

    def prepare_value(self, value):
        if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
            return quantize(Decimal(value), self.currency)
        return value
