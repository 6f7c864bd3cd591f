"""Gift cards and their ledger.

A card's `balance` is a cached figure: the ledger (`GiftCardTransaction`) is the truth, and every
change to the balance writes one row there in the same transaction, under the card's row lock
(`services`). `selectors.ledger_mismatches` finds any card whose balance is not its ledger's sum.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .codes import masked


class GiftCardProduct(models.Model):
    """A catalog product sold as a gift card: each unit bought becomes a card worth the price paid.

    Kept here, not as a flag on catalog.Product, so the catalog needs no migration; such a product
    is digital (nothing is shipped for its lines: a card is emailed instead).
    """

    product = models.OneToOneField(
        "catalog.Product", verbose_name=_("product"), on_delete=models.CASCADE, related_name="gift_card"
    )
    # Months a sold card stays valid; empty: it never expires (some places forbid expiry).
    valid_months = models.PositiveIntegerField(_("valid for (months)"), null=True, blank=True)

    class Meta:
        verbose_name = _("gift card product")
        verbose_name_plural = _("gift card products")

    def __str__(self) -> str:
        return str(self.product)


class GiftCard(models.Model):
    class Source(models.TextChoices):
        SOLD = "sold", _("Sold")
        ISSUED = "issued", _("Issued by staff")

    # Empty until the code exists: a sold card gets its code when it is delivered.
    code_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    last4 = models.CharField(_("code ends with"), max_length=4, blank=True, editable=False)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, editable=False)
    initial_balance = models.DecimalField(_("initial value"), max_digits=12, decimal_places=2, editable=False)
    balance = models.DecimalField(_("balance"), max_digits=12, decimal_places=2, editable=False)
    currency = models.CharField(_("currency"), max_length=3, editable=False)
    is_active = models.BooleanField(_("active"), default=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("issued by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    reason = models.TextField(_("reason"), blank=True)
    deactivated_at = models.DateTimeField(_("deactivated"), null=True, blank=True, editable=False)
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("deactivated by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    deactivation_reason = models.TextField(_("why deactivated"), blank=True, editable=False)
    # A sold card: the order and line it was bought with (one card per unit).
    order = models.ForeignKey(
        "orders.Order", verbose_name=_("bought with order"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="gift_cards_bought", editable=False,
    )
    order_line = models.ForeignKey(
        "orders.OrderLine", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    unit_index = models.PositiveIntegerField(default=0, editable=False)
    recipient_email = models.EmailField(_("recipient email"), blank=True)
    recipient_name = models.CharField(_("recipient name"), max_length=120, blank=True)
    sender_name = models.CharField(_("from"), max_length=120, blank=True)
    message = models.TextField(_("message"), blank=True, max_length=1000)
    deliver_at = models.DateTimeField(_("deliver at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True, editable=False)
    # The first signed-in shopper who paid with it: their account lists it.
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("first used by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("gift card")
        verbose_name_plural = _("gift cards")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient_email"], name="giftcard_recipient"),
            models.Index(fields=["delivered_at", "deliver_at"], name="giftcard_delivery_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="giftcard_balance_non_negative"),
            models.CheckConstraint(condition=Q(initial_balance__gt=0), name="giftcard_initial_positive"),
            models.UniqueConstraint(
                fields=["order_line", "unit_index"], condition=Q(order_line__isnull=False),
                name="giftcard_once_per_unit_bought",
            ),
        ]

    def __str__(self) -> str:
        return self.display_code or _("Gift card %(pk)s (not delivered yet)") % {"pk": self.pk}

    @property
    def display_code(self) -> str:
        return masked(self.last4)

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def is_usable(self, now=None) -> bool:
        return self.is_active and self.code_hash is not None and not self.is_expired(now) and self.balance > 0


class GiftCardTransaction(models.Model):
    """One change to a card's balance: positive credits it, negative debits it."""

    class Kind(models.TextChoices):
        ISSUE = "issue", _("Issued")  # the card's first value
        DEBIT = "debit", _("Paid for an order")
        RELEASE = "release", _("Given back: order not paid")  # an unpaid order expired or was cancelled
        REFUND = "refund", _("Refunded to the card")
        ADJUST = "adjust", _("Adjusted by staff")

    card = models.ForeignKey(GiftCard, verbose_name=_("gift card"), on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    balance_after = models.DecimalField(_("balance after"), max_digits=12, decimal_places=2)
    order = models.ForeignKey(
        "orders.Order", verbose_name=_("order"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(
        "payments.Payment", verbose_name=_("payment"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="gift_card_transactions",
    )
    refund = models.ForeignKey(
        "payments.Refund", verbose_name=_("refund"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("gift card transaction")
        verbose_name_plural = _("gift card transactions")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="giftcard_transaction_not_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="giftcard_transaction_balance_non_negative"),
            # A refund credits its card once.
            models.UniqueConstraint(fields=["refund"], condition=Q(refund__isnull=False),
                                    name="giftcard_transaction_once_per_refund"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class GiftCardEvent(models.Model):
    """Something done to a card that moves no money: its email sent again (to a corrected address
    or not), its recipient changed before delivery, its deactivation. The card's audit trail
    beside the ledger; never holds a code.

    `key` is the click that asked for it (a token in the form): the same click posted twice
    finds its event and does nothing more.
    """

    class Kind(models.TextChoices):
        RESENT = "resent", _("Email sent again (new code)")
        RECIPIENT = "recipient", _("Recipient changed before delivery")
        DEACTIVATED = "deactivated", _("Deactivated")

    class By(models.TextChoices):
        STAFF = "staff", _("Staff")
        PURCHASER = "purchaser", _("Purchaser")

    card = models.ForeignKey(GiftCard, verbose_name=_("gift card"), on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    by = models.CharField(_("by"), max_length=10, choices=By.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    recipient_email = models.EmailField(_("sent to"), blank=True)
    previous_email = models.EmailField(_("previous recipient"), blank=True)
    # The code's last four before and after (a resend makes a new code: the old one stops working).
    previous_last4 = models.CharField(_("old code ended"), max_length=4, blank=True)
    last4 = models.CharField(_("new code ends"), max_length=4, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    key = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("gift card event")
        verbose_name_plural = _("gift card events")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["card", "kind", "created_at"], name="giftcard_event_card_kind")]

    def __str__(self) -> str:
        return self.get_kind_display()


ZERO = Decimal("0")
