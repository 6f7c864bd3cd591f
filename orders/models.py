"""Orders: what a shopper bought, at what price, and everything that happened to it since.

An order never changes when the catalog does: lines copy the title, SKU, options, unit price and
tax at purchase. An order answers two questions with two states: where its money is
(`payment_status`) and where its goods are (`fulfilment_status`). Each changes only through
`orders.status.transition()`, which checks the move is legal in that state's own machine and
records it in `OrderEvent` (tagged with the state it moved) with who made it.
"""
from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# Crockford's base32 without I, L, O, U: nothing to misread over the phone.
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_order_number() -> str:
    """A human-friendly, unguessable order number such as "7KQ2-M4XD" (40 bits of randomness).

    Unique by a database constraint; the caller retries on the rare collision.
    """
    raw = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


class Order(models.Model):
    class PaymentStatus(models.TextChoices):
        """Where the order's money is. Read with the payments ledger (payments.Payment/Refund)."""

        UNPAID = "unpaid", _("Not paid")
        PAID = "paid", _("Paid")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")

    class FulfilmentStatus(models.TextChoices):
        """Where the order's goods are. Cancelled and expired orders never ship."""

        UNFULFILLED = "unfulfilled", _("Not shipped")
        PARTIALLY_FULFILLED = "partially_fulfilled", _("Partially shipped")
        FULFILLED = "fulfilled", _("Shipped")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    class PaymentTerms(models.TextChoices):
        """When the money is due: before the goods leave (every web order), or after, on invoice
        (a B2B order staff took: it ships unpaid and staff record the payment when it comes)."""

        PREPAID = "prepaid", _("Paid before shipping")
        INVOICE = "invoice", _("On invoice (ships before payment)")

    number = models.CharField(_("number"), max_length=12, unique=True, default=new_order_number, editable=False)
    payment_status = models.CharField(
        _("payment"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID, editable=False
    )
    fulfilment_status = models.CharField(
        _("fulfilment"), max_length=20, choices=FulfilmentStatus.choices, default=FulfilmentStatus.UNFULFILLED,
        editable=False,
    )
    payment_terms = models.CharField(
        _("payment terms"), max_length=10, choices=PaymentTerms.choices, default=PaymentTerms.PREPAID, editable=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("customer account"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="orders",
    )
    # The buyer in the CRM (customers.Customer): the account's customer, or the guest's by email.
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="orders",
    )
    email = models.EmailField(_("email"))
    customer_name = models.CharField(_("customer name"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    # Snapshots of the addresses as entered at checkout (keys: name, line1, line2, postal_code,
    # city, region, country); an order keeps them even if the customer edits their address book.
    shipping_address = models.JSONField(_("shipping address"), default=dict, blank=True)
    billing_address = models.JSONField(_("billing address"), default=dict, blank=True)

    currency = models.CharField(_("currency"), max_length=3)
    prices_include_tax = models.BooleanField(_("prices include tax"), default=True)
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2, default=Decimal("0"))
    shipping_total = models.DecimalField(_("shipping"), max_digits=12, decimal_places=2, default=Decimal("0"))
    tax_total = models.DecimalField(_("tax"), max_digits=12, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=Decimal("0"))
    # Promotions (promotions app): already taken off `subtotal` (the lines) and `shipping_total`.
    discount_total = models.DecimalField(_("discounts"), max_digits=12, decimal_places=2, default=Decimal("0"))
    shipping_discount = models.DecimalField(_("shipping discount"), max_digits=12, decimal_places=2,
                                            default=Decimal("0"))

    shipping_method_name = models.CharField(_("shipping method"), max_length=120, blank=True)
    pickup_location = models.ForeignKey(
        "catalog.Location", verbose_name=_("pick-up location"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="pickup_orders",
    )
    # Where the order was taken (saleschannels): the web store unless a staff flow says otherwise;
    # a sale at a shop's counter also names the shop and the staff member who made it.
    channel = models.ForeignKey(
        "saleschannels.Channel", verbose_name=_("sales channel"), default="web", on_delete=models.PROTECT,
        related_name="orders",
    )
    sale_location = models.ForeignKey(
        "catalog.Location", verbose_name=_("sold at"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="counter_orders",
    )
    sold_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sold by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    # Sent with the checkout form: a double-click or a retried POST finds the order it created.
    idempotency_key = models.CharField(max_length=64, unique=True, editable=False)
    reservation_expires_at = models.DateTimeField(_("reservation expires"), null=True, blank=True)

    created_at = models.DateTimeField(_("placed"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["payment_status", "-created_at"], name="order_payment_created"),
            models.Index(fields=["fulfilment_status", "-created_at"], name="order_fulfilment_created"),
            models.Index(fields=["email"], name="order_email"),
            models.Index(fields=["payment_status", "fulfilment_status", "reservation_expires_at"],
                         name="order_reservation_expiry"),
            # Reports read orders by when they were paid (a range of store days): migration 0009.
            models.Index(fields=["paid_at"], name="order_paid_at"),
            # The order list's default order (newest first, then id) and its date hierarchy's
            # first and last dates: migration 0011, built online.
            models.Index(fields=["created_at", "id"], name="order_created_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_non_negative"),
            models.CheckConstraint(condition=Q(subtotal__gte=0), name="order_subtotal_non_negative"),
            models.CheckConstraint(condition=Q(shipping_total__gte=0), name="order_shipping_non_negative"),
            models.CheckConstraint(condition=Q(tax_total__gte=0), name="order_tax_non_negative"),
        ]

    def __str__(self) -> str:
        return self.number

    def get_state_display(self) -> str:
        """Both states in a few words for staff lists and emails: "Paid · Partially shipped"."""
        return f"{self.get_payment_status_display()} · {self.get_fulfilment_status_display()}"

    @property
    def is_awaiting_payment(self) -> bool:
        """Placed, not paid, still open (not cancelled or expired): the old "pending payment"."""
        return (self.payment_status == Order.PaymentStatus.UNPAID
                and self.fulfilment_status == Order.FulfilmentStatus.UNFULFILLED)

    @property
    def on_invoice(self) -> bool:
        return self.payment_terms == Order.PaymentTerms.INVOICE

    @property
    def kept_payment(self) -> bool:
        """The store took this order's money and kept it, in whole or part (see `paid_orders`)."""
        return self.payment_status in KEPT_PAYMENT_STATUSES and self.fulfilment_status not in NEVER_PAID_FULFILMENT


# Orders whose money the store took and kept, in whole or part (refunds come off later): paid, partly
# or fully refunded, but never a cancelled or expired order, whose late payment was only ever given
# back (it may read "refunded" too). The one rule payments, CRM figures and campaign picks read.
KEPT_PAYMENT_STATUSES = frozenset({
    Order.PaymentStatus.PAID, Order.PaymentStatus.PARTIALLY_REFUNDED, Order.PaymentStatus.REFUNDED,
})
NEVER_PAID_FULFILMENT = frozenset({Order.FulfilmentStatus.CANCELLED, Order.FulfilmentStatus.EXPIRED})


def paid_orders(prefix: str = "") -> Q:
    """The condition "kept its payment" on Order rows, or through a relation (`prefix="order__"`)."""
    return Q(**{f"{prefix}payment_status__in": KEPT_PAYMENT_STATUSES}) & ~Q(
        **{f"{prefix}fulfilment_status__in": NEVER_PAID_FULFILMENT}
    )


class OrderLine(models.Model):
    """One purchased variant, copied at purchase so later catalog edits never change the order."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(
        "catalog.Variant", verbose_name=_("variant"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="order_lines",
    )
    product_title = models.CharField(_("product"), max_length=200)
    sku = models.CharField(_("SKU"), max_length=64)
    options = models.CharField(_("options"), max_length=200, blank=True)  # "Size: M, Colour: Navy"
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    tax_rate = models.DecimalField(_("tax rate (%)"), max_digits=5, decimal_places=2, default=Decimal("0"))
    unit_tax = models.DecimalField(_("tax per unit"), max_digits=12, decimal_places=2, default=Decimal("0"))
    line_total = models.DecimalField(_("line total"), max_digits=12, decimal_places=2)
    # Promotions taken off this line (already out of `line_total`), each with its name and amount:
    # [{"promotion": id, "name": "Summer sale", "amount": "4.50"}]. Their sum is `discount_total`.
    discount_total = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=Decimal("0"))
    discounts = models.JSONField(_("discounts"), default=list, blank=True)
    # The line's tax, on its price after discounts (`unit_tax` is one unit's at the shelf price).
    tax_total = models.DecimalField(_("tax"), max_digits=12, decimal_places=2, default=Decimal("0"))
    quantity_fulfilled = models.PositiveIntegerField(_("shipped"), default=0)
    # Units the customer sent back (orders.services.returns); money goes back separately, by refund.
    quantity_returned = models.PositiveIntegerField(_("returned"), default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_fulfilled__lte=F("quantity")), name="order_line_fulfilled_within_quantity"
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="order_line_price_non_negative"),
            models.CheckConstraint(
                condition=Q(quantity_returned__lte=F("quantity_fulfilled")), name="order_line_returned_within_shipped"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    def discount_rows(self, currency: str) -> tuple[tuple[str, str], ...]:
        """Each promotion taken off this line: (its name, the amount written in `currency`)."""
        from shop.money import format_money

        return tuple((d.get("name", ""), format_money(Decimal(d.get("amount", "0")), currency))
                     for d in self.discounts or ())


class Allocation(models.Model):
    """Units of a line reserved at one stock level (catalog.stock.reserve's result, kept).

    Released on cancel or expiry, converted when shipped; the rows say exactly which stock level
    to give back or take from, so stock moves are never guessed.
    """

    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="allocations")
    stock_level = models.ForeignKey("catalog.StockLevel", on_delete=models.PROTECT, related_name="allocations")
    quantity = models.PositiveIntegerField()
    # Units of `quantity` that have shipped (on hand already reduced) or been released.
    quantity_fulfilled = models.PositiveIntegerField(default=0)
    quantity_released = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="allocation_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity__gte=F("quantity_fulfilled") + F("quantity_released")),
                name="allocation_moves_within_quantity",
            ),
        ]

    @property
    def outstanding(self) -> int:
        return self.quantity - self.quantity_fulfilled - self.quantity_released


class OrderEvent(models.Model):
    """The order's history: every state change, payment, shipment, email and note, with who.

    A STATUS event moved one state (`state`: payment or fulfilment) from `from_status` to
    `to_status`, in that state's vocabulary; the order being placed is `to_status="placed"`.
    """

    class Actor(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        STAFF = "staff", _("Staff")
        WEBHOOK = "webhook", _("Payment provider")
        TASK = "task", _("Scheduled task")
        SYSTEM = "system", _("System")

    class Kind(models.TextChoices):
        STATUS = "status", _("Status changed")
        PAYMENT = "payment", _("Payment")
        REFUND = "refund", _("Refund")
        SHIPMENT = "shipment", _("Shipment")
        EMAIL = "email", _("Email")
        RETURN = "return", _("Return")
        NOTE = "note", _("Note")
        ALERT = "alert", _("Alert")

    class State(models.TextChoices):
        """Which of the order's two states a STATUS event moved ("" for the order being placed)."""

        PAYMENT = "payment", _("Payment")
        FULFILMENT = "fulfilment", _("Fulfilment")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, blank=True)
    from_status = models.CharField(_("from"), max_length=20, blank=True)
    to_status = models.CharField(_("to"), max_length=20, blank=True)
    message = models.TextField(_("message"), blank=True)
    actor = models.CharField(_("by"), max_length=10, choices=Actor.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order history")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["order", "created_at"], name="order_event_order_created")]

    def __str__(self) -> str:
        return f"{self.order.number}: {self.get_kind_display()}"


class Shipment(models.Model):
    """A parcel sent (or handed over at a pick-up shop): some lines, or parts of them."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="shipments")
    carrier = models.CharField(_("carrier"), max_length=80, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=80, blank=True)
    tracking_url = models.URLField(_("tracking link"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField(_("shipped"), auto_now_add=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.order.number}: {self.carrier} {self.tracking_number}".strip()


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipment_line_quantity_positive"),
            models.UniqueConstraint(fields=["shipment", "line"], name="shipment_line_once_per_shipment"),
        ]
