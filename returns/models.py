"""Returns a shopper asks for (an RMA): which shipped units, why, with an optional photo; staff
approve or refuse, receive the parcel (at the warehouse or any shop's counter), then refund or
exchange. Every step is a `ReturnEvent`; the goods and money move through the orders and
payments services (`orders.services.record_return`; `payments.services.open_refund` and
`send_awaiting_refunds`).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shop.models import TimeStamped

from .storage import PhotoStorage


class ReturnPolicy(models.Model):
    """The store's rules, one row (pk 1), set by staff: how many days after an order's last
    shipment a return may be asked for, and categories whose products never come back."""

    window_days = models.PositiveIntegerField(
        _("days to ask for a return"), default=30,
        help_text=_("Counted from the day the order's last parcel left (or was handed over at the shop)."),
    )
    excluded_categories = models.ManyToManyField(
        "catalog.Category", verbose_name=_("categories that cannot be returned"), blank=True, related_name="+",
        help_text=_("Their subcategories too. For example underwear, gift cards, made-to-order goods."),
    )
    note = models.TextField(_("note for shoppers"), blank=True,
                            help_text=_("Shown on the return form, e.g. how to pack the parcel."))

    class Meta:
        verbose_name = _("return policy")
        verbose_name_plural = _("return policy")

    def __str__(self) -> str:
        return str(_("Return policy"))

    @classmethod
    def current(cls) -> ReturnPolicy:
        return cls.objects.get_or_create(pk=1)[0]


class Reason(models.TextChoices):
    WRONG_SIZE = "wrong_size", _("Wrong size or fit")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described or pictured")
    DAMAGED = "damaged", _("Arrived damaged or faulty")
    WRONG_ITEM = "wrong_item", _("Wrong item sent")
    CHANGED_MIND = "changed_mind", _("Changed my mind")
    OTHER = "other", _("Another reason")


class ReturnRequest(TimeStamped):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved: waiting for the items")
        REFUSED = "refused", _("Refused")
        RECEIVED = "received", _("Items received")
        # Some of the money went back and some could not yet (a provider refused or did not
        # answer): staff retry, and the periodic task asks again what got no answer.
        REFUNDING = "refunding", _("Refund not finished")
        REFUNDED = "refunded", _("Refunded")
        EXCHANGED = "exchanged", _("Exchanged")

    order = models.ForeignKey("orders.Order", verbose_name=_("order"), on_delete=models.PROTECT,
                              related_name="return_requests")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.REQUESTED,
                              editable=False)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    comment = models.TextField(_("comment"), blank=True, max_length=1000)
    # Stored outside MEDIA_ROOT (returns/storage.py); served only through the views that check
    # who asks (`views.photo`, the admin's photo view).
    photo = models.FileField(_("photo"), storage=PhotoStorage(), upload_to="returns/%Y/%m/", blank=True)
    decision_message = models.TextField(_("message to the shopper"), blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    received_at = models.DateTimeField(_("received"), null=True, blank=True)
    received_location = models.ForeignKey("catalog.Location", verbose_name=_("received at"), null=True, blank=True,
                                          on_delete=models.PROTECT, related_name="+")
    # Every refund made for this return (a split over payments, a replacement for one a provider
    # refused): the one record of its money; the first is the lowest pk.
    refunds = models.ManyToManyField("payments.Refund", verbose_name=_("refunds"), blank=True, related_name="+")
    refund_due = models.DecimalField(_("worth back"), max_digits=12, decimal_places=2, null=True, blank=True,
                                     help_text=_("What the received units are worth after their discounts."))

    class Meta:
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "-created_at"], name="return_status_created")]

    def __str__(self) -> str:
        return f"R{self.pk} ({self.order.number})" if self.order_id else f"R{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.REQUESTED, self.Status.APPROVED)


class ReturnLine(models.Model):
    request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", verbose_name=_("item"), on_delete=models.PROTECT,
                                   related_name="return_lines")
    quantity = models.PositiveIntegerField(_("quantity"))
    # Filled when the parcel is received: units back on hand, units written off (not sellable).
    restocked = models.PositiveIntegerField(_("back in stock"), default=0)
    written_off = models.PositiveIntegerField(_("written off"), default=0)
    write_off_reason = models.CharField(_("write-off reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_line_quantity_positive"),
            models.CheckConstraint(condition=Q(restocked__lte=models.F("quantity") - models.F("written_off")),
                                   name="return_line_received_within_quantity"),
            models.UniqueConstraint(fields=["request", "order_line"], name="return_line_once_per_request"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.order_line.sku}"


class ReturnEvent(models.Model):
    """One step of a return: who moved it from which status to which, and what they said."""

    class Actor(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("System")

    request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(_("from"), max_length=12, blank=True)
    to_status = models.CharField(_("to"), max_length=12)
    actor = models.CharField(_("by"), max_length=10, choices=Actor.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("user"))
    message = models.TextField(_("message"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("return event")
        verbose_name_plural = _("return history")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"R{self.request_id}: {self.from_status or '-'} -> {self.to_status}"


class ExchangeShipment(models.Model):
    """How an exchange left: the parcel's carrier and tracking (as an order's `orders.Shipment`),
    or the shop where the shopper collected it. Its own table because an order's shipments count
    the order's lines (fulfilment state, return window, the shipped email) and the exchange's
    variants are not lines of the order."""

    request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="exchange_shipments")
    carrier = models.CharField(_("carrier"), max_length=80, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=80, blank=True)
    tracking_url = models.URLField(_("tracking link"), blank=True)
    collected_at = models.ForeignKey("catalog.Location", verbose_name=_("collected at"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("by"))
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("exchange shipment")
        verbose_name_plural = _("exchange shipments")
        ordering = ["created_at", "pk"]
        constraints = [models.CheckConstraint(
            condition=Q(collected_at__isnull=False) | (~Q(carrier="") & ~Q(tracking_number="")),
            name="exchange_shipment_tracked_or_collected")]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}".strip()


class ExchangeLine(models.Model):
    """A variant sent in exchange for returned units, reserved at one stock level (like an order's
    `Allocation`): the units stay reserved until staff ship it (`services.ship_exchange`)."""

    request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="exchange_lines")
    return_line = models.ForeignKey(ReturnLine, on_delete=models.CASCADE, related_name="exchanges")
    variant = models.ForeignKey("catalog.Variant", verbose_name=_("new variant"), on_delete=models.PROTECT,
                                related_name="+")
    stock_level = models.ForeignKey("catalog.StockLevel", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    # Set when it left (`services.ship_exchange`): unsent while empty; when and how it left is
    # the shipment's (`created_at`, carrier or shop), kept nowhere else.
    shipment = models.ForeignKey(ExchangeShipment, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="lines")

    class Meta:
        ordering = ["pk"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="exchange_line_quantity_positive")]
