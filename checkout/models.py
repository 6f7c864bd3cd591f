"""What staff configure for checkout: where we ship, how much it costs, and the tax rates.

Prices here are what the shopper pays for shipping, in the store's currency, worked out on the
server by `services.shipping_options`; the browser only ever names an option.
"""
from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shop.models import TimeStamped


def parse_countries(value: str) -> list[str]:
    """"us, ca ; MX" -> ["US", "CA", "MX"]: ISO 3166 codes, upper case, in order, once each."""
    codes = [part.strip().upper() for part in value.replace(";", ",").replace(" ", ",").split(",")]
    return list(dict.fromkeys(code for code in codes if code))


class ShippingZone(TimeStamped):
    """A set of countries that share shipping methods ("Domestic", "Europe")."""

    name = models.CharField(_("name"), max_length=100)
    # A short list edited by hand, read whole (zones are few): a text field beats a join table.
    countries = models.CharField(
        _("countries"), max_length=1000,
        help_text=_("ISO 3166 country codes separated by commas, e.g. US, CA."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("shipping zone")
        verbose_name_plural = _("shipping zones")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def country_codes(self) -> list[str]:
        return parse_countries(self.countries)

    def clean(self) -> None:
        codes = parse_countries(self.countries)
        bad = [code for code in codes if len(code) != 2 or not code.isalpha()]
        if bad or not codes:
            raise ValidationError({"countries": _("Give two-letter ISO codes separated by commas (not %(bad)s).")
                                   % {"bad": ", ".join(bad) or "—"}})
        self.countries = ", ".join(codes)


class ShippingMethod(TimeStamped):
    class Kind(models.TextChoices):
        FLAT = "flat", _("Flat rate")
        WEIGHT = "weight", _("By weight bands")
        PRICE = "price", _("By order subtotal bands")

    zone = models.ForeignKey(ShippingZone, verbose_name=_("zone"), on_delete=models.CASCADE, related_name="methods")
    name = models.CharField(_("name"), max_length=100, help_text=_("What the shopper sees, e.g. \"Express (1–2 days)\"."))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.FLAT)
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, default=Decimal("0.00"), validators=[MinValueValidator(0)],
        help_text=_("The flat rate. Band methods price by their bands instead."),
    )
    free_above = models.DecimalField(
        _("free from subtotal"), max_digits=12, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Shipping costs nothing when the order subtotal reaches this amount. Empty: never free."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("shipping method")
        verbose_name_plural = _("shipping methods")
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="shipping_method_price_non_negative"),
            models.CheckConstraint(
                condition=Q(free_above__isnull=True) | Q(free_above__gte=0), name="shipping_method_free_above_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.zone}: {self.name}"


class ShippingRateBand(models.Model):
    """One step of a band method: orders up to `up_to` (kg, or subtotal) cost `price`.

    The cheapest band whose `up_to` the order does not exceed applies; an order above the last
    band cannot use the method (add a big last band to cover everything).
    """

    method = models.ForeignKey(ShippingMethod, verbose_name=_("method"), on_delete=models.CASCADE, related_name="bands")
    up_to = models.DecimalField(
        _("up to"), max_digits=12, decimal_places=3, validators=[MinValueValidator(0)],
        help_text=_("Total weight in kg (weight bands) or order subtotal (subtotal bands), inclusive."),
    )
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])

    class Meta:
        verbose_name = _("rate band")
        verbose_name_plural = _("rate bands")
        ordering = ["method", "up_to"]
        constraints = [
            models.UniqueConstraint(fields=["method", "up_to"], name="shipping_band_unique_limit"),
            models.CheckConstraint(condition=Q(price__gte=0) & Q(up_to__gte=0), name="shipping_band_non_negative"),
        ]

    def __str__(self) -> str:
        return f"≤ {self.up_to}: {self.price}"


class TaxRate(TimeStamped):
    """The tax charged on goods shipped to (or collected in) a country.

    `tax_class` empty is the country's default rate. A class names a catalog category by its slug:
    products in that category, or below it, are taxed at the class's rate instead (the nearest
    category with a rate wins), e.g. a reduced rate for "books".
    """

    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166 code, e.g. DE."))
    tax_class = models.SlugField(
        _("tax class (category slug)"), max_length=120, blank=True,
        help_text=_("Empty for the country's default rate; a category slug for products in that category."),
    )
    name = models.CharField(_("name"), max_length=60, blank=True, help_text=_("E.g. VAT, GST, Sales tax."))
    rate = models.DecimalField(
        # The precision of OrderLine.tax_rate, which copies it.
        _("rate (%)"), max_digits=5, decimal_places=2, validators=[MinValueValidator(0)],
    )

    class Meta:
        verbose_name = _("tax rate")
        verbose_name_plural = _("tax rates")
        ordering = ["country", "tax_class"]
        constraints = [
            models.UniqueConstraint(fields=["country", "tax_class"], name="tax_rate_one_per_country_class"),
            models.CheckConstraint(condition=Q(rate__gte=0) & Q(rate__lte=100), name="tax_rate_percent_range"),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.tax_class or '*'} {self.rate}%"

    def clean(self) -> None:
        self.country = (self.country or "").strip().upper()
        if len(self.country) != 2 or not self.country.isalpha():
            raise ValidationError({"country": _("Give a two-letter ISO code, e.g. DE.")})
