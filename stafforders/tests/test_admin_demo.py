"""Phone orders typed on the demo catalog `make run` seeds (its SKUs, prices, three locations and
stock, some of it already reserved), through the draft order admin as a browser submits it
(django-webtest): lines found the way the variant box's autocomplete finds them, a manual
discount, placing, and the payment link the customer gets."""
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.db.models import F

from catalog.models import Product, StockLevel, Variant
from conftest import add_inline_form
from orders.models import Order
from stafforders.models import DraftOrder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
P = Order.PaymentStatus


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The first 12 demo products without pictures and the demo shops' hours, seeded once for the
    module in a transaction rolled back after it (each test runs in a savepoint inside it)."""
    from catalog.demo.seed import seed_demo_catalog
    from pickup.demo import seed_demo_pickup_shops

    with django_db_blocker.unblock(), transaction.atomic():
        seed_demo_catalog(products=12, images=False)
        seed_demo_pickup_shops()
        yield
        transaction.set_rollback(True)


def _in_stock(count: int, *, at: str = "warehouse") -> list[Variant]:
    """`count` demo variants of different products with at least 3 units free at `at`."""
    levels = (StockLevel.objects.filter(location__code=at, variant__is_active=True,
                                        variant__product__in=Product.objects.published())
              .annotate(free=F("on_hand") - F("reserved")).filter(free__gte=3)
              .select_related("variant__product").order_by("variant__sku"))
    chosen: dict[int, Variant] = {}
    for level in levels:
        chosen.setdefault(level.variant.product_id, level.variant)
    assert len(chosen) >= count, "the demo catalog has fewer variants in stock than the test needs"
    return list(chosen.values())[:count]


def _free(variant: Variant) -> int:
    return sum(level.available for level in StockLevel.objects.filter(variant=variant))


def _autocomplete(admin_app, variant: Variant) -> str:
    """What the variant box's script does: ask the admin's autocomplete for the typed SKU, pick the hit."""
    found = admin_app.get("/admin/autocomplete/", {"app_label": "stafforders", "model_name": "draftline",
                                                   "field_name": "variant", "term": variant.sku}).json
    ids = [row["id"] for row in found["results"]]
    assert str(variant.pk) in ids, found
    return str(variant.pk)


def _draft_page(admin_app, lines: list[tuple[Variant, int]], **fields):
    form = admin_app.get("/admin/stafforders/draftorder/add/").forms["draftorder_form"]
    for name, value in {"email": "ada@example.com", "customer_name": "Ada Lovelace", "phone": "+1 555 0199",
                        "shipping_name": "Courier", "shipping_price": "12.00", "address_line1": "12 Analytical Row",
                        "city": "Seattle", "postal_code": "98101", "country": "US", **fields}.items():
        form[name] = value
    for index, (variant, quantity) in enumerate(lines):
        row = index if index == 0 else add_inline_form(form, "lines")
        form[f"lines-{row}-variant"].force_value(_autocomplete(admin_app, variant))
        form[f"lines-{row}-quantity"] = str(quantity)
    response = form.submit("_continue")
    assert response.status_code == 302, response.html.select_one(".errornote")
    return response.follow()


def test_a_phone_order_on_the_demo_catalog_with_a_discount_and_a_payment_link(
        demo, admin_app, django_app, django_capture_on_commit_callbacks):
    first, second = _in_stock(2)
    free_before = {variant.pk: _free(variant) for variant in (first, second)}
    page = _draft_page(admin_app, [(first, 2), (second, 1)], discount_amount="10.00",
                       discount_reason="Goodwill: late delivery last time")
    draft = DraftOrder.objects.get()
    assert draft.lines.count() == 2 and {v.pk: _free(v) for v in (first, second)} == free_before  # nothing held

    form = page.click(description="Place order…").forms["place_draft_form"]
    form["payment"] = "link"
    with django_capture_on_commit_callbacks(execute=True):
        placed = form.submit().follow()

    order = Order.objects.get()
    assert f"Order {order.number} placed; stock reserved." in placed.text
    # Priced from the demo catalog on the server, the discount split over the lines to the cent.
    catalog = first.price * 2 + second.price
    assert order.discount_total == Decimal("10.00") and order.subtotal == catalog - Decimal("10.00")
    assert order.total == order.subtotal + Decimal("12.00") and order.channel_id == "phone"
    assert sum(line.discount_total for line in order.lines.all()) == Decimal("10.00")
    assert all(line.discounts[0]["name"] == "Staff discount: Goodwill: late delivery last time"
               for line in order.lines.all())
    assert {v.pk: _free(v) for v in (first, second)} == {first.pk: free_before[first.pk] - 2,
                                                        second.pk: free_before[second.pk] - 1}
    assert "Goodwill: late delivery last time" in placed.text  # the history says why

    # The link is the customer's one email; it opens their order with "Pay now".
    (email,) = [m for m in mail.outbox if m.to == ["ada@example.com"]]
    assert email.subject.startswith(f"Pay for your order {order.number}")
    link = re.search(r"http://\S+/orders/\S+/", email.body)[0]
    django_app.reset()
    order_page = django_app.get("/" + link.split("://", 1)[1].split("/", 1)[1])
    assert order.number in order_page.text and "pay-now-form" in order_page.forms


def test_a_b2b_order_collected_at_a_demo_shop_on_invoice(demo, admin_app, django_capture_on_commit_callbacks):
    (variant,) = _in_stock(1, at="shop-harbour-street")
    shop = StockLevel.objects.get(variant=variant, location__code="shop-harbour-street").location
    page = admin_app.get("/admin/stafforders/draftorder/add/")
    form = page.forms["draftorder_form"]
    for name, value in {"email": "buyer@example.com", "company": "Analytical Engines Ltd",
                        "purchase_order": "PO-1843", "pickup_location": str(shop.pk)}.items():
        form[name] = value
    form["lines-0-variant"].force_value(_autocomplete(admin_app, variant))
    form["lines-0-quantity"] = "3"
    draft_page = form.submit("_continue").follow()

    place = draft_page.click(description="Place order…").forms["place_draft_form"]
    place["payment"] = "invoice"
    with django_capture_on_commit_callbacks(execute=True):
        order_page = place.submit().follow()

    order = Order.objects.get()
    assert order.pickup_location == shop and order.payment_terms == Order.PaymentTerms.INVOICE
    assert order.payment_status == P.UNPAID and order.reservation_expires_at is None
    assert StockLevel.objects.get(variant=variant, location=shop).reserved >= 3
    assert "Analytical Engines Ltd PO PO-1843" in order_page.text
    (email,) = [m for m in mail.outbox if m.to == ["buyer@example.com"]]
    assert "You pay it on invoice" in email.body and "Harbour Street shop" in email.body
    # On invoice, the shop may get it ready before the payment: the counter's usual way, with a code.
    assert order_page.click(description="Ready for pickup…").forms["pickup_ready_form"]
