"""Writes to orders, one module per use case: placement, payment, fulfilment, returns, expiry,
completion.

Every function locks the order row (`common.lock_order`) before changing it, moves its payment
and fulfilment states only through `orders.status.transition`, and enqueues emails after commit.
"""
from .common import alert_staff
from .fulfilment import ShipmentRequest, cancel_order, create_shipment
from .payment import MadeUp, PaymentOutcome, confirm_payment, record_refund, record_refund_failure
from .placement import ChannelSale, Discounts, LineDiscount, PlacementLine, ShippingChoice, place_order
from .completion import complete_orders, due_for_completion
from .expiry import expire_unpaid_orders
from .returns import record_return

__all__ = [
    "PlacementLine", "ShippingChoice", "place_order", "Discounts", "LineDiscount", "ChannelSale",
    "MadeUp", "PaymentOutcome", "confirm_payment", "record_refund", "record_refund_failure",
    "ShipmentRequest", "create_shipment", "cancel_order",
    "record_return",
    "alert_staff",
    "expire_unpaid_orders",
    "complete_orders", "due_for_completion",
]
