"""Email campaigns: what staff wrote, who it went to, and what happened to each message.

`CampaignMessage` is the campaign's own outbox (one row per recipient, not one
`notifications.OutboundEmail` each): a campaign to 100,000 customers would otherwise bury the
order emails staff watch in the outbox admin, and each row here already carries what the
campaign pages count (sent, failed, skipped). It follows the outbox's contract: the unique
(campaign, customer) pair means a customer is listed once however often "send" is pressed, and a
row is claimed, sent and marked sent in one transaction, so a retried task never sends it twice
(see `services.send_campaign_batch`).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shop.models import TimeStamped


class Campaign(TimeStamped):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    name = models.CharField(_("name"), max_length=200, help_text=_("For staff only; customers never see it."))
    # The three below are templates (services.render_campaign_message): {{ customer.first_name }},
    # {{ customer.full_name }}, {{ picks }}, {{ unsubscribe_url }}; checked when saved.
    subject = models.CharField(_("subject"), max_length=255)
    html_body = models.TextField(_("HTML body"))
    text_body = models.TextField(
        _("plain-text body"), blank=True,
        help_text=_("Shown by mail clients that do not show HTML. Left empty, it is made from the HTML body."),
    )
    segment = models.ForeignKey(
        "customers.Segment", verbose_name=_("segment"), null=True, on_delete=models.SET_NULL,
        related_name="campaigns",
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT,
                              editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sent by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    # When "send" was pressed (the recipients were fixed then) and when the last message was done.
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True, editable=False)
    # How many messages "send" created: the consenting members at that moment.
    recipient_count = models.PositiveIntegerField(_("recipients"), default=0, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-pk"]
        permissions = [("send_campaign", _("Can send campaigns to customers"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "cancelled"]) | Q(sent_at__isnull=False),
                name="campaign_sending_has_sent_at",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT


class CampaignMessage(models.Model):
    """One customer's copy of a campaign. Created pending when the campaign is sent."""

    class Status(models.TextChoices):
        # Waiting, or waiting again after a mail server error (`error` says which, `attempts` how often).
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Sent")
        # Given up: the server refused the address, or MAX_ATTEMPTS errors in a row.
        FAILED = "failed", _("Failed")
        # Not sent on purpose: consent withdrawn or data erased before sending, or campaign cancelled.
        SKIPPED = "skipped", _("Skipped")

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE,
                                 related_name="messages")
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="campaign_messages")
    # The address it went to (or was meant for), kept because a customer's email can change.
    email = models.EmailField(_("email"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.TextField(_("last error or reason"), blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("campaign message")
        verbose_name_plural = _("campaign messages")
        ordering = ["pk"]
        constraints = [
            # Sending twice by accident never emails anyone twice: one row per customer per campaign.
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaign_message_once_per_customer"),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="campaign_message_sent_has_time"
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="campaign_message_status"),
            # The "unsubscribed after this campaign" count looks up a customer's messages by time.
            models.Index(fields=["customer", "sent_at"], name="campaign_message_customer_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.email}"
