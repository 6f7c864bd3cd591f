"""Draft orders: what staff type while a customer is on the phone (or in an email, or a B2B
purchase order), before it becomes an order.

A draft reserves nothing and prices nothing for good: it is a list of variants and quantities, a
shipping line and an optional manual discount with its reason. "Place" turns it into an
`orders.Order` through `orders.services.place_order` (catalog prices, stock reserved then, in
that transaction), on the phone channel, and chooses how it is paid: a payment link emailed to
the customer, money staff received offline, or on invoice.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shop.models import TimeStamped


class DraftOrder(TimeStamped):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PLACED = "placed", _("Placed")

    class Payment(models.TextChoices):
        LINK = "link", _("Email the customer a payment link")
        OFFLINE = "offline", _("Paid offline (bank transfer, cash, card by phone)")
        INVOICE = "invoice", _("On invoice: paid later")

    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT,
                              editable=False)
    customer = models.ForeignKey("customers.Customer", verbose_name=_("existing customer"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+",
                                 help_text=_("Leave empty for a new customer: the email below makes one."))
    email = models.EmailField(_("email"), blank=True, help_text=_("Taken from the customer when one is chosen."))
    customer_name = models.CharField(_("customer name"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    purchase_order = models.CharField(_("customer's reference (PO)"), max_length=80, blank=True)

    pickup_location = models.ForeignKey(
        "catalog.Location", verbose_name=_("collect at"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", limit_choices_to={"pickup_allowed": True, "is_active": True},
        help_text=_("Leave empty to ship to the address below."),
    )
    shipping_name = models.CharField(_("shipping method"), max_length=120, blank=True, default="Standard delivery")
    shipping_price = models.DecimalField(_("shipping price"), max_digits=12, decimal_places=2, default=Decimal("0"))
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    address_line2 = models.CharField(_("address (line 2)"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO 3166 code, e.g. US"))

    discount_amount = models.DecimalField(_("manual discount"), max_digits=12, decimal_places=2,
                                          default=Decimal("0"))
    discount_reason = models.CharField(_("reason for the discount"), max_length=200, blank=True)
    note = models.TextField(_("internal note"), blank=True)
    # Started from the chat inbox: once placed with a payment link, the link is posted there too (chat.signals).
    conversation = models.ForeignKey("chat.Conversation", verbose_name=_("chat conversation"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="draft_orders", editable=False)

    order = models.OneToOneField("orders.Order", verbose_name=_("order"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="draft", editable=False)
    payment = models.CharField(_("payment"), max_length=10, choices=Payment.choices, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("taken by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", editable=False)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("placed by"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+", editable=False)
    placed_at = models.DateTimeField(_("placed"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("draft order")
        verbose_name_plural = _("draft orders")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(discount_amount__gte=0), name="draft_discount_non_negative"),
            models.CheckConstraint(condition=Q(shipping_price__gte=0), name="draft_shipping_non_negative"),
            models.CheckConstraint(condition=Q(discount_amount=0) | ~Q(discount_reason=""),
                                   name="draft_discount_has_reason"),
        ]

    def __str__(self) -> str:
        return self.order.number if self.order_id else f"Draft #{self.pk}"

    @property
    def shipping_address(self) -> dict:
        if self.pickup_location_id:
            return {}
        return {"name": self.customer_name, "line1": self.address_line1, "line2": self.address_line2,
                "postal_code": self.postal_code, "city": self.city, "region": self.region,
                "country": self.country.upper()}


class DraftLine(models.Model):
    draft = models.ForeignKey(DraftOrder, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey("catalog.Variant", verbose_name=_("variant"), on_delete=models.PROTECT,
                                related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"), default=1)

    class Meta:
        verbose_name = _("line")
        verbose_name_plural = _("lines")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="draft_line_quantity_positive"),
            models.UniqueConstraint(fields=["draft", "variant"], name="draft_line_variant_once"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.variant}"
