"""Money: Decimal amounts in the store currency, rounded and formatted in one place."""
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency, get_currency_precision
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
        quantize(amount, currency), currency, locale=locale or settings.STORE_LOCALE, currency_digits=True
    )
