"""A shopper's code through the real pages: cart, review, place; and what the order records."""
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.test.utils import override_settings

from catalog.tests import factories as f
from checkout.models import TaxRate
from checkout.tests.conftest import address, fill_cart
from orders.models import Order
from orders.services import cancel_order, expire_unpaid_orders
from promotions.models import Code, Promotion, Redemption

from .factories import CodeFactory, PromotionFactory

pytestmark = pytest.mark.django_db
KEY_INPUT = re.compile(r'name="idempotency_key" value="([^"]+)"')
DISCOUNT_INPUT = re.compile(r'name="discount" value="([^"]*)"')


@pytest.fixture
def store(shipping):
    category = f.CategoryFactory(name="Shirts", slug="shirts")
    warehouse = f.LocationFactory(code="warehouse")
    shirt = f.VariantFactory(product=f.ProductFactory(title="Oxford shirt", slug="oxford", category=category),
                             sku="SHIRT", price=Decimal("25.00"), weight=Decimal("0.3"))
    sale = f.VariantFactory(product=f.ProductFactory(title="Linen shirt", slug="linen", category=category),
                            sku="LINEN", price=Decimal("12.60"), compare_at_price=Decimal("20.00"), weight=Decimal("0.3"))
    for variant in (shirt, sale):
        f.StockLevelFactory(variant=variant, location=warehouse, on_hand=50)
    return shirt, sale


def review(client, delivery):
    assert client.post("/checkout/", address(delivery=delivery)).status_code == 302
    page = client.get("/checkout/review/")
    assert page.status_code == 200
    return page


def place(client, page):
    html = page.content.decode()
    # Every hidden input of the form, as a browser posts it.
    return client.post("/checkout/place/", {"idempotency_key": KEY_INPUT.search(html)[1],
                                            "discount": DISCOUNT_INPUT.search(html)[1]})


def test_a_code_that_needs_more_says_how_much_more_then_applies_and_is_recorded_per_line(store, shipping):
    CodeFactory(code="SUMMER10", promotion=PromotionFactory(name="Summer 10%", trigger=Promotion.Trigger.CODE,
                                                           value=Decimal(10), min_subtotal=Decimal(50)))
    client = Client()
    fill_cart(client, ("SHIRT", 1), ("LINEN", 1))  # 37.60
    response = client.post("/promotions/code/", {"code": " summer-10 ", "next": "/cart/"}, follow=True)
    page = response.content.decode()
    assert "Code SUMMER10 added." in page
    assert "The code SUMMER10 needs a subtotal of $50.00; add $12.40 more." in page

    fill_cart(client, ("SHIRT", 1))  # 62.60
    page = client.get("/cart/").content.decode()
    assert "Summer 10%: −$5.00" in page and "Summer 10%: −$1.26" in page
    assert '<dd id="cart-discounted">$56.34</dd>' in page

    reviewed = review(client, f"method:{shipping.express.pk}")
    assert "−$6.26" in reviewed.content.decode()
    assert place(client, reviewed).status_code == 302
    order = Order.objects.get()
    lines = {line.sku: line for line in order.lines.all()}
    assert lines["SHIRT"].discount_total == Decimal("5.00")
    assert lines["SHIRT"].discounts == [{"promotion": Promotion.objects.get().pk, "name": "Summer 10%", "amount": "5.00"}]
    assert lines["SHIRT"].line_total == Decimal("45.00") and lines["LINEN"].line_total == Decimal("11.34")
    assert order.discount_total == Decimal("6.26")
    assert order.total == Decimal("56.34") + Decimal("15.00")
    redemption = Redemption.objects.get()
    assert (redemption.order, redemption.amount, redemption.code.code) == (order, Decimal("6.26"), "SUMMER10")


def test_reasons_a_code_does_not_apply(store):
    client = Client()
    fill_cart(client, ("LINEN", 1))
    response = client.post("/promotions/code/", {"code": "NOPE", "next": "/cart/"}, follow=True)
    assert "There is no code NOPE." in response.content.decode()
    assert "promotion_code" not in client.session
    CodeFactory(code="FULLPRICE", promotion=PromotionFactory(trigger=Promotion.Trigger.CODE, exclude_sale_items=True))
    page = client.post("/promotions/code/", {"code": "fullprice", "next": "/cart/"}, follow=True).content.decode()
    assert "The code FULLPRICE is not for items on sale." in page
    CodeFactory(code="ONCE", max_uses=1, uses=1)
    page = client.post("/promotions/code/", {"code": "once", "next": "/cart/"}, follow=True).content.decode()
    assert "The code ONCE has already been used." in page
    page = client.post("/promotions/code/", {"remove": "1", "next": "/cart/"}, follow=True).content.decode()
    assert "The code was removed." in page and "promotion_code" not in client.session


def test_tax_is_computed_on_the_discounted_price_inclusive_and_exclusive(store, shipping):
    TaxRate.objects.create(country="US", rate=Decimal("20"))
    PromotionFactory(name="Half off", value=Decimal(50), reward=Promotion.Reward.PERCENT_LINES)
    for included, line_total, tax in ((True, Decimal("12.50"), Decimal("2.08")), (False, Decimal("15.00"), Decimal("2.50"))):
        with override_settings(STORE_PRICES_INCLUDE_TAX=included):
            client = Client()
            fill_cart(client, ("SHIRT", 1))
            assert place(client, review(client, f"method:{shipping.express.pk}")).status_code == 302
            order = Order.objects.order_by("-pk").first()
            line = order.lines.get()
            assert (line.discount_total, line.line_total, line.tax_total, order.tax_total) == (
                Decimal("12.50"), line_total, tax, tax)
            assert order.total == line_total + Decimal("15.00")


def test_a_hundred_percent_discount_with_free_shipping_is_a_zero_total_order(store, shipping):
    TaxRate.objects.create(country="US", rate=Decimal("19"))
    PromotionFactory(name="Everything free", reward=Promotion.Reward.PERCENT_ORDER, value=Decimal(100),
                     combines_with_shipping=True)
    PromotionFactory(name="Free shipping", reward=Promotion.Reward.SHIPPING, value=Decimal(100),
                     combines_with_order=True)
    client = Client()
    fill_cart(client, ("SHIRT", 3))
    place(client, review(client, f"method:{shipping.express.pk}"))
    order = Order.objects.get()
    assert (order.total, order.tax_total, order.shipping_total, order.shipping_discount) == (
        Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("15.00"))


def test_a_used_up_code_between_review_and_place_orders_nothing_and_says_so(store, shipping):
    code = CodeFactory(code="LAST", max_uses=1)
    client = Client()
    fill_cart(client, ("SHIRT", 1))
    client.post("/promotions/code/", {"code": "LAST", "next": "/cart/"})
    page = review(client, f"method:{shipping.express.pk}")
    Code.objects.filter(pk=code.pk).update(uses=1)  # another shopper used it meanwhile
    response = place(client, page)
    assert response["Location"] == "/checkout/review/"
    assert not Order.objects.exists()
    page = client.get("/checkout/review/").content.decode()
    assert "has just been used up" in page or "has already been used" in page
    assert "The code LAST has already been used." in page


def test_uses_and_budget_come_back_when_an_order_expires_unpaid_or_is_cancelled(store, shipping):
    from datetime import timedelta

    from django.utils import timezone

    promotion = PromotionFactory(name="Limited", trigger=Promotion.Trigger.CODE, usage_limit=5, budget=Decimal(100))
    code = CodeFactory(code="ONEOFF", promotion=promotion, max_uses=1)
    orders = []
    for code_text in ("ONEOFF", "SHAREDX"):
        if code_text == "SHAREDX":
            CodeFactory(code="SHAREDX", promotion=promotion)
        client = Client()
        fill_cart(client, ("SHIRT", 1))
        client.post("/promotions/code/", {"code": code_text, "next": "/cart/"})
        place(client, review(client, f"method:{shipping.express.pk}"))
        orders.append(Order.objects.order_by("-pk").first())
    promotion.refresh_from_db()
    code.refresh_from_db()
    assert (promotion.uses, promotion.spent, code.uses) == (2, Decimal("5.00"), 1)

    cancel_order(order_id=orders[0].pk, actor="staff")
    promotion.refresh_from_db()
    code.refresh_from_db()
    assert (promotion.uses, promotion.spent, code.uses) == (1, Decimal("2.50"), 0)
    Order.objects.filter(pk=orders[1].pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))
    assert expire_unpaid_orders() == 1
    promotion.refresh_from_db()
    assert (promotion.uses, promotion.spent) == (0, Decimal("0.00"))
    assert Redemption.objects.filter(released_at__isnull=False).count() == 2


def test_the_order_page_confirmation_email_and_invoice_name_each_discount_on_its_line(store, shipping, django_user_model):
    from django.core import mail

    from notifications.services import send_order_email
    from orders.links import signed_order_url

    PromotionFactory(name="Shirt week", value=Decimal(20), combines_with_order=True).products.add(store[0].product)
    CodeFactory(code="TAKE5", promotion=PromotionFactory(name="Five off", trigger=Promotion.Trigger.CODE,
                                                        reward=Promotion.Reward.FIXED_ORDER, value=Decimal(5),
                                                        combines_with_product=True))
    client = Client()
    fill_cart(client, ("SHIRT", 2), ("LINEN", 1))
    client.post("/promotions/code/", {"code": "take5", "next": "/cart/"})
    place(client, review(client, f"method:{shipping.express.pk}"))
    order = Order.objects.get()
    # 50.00 - 20% = 40.00; then 5.00 over 40.00 + 12.60 by largest remainder: 3.80 and 1.20.
    shirt, linen = order.lines.order_by("sku").reverse()
    assert [d["amount"] for d in shirt.discounts] == ["10.00", "3.80"] and linen.discounts[0]["amount"] == "1.20"

    page = client.get(signed_order_url(order)).content.decode()
    assert "Shirt week: −$10.00" in page and "Five off: −$3.80" in page and "Five off: −$1.20" in page

    send_order_email(order_id=order.pk, kind="confirmation")  # (after commit, which this test never reaches)
    body = mail.outbox[-1].body
    html = mail.outbox[-1].alternatives[0][0]
    assert "Shirt week: −$10.00" in body and "Five off: −$1.20" in body and "Five off: −$3.80" in html

    staff = django_user_model.objects.create_superuser(username="boss", email="boss@example.com", password="x")
    client.force_login(staff)
    from django.urls import reverse

    invoice = client.get(reverse("admin:orders_order_invoice", args=[order.pk])).content.decode()
    assert "Shirt week: −$10.00" in invoice and 'id="invoice-discounts">−$15.00' in invoice
