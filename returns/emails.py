"""The return emails: instructions once approved, the reason once refused, the tracking once an
exchange is sent. Through the store's
outbox (`notifications/`): the row is written in the decision's transaction, the task after
commit is the fast path, and the outbox's retry loop (`notifications.services.send_outbox`,
kind "returns.*") sends it later if the mail server was down; each is sent once.
"""
from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction

from notifications import delivery

APPROVED = "approved"
REFUSED = "refused"
EXCHANGE_SENT = "exchange_sent"  # the exchange's parcel left: carrier and tracking
KINDS = (APPROVED, REFUSED, EXCHANGE_SENT)
PREFIX = "returns."


def key(*, request_id: int, kind: str) -> str:
    return f"{PREFIX}{kind}:{request_id}"


def enqueue(*, request, kind: str) -> None:
    """Call inside the transaction that moved `request`: one email per return and kind."""
    if kind not in KINDS:
        return
    from .tasks import send_return_email_task

    request_id, email_key = request.pk, key(request_id=request.pk, kind=kind)
    delivery.register(key=email_key, kind=f"{PREFIX}{kind}", order_id=request.order_id,
                      params={"request_id": request_id})
    transaction.on_commit(lambda: send_return_email_task.delay(request_id=request_id, kind=kind), robust=True)


def send(*, request_id: int, kind: str, due_by=None) -> bool:
    """Send the email `kind` of return `request_id` unless it was sent; True if this call sent it."""
    from notifications.services import _render_message  # the store's emails' one renderer
    from orders.links import absolute_signed_order_url
    from orders.models import OrderEvent
    from orders.selectors import _safe_link  # only http(s) links in an href

    from .models import ReturnRequest
    from .selectors import drop_off_points

    email_key = key(request_id=request_id, kind=kind)

    def build() -> EmailMultiAlternatives:
        request = (ReturnRequest.objects.select_related("order").prefetch_related("lines__order_line")
                   .filter(pk=request_id).first())
        if request is None:
            raise delivery.NothingToSend("the return is gone")
        context = {"request": request, "order": request.order, "store_name": settings.STORE_NAME,
                   "site_url": settings.SITE_URL, "order_url": absolute_signed_order_url(request.order)}
        if kind == EXCHANGE_SENT:
            shipment = request.exchange_shipments.filter(collected_at__isnull=True).last()
            if shipment is None:
                raise delivery.NothingToSend("the exchange has not been sent")
            context.update(shipment=shipment, tracking_url=_safe_link(shipment.tracking_url),
                           exchange_lines=list(shipment.lines.select_related("variant__product")))
        else:
            context["drop_off"] = drop_off_points()
        return _render_message(template=f"emails/return_{kind}", context=context, to=[request.order.email],
                               key=email_key)

    def on_sent(message) -> None:
        request = ReturnRequest.objects.get(pk=request_id)
        OrderEvent.objects.create(order_id=request.order_id, kind=OrderEvent.Kind.EMAIL, actor=OrderEvent.Actor.TASK,
                                  message=f"Email sent to {', '.join(message.to)}: {message.subject}",
                                  data={"email": f"return_{kind}", "key": email_key})

    return delivery.deliver(key=email_key, build=build, on_sent=on_sent, due_by=due_by)
