"""Sales channels: where an order was taken (the web store, a shop's counter, the phone, an app).

A channel decides two things about what it sells:

- which products: a product is sold online only, in shops only, or both (`Publication`; no row
  means both). Online channels (web, app) show "online" and "both" products, shop counters
  "shops" and "both", and staff taking orders by phone sell everything the catalog publishes.
- at what price: a channel may have a price list whose entries replace the catalog price of
  some variants. The web store has none: its prices are the catalog's (see docs/decisions.md
  "The web store's prices are the catalog's"), so the storefront's cached cards, the listing index
  and checkout need no second price source.

Every order names its channel (`orders.Order.channel`, "web" unless a staff flow says otherwise),
and a shop sale its location and the staff member.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shop.models import TimeStamped

WEB = "web"
PHONE = "phone"


class PriceList(TimeStamped):
    """Prices that replace the catalog's for the channels that use this list."""

    name = models.CharField(_("name"), max_length=120, unique=True)

    class Meta:
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PriceListEntry(models.Model):
    price_list = models.ForeignKey(PriceList, verbose_name=_("price list"), on_delete=models.CASCADE,
                                   related_name="entries")
    variant = models.ForeignKey("catalog.Variant", verbose_name=_("variant"), on_delete=models.CASCADE,
                                related_name="price_list_entries")
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["price_list", "variant"]
        constraints = [
            models.UniqueConstraint(fields=["price_list", "variant"], name="price_list_entry_unique_variant"),
            models.CheckConstraint(condition=Q(price__gte=0), name="price_list_entry_price_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.variant} @ {self.price}"


class Channel(TimeStamped):
    class Kind(models.TextChoices):
        WEB = "web", _("Web store")
        POS = "pos", _("Shop counter (point of sale)")
        PHONE = "phone", _("Phone and back office")
        APP = "app", _("App")

    # The code is the key: orders default to "web" without a query, and it never changes.
    code = models.SlugField(_("code"), max_length=40, primary_key=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    location = models.ForeignKey(
        # A shop's counter goes with the shop; a shop with orders or stock history cannot be deleted.
        "catalog.Location", verbose_name=_("shop"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="channels", help_text=_("The shop whose counter this is (shop counters only)."),
    )
    price_list = models.ForeignKey(
        PriceList, verbose_name=_("price list"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="channels", help_text=_("Prices that replace the catalog's; empty: catalog prices."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("sales channel")
        verbose_name_plural = _("sales channels")
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="pos", location__isnull=False) | (~Q(kind="pos") & Q(location__isnull=True)),
                name="channel_location_only_for_counters",
            ),
            models.CheckConstraint(condition=~Q(kind="web") | Q(price_list__isnull=True),
                                   name="channel_web_sells_at_catalog_prices"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == self.Kind.POS and not self.location_id:
            raise ValidationError({"location": _("A shop counter belongs to a shop: choose its location.")})
        if self.kind != self.Kind.POS and self.location_id:
            raise ValidationError({"location": _("Only a shop counter has a location.")})
        if self.kind == self.Kind.WEB and self.price_list_id:
            raise ValidationError({"price_list": _(
                "The web store sells at catalog prices; change those in the catalog instead."
            )})

    @property
    def sells_online(self) -> bool:
        return self.kind in (self.Kind.WEB, self.Kind.APP)


class Publication(TimeStamped):
    """Where a product is sold, when not everywhere: a product without a row is sold in both."""

    class SoldIn(models.TextChoices):
        BOTH = "both", _("Online and in shops")
        ONLINE = "online", _("Online only")
        SHOPS = "shops", _("In shops only")

    product = models.OneToOneField("catalog.Product", verbose_name=_("product"), on_delete=models.CASCADE,
                                   related_name="publication")
    sold_in = models.CharField(_("sold in"), max_length=10, choices=SoldIn.choices, default=SoldIn.BOTH)

    class Meta:
        verbose_name = _("product publication")
        verbose_name_plural = _("product publications")
        ordering = ["product"]

    def __str__(self) -> str:
        return f"{self.product}: {self.get_sold_in_display()}"


def sold_in_channel(sold_in: str, kind: str) -> bool:
    """Whether a product sold in `sold_in` is published on a channel of `kind` (the one rule)."""
    if kind == Channel.Kind.PHONE:
        return True
    if kind in (Channel.Kind.WEB, Channel.Kind.APP):
        return sold_in != Publication.SoldIn.SHOPS
    return sold_in != Publication.SoldIn.ONLINE
