"""Every URL the store answers outside the back office, with real objects behind its parameters.

`ROUTES` is read from the project's URLconf, so a page added later is tested too; a parameter
this module has no real value for gets a harmless one (the page then answers 404, which still
has to be the same answer for GET and HEAD).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.urls import URLPattern, URLResolver, get_resolver, reverse


@dataclass(frozen=True)
class Route:
    name: str
    params: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


def _walk(patterns, namespace: str | None = None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part) or None
            yield from _walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            pattern = entry.pattern
            params = tuple(getattr(pattern, "converters", {}) or pattern.regex.groupindex)
            yield Route(f"{namespace}:{entry.name}" if namespace else entry.name, params)


def storefront_routes() -> list[Route]:
    """Every named route but the admin's (the back office is Django's own) and uploaded media."""
    seen: dict[str, Route] = {}
    for route in _walk(get_resolver().url_patterns):
        if not route.name.startswith("admin:"):
            seen.setdefault(route.name, route)
    return list(seen.values())


# Parameter values for routes whose parameters need a real object; `objects` is `shop_objects()`.
REAL = {
    "catalog:category": lambda o: {"path": "clothing/jackets"},
    "catalog:product": lambda o: {"slug": o["product"].slug},
    "django.contrib.sitemaps.views.sitemap": lambda o: {"section": "products"},
    "orders:detail": lambda o: {"number": o["order"].number},
    "orders:status": lambda o: {"number": o["order"].number},
    "orders:pay": lambda o: {"number": o["order"].number},
    "orders:detail_signed": lambda o: {"token": o["order_token"]},
    "orders:confirmation": lambda o: {"token": o["order_token"]},
    "orders:status_signed": lambda o: {"token": o["order_token"]},
    "orders:pay_signed": lambda o: {"token": o["order_token"]},
    "payments:demo": lambda o: {"token": o["payment_token"]},
    "payments:status": lambda o: {"token": o["payment_token"]},
    "payments:retry": lambda o: {"token": o["payment_token"]},
    "customers:unsubscribe": lambda o: {"token": o["unsubscribe_token"]},
    "customers:address-edit": lambda o: {"pk": o["address"].pk},
    "customers:address-delete": lambda o: {"pk": o["address"].pk},
    "customers:address-default": lambda o: {"pk": o["address"].pk, "kind": "shipping"},
}
# Query strings that make a page show something (a search with results, suggestions).
QUERY = {
    "catalog:search": "?q=shell",
    "catalog:suggest": "?q=sh",
    "checkout:delivery-options": "?shipping-country=US",
}


def url_for(route: Route, objects: dict) -> str:
    values = REAL[route.name](objects) if route.name in REAL else {param: "1" for param in route.params}
    return reverse(route.name, kwargs=values) + QUERY.get(route.name, "")


def shop_objects(client) -> dict:
    """A shopper signed in to `client` with an address, a cart, an order and a payment started in
    that browser; a published product in stock; the tokens their links carry."""
    from catalog.tests.factories import CategoryFactory, LocationFactory, StockLevelFactory, VariantFactory
    from customers.models import Address
    from customers.tests.helpers import verified_account
    from customers.unsubscribe import unsubscribe_token
    from orders.links import order_token
    from payments.links import payment_token
    from payments.models import Payment
    from payments.tests.helpers import place, start_in_browser

    jackets = CategoryFactory(slug="jackets", parent=CategoryFactory(slug="clothing"))
    variant = VariantFactory(product__slug="storm-shell", product__title="Storm Shell", product__category=jackets,
                             price=Decimal("120.00"))
    StockLevelFactory(variant=variant, location=LocationFactory(code="warehouse"), on_hand=20)
    user, customer = verified_account("ada@example.com")
    address = Address.objects.create(customer=customer, name="Ada Lovelace", line1="1 Main St", city="Springfield",
                                     postal_code="12345", country="US")
    client.force_login(user)
    order = place(variant, user=user)
    start_in_browser(client, order)
    client.post("/cart/add/", {"variant": variant.pk, "product": variant.product_id, "quantity": 1})
    return {
        "product": variant.product, "order": order, "order_token": order_token(order), "address": address,
        "payment_token": payment_token(Payment.objects.get(order=order)),
        "unsubscribe_token": unsubscribe_token(customer),
    }
