"""The outbox: one row per email the store means to send, so that each is sent exactly once.

A row is written in the same transaction as the change that calls for the email (an order placed,
a shipment created), then a task delivers it after commit. The row's unique `key` is what makes
delivery idempotent: a sender claims the row under its row lock (status "sending", with a lease
until `next_attempt_at`), sends with no lock held, then marks it sent. A failed attempt records
the error and the time of the next attempt (backing off); the retry loop
(`services.send_due_emails` / `requeue_unsent_emails`) sends whatever is due, and after
GIVE_UP_AFTER_ATTEMPTS attempts the row is left to staff, who see it with its last error.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class OutboundEmail(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        FAILED = "failed", _("Failed, will be retried")
        GAVE_UP = "gave_up", _("Failed, not retried any more")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Not needed any more")

    # e.g. "order:42:confirmation", "order:42:shipped:7", "low_stock:<uuid>", "staff_alert:order_event:9".
    key = models.CharField(_("key"), max_length=200, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=40, editable=False)
    order = models.ForeignKey(
        "orders.Order", verbose_name=_("order"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="emails", editable=False,
    )
    # What the sender needs besides the order: shipment_id, refund_id, amount, stock_level_ids, subject, message.
    params = models.JSONField(_("parameters"), default=dict, blank=True, editable=False)
    recipients = models.JSONField(_("recipients"), default=list, blank=True, editable=False)
    subject = models.CharField(_("subject"), max_length=255, blank=True, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING, editable=False
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True, editable=False)
    # Waiting or failed: when the retry loop sends it. Being sent: when the sender's claim lapses
    # (a sender that died is replaced then). Sent, skipped or given up: empty.
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbound_email_status_due")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="outbound_email_sent_has_time"
            ),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def is_sent(self) -> bool:
        return self.status == self.Status.SENT
