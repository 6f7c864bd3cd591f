"""The returns back office as a browser submits it (WebTest `admin_app`: rendered forms, CSRF):
approve with a message, receive at a shop with a write-off, refund; refuse; the policy; the photo."""
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from catalog.models import StockLevel
from conftest import png_file
from orders.models import Order
from returns.models import Reason, ReturnPolicy, ReturnRequest
from returns.services import request_return

from .helpers import paid_and_shipped, store

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.usefixtures("stock_ledger_checked")]
S = ReturnRequest.Status


@pytest.fixture
def shop():
    return store()


def asked(order, quantity: int, **kwargs) -> ReturnRequest:
    return request_return(order=order, quantities={order.lines.get().pk: quantity}, reason=Reason.WRONG_SIZE,
                          **kwargs)


def change_page(app, request):
    listing = app.get(reverse("admin:returns_returnrequest_changelist"))
    return listing.click(href=reverse("admin:returns_returnrequest_change", args=[request.pk]), index=0)


def test_staff_approve_receive_at_a_shop_and_refund_as_a_browser_does(admin_app, shop, django_capture_on_commit_callbacks):
    warehouse, harbour, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 2))
    request = asked(order, 2)

    page = change_page(admin_app, request)
    form = page.forms["decide-form"]
    form["message"] = "Please use the prepaid label."
    with django_capture_on_commit_callbacks(execute=True):
        page = form.submit("approve").follow()
    assert f"Return R{request.pk} approved" in page.text
    [email] = mail.outbox
    assert "Please use the prepaid label." in email.body and email.to == [order.email]

    receive = admin_app.get(page.html.select_one("#receive-link")["href"])
    form = receive.forms["receive-form"]
    line = request.lines.get()
    form["location"] = str(harbour.pk)  # bought online, handed in at a shop's counter
    form[f"restock_{line.pk}"] = "1"
    bad = form.submit()  # one unit written off without a reason
    assert "Say why the units not put back in stock are written off." in bad.text
    assert ReturnRequest.objects.get().status == S.APPROVED
    form = bad.forms["receive-form"]
    form["write_off_reason"] = "Stained"
    page = form.submit().follow()
    assert f"Return R{request.pk} received." in page.text
    assert StockLevel.objects.get(variant=sizes["M"], location=harbour).on_hand == 1

    page = page.forms["refund-form"].submit().follow()
    assert f"Refunded $80.00 to the original payment for return R{request.pk}." in page.text
    order.refresh_from_db()
    request.refresh_from_db()
    assert request.status == S.REFUNDED and request.refunds.get().amount == Decimal("80.00")
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED  # shipping is not refunded
    # A second submit of the same (now stale) page is refused and changes nothing.
    stale = change_page(admin_app, request)
    assert "refund-form" not in stale.forms
    again = admin_app.post(reverse("admin:returns_returnrequest_refund", args=[request.pk]),
                           {"csrfmiddlewaretoken": admin_app.cookies["csrftoken"]}).follow()
    assert f"Return R{request.pk} is refunded, so it cannot be refunded. Nothing was changed." in again.text
    assert ReturnRequest.objects.get().refunds.count() == order.payments.get().refunds.count() == 1


def test_refusing_from_the_page_needs_a_message(admin_app, shop, django_capture_on_commit_callbacks):
    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 1))
    request = asked(order, 1)
    page = change_page(admin_app, request)
    page = page.forms["decide-form"].submit("refuse").follow()
    assert "Say why the return is refused" in page.text
    assert ReturnRequest.objects.get().status == S.REQUESTED
    form = page.forms["decide-form"]
    form["message"] = "Bought more than 60 days ago."
    with django_capture_on_commit_callbacks(execute=True):
        page = form.submit("refuse").follow()
    assert ReturnRequest.objects.get().status == S.REFUSED
    assert "Bought more than 60 days ago." in mail.outbox[0].body


def test_staff_set_the_policy(admin_app, shop):
    _w, _h, _sizes, wrap = shop
    page = admin_app.get(reverse("admin:returns_returnpolicy_changelist")).follow()
    form = page.forms["returnpolicy_form"]
    form["window_days"] = "14"
    form["excluded_categories"] = [str(wrap.product.category_id)]
    form.submit("_save")
    policy = ReturnPolicy.current()
    assert policy.window_days == 14 and list(policy.excluded_categories.all()) == [wrap.product.category]


def test_the_photo_is_for_staff_who_may_see_returns_only(admin_app, client, shop):
    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 1))
    request = asked(order, 1, photo=png_file("damage.png"))
    page = change_page(admin_app, request)
    photo = admin_app.get(page.html.select_one("#return-photo")["href"])
    assert photo.content_type == "image/png"
    clerk = get_user_model().objects.create_user("clerk", "clerk@example.com", None, is_staff=True)
    client.force_login(clerk)
    assert client.get(reverse("admin:returns_returnrequest_photo", args=[request.pk])).status_code == 403
    assert client.post(reverse("admin:returns_returnrequest_decide", args=[request.pk])).status_code == 403
    assert ReturnRequest.objects.get().status == S.REQUESTED


def test_order_managers_act_on_returns_and_support_only_looks(client, shop):
    from django.contrib.auth.models import Group

    _w, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 1))
    request = asked(order, 1)
    support = get_user_model().objects.create_user("support", is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))
    client.force_login(support)
    assert client.get(reverse("admin:returns_returnrequest_change", args=[request.pk])).status_code == 200
    assert client.post(reverse("admin:returns_returnrequest_decide", args=[request.pk])).status_code == 403
    manager = get_user_model().objects.create_user("manager", is_staff=True)
    manager.groups.add(Group.objects.get(name="Order managers"))
    client.force_login(manager)
    client.post(reverse("admin:returns_returnrequest_decide", args=[request.pk]), {"message": "", "approve": "1"})
    assert ReturnRequest.objects.get().status == S.APPROVED


def test_staff_reserve_an_exchange_from_the_page(admin_app, shop):
    warehouse, _h, sizes, _wrap = shop
    order = paid_and_shipped((sizes["M"], 1))
    request = asked(order, 1)
    from returns import services

    staff = get_user_model().objects.get(username="webtest-admin")
    services.approve_return(request_id=request.pk, user=staff)
    services.receive_return(request_id=request.pk, location_id=warehouse.pk,
                            receipt=services.Receipt(restock={request.lines.get().pk: 1}), user=staff)
    page = change_page(admin_app, request)
    form_page = admin_app.get(page.html.select_one("#exchange-link")["href"])
    form = form_page.forms["exchange-form"]
    nothing = form.submit()
    assert "Choose the size or colour to send for at least one item." in nothing.text
    form = nothing.forms["exchange-form"]
    form[f"variant_{request.lines.get().pk}"].select(text="SHIRT-L")
    page = form.submit().follow()
    assert f"Exchange reserved for return R{request.pk}." in page.text
    assert StockLevel.objects.get(variant=sizes["L"], location=warehouse).reserved == 1
    form = admin_app.get(page.html.select_one("#ship-exchange-link")["href"]).forms["ship-exchange-form"]
    assert "collected" not in form.fields  # reserved at the warehouse: sent by parcel only
    form["carrier"] = "DHL"
    missing = form.submit()
    assert "Type the carrier and the tracking number of the exchange&#x27;s parcel." in missing.text \
        or "Type the carrier and the tracking number of the exchange's parcel." in missing.text
    form = missing.forms["ship-exchange-form"]
    form["tracking_number"] = "JD014600"
    form["tracking_url"] = "https://track.example/JD014600"
    page = form.submit().follow()
    assert f"The exchange for return R{request.pk} is sent." in page.text
    assert "DHL JD014600" in page.html.select_one(".field-exchange_display").text
    assert StockLevel.objects.get(variant=sizes["L"], location=warehouse).on_hand == 19
    assert "ship-exchange-link" not in page.text


def test_the_counter_finds_a_return_by_the_number_on_the_parcel_and_its_page_has_a_query_budget(
        admin_app, shop, django_assert_max_num_queries):
    _w, _h, sizes, _wrap = shop
    first = asked(paid_and_shipped((sizes["M"], 1)), 1)
    second = asked(paid_and_shipped((sizes["S"], 1), email="bob@example.com"), 1)
    listing = admin_app.get(reverse("admin:returns_returnrequest_changelist"))
    form = listing.forms["changelist-search"]
    form["q"] = f"r{second.pk}"
    found = form.submit()
    assert [a.text for a in found.html.select("#result_list tbody th a")] == [str(second)]
    assert str(first) not in found.html.select_one("#result_list").text
    with django_assert_max_num_queries(10):  # 8 measured: session, user, the return, lines, history, ...
        admin_app.get(reverse("admin:returns_returnrequest_change", args=[second.pk]))


def test_an_exchange_the_shopper_collects_at_a_shop_is_handed_over_from_the_page(admin_app, shop):
    from django.db import transaction

    from catalog import stock
    from inventory.ledger import Cause
    from inventory.models import Reason as StockReason
    from returns import services
    from returns.models import ExchangeShipment

    warehouse, harbour, sizes, _wrap = shop
    staff = get_user_model().objects.get(username="webtest-admin")
    with transaction.atomic():  # the shop has two L (found in a count)
        stock.adjust(location_id=harbour.pk, deltas={sizes["L"].pk: 2}, cause=Cause(reason=StockReason.FOUND))
    order = paid_and_shipped((sizes["M"], 1))
    request = asked(order, 1)
    services.receive_return(request_id=request.pk, location_id=harbour.pk,
                            receipt=services.Receipt(restock={request.lines.get().pk: 1}), user=staff)
    page = change_page(admin_app, request)
    form = admin_app.get(page.html.select_one("#exchange-link")["href"]).forms["exchange-form"]
    form[f"variant_{request.lines.get().pk}"].select(text="SHIRT-L")
    form["collect_at"].select(text="Harbour Shop")
    page = form.submit().follow()
    assert StockLevel.objects.get(variant=sizes["L"], location=harbour).reserved == 1  # kept at the shop

    form = admin_app.get(page.html.select_one("#ship-exchange-link")["href"]).forms["ship-exchange-form"]
    form["collected"].checked = True
    page = form.submit().follow()

    assert f"The exchange for return R{request.pk} is sent." in page.text
    assert ExchangeShipment.objects.get().collected_at == harbour
    assert "Harbour Shop" in page.html.select_one(".field-exchange_display").text
    level = StockLevel.objects.get(variant=sizes["L"], location=harbour)
    assert (level.on_hand, level.reserved) == (1, 0)
    assert not mail.outbox or all("on its way" not in m.subject for m in mail.outbox)


def test_staff_who_may_not_see_the_policy_are_refused_its_page_and_write_nothing(django_app, django_user_model):
    # The list made the policy's row before anything checked who asked, then sent them to a 403.
    clerk = django_user_model.objects.create_user("clerk", "clerk@example.com", None, is_staff=True)
    django_app.set_user(clerk)

    response = django_app.get(reverse("admin:returns_returnpolicy_changelist"), expect_errors=True)

    assert response.status_code == 403
    assert not ReturnPolicy.objects.exists()
