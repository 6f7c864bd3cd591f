"""Writes for payments, one module per role:

- `flow`: the provider-neutral flow: open or start a payment, the demo card, settling a success,
  a manual payment;
- `refunds`: money out through the payment's provider (one in a transaction, or several each
  recorded pending first and sent on its own, after commit: `open_refund`, `send_refund`; every
  refund still awaiting its provider, for the jobs: `send_awaiting_refunds`; cash paid back by
  staff: `refund_by_hand`), and what the order counts as refunded;
- `gift_cards`: gift cards as a payment instrument (paid at placement, given back if unpaid);
- `stripe_events`: Stripe's webhook events, each processed once.

Lock order, everywhere: the payment row first, then the order row (taken by `orders.services`).
"""
from .gift_cards import amount_due, pay_with_gift_cards, release_gift_card_payments
from .flow import open_payment, pay_with_demo_card, record_manual_payment, start_payment
from .refunds import (
    open_refund,
    refund_by_hand,
    refund_payment,
    refundable_amount,
    send_awaiting_refunds,
    send_refund,
)
from .stripe_events import RetryLater, handle_stripe_event

__all__ = [
    "open_payment", "start_payment", "pay_with_demo_card", "record_manual_payment",
    "refund_payment", "refundable_amount", "open_refund", "send_refund",
    "send_awaiting_refunds", "refund_by_hand",
    "amount_due", "pay_with_gift_cards", "release_gift_card_payments",
    "RetryLater", "handle_stripe_event",
]
