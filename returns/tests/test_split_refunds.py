"""A return's refund split over two card payments at Stripe (its HTTP layer faked). Each refund is
recorded pending before its call and sent in its own transaction, so a second call that fails
leaves the first one recorded as Stripe made it; the retry (staff's, or the periodic task's)
finishes the rest once: the same idempotency key when no answer came, a new refund when Stripe
refused."""
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent
from orders.services import PlacementLine, ShipmentRequest, confirm_payment, create_shipment, place_order
from payments.models import Payment, Provider, Refund
from payments.providers import stripe as stripe_provider
from payments.services import handle_stripe_event, refundable_amount
from payments.tests.stripe_fakes import FakeStripeHTTP, stripe_event, stripe_object
from returns import services
from returns.exceptions import ReturnError
from returns.models import Reason, ReturnRequest

from .helpers import ADDRESS, DELIVERY, store

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_ledger_checked")]
S = ReturnRequest.Status
R = Refund.Status
REFUNDS = "/v1/refunds"


def stripe_refund(refund_id: str, cents: int, intent: str, **changes) -> dict:
    return stripe_object("refund", id=refund_id, amount=cents, currency="usd", payment_intent=intent,
                         status="succeeded", **changes)


@pytest.fixture
def fake_stripe(settings, monkeypatch) -> FakeStripeHTTP:
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_secret"
    fake = FakeStripeHTTP()
    monkeypatch.setattr(stripe_provider, "http_client", fake)
    return fake


@pytest.fixture
def manager(db):
    return get_user_model().objects.create_superuser("boss", "boss@example.com", None)


@pytest.fixture
def received(fake_stripe, manager):
    """Two shirts ($80) and $5 shipping, paid by two cards at Stripe ($50, then $35), shipped; both
    shirts returned and received: $80 due, $50 from the first card and $30 from the second."""
    warehouse, _shop, sizes, _wrap = store()
    order = place_order(lines=[PlacementLine(sizes["M"].pk, 2)], email="ada@example.com", customer_name="Ada",
                        idempotency_key=uuid.uuid4().hex, shipping=DELIVERY, shipping_address=ADDRESS)
    now = timezone.now()
    first, second = (Payment.objects.create(order=order, provider=Provider.STRIPE, status=Payment.Status.SUCCEEDED,
                                            amount=amount, currency=order.currency, provider_payment_id=intent,
                                            succeeded_at=now)
                     for amount, intent in ((Decimal("50.00"), "pi_test_first"),
                                            (order.total - Decimal("50.00"), "pi_test_second")))
    confirm_payment(order_id=order.pk, amount=order.total, actor=OrderEvent.Actor.SYSTEM)
    line = order.lines.get()
    create_shipment(order_id=order.pk, request=ShipmentRequest(quantities={line.pk: 2}))
    request = services.request_return(order=order, quantities={line.pk: 2}, reason=Reason.WRONG_SIZE)
    services.receive_return(request_id=request.pk, location_id=warehouse.pk,
                            receipt=services.Receipt(restock={request.lines.get().pk: 2}), user=manager)
    request.refresh_from_db()
    assert (order.total, request.refund_due) == (Decimal("85.00"), Decimal("80.00"))
    return order, request, first, second


def given_back(order: Order) -> Decimal:
    return Refund.objects.filter(payment__order=order, status=R.SUCCEEDED).aggregate(t=Sum("amount"))["t"]


def test_a_second_refund_stripe_did_not_answer_leaves_the_first_true_and_the_retry_sends_it_once(
        received, fake_stripe, manager):
    order, request, first, second = received
    fake_stripe.answer("post", REFUNDS, stripe_refund("re_test_first", 5000, "pi_test_first"))
    fake_stripe.no_answer("post", REFUNDS)
    fake_stripe.answer("post", REFUNDS, stripe_refund("re_test_second", 3000, "pi_test_second"))

    # when: the second call gets no answer
    request = services.refund_return(request_id=request.pk, user=manager)

    # then: the first refund is recorded as Stripe made it, the second waits for an answer
    one, two = Refund.objects.order_by("pk")
    assert (one.payment, one.amount, one.status, one.provider_reference) == (
        first, Decimal("50.00"), R.SUCCEEDED, "re_test_first")
    assert (two.payment, two.amount, two.status, two.provider_reference) == (second, Decimal("30.00"), R.PENDING, "")
    assert two.awaiting_provider and two.failure_reason.startswith("No answer from the provider")
    assert request.status == S.REFUNDING and set(request.refunds.all()) == {one, two}
    assert "Refund not finished: $50.00 of $80.00 refunded or on its way" in request.events.last().message
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED and given_back(order) == Decimal("50.00")
    assert refundable_amount(second) == Decimal("5.00")  # the unanswered $30 keeps its share
    assert order.events.filter(kind=OrderEvent.Kind.REFUND, message__contains="did not answer").exists()

    # when: staff retry
    request = services.refund_return(request_id=request.pk, user=manager)

    # then: only the second is asked again, with its own key: Stripe cannot make it twice
    sent = fake_stripe.requests_to("post", REFUNDS)
    assert [r.params["payment_intent"] for r in sent] == ["pi_test_first", "pi_test_second", "pi_test_second"]
    assert sent[1].headers["Idempotency-Key"] == sent[2].headers["Idempotency-Key"] == two.idempotency_key
    assert sent[1].params["metadata[refund_id]"] == str(two.pk)
    two.refresh_from_db()
    assert (two.status, two.provider_reference, two.failure_reason) == (R.SUCCEEDED, "re_test_second", "")
    assert Refund.objects.count() == 2 and request.status == S.REFUNDED
    order.refresh_from_db()
    assert order.payment_status == Order.PaymentStatus.PARTIALLY_REFUNDED and given_back(order) == Decimal("80.00")
    assert [(e.from_status, e.to_status) for e in request.events.filter(to_status__in=[S.REFUNDING, S.REFUNDED])] \
        == [(S.RECEIVED, S.REFUNDING), (S.REFUNDING, S.REFUNDED)]
    with pytest.raises(ReturnError, match="refunded, so it cannot be refunded"):
        services.refund_return(request_id=request.pk, user=manager)
    assert len(fake_stripe.requests_to("post", REFUNDS)) == 3


def test_a_second_refund_stripe_refused_is_failed_and_the_retry_makes_a_new_one(received, fake_stripe, manager):
    order, request, first, second = received
    fake_stripe.answer("post", REFUNDS, stripe_refund("re_test_first", 5000, "pi_test_first"))
    fake_stripe.answer("post", REFUNDS, {"error": {"type": "invalid_request_error",
                                                   "message": "Charge has been disputed."}}, status=400)
    fake_stripe.answer("post", REFUNDS, stripe_refund("re_test_again", 3000, "pi_test_second"))

    request = services.refund_return(request_id=request.pk, user=manager)

    one, two = Refund.objects.order_by("pk")
    assert (one.status, two.status) == (R.SUCCEEDED, R.FAILED) and "disputed" in two.failure_reason
    assert request.status == S.REFUNDING
    assert "$30.00 to Stripe refused: " in request.events.last().message
    assert refundable_amount(second) == Decimal("35.00")  # nothing went back from it
    assert given_back(order) == Decimal("50.00")

    request = services.refund_return(request_id=request.pk, user=manager)

    three = Refund.objects.order_by("pk").last()
    assert (three.payment, three.amount, three.status, three.provider_reference) == (
        second, Decimal("30.00"), R.SUCCEEDED, "re_test_again")
    assert three.idempotency_key != two.idempotency_key
    assert [r.params["payment_intent"] for r in fake_stripe.requests_to("post", REFUNDS)] == [
        "pi_test_first", "pi_test_second", "pi_test_second"]
    assert request.status == S.REFUNDED and given_back(order) == Decimal("80.00")
    two.refresh_from_db()
    assert two.status == R.FAILED


def test_the_periodic_task_finishes_an_unanswered_refund_and_a_webhook_names_ours(received, fake_stripe, manager):
    order, request, _first, second = received
    fake_stripe.answer("post", REFUNDS, stripe_refund("re_test_first", 5000, "pi_test_first"))
    fake_stripe.no_answer("post", REFUNDS)
    services.refund_return(request_id=request.pk, user=manager)
    two = Refund.objects.order_by("pk").last()

    # Stripe did make it: its webhook names our refund (the metadata), which takes Stripe's id
    made = stripe_refund("re_test_made", 3000, "pi_test_second",
                         metadata={"refund_id": str(two.pk), "payment_id": str(second.pk)})
    handle_stripe_event(event=stripe_event("refund.updated", made))
    two.refresh_from_db()
    assert (two.status, two.provider_reference) == (R.SUCCEEDED, "re_test_made")
    assert Refund.objects.count() == 2

    # the task asks nothing more of Stripe and settles the return
    assert services.finish_refunds(older_than=timedelta(0)) == 1
    request.refresh_from_db()
    assert request.status == S.REFUNDED and len(fake_stripe.requests_to("post", REFUNDS)) == 2
    assert given_back(order) == Decimal("80.00")
    assert services.finish_refunds(older_than=timedelta(0)) == 0


def test_staff_see_an_unfinished_refund_on_the_page_and_retry_it_there(received, fake_stripe, admin_app):
    order, request, _first, _second = received
    fake_stripe.answer("post", REFUNDS, stripe_refund("re_test_first", 5000, "pi_test_first"))
    fake_stripe.no_answer("post", REFUNDS)
    fake_stripe.answer("post", REFUNDS, stripe_refund("re_test_second", 3000, "pi_test_second"))
    page = admin_app.get(reverse("admin:returns_returnrequest_change", args=[request.pk]))

    page = page.forms["refund-form"].submit().follow()

    assert "Refund not finished: $50.00 of $80.00 refunded or on its way" in page.html.select_one(".messagelist").text
    assert "no answer yet" in page.html.select_one(".field-refunds_display").text
    [button] = page.html.select("#refund-form input[type=submit]")
    assert button["value"] == "Retry the refund"
    assert "exchange-link" not in page.text  # money is on its way: no exchange as well

    page = page.forms["refund-form"].submit().follow()

    assert f"Refunded $80.00 to the original payment for return R{request.pk}." in page.text
    request.refresh_from_db()
    assert request.status == S.REFUNDED and given_back(order) == Decimal("80.00")
    assert len(fake_stripe.requests_to("post", REFUNDS)) == 3


def test_a_retry_while_another_sender_asks_stripe_leaves_the_return_to_it(received, fake_stripe, admin_app):
    """Staff press "Retry the refund" while the periodic job is asking Stripe for the unanswered
    part (its claim is fresh): Stripe is not asked again, nothing is concluded or recorded, and the
    page says another request is refunding it; the job's answer then settles the return."""
    order, request, _first, _second = received
    fake_stripe.answer("post", REFUNDS, stripe_refund("re_test_first", 5000, "pi_test_first"))
    fake_stripe.no_answer("post", REFUNDS)
    services.refund_return(request_id=request.pk, user=None)
    two = Refund.objects.order_by("pk").last()
    Refund.objects.filter(pk=two.pk).update(sending_since=timezone.now())  # the job is asking right now
    events = request.events.count()
    page = admin_app.get(reverse("admin:returns_returnrequest_change", args=[request.pk]))

    page = page.forms["refund-form"].submit().follow()

    assert (f"Return R{request.pk} is being refunded by another request right now"
            in page.html.select_one(".messagelist").text)
    assert len(fake_stripe.requests_to("post", REFUNDS)) == 2 and request.events.count() == events
    request.refresh_from_db()
    assert request.status == S.REFUNDING

    # The job's claim lapses without an answer (it died): the next run asks once more and settles.
    Refund.objects.filter(pk=two.pk).update(sending_since=timezone.now() - Refund.SEND_LEASE - timedelta(seconds=1))
    fake_stripe.answer("post", REFUNDS, stripe_refund("re_test_second", 3000, "pi_test_second"))
    assert services.finish_refunds(older_than=timedelta(0)) == 1
    request.refresh_from_db()
    assert request.status == S.REFUNDED and given_back(order) == Decimal("80.00")
