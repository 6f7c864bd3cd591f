"""Payments: every attempt to take money for an order, every refund, every provider event.

The ledger lives here, not on the order: an order can have several payments (a declined card,
then a good one; rarely a second charge that is refunded) and several refunds. The order's
status is moved by `orders.services` when this app tells it money arrived or left.
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Provider(models.TextChoices):
    DEMO = "demo", _("Demo (test cards)")
    STRIPE = "stripe", _("Stripe")
    # Money staff received outside the store (bank transfer, cash at the shop) and recorded with
    # "Mark paid"; refunds of it are paid back by hand.
    MANUAL = "manual", _("Manual (recorded by staff)")
    # Part or all of an order paid from a gift card's balance (giftcards app): taken when the order
    # is placed, given back if it is never paid, refunded to the card.
    GIFT_CARD = "gift_card", _("Gift card")
    # Taken at a shop's counter (pos app): notes and coins into the register's drawer, or a card on
    # the shop's own payment terminal (its amount and reference typed by staff). Refunds of either
    # are recorded here and paid back by hand (cash from the drawer, or on the terminal).
    CASH = "cash", _("Cash at the counter")
    CARD_TERMINAL = "card_terminal", _("Card on the shop's terminal")


class Payment(models.Model):
    """One attempt to take `amount` for an order through a provider (one Stripe Checkout Session).

    `amount` is what was asked for; once the provider confirms, the amount it reports taking.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")  # sent to the provider, nothing heard yet
        PROCESSING = "processing", _("Processing")  # authorised, funds on their way (bank debits)
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")  # declined; the shopper may try again on the same payment
        CANCELLED = "cancelled", _("Cancelled")  # abandoned: the provider's session expired

    # The failure_message of an attempt whose payment page the provider could not open (network
    # down, timeout): nothing was charged, and the shopper is told so and offered to pay again.
    NOT_OPENED = "The provider could not open a payment page."

    order = models.ForeignKey(
        "orders.Order", verbose_name=_("order"), on_delete=models.PROTECT, related_name="payments"
    )
    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    # Stripe: the Checkout Session id and its PaymentIntent id. Demo: its own references.
    provider_session_id = models.CharField(_("provider session"), max_length=255, blank=True)
    provider_payment_id = models.CharField(_("provider payment"), max_length=255, blank=True)
    # Where the shopper pays (the Checkout page), so a second click goes back to the same one.
    redirect_url = models.URLField(_("payment page"), max_length=2000, blank=True)
    # When the provider closes that page (Stripe: the Checkout Session's expiry).
    expires_at = models.DateTimeField(_("page closes"), null=True, blank=True)
    failure_message = models.TextField(_("failure"), blank=True)
    raw = models.JSONField(_("provider data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    succeeded_at = models.DateTimeField(_("succeeded"), null=True, blank=True)
    # Who recorded a manual payment; empty for payments the shopper made through a provider.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["order", "status"], name="payment_order_status"),
            # Net sales: the payments that succeeded in a range of store days, read from the index
            # alone (migration 0008; PostgreSQL: the other columns INCLUDEd).
            models.Index(fields=["succeeded_at"], include=["order", "amount", "status", "provider"],
                         name="payment_succeeded_covering"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.UniqueConstraint(
                fields=["provider", "provider_session_id"], condition=~Q(provider_session_id=""),
                name="payment_session_unique",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_payment_id"], condition=~Q(provider_payment_id=""),
                name="payment_provider_payment_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.amount} {self.currency} ({self.get_status_display()})"

    @property
    def checkout_idempotency_key(self) -> str:
        """Sent with the provider call that opens the payment page: a retried start gets the same page."""
        return f"payment-{self.pk}-checkout"


class RefundQuerySet(models.QuerySet):
    def awaiting_provider(self) -> RefundQuerySet:
        """Refunds no provider has answered yet (`Refund.awaiting_provider`): recorded pending
        before their call (`services.open_refund`), or asked without an answer. Sent, once each
        whoever else is sending, by `services.send_awaiting_refunds`."""
        return self.filter(status=Refund.Status.PENDING, provider_reference="")

    def being_sent(self) -> RefundQuerySet:
        """Awaiting their provider and claimed by a sender asking it right now (`Refund.being_sent`)."""
        return self.awaiting_provider().filter(sending_since__gt=timezone.now() - Refund.SEND_LEASE)


class Refund(models.Model):
    """Money given back from one payment. Never more than the payment kept (checked under its lock).

    A pending refund is on its way (the provider has not finished it): it counts against what is
    left to refund, but the order is only moved to (partially) refunded once it succeeded. A
    failed one gave nothing back and counts nowhere.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    # Refunds only move forward: pending -> succeeded | failed, succeeded -> failed (Stripe can
    # report a refund failing after it succeeded). A failed refund stays failed.
    NEXT = {
        Status.PENDING: frozenset({Status.SUCCEEDED, Status.FAILED}),
        Status.SUCCEEDED: frozenset({Status.FAILED}),
        Status.FAILED: frozenset(),
    }
    # How long a sender's claim holds (`sending_since`): longer than any provider call can take
    # (Stripe: 5 s to connect and 15 s to read, three tries); an older claim belongs to a sender
    # that died mid-call, and another may ask again (with the same idempotency key).
    SEND_LEASE = timedelta(minutes=5)

    payment = models.ForeignKey(Payment, verbose_name=_("payment"), on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    provider_reference = models.CharField(_("provider reference"), max_length=255, blank=True)
    # "payment-<id>-refund-<n>": a retried refund call gets the same refund from the provider.
    idempotency_key = models.CharField(max_length=80, unique=True, null=True, blank=True, editable=False)
    reason = models.TextField(_("reason"), blank=True)
    # Why the provider could not give the money back (Stripe's `failure_reason`).
    failure_reason = models.CharField(_("failure"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # When a sender claimed the refund to ask its provider (`services.send_refund`, a conditional
    # UPDATE): the provider is called with no transaction open, so this, not a row lock, keeps a
    # second sender from asking at the same time. Cleared with the answer; a claim older than
    # `SEND_LEASE` (a worker that died mid-call) may be taken again.
    sending_since = models.DateTimeField(_("being sent since"), null=True, blank=True, editable=False)

    objects = RefundQuerySet.as_manager()

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # Net sales: the refunds made in a range of store days (migration 0007).
            models.Index(fields=["created_at"], name="refund_created_at"),
            # The refunds jobs send: few among many answered ones.
            models.Index(fields=["created_at"], condition=Q(status="pending", provider_reference=""),
                         name="refund_awaiting_provider"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["provider_reference"], condition=~Q(provider_reference=""), name="refund_reference_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} ({self.get_status_display()})"

    @property
    def being_sent(self) -> bool:
        """Claimed by a sender that is asking its provider right now: that sender records the
        answer (and settles what it sends for), so nobody else should ask or conclude meanwhile."""
        return (self.awaiting_provider and self.sending_since is not None
                and self.sending_since > timezone.now() - self.SEND_LEASE)

    @property
    def awaiting_provider(self) -> bool:
        """Recorded pending before its provider was asked, or asked without an answer: it is
        sent (again) with its own idempotency key (`payments.services.send_refund`), so the
        provider makes it at most once. The same test as `Refund.objects.awaiting_provider()`."""
        return self.status == self.Status.PENDING and not self.provider_reference


class WebhookEvent(models.Model):
    """A provider event, stored when it is processed: its id is the exactly-once guard."""

    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    event_id = models.CharField(_("event id"), max_length=255)
    type = models.CharField(_("type"), max_length=100)
    payload = models.JSONField(_("payload"), default=dict)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    result = models.CharField(_("result"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_once"),
        ]
        indexes = [models.Index(fields=["type", "-received_at"], name="webhook_event_type")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"

