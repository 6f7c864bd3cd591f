"""What the order emails show about a pick-up (called by notifications.order_email_context)."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from orders.models import Order

from . import codes, selectors
from .models import Pickup

# Only these emails carry the code: the others (shipped, cancelled) go out when it means nothing.
CODE_KINDS = frozenset({"ready_for_pickup", "pickup_reminder", "pickup_code"})


def pickup_email_context(*, order: Order, kind: str) -> dict:
    pickup = Pickup.objects.filter(order=order).first()
    context = {
        "pickup_shop": selectors.shop_info(order.pickup_location_id),
        "pickup_code": "",
        "pickup_collected": pickup is not None and pickup.status == Pickup.Status.COLLECTED,
        "pickup_keep_until": None,
    }
    if pickup is not None and pickup.status == Pickup.Status.READY and kind in CODE_KINDS:
        context["pickup_code"] = codes.pickup_code(order_id=order.pk, salt=pickup.code_salt)
        context["pickup_keep_until"] = pickup.ready_at + timedelta(days=settings.PICKUP_CANCEL_AFTER_DAYS)
    return context
