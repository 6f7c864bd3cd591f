"""The shopper's order pages: who may see an order, what they see, and that nothing is cached."""
import re
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import Location
from catalog.tests import factories as f
from conftest import html_tags
from orders import links
from orders.models import Order, OrderEvent, Shipment
from orders.services import (
    PlacementLine,
    ShipmentRequest,
    ShippingChoice,
    confirm_payment,
    create_shipment,
    place_order,
    record_refund,
    record_return,
)

from .factories import OrderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
P = Order.PaymentStatus
FS = Order.FulfilmentStatus
DELIVERY = ShippingChoice(name="Standard delivery", price=Decimal("4.95"))
ADDRESS = {"name": "Ada Lovelace", "line1": "12 Analytical Row", "postal_code": "97201", "city": "Portland",
           "region": "OR", "country": "US"}


@pytest.fixture
def catalog():
    """A warehouse and one category for every product. The category exists before the first
    order is placed: the active category tree is cached, and test transactions never commit the
    change that would refresh it."""
    return SimpleNamespace(warehouse=f.LocationFactory(code="warehouse", name="Warehouse"),
                           category=f.CategoryFactory(name="Tees", slug="tees"))


def _variant(catalog, n: int, *, price: str = "25.00"):
    size = f.OptionValueFactory(option=f.OptionFactory(slug="size", name="Size"), slug=f"s{n}", value=f"S{n}")
    variant = f.VariantFactory(sku=f"TEE-{n:03d}", price=Decimal(price), product__title=f"Trail Tee {n}",
                               product__category=catalog.category, option_values=[size])
    f.StockLevelFactory(variant=variant, location=catalog.warehouse, on_hand=50)
    return variant


_keys = iter(range(1_000_000))


def _place(catalog, *, lines: int = 1, user=None, shipping=DELIVERY, first: int = 0) -> Order:
    variants = [_variant(catalog, first + i) for i in range(lines)]
    return place_order(
        lines=[PlacementLine(v.pk, 2) for v in variants], email="ada@example.com",
        idempotency_key=f"view-test-{next(_keys)}", shipping=shipping, customer_name="Ada Lovelace",
        shipping_address=ADDRESS, user=user,
    )


def _pay(order: Order) -> None:
    confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.WEBHOOK, reference="pi_SECRET_REF")


def _ship(order: Order, **request) -> Shipment:
    quantities = {line.pk: line.quantity for line in order.lines.all()}
    return create_shipment(order_id=order.pk, request=ShipmentRequest(quantities=quantities, **request))


def _user(name: str):
    return get_user_model().objects.create_user(username=name, email=f"{name}@example.com", password="pw-123456!")


def _owner_url(order: Order) -> str:
    return reverse("orders:detail", kwargs={"number": order.number})


def _token_urls(token: str) -> list[str]:
    return [reverse(name, kwargs={"token": token}) for name in ("orders:detail_signed", "orders:confirmation",
                                                                 "orders:status_signed")]


# --- Signed links --------------------------------------------------------------------------


def test_the_signed_link_shows_a_guest_their_order(client, catalog):
    order = _place(catalog)
    line = order.lines.get()

    response = client.get(links.signed_order_url(order))

    assert response.status_code == 200
    text = response.content.decode()
    assert order.number in text
    assert "Trail Tee 0" in text and "Size: S0" in text and line.sku in text
    assert "Qty 2" in text and "$25.00 each" in text
    for amount in ("$50.00", "$4.95", "$54.95"):  # line total and subtotal, shipping, total
        assert amount in text
    assert "Standard delivery" in text
    assert "12 Analytical Row" in text and "Portland, OR 97201" in text and "United States" in text
    assert "Payment processing" in text
    assert "Order placed" in text


def test_a_signed_link_is_the_order_number_signed_not_the_number_alone(client, catalog, settings):
    order = _place(catalog)
    token = links.order_token(order)

    assert token.startswith(f"{order.number}:") and len(token) > len(order.number) + 20
    assert links.order_number_from_token(token) == order.number
    assert links.signed_order_url(order) == f"/orders/{token}/"
    assert client.get(f"/orders/{order.number}/").status_code == 404

    settings.SITE_URL = "https://shop.example/"
    assert links.absolute_signed_order_url(order) == f"https://shop.example/orders/{token}/"


def test_links_survive_a_key_rotation_listed_in_fallbacks(client, catalog, settings):
    order = _place(catalog)
    old_link = links.signed_order_url(order)

    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-for-this-test-only-0123456789"

    assert client.get(old_link).status_code == 200
    settings.SECRET_KEY_FALLBACKS = []
    assert client.get(old_link).status_code == 404  # rotating without fallbacks revokes every link


def _tampered_tokens(order: Order, other: Order) -> list[str]:
    token = links.order_token(order)
    number, signature = token.split(":", 1)
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [
        f"{number}:{flipped}",  # one character of the signature changed
        f"{other.number}:{signature}",  # someone else's number under this order's signature
        signing.Signer(salt="another.purpose").sign(order.number),  # signed, but for something else
        signing.Signer(key="not-our-key", salt=links.SALT).sign(order.number),  # signed by someone else
        order.number,
        f"{number}:",
        "not-a-token",
    ]


def test_a_forged_or_altered_token_answers_404(client, catalog):
    order = _place(catalog)
    other = _place(catalog, first=10)

    for token in _tampered_tokens(order, other):
        for url in _token_urls(token):
            assert client.get(url).status_code == 404, url


def test_anyone_with_the_link_sees_the_order_even_signed_in_as_someone_else(client, catalog):
    order = _place(catalog, user=_user("alice"))
    client.force_login(_user("bob"))

    assert client.get(links.signed_order_url(order)).status_code == 200


# --- The owner's pages ---------------------------------------------------------------------


def test_another_customers_order_answers_404_through_both_kinds_of_url(client, catalog):
    alice, bob = _user("alice"), _user("bob")
    alices = _place(catalog, user=alice)
    bobs = _place(catalog, user=bob, first=10)
    bobs_signature = links.order_token(bobs).split(":", 1)[1]
    client.force_login(bob)

    # The number route: exists-but-not-yours looks exactly like does-not-exist.
    assert client.get(_owner_url(alices)).status_code == 404
    assert client.get(reverse("orders:status", kwargs={"number": alices.number})).status_code == 404
    assert client.get(reverse("orders:detail", kwargs={"number": "ZZZZ-ZZZZ"})).status_code == 404
    # The token route: Bob's own valid signature does not open Alice's number.
    for url in _token_urls(f"{alices.number}:{bobs_signature}"):
        assert client.get(url).status_code == 404
    # Bob's own order opens both ways.
    assert client.get(_owner_url(bobs)).status_code == 200
    assert client.get(links.signed_order_url(bobs)).status_code == 200


def test_a_guest_order_is_nobodys_by_number_even_with_the_same_email(client, catalog):
    guest_order = _place(catalog)  # placed without signing in, email ada@example.com
    client.force_login(get_user_model().objects.create_user(username="ada", email="ada@example.com"))

    assert client.get(_owner_url(guest_order)).status_code == 404


def test_the_owner_sees_their_order_in_history_and_on_its_page(client, catalog):
    alice = _user("alice")
    order = _place(catalog, user=alice, lines=2)
    client.force_login(alice)

    history = client.get(reverse("orders:history"))
    detail = client.get(_owner_url(order))

    assert history.status_code == 200
    assert [a["href"] for a in html_tags(history.content, "a", class_="order-card-link")] == [_owner_url(order)]
    assert "4 items" in history.content.decode() and "$104.95" in history.content.decode()
    assert detail.status_code == 200
    assert order.number in detail.content.decode() and "Trail Tee 1" in detail.content.decode()


def test_history_lists_only_my_orders_newest_first_ten_a_page(client):
    alice, bob = _user("alice"), _user("bob")
    now = timezone.now()
    mine = []
    for days_ago in range(12):
        order = OrderFactory(user=alice)
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(days=days_ago))
        mine.append(order.number)
    theirs = OrderFactory(user=bob)
    guest = OrderFactory(user=None)
    client.force_login(alice)

    first = client.get(reverse("orders:history"))
    second = client.get(reverse("orders:history"), {"page": 2})

    def numbers(response):
        return [a["href"].split("/")[-2] for a in html_tags(response.content, "a", class_="order-card-link")]

    assert numbers(first) == mine[:10]
    assert numbers(second) == mine[10:]
    for response in (first, second):
        assert theirs.number not in response.content.decode()
        assert guest.number not in response.content.decode()
    assert html_tags(first.content, "a", rel="next")[0]["href"] == "?page=2"


def test_history_without_orders_says_so(client):
    client.force_login(_user("alice"))

    response = client.get(reverse("orders:history"))

    assert response.status_code == 200
    assert "No orders yet" in response.content.decode()


@pytest.mark.parametrize("url", ["/orders/", "/orders/number/ABCD-EFGH/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, url, settings):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={url}"

    settings.LOGIN_URL = "/account/sign-in/"
    assert client.get(url)["Location"] == f"/account/sign-in/?next={url}"


# --- What the page shows -------------------------------------------------------------------


def test_shipments_show_carrier_tracking_number_and_link(client, catalog):
    order = _place(catalog)
    _pay(order)
    _ship(order, carrier="DHL", tracking_number="JD014600006281230000",
          tracking_url="https://www.dhl.com/track?id=JD014600006281230000")

    response = client.get(links.signed_order_url(order))

    text = response.content.decode()
    assert "DHL" in text and "JD014600006281230000" in text
    track = html_tags(response.content, "a", href="https://www.dhl.com/track?id=JD014600006281230000")
    assert len(track) == 1 and "noreferrer" in track[0]["rel"]
    assert "2 × Trail Tee 0" in text  # what is in the parcel
    assert "Shipped" in text and "Payment received" in text
    assert html_tags(response.content, "section", id="order-status")[0]["data-fulfilment"] == FS.FULFILLED


def test_a_tracking_link_that_is_not_http_is_never_a_link(client, catalog):
    order = _place(catalog)
    Shipment.objects.create(order=order, carrier="Courier", tracking_number="X1", tracking_url="javascript:alert(1)")

    response = client.get(links.signed_order_url(order))

    assert "X1" in response.content.decode()
    assert "javascript:" not in response.content.decode()


def test_internal_notes_alerts_and_provider_references_never_show(client, catalog):
    order = _place(catalog)
    _pay(order)  # its status event's message carries the provider reference "pi_SECRET_REF"
    for kind, message in [(OrderEvent.Kind.NOTE, "Customer sounded rude on the phone"),
                          (OrderEvent.Kind.ALERT, "Amount mismatch: check the fraud queue"),
                          (OrderEvent.Kind.EMAIL, "Sent payment_received via smtp-relay-7")]:
        OrderEvent.objects.create(order=order, kind=kind, actor=OrderEvent.Actor.STAFF, message=message)

    text = client.get(links.signed_order_url(order)).content.decode()

    for secret in ("rude", "fraud queue", "smtp-relay-7", "pi_SECRET_REF", "stock reserved"):
        assert secret not in text
    assert "Payment received" in text


def test_a_refund_shows_in_the_timeline_with_its_amount(client, catalog):
    order = _place(catalog)
    _pay(order)
    record_refund(order_id=order.pk, amount=Decimal("10.00"), refunded_so_far=Decimal("10.00"),
                  actor=OrderEvent.Actor.STAFF, reference="re_SECRET")

    text = client.get(links.signed_order_url(order)).content.decode()

    assert "Partly refunded" in text and "$10.00" in text
    assert "re_SECRET" not in text


def test_a_partly_shipped_order_partly_refunded_still_tells_the_shopper_the_rest_is_coming(client, catalog):
    alice = _user("alice")
    order = _place(catalog, user=alice, lines=2)
    _pay(order)
    first = order.lines.order_by("pk").first()
    create_shipment(order_id=order.pk, request=ShipmentRequest(quantities={first.pk: first.quantity}))
    record_refund(order_id=order.pk, amount=Decimal("10.00"), refunded_so_far=Decimal("10.00"),
                  actor=OrderEvent.Actor.STAFF)
    client.force_login(alice)

    page = client.get(_owner_url(order))
    history = client.get(reverse("orders:history"))

    box = html_tags(page.content, "section", id="order-status")[0]
    assert (box["data-fulfilment"], box["data-payment-status"]) == (FS.PARTIALLY_FULFILLED, P.PARTIALLY_REFUNDED)
    text = page.content.decode()
    assert "Partly shipped" in text and "the rest will follow" in text and "Partly refunded" in text
    card = history.content.decode()
    assert "Partly shipped" in card and "Partly refunded" in card


def _return(order: Order, quantities: dict[int, int], *, note: str = "", location=None) -> OrderEvent:
    staff = get_user_model().objects.create_user(username=f"morgan{next(_keys)}", first_name="Morgan",
                                                 last_name="Backoffice", is_staff=True)
    return record_return(order=order, lines=quantities, restock=location is not None,
                         location_id=location.pk if location else None, actor=OrderEvent.Actor.STAFF, user=staff,
                         note=note)


def test_returned_units_show_on_their_line_and_in_the_timeline_without_staff_details(client, catalog):
    order = _place(catalog, lines=2)
    _pay(order)
    _ship(order)
    first, second = order.lines.order_by("pk")
    back_room = f.LocationFactory(code="back-room", name="Back Room Cage")
    _return(order, {first.pk: 1}, note="Customer was rude about it", location=back_room)

    response = client.get(links.signed_order_url(order))

    text = " ".join(response.content.decode().split())
    assert [tag["data-sku"] for tag in html_tags(response.content, "p", data_returned="1")] == [first.sku]
    assert "1 returned" in text and text.count(" returned<") == 1  # the other line had nothing back
    entry = re.search(r"Return received</span> <span class=\"timeline-detail\">([^<]*)</span>", text)
    assert entry and entry.group(1) == f"1 × {first.product_title} ({first.options})"
    for internal in ("rude", "Morgan", "Backoffice", "Back Room Cage", "restocked", first.sku + ";"):
        assert internal not in text, internal


def test_the_order_page_costs_the_same_queries_with_returns(client, catalog):
    order = _place(catalog, lines=3)
    _pay(order)
    _ship(order)
    url = links.signed_order_url(order)
    before = _queries(client, url)
    lines = list(order.lines.order_by("pk"))

    _return(order, {lines[0].pk: 1})
    _return(order, {line.pk: 1 for line in lines})

    assert _queries(client, url) == before
    assert client.get(url).content.decode().count("Return received") == 2


def test_a_pick_up_order_shows_the_shop_and_its_address(client, catalog):
    shop = f.LocationFactory(code="downtown", name="Downtown shop", kind=Location.Kind.SHOP, pickup_allowed=True,
                             address_line1="1 Market Street", city="Portland", postal_code="97204", country="US")
    variant = _variant(catalog, 1)
    f.StockLevelFactory(variant=variant, location=shop, on_hand=5)
    order = place_order(
        lines=[PlacementLine(variant.pk, 1)], email="ada@example.com", idempotency_key="pickup-1",
        shipping=ShippingChoice(name="Click and collect", price=Decimal("0"), pickup_location_id=shop.pk,
                                location_ids=[shop.pk]),
        shipping_address=ADDRESS,
    )

    text = client.get(links.signed_order_url(order)).content.decode()

    assert "Pick up at" in text and "Downtown shop" in text and "1 Market Street" in text
    assert "12 Analytical Row" not in text


def test_tax_is_a_line_of_its_own_when_prices_exclude_it(client, catalog, settings):
    settings.STORE_PRICES_INCLUDE_TAX = False
    variant = _variant(catalog, 1, price="100.00")
    order = place_order(lines=[PlacementLine(variant.pk, 1)], email="ada@example.com", idempotency_key="tax-1",
                        shipping=DELIVERY, tax_rate_for=lambda v: Decimal("20"))

    text = client.get(links.signed_order_url(order)).content.decode()

    assert ">Tax<" in text and "$20.00" in text and "$124.95" in text


def test_the_confirmation_page_thanks_and_links_to_the_order(client, catalog):
    order = _place(catalog)
    _pay(order)

    response = client.get(links.signed_confirmation_url(order))

    assert response.status_code == 200
    assert "Thank you for your order" in response.content.decode()
    assert order.number in response.content.decode()
    assert html_tags(response.content, "a", href=links.signed_order_url(order))


def test_the_confirmation_page_of_an_unpaid_order_says_it_is_not_paid_and_thanks_for_nothing(client, catalog):
    order = _place(catalog)

    response = client.get(links.signed_confirmation_url(order))

    text = response.content.decode()
    assert "Your order is not paid yet" in text and "Thank you for your order" not in text
    assert not html_tags(response.content, "svg", **{"class": "icon order-confirmation-icon"})


# --- Waiting for the payment ---------------------------------------------------------------


def test_the_status_box_polls_while_the_payment_is_being_confirmed(client, catalog):
    order = _place(catalog)
    page_url = links.signed_order_url(order)

    box = html_tags(client.get(page_url).content, "section", id="order-status")[0]

    assert box["data-hx-trigger"] == "every 5s"
    status_url = box["data-hx-get"]
    assert status_url.startswith(reverse("orders:status_signed", kwargs={"token": links.order_token(order)}))
    # Without JavaScript: a plain link to the page itself.
    assert html_tags(client.get(page_url).content, "a", href=page_url)


def test_the_poller_gets_204_until_something_changes_then_the_final_box(client, catalog):
    order = _place(catalog)
    status_url = html_tags(client.get(links.signed_order_url(order)).content, "section", id="order-status")[0]["data-hx-get"]

    unchanged = client.get(status_url, headers={"HX-Request": "true"})
    _pay(order)
    changed = client.get(status_url, headers={"HX-Request": "true"})

    assert unchanged.status_code == 204
    assert changed.status_code == 200
    box = html_tags(changed.content, "section", id="order-status")[0]
    assert "data-hx-trigger" not in box and "data-hx-get" not in box  # the new box does not poll: it stops
    assert (box["data-payment-status"], box["data-payment"]) == (P.PAID, "paid")
    assert html_tags(changed.content, "section", id="order-timeline", data_hx_swap_oob="true")
    assert "Payment received" in changed.content.decode()
    assert "<html" not in changed.content.decode()


def test_the_owner_page_polls_its_own_fragment(client, catalog):
    alice = _user("alice")
    order = _place(catalog, user=alice)
    client.force_login(alice)

    box = html_tags(client.get(_owner_url(order)).content, "section", id="order-status")[0]
    fragment = client.get(box["data-hx-get"].split("?")[0])

    assert box["data-hx-get"].startswith(reverse("orders:status", kwargs={"number": order.number}))
    assert fragment.status_code == 200 and html_tags(fragment.content, "section", id="order-status")


def test_a_paid_order_does_not_poll(client, catalog):
    order = _place(catalog)
    _pay(order)

    response = client.get(links.signed_order_url(order))

    box = html_tags(response.content, "section", id="order-status")[0]
    assert "data-hx-trigger" not in box and box["data-payment"] == "paid"
    assert "Refresh the page" not in response.content.decode()


def test_an_unpaid_order_past_its_reservation_stops_polling(client, catalog):
    order = _place(catalog)
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(minutes=1))

    response = client.get(links.signed_order_url(order))

    box = html_tags(response.content, "section", id="order-status")[0]
    assert "data-hx-trigger" not in box and box["data-payment"] == "awaiting"
    assert "Awaiting payment" in response.content.decode()


# --- Cost and caching ----------------------------------------------------------------------


def _queries(client, url: str) -> int:
    client.get(url)  # warm the category-tree cache the header uses
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_order_page_costs_the_same_queries_for_1_or_10_lines(client, catalog):
    alice = _user("alice")
    small = _place(catalog, lines=1, user=alice)
    large = _place(catalog, lines=10, user=alice, first=100)
    for order in (small, large):
        _pay(order)
        _ship(order, carrier="UPS", tracking_number="1Z999")
    client.force_login(alice)

    signed = (_queries(client, links.signed_order_url(small)), _queries(client, links.signed_order_url(large)))
    owner = (_queries(client, _owner_url(small)), _queries(client, _owner_url(large)))
    history = _queries(client, reverse("orders:history"))

    assert signed[0] == signed[1] and owner[0] == owner[1]
    assert signed[1] <= 10 and owner[1] <= 12 and history <= 10, (signed, owner, history)


def test_order_pages_are_private_and_never_cached(client, catalog):
    alice = _user("alice")
    order = _place(catalog, user=alice)
    token = links.order_token(order)
    anonymous_urls = _token_urls(token)
    client.force_login(alice)
    urls = [*anonymous_urls, _owner_url(order), reverse("orders:status", kwargs={"number": order.number}),
            reverse("orders:history")]

    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= cache_control, url
        assert "noindex" in response["X-Robots-Tag"], url
        assert response["Referrer-Policy"] == "same-origin", url
        assert "X-Cache" not in response, url  # not served through the storefront page cache


def test_a_guest_sees_a_change_at_once_nothing_is_reused(client, catalog):
    order = _place(catalog)
    url = links.signed_order_url(order)

    before = client.get(url)
    _pay(order)
    after = client.get(url)

    assert html_tags(before.content, "section", id="order-status")[0]["data-payment-status"] == P.UNPAID
    assert html_tags(after.content, "section", id="order-status")[0]["data-payment-status"] == P.PAID


def test_order_pages_only_answer_reads(client, catalog):
    order = _place(catalog)

    assert client.post(links.signed_order_url(order)).status_code == 405
    assert client.head(links.signed_order_url(order)).status_code == 200


# --- In a real browser ---------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_status_box_turns_paid_without_a_reload(page, catalog):
    from playwright.sync_api import expect

    order = _place(catalog)
    page.goto(links.signed_order_url(order))
    box = page.locator("#order-status")
    expect(box).to_have_attribute("data-payment-status", P.UNPAID)
    page.evaluate("window.__sameDocument = true")

    _pay(order)

    # One or two polls (every 5 s) later, htmx has swapped in the paid box and the timeline.
    expect(box).to_have_attribute("data-payment-status", P.PAID, timeout=15_000)
    expect(box).not_to_have_attribute("data-hx-trigger", "every 5s")
    expect(page.locator("#order-timeline")).to_contain_text("Payment received")
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded instead of polling"


def test_history_costs_the_same_with_one_pick_up_order_or_ten(client):
    # Each row's status box names the pick-up shop and whether the pick-up is ready, so the shop
    # and the pick-up record must come with the orders.
    from pickup.models import Pickup

    alice = _user("alice")
    shop = f.LocationFactory(code="shop", name="Downtown shop", kind=Location.Kind.SHOP, pickup_allowed=True)
    client.force_login(alice)
    costs = []
    for count in (1, 10):
        Order.objects.filter(user=alice).delete()
        for _n in range(count):
            order = OrderFactory(user=alice, pickup_location=shop, payment_status=P.PAID,
                                 fulfilment_status=FS.UNFULFILLED)
            Pickup.objects.create(order=order, location=shop, code_salt="s", ready_at=timezone.now())
        client.get(reverse("orders:history"))  # what a first visit costs once (the session) is left out
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("orders:history"))
        assert response.status_code == 200 and response.content.decode().count("Ready for pick-up") == count
        costs.append(len(queries))

    assert costs[0] == costs[1], costs


@pytest.mark.parametrize(("pickup_status", "fulfilment", "says", "never"), [
    (None, FS.UNFULFILLED, "Paid, being prepared", "Ready for pick-up"),  # not marked ready yet
    ("ready", FS.UNFULFILLED, "Ready for pick-up", "being prepared"),
    ("collected", FS.FULFILLED, "You collected your order at Downtown shop.", "Ready for pick-up"),
])
def test_a_pick_up_orders_status_follows_its_pick_up(client, pickup_status, fulfilment, says, never):
    """Collected was shown as "Ready for pick-up", and ready as "being prepared"."""
    from pickup.models import Pickup

    alice = _user("alice")
    shop = f.LocationFactory(code="shop", name="Downtown shop", kind=Location.Kind.SHOP, pickup_allowed=True)
    order = OrderFactory(user=alice, pickup_location=shop, payment_status=P.PAID, fulfilment_status=fulfilment)
    if pickup_status:
        Pickup.objects.create(order=order, location=shop, code_salt="s", ready_at=timezone.now(), status=pickup_status)
    client.force_login(alice)

    page = client.get(reverse("orders:detail", kwargs={"number": order.number})).content.decode()

    assert says in page and never not in page


def test_a_reservation_ending_on_another_day_says_the_date_as_well_as_the_time():
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    import time_machine
    from django.utils import timezone

    from orders.selectors import _until

    here = ZoneInfo(timezone.get_current_timezone_name())
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=here), tick=False):
        today = Order(reservation_expires_at=timezone.now() + timedelta(minutes=30))
        in_a_week = Order(reservation_expires_at=timezone.now() + timedelta(days=7))

        assert _until(today) == " Your items are reserved until 09:30."
        assert _until(in_a_week) == " Your items are reserved until March 9, 2026 at 09:00."
