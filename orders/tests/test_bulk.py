"""Bulk actions on the order list, driven as staff use them: tick orders, choose the action, press Go
(django-webtest's `admin_app`), on orders placed and paid through the real services."""
import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from webtest import Upload

from conftest import html_tags
from notifications.models import OutboundEmail
from orders.admin.export import safe_text
from orders.models import Order, OrderEvent, Shipment
from orders.services import cancel_order, create_shipment, ShipmentRequest
from orders.shipping_csv import read_shipments
from orders.tests.test_admin import DELIVERY, collect_at_shop, jacket, lamp, pay, place, staff_groups  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
P = Order.PaymentStatus
F = Order.FulfilmentStatus
CHANGELIST = "/admin/orders/order/"
SHIP_CSV = "/admin/orders/order/ship-csv/"


def run_action(page, action: str, orders=(), *, across: bool = False):
    """Tick the orders' boxes (or every box and "select all"), choose `action`, press Go."""
    form = page.forms["changelist-form"]
    wanted = {str(order.pk) for order in orders}
    for box in form.fields["_selected_action"]:
        box.checked = across or box._value in wanted
    if across:
        form["select_across"] = "1"
    form["action"] = action
    return form.submit("index")


def action_names(page) -> list[str]:
    return [value for value, _selected, _text in page.forms["changelist-form"]["action"].options if value]


def upload(page, rows: list[list[str]], *, header=("order", "carrier", "tracking_number", "sku", "quantity"),
           delimiter=",", encoding="utf-8"):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    form = page.forms["ship-csv-form"]
    form["file"] = Upload("tracking.csv", buffer.getvalue().encode(encoding), "text/csv")
    return form.submit("preview")


def errors_of(page) -> list[str]:
    return [item.text.strip() for item in page.html.select("#ship-csv-errors li")]


def support_user(django_user_model):
    user = django_user_model.objects.create_user("support", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


def shipments_and_events() -> tuple[int, int]:
    return Shipment.objects.count(), OrderEvent.objects.filter(kind=OrderEvent.Kind.SHIPMENT).count()


# --- Packing slips ---

def test_packing_slips_print_the_selected_orders_one_per_page(admin_app, jacket, lamp):
    first = pay(place((jacket, 2), (lamp, 1), name="Ada Lovelace"))
    second = pay(place((jacket, 3), name="Grace Hopper", email="grace@example.com", shipping=collect_at_shop()))
    not_chosen = pay(place((jacket, 1), name="Alan Turing"))

    slips = run_action(admin_app.get(CHANGELIST), "print_packing_slips", [second, first])

    assert slips.status_code == 200
    articles = html_tags(slips.text, "article", class_="slip")
    assert [article["data-order"] for article in articles] == [first.number, second.number]  # oldest first
    assert not_chosen.number not in slips.text and "Alan Turing" not in slips.text
    assert "break-before: page" in slips.text and "@media print" in slips.text
    assert html_tags(slips.text, "dd", id=f"slip-{first.number}-order-number")
    one, two = slips.context["slips"]
    assert [(line.sku, line.quantity) for line in one["lines"]] == [("JKT-M", 2), ("LAMP-1", 1)]
    assert (one["units"], two["units"]) == (3, 3)
    assert "pick-up at Harbour Shop" in slips.text
    assert "$" not in slips.text  # a packing slip shows no prices


def test_packing_slips_printed_together_still_say_which_order_must_not_ship(admin_app, jacket):
    paid = pay(place((jacket, 1), name="Ada Lovelace"))
    unpaid = place((jacket, 1), name="Grace Hopper", email="grace@example.com")

    slips = run_action(admin_app.get(CHANGELIST), "print_packing_slips", [paid, unpaid])

    # One slip on its own always said so; printed in a batch the warning was lost.
    assert html_tags(slips.text, "p", id=f"slip-{unpaid.number}-packing-hold")
    assert "Not paid yet: do not ship until the payment is in." in slips.text
    assert not html_tags(slips.text, "p", id=f"slip-{paid.number}-packing-hold")


def _queries_for(admin_app, action: str) -> int:
    page = admin_app.get(CHANGELIST)
    with CaptureQueriesContext(connection) as captured:
        response = run_action(page, action, across=True)
        assert response.status_code == 200
        response.body  # the export streams: read it all inside the count
    return len(captured)


@pytest.mark.parametrize("action", ["print_packing_slips", "export_csv"])
def test_slips_and_export_cost_the_same_queries_for_3_orders_as_for_20(admin_app, jacket, lamp, action,
                                                                        django_assert_max_num_queries):
    def make(count):
        for n in range(count):
            pickup = n % 2 == 1
            order = place((jacket, n % 3 + 1), *([] if pickup else [(lamp, 1)]),
                          shipping=collect_at_shop() if pickup else DELIVERY)
            if n % 3:
                pay(order)

    make(3)
    few = _queries_for(admin_app, action)
    make(17)
    many = _queries_for(admin_app, action)
    page = admin_app.get(CHANGELIST)
    with django_assert_max_num_queries(few):
        response = run_action(page, action, across=True)
        response.body

    assert many == few
    assert Order.objects.count() == 20


# --- Export ---

def read_csv(response) -> list[dict[str, str]]:
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="orders-')
    text = response.body.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_the_export_writes_plain_decimals_and_defuses_formulas(admin_app, jacket, lamp):
    order = pay(place((jacket, 2), (lamp, 1), name="=HYPERLINK(\"http://evil.example\",\"Click\")",
                      email="ada@example.com", phone="+49 30 1234567"))
    other = place((lamp, 1), name="@SUM(A1:A9)")
    place((lamp, 1), name="Not Chosen")

    rows = read_csv(run_action(admin_app.get(CHANGELIST), "export_csv", [order, other]))

    assert [row["number"] for row in rows] == [other.number, order.number]  # the list's order: newest first
    row = rows[1]
    assert row["customer"] == "'=HYPERLINK(\"http://evil.example\",\"Click\")"
    assert row["phone"] == "'+49 30 1234567"
    assert rows[0]["customer"] == "'@SUM(A1:A9)"
    assert (row["subtotal"], row["shipping"], row["tax"], row["total"]) == ("195.00", "4.95", "0.00", "199.95")
    assert (row["currency"], row["items"], row["country"], row["email"]) == ("USD", "3", "DE", "ada@example.com")
    assert (row["payment"], row["fulfilment"], row["delivery"]) == ("Paid", "Not shipped", "Standard")
    assert row["placed"][:4].isdigit() and row["paid"]
    assert (rows[0]["payment"], rows[0]["fulfilment"], rows[0]["paid"]) == ("Not paid", "Not shipped", "")


@pytest.mark.parametrize("value, written", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("a=b", "a=b"), ("", ""),
])
def test_safe_text_prefixes_what_a_spreadsheet_would_run(value, written):
    assert safe_text(value) == written


def test_the_export_link_exports_the_whole_filtered_list_not_one_page(admin_app, jacket, settings, monkeypatch):
    from orders.admin.orders import OrderAdmin

    monkeypatch.setattr(OrderAdmin, "list_per_page", 2)
    paid = [pay(place((jacket, 1))) for _ in range(3)]
    place((jacket, 1))  # unpaid: filtered out

    page = admin_app.get(CHANGELIST, {"payment_status__exact": "paid"})
    [link] = html_tags(page.text, "a", id="export-list-link")
    rows = read_csv(admin_app.get(link["href"]))

    assert sorted(row["number"] for row in rows) == sorted(order.number for order in paid)


def test_a_bad_filter_in_the_export_link_is_refused(admin_app):
    assert admin_app.get("/admin/orders/order/export/", {"nonsense__in": "1"}, expect_errors=True).status_code == 400


# --- Shipping from a CSV: the happy path ---

def test_orders_ship_from_a_csv_after_a_preview(admin_app, jacket, lamp, django_capture_on_commit_callbacks):
    whole = pay(place((jacket, 2), email="ada@example.com"))
    partly = pay(place((jacket, 1), (lamp, 2), email="grace@example.com"))
    not_in_file = pay(place((lamp, 1), email="alan@example.com"))

    page = run_action(admin_app.get(CHANGELIST), "ship_from_csv", [whole, partly, not_in_file])
    assert [tr["data-order"] for tr in html_tags(page.text, "tr", **{"data-order": whole.number})] == [whole.number]
    preview = upload(page, [
        [whole.number.lower().replace("-", ""), "DHL", "00340434161094042557", "", ""],
        [partly.number, "UPS", "1Z999AA10123456784", "lamp-1", "1"],
        [partly.number, "UPS", "1Z999AA10123456784", "JKT-M", ""],
    ])

    # Checked, shown, and nothing changed yet.
    assert errors_of(preview) == []
    rows = preview.html.select("#ship-csv-preview tbody tr")
    assert [row["data-order"] for row in rows] == [whole.number, partly.number]
    assert "2 × JKT-M" in rows[0].text and "1 × LAMP-1, 1 × JKT-M" in rows[1].text
    assert not_in_file.number in preview.html.select_one("#ship-csv-not-in-file").text
    assert shipments_and_events() == (0, 0)

    with django_capture_on_commit_callbacks(execute=True):
        done = preview.forms["ship-csv-apply"].submit("apply")

    assert done.status_code == 302
    listing = done.follow()
    messages = [m.text for m in listing.html.select("ul.messagelist li")]
    assert any("2 orders shipped in 2 parcel(s)" in m for m in messages)
    assert any(not_in_file.number in m and "not shipped" in m for m in messages)
    whole.refresh_from_db(), partly.refresh_from_db(), not_in_file.refresh_from_db()
    assert (whole.fulfilment_status, partly.fulfilment_status, not_in_file.fulfilment_status) == (
        F.FULFILLED, F.PARTIALLY_FULFILLED, F.UNFULFILLED)
    dhl = whole.shipments.get()
    assert (dhl.carrier, dhl.tracking_number, dhl.created_by.username) == ("DHL", "00340434161094042557",
                                                                            "webtest-admin")
    ups = partly.shipments.get()
    assert sorted((item.line.sku, item.quantity) for item in ups.lines.all()) == [("JKT-M", 1), ("LAMP-1", 1)]
    for order in (whole, partly):
        event = order.events.get(kind=OrderEvent.Kind.SHIPMENT)
        assert event.user.username == "webtest-admin"
    assert sorted(message.to[0] for message in mail.outbox) == ["ada@example.com", "grace@example.com"]
    assert set(OutboundEmail.objects.filter(kind="order.shipped").values_list("order__number", "status")) == {
        (whole.number, OutboundEmail.Status.SENT), (partly.number, OutboundEmail.Status.SENT)}

    # The same file again is refused: the tracking numbers are already recorded.
    again = upload(admin_app.get(SHIP_CSV), [[whole.number, "DHL", "00340434161094042557", "", ""]])
    assert errors_of(again) == [f"Row 2: order {whole.number} already has a shipment with tracking number "
                                "00340434161094042557 (was this file applied before?)."]


def test_a_spreadsheet_csv_in_windows_1252_with_semicolons_ships_as_written(admin_app, jacket):
    # Excel's "CSV" in a French locale: ";" between cells, Windows-1252 text, its own header names.
    order = pay(place((jacket, 1)))
    page = admin_app.get(CHANGELIST)
    [link] = html_tags(page.text, "a", id="ship-csv-link")

    preview = upload(admin_app.get(link["href"]), [[order.number, "Colissimo Équipe", "6A12345678901"]],
                     header=("Order number", "Carrier", "Tracking-Number"), delimiter=";", encoding="cp1252")
    assert "Colissimo Équipe" in preview.html.select_one("#ship-csv-preview").text
    preview.forms["ship-csv-apply"].submit("apply")

    order.refresh_from_db()
    assert order.fulfilment_status == F.FULFILLED and order.shipments.get().carrier == "Colissimo Équipe"


# --- Shipping from a CSV: all or nothing ---

def test_one_bad_row_ships_nothing_and_every_problem_names_its_row(admin_app, jacket, lamp):
    good = pay(place((jacket, 1)))
    other = pay(place((jacket, 2), (lamp, 1)))
    page = run_action(admin_app.get(CHANGELIST), "ship_from_csv", across=True)

    result = upload(page, [
        [good.number, "DHL", "111", "", ""],
        ["ZZZZ-ZZZZ", "DHL", "222", "", ""],
        [other.number, "", "333", "", ""],
        [other.number, "DHL", "444", "NOPE-1", "1"],
        [other.number, "DHL", "555", "JKT-M", "3"],
        [other.number, "DHL", "666", "", "2"],
        [other.number, "DHL", "777", "LAMP-1", "two"],
        [good.number, "DHL", "111", "", ""],
    ])

    assert errors_of(result) == [
        "Row 3: no order has the number “ZZZZ-ZZZZ”.",
        "Row 4: the carrier is empty.",
        f"Row 5: order {other.number} has no item with SKU NOPE-1.",
        f"Row 6: order {other.number} has 2 of JKT-M left to ship, not 3.",
        "Row 7: a quantity needs a SKU: leave both empty to ship the whole order.",
        "Row 8: the quantity “two” is not a whole number above 0.",
        "Row 9: it repeats row 2 (same order, tracking number and SKU).",
    ]
    assert "nothing was shipped" in result.html.select_one("#ship-csv-errors").text
    assert not result.html.select("#ship-csv-apply")  # no way to apply a file with problems
    assert shipments_and_events() == (0, 0)
    assert set(Order.objects.values_list("fulfilment_status", flat=True)) == {F.UNFULFILLED}


def test_orders_that_cannot_ship_are_reported_and_nothing_ships(admin_app, jacket, lamp,
                                                                 django_capture_on_commit_callbacks):
    paid = pay(place((jacket, 1)))
    unpaid = place((jacket, 1))
    cancelled = place((lamp, 1))
    cancel_order(order_id=cancelled.pk, actor=OrderEvent.Actor.STAFF)
    shipped = pay(place((lamp, 1)))
    create_shipment(order_id=shipped.pk, request=ShipmentRequest(quantities={shipped.lines.get().pk: 1}))
    before = shipments_and_events()
    page = admin_app.get(SHIP_CSV)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = upload(page, [
            [paid.number, "DHL", "1", "", ""],
            [unpaid.number, "DHL", "2", "", ""],
            [cancelled.number, "DHL", "3", "", ""],
            [shipped.number, "DHL", "4", "", ""],
        ])

    assert errors_of(result) == [
        f"Row 3: Order {unpaid.number} is not paid and not shipped; only a paid order (or one on invoice terms) with items still to ship can be shipped.",
        f"Row 4: Order {cancelled.number} is not paid and cancelled; only a paid order (or one on invoice terms) with items still to ship can be shipped.",
        f"Row 5: everything in order {shipped.number} has shipped already.",
    ]
    assert shipments_and_events() == before
    assert callbacks == [] and not OutboundEmail.objects.filter(kind="order.shipped", order=paid).exists()
    paid.refresh_from_db()
    assert paid.fulfilment_status == F.UNFULFILLED


def test_an_order_that_changed_after_the_preview_stops_the_whole_file(admin_app, jacket):
    first = pay(place((jacket, 1)))
    second = pay(place((jacket, 1)))
    preview = upload(admin_app.get(SHIP_CSV), [[first.number, "DHL", "1"], [second.number, "DHL", "2"]],
                     header=("order", "carrier", "tracking_number"))
    assert len(preview.html.select("#ship-csv-preview tbody tr")) == 2
    # Meanwhile someone ships the second order from its page.
    create_shipment(order_id=second.pk, request=ShipmentRequest(quantities={second.lines.get().pk: 1}))

    result = preview.forms["ship-csv-apply"].submit("apply")

    assert result.status_code == 200
    assert errors_of(result) == [f"Row 3: everything in order {second.number} has shipped already."]
    first.refresh_from_db()
    assert first.fulfilment_status == F.UNFULFILLED and not first.shipments.exists()


def test_a_file_may_only_name_the_selected_orders(admin_app, jacket):
    chosen = pay(place((jacket, 1)))
    other = pay(place((jacket, 1)))
    page = run_action(admin_app.get(CHANGELIST), "ship_from_csv", [chosen])

    result = upload(page, [[chosen.number, "DHL", "1"], [other.number, "DHL", "2"]],
                    header=("order", "carrier", "tracking_number"))

    assert errors_of(result) == [f"Row 3: order {other.number} is not one of the orders you selected."]
    assert shipments_and_events() == (0, 0)


@pytest.mark.parametrize("content, message", [
    (b"", "The file is empty."),
    (b"order,carrier\nABCD-1234,DHL\n", "the file needs the columns order, carrier, tracking_number "
                                        "(missing: tracking_number)."),
    (b"order,carrier,trackng\n", "unknown column “trackng”."),
    (b"order,carrier,tracking_number\n\n", "The file has a header but no rows."),
])
def test_file_level_problems_are_named(content, message):
    result = read_shipments(content)

    assert result.parcels == []
    assert any(message in str(error) for error in result.errors), [str(e) for e in result.errors]


def test_a_spreadsheet_file_in_windows_1252_is_read(jacket):
    order = pay(place((jacket, 1)))

    result = read_shipments(f"order;carrier;tracking_number\n{order.number};Colissimo Équipe;6A1\n".encode("cp1252"))

    assert result.errors == []
    assert [(p.number, p.carrier) for p in result.parcels] == [(order.number, "Colissimo Équipe")]


def test_the_upload_page_without_a_file_says_so(admin_app):
    result = admin_app.get(SHIP_CSV).forms["ship-csv-form"].submit("preview")

    assert "Choose the CSV file to upload." in result.text


# --- Permissions ---

def test_support_can_print_and_export_but_not_ship(django_app, django_user_model, staff_groups, jacket):
    order = pay(place((jacket, 1)))
    support = support_user(django_user_model)
    django_app.set_user(support)
    page = django_app.get(CHANGELIST)

    assert action_names(page) == ["print_packing_slips", "export_csv"]
    assert not html_tags(page.text, "a", id="ship-csv-link")
    assert run_action(page, "print_packing_slips", [order]).status_code == 200
    assert [row["number"] for row in read_csv(run_action(django_app.get(CHANGELIST), "export_csv", [order]))] \
        == [order.number]
    # The ship action is not offered; forcing its name is refused by the admin, and its page is 403.
    form = page.forms["changelist-form"]
    form["action"].force_value("ship_from_csv")
    for box in form.fields["_selected_action"]:
        box.checked = True
    forced = form.submit("index").follow()
    assert "No action selected." in forced.text
    assert django_app.get(SHIP_CSV, expect_errors=True).status_code == 403
    csrf = page.forms["changelist-form"]["csrfmiddlewaretoken"].value
    posted = django_app.post(SHIP_CSV, {"csrfmiddlewaretoken": csrf, "apply": "1",
                                        "csv_text": f"order,carrier,tracking_number\n{order.number},DHL,1\n"},
                             expect_errors=True)
    assert posted.status_code == 403
    order.refresh_from_db()
    assert order.fulfilment_status == F.UNFULFILLED and not order.shipments.exists()


def test_an_order_manager_sees_every_action(django_app, django_user_model, staff_groups):
    manager = django_user_model.objects.create_user("manager", is_staff=True)
    manager.groups.add(Group.objects.get(name="Order managers"))

    page = django_app.get(CHANGELIST, user=manager)

    assert action_names(page) == ["print_packing_slips", "export_csv", "ship_from_csv"]
    assert html_tags(page.text, "a", id="ship-csv-link")


def test_staff_without_order_permissions_cannot_export(django_app, django_user_model, jacket):
    clerk = django_user_model.objects.create_user("clerk", is_staff=True)

    assert django_app.get("/admin/orders/order/export/", user=clerk, expect_errors=True).status_code == 403
    assert django_app.get(SHIP_CSV, user=clerk, expect_errors=True).status_code == 403


def test_rows_of_one_parcel_must_agree(jacket, lamp):
    order = pay(place((jacket, 2), (lamp, 1)))
    n = order.number

    result = read_shipments("\n".join([
        "order,carrier,tracking_number,sku,quantity",
        f"{n},DHL,A,JKT-M,1",
        f"{n},UPS,A,LAMP-1,1",  # same parcel, another carrier
        f"{n},DHL,A,,",  # same parcel, now "the whole order"
        f"{n},DHL,B,,",
        f"{n},DHL,B,LAMP-1,",  # the whole-order parcel B, now one SKU
        f"{n},DHL,C,JKT-M,",  # a partial parcel: all that is left of JKT-M
    ]).encode())

    assert [str(error) for error in result.errors] == [
        "Row 3: row 2 gives the same parcel (order and tracking number) another carrier or tracking link.",
        f"Row 4: row 2 puts only some items of order {n} in this parcel; give this row a SKU too (a parcel's "
        "rows give a SKU on every row or on none).",
        f"Row 6: row 5 already puts the whole order {n} in this parcel (no SKU); a parcel's rows give a SKU on "
        "every row or on none.",
    ]
    # Parcels with a bad row are left out whole; C ships both jackets.
    [parcel] = result.parcels
    assert (parcel.tracking_number, parcel.rows, list(parcel.skus.values()), list(parcel.quantities.values())) \
        == ("C", [7], ["JKT-M"], [2])
