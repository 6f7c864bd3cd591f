"""Stock across locations: the movement ledger, and (below) adjustments, counts and transfers.

`StockMovement` is the append-only history of on-hand stock: every change to a
`catalog.StockLevel.on_hand` is one row here, written in the same transaction as the change
(`inventory.ledger.record`, called by every stock writer), so for each variant and location the
movements add up to what is on hand (`selectors.ledger_discrepancies`, `manage.py check_stock_ledger`).
Reservations are not movements: reserved units are still on the shelf.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Reason(models.TextChoices):
    OPENING = "opening", _("Opening balance")
    SET = "set", _("Set by staff")
    IMPORT = "import", _("Stock file imported")
    SALE = "sale", _("Shipped to a customer")
    COUNTER_SALE = "counter_sale", _("Sold at a shop's counter")
    RETURN = "return", _("Returned by a customer")
    COUNT = "count", _("Stock count")
    DAMAGE = "damage", _("Damaged")
    THEFT = "theft", _("Theft or loss")
    FOUND = "found", _("Found")
    TRANSFER_OUT = "transfer_out", _("Sent on a transfer")
    TRANSFER_IN = "transfer_in", _("Received from a transfer")


class StockMovement(models.Model):
    """`quantity` units (signed) added to the on-hand stock of a variant at a location, and why."""

    # A deleted variant takes its stock rows, and so its history, with it; a variant that ever sold
    # cannot be deleted (its allocations protect its stock rows), and locations are never deleted.
    variant = models.ForeignKey("catalog.Variant", verbose_name=_("variant"), on_delete=models.CASCADE,
                                related_name="stock_movements")
    location = models.ForeignKey("catalog.Location", verbose_name=_("location"), on_delete=models.PROTECT,
                                 related_name="stock_movements")
    quantity = models.IntegerField(_("units"))
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    order = models.ForeignKey("orders.Order", verbose_name=_("order"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="stock_movements")
    adjustment = models.ForeignKey("inventory.Adjustment", verbose_name=_("adjustment"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="movements")
    transfer = models.ForeignKey("inventory.Transfer", verbose_name=_("transfer"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="movements")
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["variant", "location"], name="movement_variant_location")]
        constraints = [models.CheckConstraint(condition=~Q(quantity=0), name="movement_quantity_not_zero")]

    def __str__(self) -> str:
        return f"{self.quantity:+d} {self.get_reason_display()}"


class Adjustment(models.Model):
    """Stock found, lost or counted at one location, with why and who: the audit record.

    Written only by `inventory.services.adjust_stock` / `apply_stock_count`, together with its
    lines, the stock change and the ledger's movements, in one transaction; never edited.
    """

    REASONS = [Reason.COUNT, Reason.DAMAGE, Reason.THEFT, Reason.FOUND]

    location = models.ForeignKey("catalog.Location", verbose_name=_("location"), on_delete=models.PROTECT,
                                 related_name="adjustments")
    reason = models.CharField(_("reason"), max_length=20, choices=[(r.value, r.label) for r in REASONS])
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("stock adjustment")
        verbose_name_plural = _("stock adjustments")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} at {self.location} #{self.pk}"


class AdjustmentLine(models.Model):
    adjustment = models.ForeignKey(Adjustment, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey("catalog.Variant", verbose_name=_("variant"), on_delete=models.PROTECT,
                                related_name="+")
    quantity = models.IntegerField(_("units"))
    on_hand_before = models.IntegerField(_("on hand before"))
    on_hand_after = models.IntegerField(_("on hand after"))

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="adjustment_line_quantity_not_zero"),
            models.CheckConstraint(condition=Q(on_hand_after=models.F("on_hand_before") + models.F("quantity")),
                                   name="adjustment_line_adds_up"),
        ]


class Transfer(models.Model):
    """Stock sent from one location to another: draft -> shipped (in transit) -> received.

    Shipping takes the units off the source's on-hand stock (never reserved ones); until received
    they are on hand nowhere, so no order can be promised them. Receiving, in one go or several,
    puts what arrived on the destination's stock; closing a receipt records what never arrived.
    Every step is a `TransferEvent`; only `inventory.services.transfers` writes these rows.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SHIPPED = "shipped", _("In transit")
        PARTIALLY_RECEIVED = "partially_received", _("Partly received")
        RECEIVED = "received", _("Received")
        CANCELLED = "cancelled", _("Cancelled")

    source = models.ForeignKey("catalog.Location", verbose_name=_("from"), on_delete=models.PROTECT,
                               related_name="transfers_out")
    destination = models.ForeignKey("catalog.Location", verbose_name=_("to"), on_delete=models.PROTECT,
                                    related_name="transfers_in")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT,
                              editable=False)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    shipped_at = models.DateTimeField(_("shipped"), null=True, blank=True, editable=False)
    received_at = models.DateTimeField(_("received"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("stock transfer")
        verbose_name_plural = _("stock transfers")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(source=models.F("destination")), name="transfer_between_two_places"),
        ]

    def __str__(self) -> str:
        return _("Transfer #%(pk)s") % {"pk": self.pk}


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey("catalog.Variant", verbose_name=_("variant"), on_delete=models.PROTECT,
                                related_name="+")
    quantity = models.PositiveIntegerField(_("units sent"))
    quantity_received = models.PositiveIntegerField(_("received"), default=0, editable=False)
    # Units that never arrived, recorded when a receipt is closed short.
    quantity_missing = models.PositiveIntegerField(_("missing"), default=0, editable=False)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["transfer", "variant"], name="transfer_line_one_per_variant"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity__gte=models.F("quantity_received") + models.F("quantity_missing")),
                name="transfer_line_within_sent",
            ),
        ]

    @property
    def outstanding(self) -> int:
        return self.quantity - self.quantity_received - self.quantity_missing


class TransferEvent(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        EDITED = "edited", _("Draft edited")
        SHIPPED = "shipped", _("Shipped")
        RECEIVED = "received", _("Received")
        CLOSED = "closed", _("Closed short")
        CANCELLED = "cancelled", _("Cancelled")

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("what"), max_length=20, choices=Kind.choices)
    message = models.TextField(_("message"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]


class RoutingPolicy(models.Model):
    """How online orders are allocated to locations: the one row staff edit (`routing.current_policy`).

    Locations are tried in their order: warehouses first, then shops, each by position (set on
    the location), inactive ones never. Only the split rule is chosen here.
    """

    class Split(models.TextChoices):
        WHEN_NEEDED = "when_needed", _("Ship from one location when one holds everything, else split")
        NEVER = "never", _("Never split: only a location holding everything may ship the order")

    split = models.CharField(_("split rule"), max_length=20, choices=Split.choices, default=Split.WHEN_NEEDED)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("fulfilment routing rule")
        verbose_name_plural = _("fulfilment routing rules")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="routing_policy_single_row")]

    def __str__(self) -> str:
        return str(self.get_split_display())
