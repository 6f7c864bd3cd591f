"""Click and collect: the shops' opening hours and what to bring, and each pick-up's life.

A pick-up order (`Order.pickup_location`) is reserved at its shop when placed (orders, inventory).
This app adds what happens at the shop: staff mark it ready (the shopper is emailed a pick-up
code, the shop's address, hours and what to bring), the shopper collects it with the code at the
counter, or it is reminded after `PICKUP_REMINDER_DAYS` and cancelled, refunded and restocked
after `PICKUP_CANCEL_AFTER_DAYS`.

The code is never stored: it is derived from a random salt with the project's SECRET_KEY
(`codes.pickup_code`), so neither the database nor a staff member reading the admin can see it;
the email computes it when it is sent and the counter checks what the shopper says against it.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from shop.models import TimeStamped


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class PickupShop(TimeStamped):
    """What a shopper needs to know about collecting at a location (its address is the location's)."""

    location = models.OneToOneField(
        "catalog.Location", verbose_name=_("location"), on_delete=models.CASCADE, related_name="pickup_shop",
    )
    instructions = models.TextField(
        _("what to bring"), blank=True,
        default=_("Your order number and pick-up code (on your phone is fine), and a photo ID."),
        help_text=_("Shown in the \"ready for pickup\" email and at checkout."),
    )
    phone = models.CharField(_("phone"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("pick-up shop")
        verbose_name_plural = _("pick-up shops")
        ordering = ["location__position", "location__name"]

    def __str__(self) -> str:
        return str(self.location)


class OpeningHours(models.Model):
    """One opening period on one weekday; a day with none is closed, two make a lunch break."""

    shop = models.ForeignKey(PickupShop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("day"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(condition=Q(closes__gt=F("opens")), name="opening_hours_close_after_open"),
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="opening_hours_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class Pickup(TimeStamped):
    """A pick-up order once staff said it is ready: waiting at the shop, collected, or cancelled.

    Its status answers one question (where the parcel at the counter is); the order's own
    fulfilment state moves with it (collected = shipped, cancelled = cancelled).
    """

    class Status(models.TextChoices):
        READY = "ready", _("Ready for pickup")
        COLLECTED = "collected", _("Collected")
        CANCELLED = "cancelled", _("Not collected, cancelled")

    order = models.OneToOneField("orders.Order", verbose_name=_("order"), on_delete=models.CASCADE,
                                 related_name="pickup")
    location = models.ForeignKey("catalog.Location", verbose_name=_("shop"), on_delete=models.PROTECT,
                                 related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.READY,
                              editable=False)
    # The code is derived from this (codes.pickup_code); a new salt is a new code.
    code_salt = models.CharField(max_length=32, editable=False)
    failed_attempts = models.PositiveSmallIntegerField(_("wrong codes entered"), default=0, editable=False)
    ready_at = models.DateTimeField(_("ready since"), editable=False)
    ready_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("made ready by"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+", editable=False)
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True, editable=False)
    collected_at = models.DateTimeField(_("collected"), null=True, blank=True, editable=False)
    collected_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("handed over by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+", editable=False)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("pick-up")
        verbose_name_plural = _("pick-ups")
        ordering = ["-ready_at", "-pk"]
        indexes = [models.Index(fields=["status", "ready_at"], name="pickup_status_ready")]

    def __str__(self) -> str:
        return f"{self.order} @ {self.location}"
