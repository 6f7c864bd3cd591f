"""Shopping carts: one per signed-in customer, or one per guest session.

A cart holds lines (a variant and a quantity) and nothing about money but what each line's price
was when the shopper last saw it. Prices, totals and availability are always worked out from the
catalog when the cart is read (`selectors.cart_contents`); the remembered price only lets the
cart say "the price of X went from $10.00 to $12.00".
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Variant


class Cart(models.Model):
    # Null for a guest: their session holds the cart's id (see selectors.CART_SESSION_KEY).
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("customer"), null=True, blank=True,
        on_delete=models.CASCADE, related_name="cart",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"cart {self.pk}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, verbose_name=_("cart"), on_delete=models.CASCADE, related_name="lines")
    # A variant staff delete leaves every cart; one they deactivate stays, marked unavailable.
    variant = models.ForeignKey(Variant, verbose_name=_("variant"), on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    # The catalog price when the shopper added the line or last saw the cart; never what they pay.
    unit_price = models.DecimalField(_("unit price when added"), max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cart_line_quantity_positive"),
            models.UniqueConstraint(fields=["cart", "variant"], name="cart_line_one_per_variant"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.variant_id}"
