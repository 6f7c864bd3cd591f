"""Raw storefront events (kept ANALYTICS_EVENT_RETENTION_DAYS) and their daily rollup.

Events are written only in batches by `services.flush_events` from the buffer the recorder fills;
the dashboard reads `DailyMetric` rows (one per day, channel and metric) and never scans events
for a past day.
"""
from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

# Every event and order is "web" until sales channels arrive (issue 10: store it now).
WEB = "web"
# A sales channel's code (saleschannels.Channel.code): a shop's counter is "pos-<location code>",
# e.g. "pos-shop-harbour-street", longer than the 20 characters these columns first had.
CHANNEL_CODE_LENGTH = 40


class Event(models.Model):
    class Device(models.TextChoices):
        MOBILE = "mobile", _("Mobile")
        TABLET = "tablet", _("Tablet")
        DESKTOP = "desktop", _("Desktop")

    # Made by the recorder: a batch written twice (a flush retried after a crash) inserts once.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("event"), max_length=40)
    occurred_at = models.DateTimeField(_("when"))
    # The first-party visitor cookie's random id; empty for events no browser made (a payment webhook).
    visitor_id = models.CharField(_("visitor"), max_length=32, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    channel = models.CharField(_("channel"), max_length=CHANNEL_CODE_LENGTH, default=WEB)
    device = models.CharField(_("device"), max_length=10, choices=Device.choices, blank=True)
    utm_source = models.CharField(_("campaign source"), max_length=100, blank=True)
    utm_medium = models.CharField(_("campaign medium"), max_length=100, blank=True)
    utm_campaign = models.CharField(_("campaign"), max_length=100, blank=True)
    # The three utm_* above came from a link the store signed (a campaign or order email, analytics/
    # utm.py): only such a visit is attributed to a campaign. Unsigned or tampered ones are kept, False.
    utm_verified = models.BooleanField(_("campaign link verified"), default=False)
    properties = models.JSONField(_("properties"), default=dict, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            # The rollup reads one day of one event name at a time; the purge deletes by age.
            models.Index(fields=["occurred_at", "name"], name="analytics_event_when_name"),
            # "Download my data" and erasure find a person's browsers' events by visitor id
            # (customers/services/privacy.events_of): without it, a scan of every event each time.
            models.Index(fields=["visitor_id"], name="analytics_event_visitor"),
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.occurred_at:%Y-%m-%d %H:%M}"


class DailyMetric(models.Model):
    """One figure for one store-time-zone day and channel, written by `services.rollup_day`.

    A day's rows are replaced as a whole in one transaction, so re-running a day gives the same rows.
    """

    class Metric(models.TextChoices):
        CHARGED = "charged", _("Charged")
        REFUNDED = "refunded", _("Refunded")
        NET_SALES = "net_sales", _("Net sales")
        ORDERS = "orders", _("Orders")
        ORDER_VALUE = "order_value", _("Order value")  # sum of paid orders' totals (AOV's numerator)
        UNITS = "units", _("Units")
        NEW_CUSTOMERS = "new_customers", _("New customers")
        RETURNING_CUSTOMERS = "returning_customers", _("Returning customers")
        VISITORS = "visitors", _("Visitors")
        CONVERTED_VISITORS = "converted_visitors", _("Visitors who ordered")
        PRODUCT_VIEWS = "product_views", _("Product views")
        ADDS_TO_CART = "adds_to_cart", _("Adds to cart")
        CHECKOUTS = "checkouts", _("Checkouts started")

    day = models.DateField(_("day"))
    channel = models.CharField(_("channel"), max_length=CHANNEL_CODE_LENGTH, default=WEB)
    metric = models.CharField(_("figure"), max_length=30, choices=Metric.choices)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2)
    computed_at = models.DateTimeField(_("computed"), auto_now=True)

    class Meta:
        verbose_name = _("daily figure")
        verbose_name_plural = _("daily figures")
        ordering = ["-day", "channel", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["day", "channel", "metric"], name="daily_metric_once"),
        ]
        permissions = [("view_reports", _("Can see the reports and the dashboard"))]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.metric}: {self.value}"


class FunnelDay(models.Model):
    """One store day's sessions for one channel and device class, and how many of them reached
    each step of the funnel; written by `funnel.rollup_funnel_day` (a day's rows replaced as a whole).

    A session is one visitor's run of events with no gap over `funnel.SESSION_GAP`, cut at the
    store day's midnight. A step is reached when the session holds its event; "paid" when it
    placed an order that was paid by the time the day was rolled up.
    """

    day = models.DateField(_("day"))
    channel = models.CharField(_("channel"), max_length=CHANNEL_CODE_LENGTH, default=WEB)
    device = models.CharField(_("device"), max_length=10, choices=Event.Device.choices, blank=True)
    sessions = models.PositiveIntegerField(_("sessions"), default=0)
    product_views = models.PositiveIntegerField(_("with a product view"), default=0)
    carts = models.PositiveIntegerField(_("with an add to cart"), default=0)
    checkouts = models.PositiveIntegerField(_("with a checkout started"), default=0)
    paid = models.PositiveIntegerField(_("with an order paid"), default=0)
    computed_at = models.DateTimeField(_("computed"), auto_now=True)

    class Meta:
        verbose_name = _("daily funnel")
        verbose_name_plural = _("daily funnels")
        ordering = ["-day", "channel", "device"]
        constraints = [
            models.UniqueConstraint(fields=["day", "channel", "device"], name="funnel_day_once"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.device or '?'}: {self.sessions} sessions"


class ProductDay(models.Model):
    """One store day's storefront events for one product: views, adds to cart, removals; written
    by `product_reports.rollup_product_day` (a day's rows replaced as a whole) so the Products
    report reads a few thousand rows, not a month of events. No row for a product with none."""

    day = models.DateField(_("day"))
    channel = models.CharField(_("channel"), max_length=CHANNEL_CODE_LENGTH, default=WEB)
    # Not a foreign key: a deleted product keeps its past figures, and the rollup locks nothing.
    product_id = models.BigIntegerField(_("product"))
    views = models.PositiveIntegerField(_("views"), default=0)
    adds = models.PositiveIntegerField(_("added to cart"), default=0)
    removals = models.PositiveIntegerField(_("removed from cart"), default=0)

    class Meta:
        verbose_name = _("daily product figure")
        verbose_name_plural = _("daily product figures")
        ordering = ["-day", "product_id"]
        constraints = [
            models.UniqueConstraint(fields=["day", "channel", "product_id"], name="product_day_once"),
        ]

    def __str__(self) -> str:
        return f"{self.day} product {self.product_id}: {self.views} views"
