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
    places = get_currency_precision(currency or currency_code())
    return Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | None, currency: str | None = None, locale: str | None = None) -> str:
    """Format `amount` the way the currency is written: "$1,234.50", "¥1,235", "₩12,000"."""
    if amount is None:
        return ""
    currency = currency or currency_code()
    return format_currency(
        quantize(amount, currency), currency, locale=_locale(locale or settings.STORE_LOCALE), currency_digits=True
    )


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
