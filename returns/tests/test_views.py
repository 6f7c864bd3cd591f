"""The shopper's return form as a browser submits it (WebTest: the rendered form, filled, posted
with its CSRF token and the photo as multipart), from the signed order link and the owner's page."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from webtest import Upload

from conftest import image_bytes
from orders.links import signed_order_url
from returns.models import Reason, ReturnPolicy, ReturnRequest

from .helpers import paid_and_shipped, store

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]


@pytest.fixture
def shop():
    return store()


def open_form(app, order_page):
    """The order page's "Return items" link, followed."""
    page = app.get(order_page)
    return app.get(page.html.select_one("#start-return")["href"])


def test_a_guest_asks_for_a_return_from_the_signed_link_with_a_photo(django_app, shop, settings):
    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 2))
    order_page = signed_order_url(order)

    form_page = open_form(django_app, order_page)
    assert "You can ask to return items up to 30 days after your order was sent." in form_page.text
    form = next(f for f in form_page.forms.values() if "reason" in f.fields)
    line = order.lines.get()
    form[f"line_{line.pk}"] = "1"
    form["reason"] = Reason.DAMAGED
    form["comment"] = "The collar is torn."
    picture = image_bytes("JPEG", size=(40, 30))
    form["photo"] = Upload("IMG 0001 (my room).jpeg", picture, "image/jpeg")
    done = form.submit().follow()

    request = ReturnRequest.objects.get()
    assert (request.reason, request.comment, request.lines.get().quantity) == (Reason.DAMAGED, "The collar is torn.", 1)
    assert f"We received your return request R{request.pk}" in done.text
    box = done.html.select_one(f'#order-returns [data-return="{request.pk}"]')
    assert box["data-status"] == "requested" and "1 × " in box.text
    # Stored privately under a name of ours, shown to whoever holds the link.
    assert request.photo.name.endswith(".jpg") and "my room" not in request.photo.name
    assert str(settings.MEDIA_ROOT) not in request.photo.path
    photo = django_app.get(box.select_one("a")["href"])
    assert photo.content_type == "image/jpeg" and photo.body == picture
    assert photo.headers["Cache-Control"] == "private, no-store"


def test_a_signed_in_shopper_asks_from_their_order_page_and_mistakes_are_explained(django_app, shop):
    _w, _h, sizes, wrap = shop
    user = get_user_model().objects.create_user("ada", "ada@example.com", "pw-ada-12345")
    order = paid_and_shipped((sizes["M"], 1), (wrap, 1), user=user)
    ReturnPolicy.current().excluded_categories.add(wrap.product.category)
    django_app.set_user(user)

    form_page = open_form(django_app, reverse("orders:detail", kwargs={"number": order.number}))
    assert "/returns/number/" in form_page.request.path
    wrap_row = form_page.html.select_one('[data-sku="WRAP"]')
    assert "cannot be returned" in wrap_row.text and not wrap_row.select("input")
    form = next(f for f in form_page.forms.values() if "reason" in f.fields)
    # No reason: the page asks for one.
    again = form.submit(status=400)
    assert "Choose why you are returning the items." in again.text
    # Nothing chosen: the page says what to do, nothing is stored.
    form = next(f for f in again.forms.values() if "reason" in f.fields)
    form["reason"] = Reason.WRONG_SIZE
    again = form.submit(status=400)
    assert "Enter how many of at least one item you want to return." in again.text
    # Not an image: refused by its contents, whatever its name says.
    form = next(f for f in again.forms.values() if "reason" in f.fields)
    form[f"line_{order.lines.get(sku='SHIRT-M').pk}"] = "1"
    form["photo"] = Upload("photo.jpg", b"%PDF-1.4 not a picture", "image/jpeg")
    again = form.submit(status=400)
    assert "The file is not a JPEG, PNG, WebP or GIF image." in again.text
    assert not ReturnRequest.objects.exists()

    form = next(f for f in again.forms.values() if "reason" in f.fields)
    form[f"line_{order.lines.get(sku='SHIRT-M').pk}"] = "1"
    form["reason"] = Reason.WRONG_SIZE
    done = form.submit().follow()
    assert done.request.path == reverse("orders:detail", kwargs={"number": order.number})
    assert ReturnRequest.objects.get().lines.get().order_line.sku == "SHIRT-M"


def test_nobody_else_reaches_the_form_or_the_photo(django_app, shop):
    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 1))
    other = get_user_model().objects.create_user("eve", "eve@example.com", "pw-eve-12345")
    django_app.set_user(other)
    django_app.get(reverse("returns:start", kwargs={"number": order.number}), status=404)
    django_app.get(reverse("returns:photo", kwargs={"number": order.number, "pk": 1}), status=404)
    token = signed_order_url(order).split("/")[2]
    django_app.get(reverse("returns:start_signed", kwargs={"token": token[:-1] + "x"}), status=404)
    # A guest link opens only its own order's returns.
    theirs = paid_and_shipped((sizes["S"], 1), email="bob@example.com")
    from returns.services import request_return

    request = request_return(order=theirs, quantities={theirs.lines.get().pk: 1}, reason=Reason.OTHER)
    django_app.get(reverse("returns:photo_signed", kwargs={"token": token, "pk": request.pk}), status=404)


def test_the_form_page_costs_a_fixed_number_of_queries(client, shop, django_assert_max_num_queries):
    _w, _h, sizes, wrap = shop
    order = paid_and_shipped((sizes["M"], 1), (sizes["L"], 1), (wrap, 2))
    url = reverse("returns:start_signed", kwargs={"token": signed_order_url(order).split("/")[2]})
    with django_assert_max_num_queries(10):
        response = client.get(url)
    assert response.status_code == 200 and response["Cache-Control"].startswith("private")
    assert Decimal(order.total) > 0


def test_the_order_page_offers_returns_only_once_something_shipped(client, shop):
    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 1))
    assert b'id="start-return"' in client.get(signed_order_url(order)).content
    from orders.models import Order

    unsent = Order.objects.create(email="x@example.com", currency="USD", idempotency_key="unsent")
    response = client.get(signed_order_url(unsent))
    assert b'id="start-return"' not in response.content
    assert "Items can be returned once they have been sent." in response.content.decode()


def test_the_form_shows_no_template_text(client, shop):
    """The storefront's field template began with a two-line `{# #}` comment, which Django's
    templates print as text (only one-line comments are comments): every field showed it."""
    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 1))
    response = client.get(reverse("returns:start_signed", kwargs={"token": signed_order_url(order).split("/")[2]}))
    assert "{#" not in response.content.decode() and "#}" not in response.content.decode()


def test_the_order_pages_returns_box_costs_the_same_for_one_return_or_three(client, shop,
                                                                          django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from returns.services import request_return

    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 3))
    url = signed_order_url(order)
    request_return(order=order, quantities={order.lines.get().pk: 1}, reason=Reason.OTHER)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _ in range(2):
        request_return(order=order, quantities={order.lines.get().pk: 1}, reason=Reason.DAMAGED)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(url)
    assert len(response.context["requests"]) == 3


def test_the_shopper_sees_how_the_exchange_left_on_the_order_page(django_app, shop):
    from returns import services

    warehouse, _h, sizes, _wrap = shop
    staff = get_user_model().objects.create_superuser("boss", "boss@example.com", None)
    order = paid_and_shipped((sizes["M"], 1))
    request = services.request_return(order=order, quantities={order.lines.get().pk: 1}, reason=Reason.WRONG_SIZE)
    line = request.lines.get()
    services.receive_return(request_id=request.pk, location_id=warehouse.pk,
                            receipt=services.Receipt(restock={line.pk: 1}), user=staff)
    services.exchange_return(request_id=request.pk, variants={line.pk: sizes["L"].pk}, user=staff)
    services.ship_exchange(request_id=request.pk, user=staff, carrier="DHL", tracking_number="JD014600",
                           tracking_url="https://track.example/JD014600")

    page = django_app.get(signed_order_url(order))

    box = page.html.select_one(f'.order-return[data-return="{request.pk}"]')
    assert "with DHL, tracking number JD014600." in " ".join(box.text.split())
    assert box.select_one("a.exchange-track")["href"] == "https://track.example/JD014600"
