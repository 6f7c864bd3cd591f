"""Click and collect: ready, collected with the code, reminded and cancelled when nobody came."""
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from catalog.models import Location, StockLevel
from catalog.tests import factories as f
from notifications.models import OutboundEmail
from orders.models import Order, OrderEvent
from orders.services import PlacementLine, ShippingChoice, place_order
from payments.models import Payment, Refund
from payments.services import record_manual_payment
from pickup import codes, services, selectors
from pickup.exceptions import PickupError, TooManyAttempts, WrongCode
from pickup.models import OpeningHours, Pickup, PickupShop

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
P = Order.PaymentStatus
FS = Order.FulfilmentStatus


@pytest.fixture(autouse=True)
def _after_commit(monkeypatch, django_capture_on_commit_callbacks):
    """Each service call commits as in production: what it defers (the emails) runs when it returns."""
    for name in ("mark_ready_for_pickup", "collect_pickup", "remind_uncollected", "cancel_uncollected",
                 "issue_new_code", "hand_over_without_code"):
        real = getattr(services, name)

        def committed(*args, _real=real, **kwargs):
            with django_capture_on_commit_callbacks(execute=True):
                return _real(*args, **kwargs)

        monkeypatch.setattr(services, name, committed)


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)


@pytest.fixture
def shop():
    """A shop with an address, weekday hours and a lunch break on Saturday, holding 3 jackets."""
    location = f.LocationFactory(code="uptown", name="Uptown shop", kind=Location.Kind.SHOP, pickup_allowed=True,
                                 address_line1="1 Main Street", postal_code="10001", city="Springfield",
                                 country="US")
    details = PickupShop.objects.create(location=location, instructions="Bring a photo ID.", phone="555-0100")
    for day in range(5):
        OpeningHours.objects.create(shop=details, weekday=day, opens=time(9), closes=time(18))
    OpeningHours.objects.create(shop=details, weekday=5, opens=time(10), closes=time(13))
    OpeningHours.objects.create(shop=details, weekday=5, opens=time(14), closes=time(17))
    return location


@pytest.fixture
def jacket(shop):
    variant = f.VariantFactory(sku="JKT-M", price=Decimal("80.00"), product__title="Storm Jacket")
    f.StockLevelFactory(variant=variant, location=shop, on_hand=3)
    return variant


def _paid_pickup(jacket, shop, staff, quantity=2, key="k1") -> Order:
    order = place_order(
        lines=[PlacementLine(jacket.pk, quantity)], email="ada@example.com", idempotency_key=key,
        customer_name="Ada Lovelace",
        shipping=ShippingChoice(name="Pick up", price=Decimal("0"), pickup_location_id=shop.pk, location_ids=[shop.pk]),
    )
    record_manual_payment(order_id=order.pk, user=staff)
    order.refresh_from_db()
    assert order.payment_status == P.PAID
    return order


def _level(jacket, shop) -> StockLevel:
    return StockLevel.objects.get(variant=jacket, location=shop)


def _code(order) -> str:
    pickup = Pickup.objects.get(order=order)
    return codes.pickup_code(order_id=order.pk, salt=pickup.code_salt)


def test_ready_for_pickup_emails_the_code_the_address_the_hours_and_what_to_bring(jacket, shop, staff):
    order = _paid_pickup(jacket, shop, staff)
    mail.outbox.clear()

    pickup = services.mark_ready_for_pickup(order_id=order.pk, user=staff)

    order.refresh_from_db()
    assert pickup.status == Pickup.Status.READY and order.fulfilment_status == FS.UNFULFILLED
    (email,) = [m for m in mail.outbox if "ready for pickup" in m.subject]
    code = _code(order)
    assert len(code) == 6 and code in email.body
    assert "1 Main Street" in email.body and "Monday: 09:00–18:00" in email.body
    assert "Saturday: 10:00–13:00, 14:00–17:00" in email.body and "Sunday: Closed" in email.body
    assert "Bring a photo ID." in email.body
    html = email.alternatives[0][0]
    assert code in html and "1 Main Street" in html and "Opening hours" in html and html.rstrip().endswith("</html>")
    assert code not in str(Pickup.objects.filter(order=order).values().get())  # never stored
    assert order.events.filter(kind=OrderEvent.Kind.NOTE, message__startswith="Ready for pickup").exists()


def test_an_unpaid_or_delivered_order_cannot_be_made_ready(jacket, shop, staff):
    unpaid = place_order(
        lines=[PlacementLine(jacket.pk, 1)], email="ada@example.com", idempotency_key="u",
        shipping=ShippingChoice(name="Pick up", price=Decimal("0"), pickup_location_id=shop.pk, location_ids=[shop.pk]),
    )
    with pytest.raises(PickupError, match="only a paid order"):
        services.mark_ready_for_pickup(order_id=unpaid.pk, user=staff)
    delivered = place_order(lines=[PlacementLine(jacket.pk, 1)], email="b@example.com", idempotency_key="d",
                            shipping=ShippingChoice(name="Post", price=Decimal("5")))
    with pytest.raises(PickupError, match="delivered"):
        services.mark_ready_for_pickup(order_id=delivered.pk, user=staff)
    assert not Pickup.objects.exists()


def test_the_right_code_hands_the_order_over_and_takes_the_units_off_the_shelf(jacket, shop, staff):
    order = _paid_pickup(jacket, shop, staff)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    code = _code(order)

    pickup = services.collect_pickup(order_id=order.pk, code=f" {code[:3]}-{code[3:]} ", user=staff)

    order.refresh_from_db()
    assert pickup.status == Pickup.Status.COLLECTED and pickup.collected_by == staff
    assert order.fulfilment_status == FS.FULFILLED
    level = _level(jacket, shop)
    assert (level.on_hand, level.reserved) == (1, 0)
    with pytest.raises(PickupError, match="collected"):
        services.collect_pickup(order_id=order.pk, code=code, user=staff)
    assert _level(jacket, shop).on_hand == 1


def test_a_wrong_code_changes_nothing_and_attempts_are_limited(jacket, shop, staff, settings):
    settings.PICKUP_CODE_ATTEMPTS = 3
    order = _paid_pickup(jacket, shop, staff)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    code = _code(order)
    wrong = f"{(int(code) + 1) % 1000000:06d}"

    for left in (2, 1, 0):
        with pytest.raises(WrongCode) as error:
            services.collect_pickup(order_id=order.pk, code=wrong, user=staff)
        assert error.value.attempts_left == left
    with pytest.raises(TooManyAttempts):
        services.collect_pickup(order_id=order.pk, code=code, user=staff)  # even the right one, now

    order.refresh_from_db()
    assert order.fulfilment_status == FS.UNFULFILLED
    assert Pickup.objects.get(order=order).status == Pickup.Status.READY
    level = _level(jacket, shop)
    assert (level.on_hand, level.reserved) == (3, 2)
    assert order.events.filter(message__startswith="Wrong pick-up code").count() == 3


def test_the_reminder_goes_once_after_n_days(jacket, shop, staff, settings):
    settings.PICKUP_REMINDER_DAYS = 3
    order = _paid_pickup(jacket, shop, staff)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    now = timezone.now()

    assert services.remind_uncollected(now=now + timedelta(days=2, hours=23)) == 0
    assert services.remind_uncollected(now=now + timedelta(days=3, minutes=1)) == 1
    assert services.remind_uncollected(now=now + timedelta(days=4)) == 0

    reminders = OutboundEmail.objects.filter(order=order, kind="order.pickup_reminder")
    assert reminders.count() == 1 and reminders.get().status == OutboundEmail.Status.SENT
    assert _code(order) in [m for m in mail.outbox if "Reminder" in m.subject][0].body


def test_not_collected_after_m_days_is_cancelled_refunded_and_restocked_once(jacket, shop, staff, settings):
    settings.PICKUP_CANCEL_AFTER_DAYS = 10
    order = _paid_pickup(jacket, shop, staff)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    later = timezone.now() + timedelta(days=10, minutes=1)

    assert services.cancel_uncollected(now=later - timedelta(days=1)) == 0
    assert services.cancel_uncollected(now=later) == 1
    assert services.cancel_uncollected(now=later) == 0  # idempotent: a second run finds nothing

    order.refresh_from_db()
    assert order.fulfilment_status == FS.CANCELLED and order.payment_status == P.REFUNDED
    level = _level(jacket, shop)
    assert (level.on_hand, level.reserved) == (3, 0)
    (refund,) = Refund.objects.filter(payment__order=order)
    assert refund.amount == order.total and refund.status == Refund.Status.SUCCEEDED
    assert Pickup.objects.get(order=order).status == Pickup.Status.CANCELLED
    assert OutboundEmail.objects.filter(order=order, kind="order.cancelled").count() == 1
    assert Payment.objects.filter(order=order).count() == 1


def test_a_cancellation_refunding_two_payments_keeps_the_first_refund_when_the_second_provider_fails(
        jacket, shop, staff, settings, monkeypatch):
    """Paid in two parts: the second refund gets no answer. The cancellation and the first refund
    stand (each refund is sent in its own transaction, after the cancellation committed); the
    second stays pending and the next run sends it once, with the same idempotency key."""
    from payments.exceptions import ProviderUnavailable
    from payments.providers.manual import ManualProvider

    settings.PICKUP_CANCEL_AFTER_DAYS = 10
    order = _paid_pickup(jacket, shop, staff)
    first = Payment.objects.get(order=order)
    half = (first.amount / 2).quantize(Decimal("0.01"))
    Payment.objects.filter(pk=first.pk).update(amount=half)
    second = Payment.objects.create(order=order, provider=first.provider, status=Payment.Status.SUCCEEDED,
                                    amount=first.amount - half, currency=first.currency)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    later = timezone.now() + timedelta(days=10, minutes=1)
    real_refund = ManualProvider.refund
    asked = []

    def refund(self, refund):
        asked.append((refund.payment_id, refund.idempotency_key))
        if refund.payment_id == second.pk and len(asked) < 3:
            raise ProviderUnavailable(detail="timed out")  # no answer: unknown whether it acted
        return real_refund(self, refund)

    monkeypatch.setattr(ManualProvider, "refund", refund)

    assert services.cancel_uncollected(now=later) == 1
    order.refresh_from_db()
    assert order.fulfilment_status == FS.CANCELLED
    done, waiting = Refund.objects.filter(payment__order=order).order_by("payment_id")
    assert done.status == Refund.Status.SUCCEEDED and done.amount == half
    assert waiting.status == Refund.Status.PENDING and waiting.provider_reference == ""

    assert services.cancel_uncollected(now=later) == 0  # nothing more to cancel; the refund is sent again
    waiting.refresh_from_db()
    assert waiting.status == Refund.Status.SUCCEEDED
    assert Refund.objects.filter(payment__order=order).count() == 2
    keys = [key for payment_id, key in asked if payment_id == second.pk]
    assert len(keys) == 2 and len(set(keys)) == 1  # asked twice with one key: refunded at most once
    order.refresh_from_db()
    assert order.payment_status == P.REFUNDED


def test_two_runs_at_once_ask_for_each_refund_once(jacket, shop, staff, settings, monkeypatch):
    """The cancellation job started again while the first run is still asking the provider: the
    refunds go through `payments.services.send_awaiting_refunds`, whose claim keeps the second run
    from asking for the same refund."""
    from payments.providers.manual import ManualProvider

    settings.PICKUP_CANCEL_AFTER_DAYS = 10
    order = _paid_pickup(jacket, shop, staff)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    later = timezone.now() + timedelta(days=10, minutes=1)
    asked, real = [], ManualProvider.refund

    def refund(self, refund):
        asked.append(refund.pk)
        assert services.cancel_uncollected(now=later) == 0  # the second run: nothing to cancel or send
        return real(self, refund)

    monkeypatch.setattr(ManualProvider, "refund", refund)

    assert services.cancel_uncollected(now=later) == 1

    (refund,) = Refund.objects.filter(payment__order=order)
    assert asked == [refund.pk] and refund.status == Refund.Status.SUCCEEDED
    order.refresh_from_db()
    assert order.payment_status == P.REFUNDED


def test_a_collected_order_is_never_cancelled(jacket, shop, staff):
    order = _paid_pickup(jacket, shop, staff)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    services.collect_pickup(order_id=order.pk, code=_code(order), user=staff)

    assert services.cancel_uncollected(now=timezone.now() + timedelta(days=365)) == 0
    assert services.remind_uncollected(now=timezone.now() + timedelta(days=365)) == 0
    order.refresh_from_db()
    assert order.fulfilment_status == FS.FULFILLED and order.payment_status == P.PAID


def test_the_collected_email_thanks_instead_of_saying_ready(jacket, shop, staff):
    order = _paid_pickup(jacket, shop, staff)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    code = _code(order)
    mail.outbox.clear()

    services.collect_pickup(order_id=order.pk, code=code, user=staff)

    (email,) = mail.outbox
    assert "You collected your order" in email.subject and code not in email.body


def test_the_directory_is_cached_and_follows_edits(shop, django_assert_num_queries,
                                                    django_capture_on_commit_callbacks):
    with django_assert_num_queries(1):
        info = selectors.shop_info(shop.pk)
    with django_assert_num_queries(0):
        assert selectors.shop_info(shop.pk).name == "Uptown shop"
    assert info.address_lines == ["1 Main Street", "10001 Springfield", "US"]

    OpeningHours.objects.filter(weekday=0).update(closes=time(20))  # bypasses signals: still cached
    assert dict(selectors.shop_info(shop.pk).hours_by_day)["Monday"] == "09:00–18:00"
    hours = OpeningHours.objects.get(weekday=1)
    hours.closes = time(19)
    with django_capture_on_commit_callbacks(execute=True):
        hours.save()  # the admin's way: bumps the catalog version after commit
    assert dict(selectors.shop_info(shop.pk).hours_by_day)["Tuesday"] == "09:00–19:00"


# --- A new code; handing over without one -----------------------------------------------------------


def test_a_new_code_is_emailed_and_the_old_one_stops_working(jacket, shop, staff, settings):
    settings.PICKUP_CODE_ATTEMPTS = 3
    order = _paid_pickup(jacket, shop, staff)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    old = _code(order)
    wrong = f"{(int(old) + 1) % 1000000:06d}"
    with pytest.raises(WrongCode):
        services.collect_pickup(order_id=order.pk, code=wrong, user=staff)
    mail.outbox.clear()

    services.issue_new_code(order_id=order.pk, user=staff)

    new = _code(order)
    assert new != old and Pickup.objects.get(order=order).failed_attempts == 0  # tries at the old code forgotten
    (email,) = mail.outbox
    assert email.subject == f"Your new pick-up code for order {order.number}" and email.to == ["ada@example.com"]
    assert new in email.body and old not in email.body and "1 Main Street" in email.body
    event = order.events.get(data__pickup_new_code=True)
    assert event.user == staff and "the previous code no longer works" in event.message
    with pytest.raises(WrongCode):
        services.collect_pickup(order_id=order.pk, code=old, user=staff)
    services.collect_pickup(order_id=order.pk, code=new, user=staff)
    order.refresh_from_db()
    assert order.fulfilment_status == FS.FULFILLED


def test_each_new_code_is_its_own_email_and_only_for_a_waiting_pickup(jacket, shop, staff):
    order = _paid_pickup(jacket, shop, staff)
    with pytest.raises(PickupError, match="not ready for pickup yet"):
        services.issue_new_code(order_id=order.pk, user=staff)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    mail.outbox.clear()

    services.issue_new_code(order_id=order.pk, user=staff)
    services.issue_new_code(order_id=order.pk, user=staff)

    assert OutboundEmail.objects.filter(order=order, kind="order.pickup_code").count() == 2
    assert [m.subject for m in mail.outbox] == [f"Your new pick-up code for order {order.number}"] * 2
    assert _code(order) in mail.outbox[-1].body
    services.collect_pickup(order_id=order.pk, code=_code(order), user=staff)
    salt = Pickup.objects.get(order=order).code_salt
    with pytest.raises(PickupError, match="collected"):
        services.issue_new_code(order_id=order.pk, user=staff)
    assert Pickup.objects.get(order=order).code_salt == salt


def test_handing_over_without_the_code_needs_a_reason_and_is_recorded(jacket, shop, staff, settings):
    settings.PICKUP_CODE_ATTEMPTS = 1
    order = _paid_pickup(jacket, shop, staff)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)
    with pytest.raises(WrongCode):
        services.collect_pickup(order_id=order.pk, code=f"{(int(_code(order)) + 1) % 1000000:06d}", user=staff)

    for reason in ("", "   "):
        with pytest.raises(PickupError, match="Say why"):
            services.hand_over_without_code(order_id=order.pk, reason=reason, user=staff)
    order.refresh_from_db()
    assert order.fulfilment_status == FS.UNFULFILLED and _level(jacket, shop).reserved == 2

    # Locked by wrong codes, but staff checked who is there: handed over, and the history says why.
    pickup = services.hand_over_without_code(order_id=order.pk, reason=" Photo ID  checked ", user=staff)

    order.refresh_from_db()
    assert pickup.status == Pickup.Status.COLLECTED and pickup.collected_by == staff
    assert order.fulfilment_status == FS.FULFILLED
    assert (_level(jacket, shop).on_hand, _level(jacket, shop).reserved) == (1, 0)
    event = order.events.get(data__pickup_override="Photo ID checked")
    assert event.user == staff and event.message == "Handed over without the pick-up code by clerk: Photo ID checked"
    with pytest.raises(PickupError, match="collected"):
        services.hand_over_without_code(order_id=order.pk, reason="again", user=staff)


def test_a_pickup_order_is_never_shipped_without_the_code_or_an_override(jacket, shop, staff):
    from orders.exceptions import OrderError
    from orders.services import ShipmentRequest, create_shipment

    order = _paid_pickup(jacket, shop, staff)
    services.mark_ready_for_pickup(order_id=order.pk, user=staff)

    with pytest.raises(OrderError, match="hand it over with \"Collect…\""):
        create_shipment(order_id=order.pk, user=staff,
                        request=ShipmentRequest(quantities={order.lines.get().pk: 2}, carrier="DHL"))

    order.refresh_from_db()
    assert order.fulfilment_status == FS.UNFULFILLED and not order.shipments.exists()
    assert (_level(jacket, shop).on_hand, _level(jacket, shop).reserved) == (3, 2)
