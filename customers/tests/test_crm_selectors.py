"""CRM reads: who is in a segment, which segments a customer is in, the timeline, the export."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.tests import factories as cf
from customers.models import Activity, Customer, Note, RFMSegment, Segment
from customers.selectors.segments import segment_customers
from customers.selectors.crm import customer_export_lines, customer_timeline, segments_of_customer
from customers.tests.factories import CustomerFactory, NoteFactory, TagFactory, UserFactory, paid_order_for
from notifications.models import OutboundEmail
from orders.models import Order, OrderEvent
from orders.tests.factories import OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db


def emails(queryset) -> set[str]:
    return set(queryset.values_list("email", flat=True))


def test_an_rfm_segment_holds_the_customers_with_that_rfm_segment():
    champion = CustomerFactory(email="champ@example.com", rfm_segment=RFMSegment.CHAMPIONS)
    CustomerFactory(email="lost@example.com", rfm_segment=RFMSegment.LOST)
    CustomerFactory(email="erased@example.com", rfm_segment=RFMSegment.CHAMPIONS, erased_at=timezone.now())
    segment = Segment.objects.update_or_create(kind=Segment.Kind.RFM, rfm_segment=RFMSegment.CHAMPIONS, defaults={"name": "Champions"})[0]

    assert emails(segment_customers(segment)) == {champion.email}


def test_a_manual_segment_holds_its_members_once():
    picked, other = CustomerFactory(email="picked@example.com"), CustomerFactory()
    segment = Segment.objects.create(name="VIP list", kind=Segment.Kind.MANUAL)
    segment.members.add(picked)
    Segment.objects.create(name="Another list", kind=Segment.Kind.MANUAL).members.add(picked, other)

    assert list(segment_customers(segment).values_list("email", flat=True)) == [picked.email]


@pytest.mark.parametrize(("rules", "expected"), [
    ({}, {"big", "small", "never", "tagged"}),
    ({"min_total_spent": Decimal("100")}, {"big"}),
    ({"max_total_spent": Decimal("20")}, {"small", "never", "tagged"}),
    ({"min_orders": 2}, {"big"}),
    ({"no_order_for_days": 90}, {"small", "never", "tagged"}),
    ({"ordered_within_days": 30}, {"big"}),
    ({"has_marketing_consent": True}, {"small"}),
    ({"has_marketing_consent": False}, {"big", "never", "tagged"}),
    ({"has_account": True}, {"big"}),
    ({"has_account": False}, {"small", "never", "tagged"}),
    ({"min_total_spent": Decimal("10"), "has_marketing_consent": True}, {"small"}),
])
def test_a_rule_segment_holds_the_customers_meeting_every_rule_set(rules, expected):
    now = timezone.now()
    CustomerFactory(email="big", user=UserFactory(), total_spent=Decimal("500"), order_count=3,
                    last_order_at=now - timedelta(days=3))
    CustomerFactory(email="small", total_spent=Decimal("15"), order_count=1, accepts_marketing=True,
                    last_order_at=now - timedelta(days=200))
    CustomerFactory(email="never")
    CustomerFactory(email="tagged").tags.add(TagFactory(name="wholesale"))
    segment = Segment.objects.create(name="Rules", kind=Segment.Kind.RULES, **rules)

    assert emails(segment_customers(segment)) == expected


def test_a_tag_rule_holds_the_customers_with_the_tag():
    wholesale = TagFactory(name="wholesale")
    tagged = CustomerFactory(email="tagged@example.com")
    tagged.tags.add(wholesale, TagFactory(name="press"))
    CustomerFactory().tags.add(TagFactory(name="press"))
    segment = Segment.objects.create(name="Wholesale", kind=Segment.Kind.RULES, tag=wholesale)

    assert list(segment_customers(segment).values_list("email", flat=True)) == [tagged.email]


def test_bought_from_a_category_includes_its_subcategories_and_only_paid_orders():
    outdoor = cf.CategoryFactory(name="Outdoor")
    tents = cf.CategoryFactory(name="Tents", parent=outdoor)
    kitchen = cf.CategoryFactory(name="Kitchen")
    tent = cf.VariantFactory(product__category=tents)
    pan = cf.VariantFactory(product__category=kitchen)
    camper, cook, unpaid = (CustomerFactory(email=e) for e in ("camper@x.io", "cook@x.io", "unpaid@x.io"))
    OrderLineFactory(order=paid_order_for(camper), variant=tent)
    OrderLineFactory(order=paid_order_for(camper), variant=tent)  # twice: still one customer
    OrderLineFactory(order=paid_order_for(cook), variant=pan)
    OrderLineFactory(order=OrderFactory(customer=unpaid, fulfilment_status=Order.FulfilmentStatus.CANCELLED), variant=tent)
    segment = Segment.objects.create(name="Outdoor buyers", kind=Segment.Kind.RULES, bought_from_category=outdoor)

    assert list(segment_customers(segment).values_list("email", flat=True)) == ["camper@x.io"]


def test_bought_from_a_hidden_category_still_finds_its_buyers():
    archive = cf.CategoryFactory(name="Archive", is_active=False)
    old = cf.CategoryFactory(name="Old tents", parent=archive)
    buyer = CustomerFactory(email="old@x.io")
    OrderLineFactory(order=paid_order_for(buyer), variant=cf.VariantFactory(product__category=old))
    segment = Segment.objects.create(name="Archive buyers", kind=Segment.Kind.RULES, bought_from_category=archive)

    assert emails(segment_customers(segment)) == {"old@x.io"}


def test_segments_of_a_customer_cost_two_queries_whatever_the_number_of_segments(django_assert_num_queries):
    customer = CustomerFactory(rfm_segment=RFMSegment.LOYAL, total_spent=Decimal("300"))
    loyal = Segment.objects.update_or_create(kind=Segment.Kind.RFM, rfm_segment=RFMSegment.LOYAL, defaults={"name": "Loyal"})[0]
    Segment.objects.update_or_create(kind=Segment.Kind.RFM, rfm_segment=RFMSegment.LOST, defaults={"name": "Lost"})[0]
    big = Segment.objects.create(name="Big", kind=Segment.Kind.RULES, min_total_spent=Decimal("100"))
    Segment.objects.create(name="Huge", kind=Segment.Kind.RULES, min_total_spent=Decimal("1000"))
    picked = Segment.objects.create(name="Picked", kind=Segment.Kind.MANUAL)
    picked.members.add(customer)
    Segment.objects.create(name="Empty list", kind=Segment.Kind.MANUAL)

    with django_assert_num_queries(2):
        found = segments_of_customer(customer)

    assert {segment.name for segment in found} == {loyal.name, big.name, picked.name}


def test_the_timeline_merges_every_source_newest_first(django_assert_num_queries):
    customer = CustomerFactory()
    now = timezone.now()
    order = paid_order_for(customer)
    Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(days=5))
    placed = OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.STATUS, to_status="placed",
                                       actor=OrderEvent.Actor.CUSTOMER, message="Order placed")
    paid = OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.STATUS, state="payment", from_status="unpaid",
                                     to_status="paid", actor=OrderEvent.Actor.WEBHOOK)
    OrderEvent.objects.filter(pk=placed.pk).update(created_at=now - timedelta(days=5))
    OrderEvent.objects.filter(pk=paid.pk).update(created_at=now - timedelta(days=4))
    email = OutboundEmail.objects.create(key="order:x:confirmation", kind="order.confirmation", order=order,
                                         subject="Your order", recipients=[customer.email])
    OutboundEmail.objects.filter(pk=email.pk).update(created_at=now - timedelta(days=3))
    note = NoteFactory(customer=customer, body="Asked about sizes")
    activity = Activity.objects.create(customer=customer, kind=Activity.Kind.SIGNED_IN)
    Note.objects.filter(pk=note.pk).update(created_at=now - timedelta(days=2))
    Activity.objects.filter(pk=activity.pk).update(created_at=now - timedelta(days=1))
    someone_else = paid_order_for(CustomerFactory())
    OrderEvent.objects.create(order=someone_else, kind=OrderEvent.Kind.NOTE, actor=OrderEvent.Actor.STAFF)

    with django_assert_num_queries(6):
        timeline = customer_timeline(customer=customer)

    assert [entry.kind for entry in timeline] == ["activity", "note", "email", "order_event", "order"]
    assert timeline[1].detail == "Asked about sizes"
    assert timeline[3].title.endswith("Payment: Paid")
    assert timeline[4].url.endswith(f"/orders/order/{order.pk}/change/")


def test_each_email_is_on_the_timeline_once(settings, email_backend_locmem):
    # given: an order whose confirmation was sent, a staff alert about it, and a campaign email,
    # each through the service that really sends it
    from marketing.services import send_campaign, send_campaign_batch
    from marketing.tests.factories import CampaignFactory, segment_of
    from notifications import services as notifications
    from orders.services.common import alert_staff

    settings.STAFF_ALERT_EMAILS = ["staff@example.com"]
    customer = CustomerFactory(first_name="Wen", accepts_marketing=True)
    order = paid_order_for(customer)
    notifications.send_order_email(order_id=order.pk, kind="confirmation")
    alert_staff(order_id=order.pk, actor=OrderEvent.Actor.SYSTEM, subject="Late payment", message="Refund it.")
    notifications.send_staff_alert(key=OutboundEmail.objects.get(kind="staff_alert").key, subject="Late payment",
                                   order_id=order.pk, message="Refund it.")
    campaign = CampaignFactory(subject="News for {{ customer.first_name }}", segment=segment_of(customer))
    send_campaign(campaign=campaign, actor=None)
    send_campaign_batch(campaign_id=campaign.pk, message_ids=list(campaign.messages.values_list("pk", flat=True)))
    assert len(email_backend_locmem) == 3  # confirmation, alert, campaign

    # when
    timeline = customer_timeline(customer=customer)

    # then: one entry per email the customer got, and the alert once (as the order's alert event)
    confirmation = f"Thank you for your order {order.number}"
    assert [entry.kind for entry in timeline if confirmation in f"{entry.title} {entry.detail}"] == ["email"]
    assert [entry.kind for entry in timeline if "News for Wen" in f"{entry.title} {entry.detail}"] == ["activity"]
    assert [entry.kind for entry in timeline if "Refund it." in f"{entry.title} {entry.detail}"] == ["order_event"]
    assert not any("Late payment" in entry.title for entry in timeline)


@pytest.fixture
def email_backend_locmem(settings):
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    return mail.outbox


def test_the_timeline_keeps_the_newest_entries_up_to_the_limit():
    customer = CustomerFactory()
    now = timezone.now()
    for number in range(6):
        note = NoteFactory(customer=customer, body=f"note {number}")
        Note.objects.filter(pk=note.pk).update(created_at=now - timedelta(hours=10 - number))
    Activity.objects.create(customer=customer, kind=Activity.Kind.SIGNED_IN)  # now: the newest

    timeline = customer_timeline(customer=customer, limit=3)

    assert [entry.detail for entry in timeline] == ["", "note 5", "note 4"]


def test_the_export_writes_one_line_per_customer_and_defuses_formulas():
    customer = CustomerFactory(email="a@example.com", first_name="=HYPERLINK(\"x\")", last_name="Plain",
                               total_spent=Decimal("12.50"), order_count=1)
    customer.tags.add(TagFactory(name="vip"), TagFactory(name="press"))
    CustomerFactory(email="b@example.com")

    text = "".join(customer_export_lines(Customer.objects.all(), chunk_size=1))
    lines = text.splitlines()

    assert lines[0].startswith("email,first_name,last_name")
    assert len(lines) == 3
    assert lines[1].startswith("a@example.com,\"'=HYPERLINK(\"\"x\"\")\",Plain,")
    assert "12.50" in lines[1] and "press;vip" in lines[1]
