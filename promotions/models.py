"""Promotions, their codes, and what each order redeemed.

A promotion is automatic (applies whenever its conditions hold) or needs a code. Its conditions,
reward, limits and schedule are plain columns and many-to-many lists here; the arithmetic lives
in `promotions/engine.py`, which reads a frozen snapshot (`promotions.offers`), never the models.
Counters (`uses`, `spent`, a code's `uses`) are moved only by `services.redeem` with conditional
UPDATEs inside the order's transaction, and given back by `services.release_for_order`.
"""
from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.models import TimeStamped

# Generated codes: Crockford's base32 without 0, 1, I, L, O, U, so no two characters look alike in
# print or sound alike on the phone. Codes are stored upper case without separators; what a shopper
# types is normalised by `normalize_code`, so case, spaces and dashes never matter.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def normalize_code(text: str) -> str:
    """A code as typed ("  summer-10 ", "summer 10") -> as stored ("SUMMER10")."""
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def random_code(length: int = 10) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


class Promotion(TimeStamped):
    class Trigger(models.TextChoices):
        AUTOMATIC = "automatic", _("Automatic (no code)")
        CODE = "code", _("With a code")

    class Reward(models.TextChoices):
        PERCENT_LINES = "percent_lines", _("Percentage off the matching items")
        FIXED_LINES = "fixed_lines", _("Fixed amount off each matching unit")
        FIXED_PRICE = "fixed_price", _("Fixed price for each matching unit")
        PERCENT_ORDER = "percent_order", _("Percentage off the order")
        FIXED_ORDER = "fixed_order", _("Fixed amount off the order")
        BUY_X_GET_Y = "buy_x_get_y", _("Buy X get Y")
        SHIPPING = "shipping", _("Free or discounted shipping")
        FREE_GIFT = "free_gift", _("Free gift product")

    class Kind(models.TextChoices):
        """Which kind of discount the reward is: what the combination flags speak of."""

        PRODUCT = "product", _("Product discount")
        ORDER = "order", _("Order discount")
        SHIPPING = "shipping", _("Shipping discount")

    name = models.CharField(_("name"), max_length=120, help_text=_("Shown to shoppers on the lines it applies to."))
    trigger = models.CharField(_("applies"), max_length=10, choices=Trigger.choices, default=Trigger.AUTOMATIC)
    is_active = models.BooleanField(_("active"), default=True)
    starts_at = models.DateTimeField(_("starts"), default=timezone.now)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC",
        help_text=_("The schedule's times are read in this zone, e.g. Europe/Paris."),
    )
    priority = models.PositiveIntegerField(
        _("priority"), default=100, help_text=_("Lower numbers are applied first; each works on what the earlier left."),
    )
    combines_with_product = models.BooleanField(_("combines with product discounts"), default=False)
    combines_with_order = models.BooleanField(_("combines with order discounts"), default=False)
    combines_with_shipping = models.BooleanField(_("combines with shipping discounts"), default=True)

    # Conditions: every one that is set must hold. Empty item lists mean "every item".
    products = models.ManyToManyField("catalog.Product", verbose_name=_("products"), blank=True, related_name="+")
    variants = models.ManyToManyField("catalog.Variant", verbose_name=_("variants"), blank=True, related_name="+")
    categories = models.ManyToManyField(
        "catalog.Category", verbose_name=_("categories (and below)"), blank=True, related_name="+"
    )
    brands = models.ManyToManyField("catalog.Brand", verbose_name=_("brands"), blank=True, related_name="+")
    attribute_values = models.ManyToManyField(
        "catalog.AttributeValue", verbose_name=_("attribute values"), blank=True, related_name="+"
    )
    exclude_sale_items = models.BooleanField(
        _("not for items on sale"), default=False, help_text=_("Items with a compare-at price above their price do not count."),
    )
    min_subtotal = models.DecimalField(_("minimum subtotal"), max_digits=12, decimal_places=2, null=True, blank=True,
                                       validators=[MinValueValidator(Decimal("0"))])
    min_quantity = models.PositiveIntegerField(_("minimum quantity of matching items"), null=True, blank=True)
    segment = models.ForeignKey("customers.Segment", verbose_name=_("customer segment"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    first_order_only = models.BooleanField(_("first order only"), default=False)
    signed_in_only = models.BooleanField(_("signed-in customers only"), default=False)
    countries = models.CharField(
        _("shipping countries"), max_length=400, blank=True,
        help_text=_("Two-letter codes separated by commas (US, CA); empty for everywhere."),
    )

    # Reward.
    reward = models.CharField(_("reward"), max_length=20, choices=Reward.choices, default=Reward.PERCENT_LINES)
    value = models.DecimalField(
        _("value"), max_digits=12, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Percent for percentage rewards (and buy X get Y, shipping: 100 = free), an amount otherwise."),
    )
    buy_quantity = models.PositiveIntegerField(_("buy (X)"), default=0)
    get_quantity = models.PositiveIntegerField(_("get (Y)"), default=0)
    max_applications = models.PositiveIntegerField(_("at most this many times per order"), null=True, blank=True)
    gift_variant = models.ForeignKey("catalog.Variant", verbose_name=_("gift"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")

    # Limits and their counters (counters written only by services, with conditional UPDATEs).
    usage_limit = models.PositiveIntegerField(_("total uses"), null=True, blank=True)
    per_customer_limit = models.PositiveIntegerField(
        _("uses per customer"), null=True, blank=True, help_text=_("Counted by account, and by email for guests."),
    )
    budget = models.DecimalField(_("budget"), max_digits=12, decimal_places=2, null=True, blank=True,
                                 validators=[MinValueValidator(Decimal("0"))])
    uses = models.PositiveIntegerField(_("used"), default=0, editable=False)
    spent = models.DecimalField(_("spent"), max_digits=12, decimal_places=2, default=Decimal("0"), editable=False)

    class Meta:
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")
        ordering = ["priority", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(usage_limit__isnull=True) | Q(uses__lte=F("usage_limit")),
                                   name="promotion_uses_within_limit"),
            models.CheckConstraint(condition=Q(budget__isnull=True) | Q(spent__lte=F("budget")),
                                   name="promotion_spent_within_budget"),
            models.CheckConstraint(condition=Q(spent__gte=0), name="promotion_spent_non_negative"),
            models.CheckConstraint(condition=Q(value__gte=0), name="promotion_value_non_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def kind(self) -> str:
        return KIND_OF_REWARD[self.reward]

    def country_list(self) -> list[str]:
        return [c.strip().upper() for c in self.countries.split(",") if c.strip()]


KIND_OF_REWARD = {
    Promotion.Reward.PERCENT_LINES: Promotion.Kind.PRODUCT,
    Promotion.Reward.FIXED_LINES: Promotion.Kind.PRODUCT,
    Promotion.Reward.FIXED_PRICE: Promotion.Kind.PRODUCT,
    Promotion.Reward.BUY_X_GET_Y: Promotion.Kind.PRODUCT,
    Promotion.Reward.FREE_GIFT: Promotion.Kind.PRODUCT,
    Promotion.Reward.PERCENT_ORDER: Promotion.Kind.ORDER,
    Promotion.Reward.FIXED_ORDER: Promotion.Kind.ORDER,
    Promotion.Reward.SHIPPING: Promotion.Kind.SHIPPING,
}


class CodeBatch(models.Model):
    """Unique single-use codes generated together (e.g. 10,000 for a campaign), exported as CSV."""

    promotion = models.ForeignKey(Promotion, verbose_name=_("promotion"), on_delete=models.CASCADE,
                                  related_name="batches")
    prefix = models.CharField(_("prefix"), max_length=12, blank=True)
    size = models.PositiveIntegerField(_("codes"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("code batch")
        verbose_name_plural = _("code batches")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.promotion}: {self.size} codes ({self.created_at:%Y-%m-%d})"


class Code(models.Model):
    """A code shoppers type. Shared (any number of uses, within the promotion's limits) or single-use."""

    promotion = models.ForeignKey(Promotion, verbose_name=_("promotion"), on_delete=models.CASCADE,
                                  related_name="codes")
    code = models.CharField(_("code"), max_length=32, unique=True,
                            help_text=_("Letters and digits; case, spaces and dashes do not matter."))
    batch = models.ForeignKey(CodeBatch, null=True, blank=True, on_delete=models.CASCADE, related_name="codes")
    max_uses = models.PositiveIntegerField(_("uses allowed"), null=True, blank=True,
                                           help_text=_("Empty for a shared code; 1 for a single-use code."))
    uses = models.PositiveIntegerField(_("used"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("code")
        verbose_name_plural = _("codes")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(max_uses__isnull=True) | Q(uses__lte=F("max_uses")),
                                   name="code_uses_within_limit"),
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs):
        self.code = normalize_code(self.code)
        super().save(*args, **kwargs)


class Redemption(models.Model):
    """One promotion used by one order: the ledger behind every limit and report.

    `released_at` is set when the order expired unpaid or was cancelled before payment: the use
    and the money were given back to the promotion (and the code).
    """

    promotion = models.ForeignKey(Promotion, verbose_name=_("promotion"), on_delete=models.PROTECT,
                                  related_name="redemptions")
    code = models.ForeignKey(Code, verbose_name=_("code"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="redemptions")
    order = models.ForeignKey("orders.Order", verbose_name=_("order"), on_delete=models.CASCADE,
                              related_name="redemptions")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    email = models.EmailField(_("email"))  # lower case: per-customer limits count guests by it
    amount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2)
    counted_use = models.BooleanField(default=False, editable=False)  # moved the promotion's `uses`
    counted_spend = models.BooleanField(default=False, editable=False)  # moved the promotion's `spent`
    released_at = models.DateTimeField(_("given back"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["promotion", "order"], name="redemption_once_per_order"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="redemption_amount_non_negative"),
        ]
        indexes = [
            models.Index(fields=["promotion", "email"], name="redemption_promotion_email"),
            models.Index(fields=["promotion", "user"], name="redemption_promotion_user"),
        ]

    def __str__(self) -> str:
        return f"{self.promotion} on {self.order_id}"
