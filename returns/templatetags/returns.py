"""`{% order_returns page.order page_url %}` on the shopper's order page: the order's returns and
the "Return items" link, of the same kind (signed or owner) as the page itself, and how each exchange
left (carrier, tracking link, or the shop it was collected at). `selectors.order_returns`'s queries."""
from __future__ import annotations

from django import template
from django.urls import reverse

from orders.links import order_token
from orders.selectors import _safe_link  # only http(s) links in an href

from ..selectors import order_returns

register = template.Library()


@register.inclusion_tag("returns/_order_returns.html")
def order_returns_box(order, page_url: str) -> dict:
    signed = page_url != reverse("orders:detail", kwargs={"number": order.number})
    if signed:
        token = order_token(order)
        start = reverse("returns:start_signed", kwargs={"token": token})
        photo = reverse("returns:photo_signed", kwargs={"token": token, "pk": 0})
    else:
        start = reverse("returns:start", kwargs={"number": order.number})
        photo = reverse("returns:photo", kwargs={"number": order.number, "pk": 0})
    shipped = order.fulfilment_status in ("partially_fulfilled", "fulfilled", "completed")
    requests = order_returns(order=order)
    for r in requests:
        r.tracking_links = [(shipment, _safe_link(shipment.tracking_url)) for shipment in r.exchange_shipments.all()]
    return {"requests": [(r, photo.replace("/0/", f"/{r.pk}/") if r.photo else "") for r in requests],
            "start_url": start, "can_start": shipped}
