"""Writes for returns: one function per step, each a transaction that locks the return row first.

Lock order, the same in every step: the return request, then (through the services called) the
payment, the order, its lines, the stock rows in pk order. Each step checks the status under the
request's lock, so a second click (or a second worker) finds it moved and is refused, changing
nothing. Every step writes a `ReturnEvent` and an order note (kind NOTE, `data["return"]`), which
puts it in the order's back-office history and the customer's CRM timeline. Emails go through
the outbox after commit (`returns/emails.py`).

Split by step (`steps`: ask, decide, receive; `refunds`; `exchanges`), sharing `common`; every
public name is here.
"""
from .common import S
from .exchanges import exchange_return, exchange_variants, ship_exchange
from .refunds import cash_sessions, finish_refunds, refund_return, settle_refund
from .steps import Receipt, approve_return, receive_return, refuse_return, request_return

__all__ = [
    "S", "Receipt", "request_return", "approve_return", "refuse_return", "receive_return",
    "cash_sessions", "refund_return", "settle_refund", "finish_refunds",
    "exchange_variants", "exchange_return", "ship_exchange",
]
