"""The demo store as `make demo` seeds it, shared by a whole test module (the sweeps)."""
from __future__ import annotations

from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.test import override_settings

# Small enough to seed in about a second, big enough for every kind of demo order (paid, shipped,
# refunded, cancelled, completed) and customers with and without accounts.
DEMO_PRODUCTS = 8
DEMO_CUSTOMERS = 40


@pytest.fixture(scope="module")
def demo_store_module(django_db_setup, django_db_blocker, tmp_path_factory):
    """The Makefile's `demo` target, small: seed_demo (catalog with pictures, customers and their
    orders, pick-up shops, chat), seed_demo_gift_cards, seed_demo_registers and ensure_staff,
    committed once for the module; the database is emptied after it (the migrations' rows put back).

    Only for tests that leave the data as they found it (what they write in their own transaction
    is rolled back as usual). Returns where the pictures are; `demo_store` points each test there.
    """
    from conftest import empty_the_database

    media = tmp_path_factory.mktemp("demo-store-media")
    quiet = StringIO()
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
        call_command("seed_demo", "--products", str(DEMO_PRODUCTS), "--customers", str(DEMO_CUSTOMERS), stdout=quiet)
        call_command("seed_demo_gift_cards", stdout=quiet)
        call_command("seed_demo_registers", stdout=quiet)
        call_command("ensure_staff", stdout=quiet)
        back_office_work()
    yield SimpleNamespace(media=media)
    with django_db_blocker.unblock():
        empty_the_database()


@pytest.fixture
def demo_store(demo_store_module, db, settings, _isolated_media):
    """The module's demo store, its pictures where the pages look for them."""
    settings.MEDIA_ROOT = Path(demo_store_module.media)
    return demo_store_module


def back_office_work() -> None:
    """What a first day's work leaves that `make demo` does not seed: records only staff, shoppers or
    the store's tasks make, each made here through the service that makes it (the demo's orders
    are history written directly, without checkout). Each is a demo-data gap the sweeps would
    otherwise pass over; see NO_DEMO_OBJECTS in test_admin_sweep.py for what is still missing."""
    from decimal import Decimal

    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from analytics import recorder
    from analytics import services as analytics
    from catalog.models import Location, StockLevel
    from chat import services as chat
    from chat.models import ProactiveTrigger
    from checkout.models import TaxRate
    from customers.models import Customer, Segment
    from giftcards.services import issue_gift_card
    from inventory.services.adjustments import AdjustmentRequest, adjust_stock
    from inventory.services.transfers import TransferRequest, create_transfer
    from marketing.models import Campaign
    from marketing.services import send_campaign
    from orders.models import Order
    from pos import services as pos
    from pos.models import Register
    from promotions.models import Code, Promotion
    from promotions.services import generate_codes
    from returns.models import Reason
    from returns.services import request_return
    from saleschannels.models import PriceList, PriceListEntry
    from saleschannels.services import set_sold_in
    from customers.services.crm import export_customers
    from pickup.services import mark_ready_for_pickup
    from stafforders.models import DraftLine, DraftOrder
    from stafforders.services import place_draft

    admin = get_user_model().objects.get(username="admin")
    clerk = get_user_model().objects.create_user("demo-clerk", "clerk@example.com", None, is_staff=True)
    TOTP.activate(clerk, generate_totp_secret())
    customer = Customer.objects.filter(user__isnull=False).order_by("pk").first()
    stock = StockLevel.objects.filter(on_hand__gt=2, location__kind=Location.Kind.WAREHOUSE).order_by("pk").first()
    shop = Location.objects.filter(kind=Location.Kind.SHOP, pickup_allowed=True).order_by("pk").first()
    on_shelf = StockLevel.objects.filter(location=shop, on_hand__gt=1).exclude(  # not the online-only one
        variant__product_id=stock.variant.product_id).order_by("pk").first()

    issue_gift_card(amount=Decimal("25.00"), user=admin, reason="Parcel arrived late")
    promotion = Promotion.objects.create(name="Welcome 10%", trigger=Promotion.Trigger.CODE,
                                         reward=Promotion.Reward.PERCENT_LINES, value=Decimal("10"))
    Code.objects.create(promotion=promotion, code="WELCOME10")
    generate_codes(promotion=promotion, count=3, prefix="THANKS", user=admin)
    TaxRate.objects.create(country="US", name="Sales tax", rate=Decimal("0.00"))
    ProactiveTrigger.objects.create(name="Hesitating at checkout", message="Questions about delivery?",
                                    is_active=False)
    adjust_stock(location_id=stock.location_id, reason="damage", note="Dropped in the warehouse",
                 lines=[AdjustmentRequest(variant_id=stock.variant_id, quantity=-1)], user=admin)
    create_transfer(source_id=stock.location_id, destination_id=shop.pk, note="For the window display",
                    lines=[TransferRequest(variant_id=stock.variant_id, quantity=1)], user=admin)
    price_list = PriceList.objects.create(name="Counter prices")
    PriceListEntry.objects.create(price_list=price_list, variant_id=stock.variant_id, price=Decimal("9.00"))
    set_sold_in(product_ids=[stock.variant.product_id], sold_in="online")
    # A phone order to collect at the shop, paid by card on the phone, then made ready.
    pickup = DraftOrder.objects.create(customer=customer, email=customer.email, pickup_location=shop,
                                       created_by=admin)
    DraftLine.objects.create(draft=pickup, variant_id=on_shelf.variant_id, quantity=1)
    placed = place_draft(draft_id=pickup.pk, payment=DraftOrder.Payment.OFFLINE, user=admin)
    mark_ready_for_pickup(order_id=placed.pk, user=admin)
    list(export_customers(customers=Customer.objects.filter(pk=customer.pk), actor=admin, filters={}))
    draft = DraftOrder.objects.create(customer=customer, email=customer.email, phone="+1 217 555 0142",
                                      company="Northwind Outfitters", purchase_order="PO-1042", created_by=admin)
    DraftLine.objects.create(draft=draft, variant_id=stock.variant_id, quantity=2)
    shipped = Order.objects.filter(fulfilment_status=Order.FulfilmentStatus.FULFILLED).order_by("-pk").first()
    line = shipped.lines.order_by("pk").first()
    request_return(order=shipped, quantities={line.pk: 1}, reason=Reason.WRONG_SIZE, comment="Too small")
    conversation = chat.start_conversation(visitor_key="demo-visitor", user=customer.user, subject="Sizes")
    chat.add_shopper_message(conversation=conversation, body="Does the rain jacket run small?", rate_key="demo")
    chat.set_tags(conversation=conversation, names=["sizing"])
    campaign = Campaign.objects.create(name="Spring news", subject="New for spring", html_body="<p>Hello</p>",
                                       segment=Segment.objects.get(name="Newsletter subscribers"), created_by=admin)
    send_campaign(campaign=campaign, actor=admin)
    session = pos.open_register(register=Register.objects.filter(location=shop).get(), user=admin,
                                opening_float="100.00")
    pos.sell(session_id=session.pk, staff=admin, key="pos-demo-1", lines=[pos.SaleLine(on_shelf.variant_id, 1)],
             tenders=pos.Tenders(cash_tendered=Decimal("500.00")))
    recorder.record(None, "product_viewed", product_id=stock.variant.product_id)
    recorder.push_pending()
    analytics.flush_events()
    analytics.rollup_day(day=timezone.localdate())
