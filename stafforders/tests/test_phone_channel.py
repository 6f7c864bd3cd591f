"""A phone order is a sale on the phone channel: its price list and what it publishes decide the
price and what may be sold, and staff see the quote (those prices) before placing."""
from decimal import Decimal

import pytest

from orders.models import Order
from saleschannels.models import Channel, PriceList, PriceListEntry, Publication
from stafforders.tests.test_admin import _place, _type_draft, catalog_items  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]


@pytest.fixture
def phone_prices(catalog_items):  # noqa: F811
    jacket, _lamp, _shop = catalog_items
    prices = PriceList.objects.create(name="Phone and B2B")
    PriceListEntry.objects.create(price_list=prices, variant=jacket, price=Decimal("70.00"))
    Channel.objects.filter(pk="phone").update(price_list=prices)
    return prices


def test_the_phone_price_list_is_quoted_then_charged_and_the_discount_split_on_it(
        admin_app, catalog_items, phone_prices, django_capture_on_commit_callbacks):  # noqa: F811
    jacket, lamp, _shop = catalog_items
    draft_page = _type_draft(admin_app, jacket, lamp)
    quote = draft_page.html.select_one("#draft-quote")
    # 2 x 70.00 (the phone list) + 35.00 (catalog: no entry) = 175.00, less 15.00, plus 10.00.
    assert "$70.00" in quote.text and "$140.00" in quote.text and "$175.00" in quote.text
    assert draft_page.html.select_one("#draft-quote-total").text.strip() == "$170.00"
    place_page = draft_page.click(description="Place order…")
    assert place_page.html.select_one("#draft-quote-total").text.strip() == "$170.00"

    with django_capture_on_commit_callbacks(execute=True):
        _place(draft_page, "invoice").follow()
    order = Order.objects.get()
    line = order.lines.get(variant=jacket)
    assert line.unit_price == Decimal("70.00")
    # The 15.00 is split 140:35 on the prices charged, to the cent.
    assert line.discount_total == Decimal("12.00") and order.lines.get(variant=lamp).discount_total == Decimal("3.00")
    assert order.total == Decimal("170.00") and order.channel_id == "phone"
    placed = order.events.order_by("pk").first()
    assert placed.user.username == "webtest-admin"  # placed by the staff member, not "the customer"


def test_a_product_sold_in_shops_only_can_be_sold_by_phone(admin_app, catalog_items,
                                                           django_capture_on_commit_callbacks):  # noqa: F811
    jacket, lamp, _shop = catalog_items
    Publication.objects.create(product=jacket.product, sold_in=Publication.SoldIn.SHOPS)
    draft_page = _type_draft(admin_app, jacket, lamp)
    assert "Not sold on the phone channel" not in draft_page.html.select_one("#draft-quote").text
    with django_capture_on_commit_callbacks(execute=True):
        _place(draft_page, "invoice").follow()
    assert Order.objects.get().lines.filter(variant=jacket).exists()


def test_an_inactive_item_is_flagged_in_the_quote_and_refused_at_placing(admin_app, catalog_items):  # noqa: F811
    jacket, lamp, _shop = catalog_items
    draft_page = _type_draft(admin_app, jacket, lamp)
    jacket.is_active = False
    jacket.save(update_fields=["is_active"])
    draft_page = admin_app.get(draft_page.request.url)
    assert "Not sold on the phone channel" in draft_page.html.select_one("#draft-quote").text
    refused = _place(draft_page, "invoice")
    assert "no longer for sale" in refused.text and not Order.objects.exists()
