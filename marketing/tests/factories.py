import factory
from factory.django import DjangoModelFactory

from customers.models import Segment
from customers.tests.factories import CustomerFactory
from marketing.models import Campaign


class SegmentFactory(DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = Segment.Kind.MANUAL


class CampaignFactory(DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    subject = "News for {{ customer.first_name }}"
    html_body = "<p>Hello {{ customer.first_name }},</p><p>Picked for you:</p>{{ picks }}"
    text_body = "Hello {{ customer.first_name }},\n\nPicked for you:\n{{ picks }}"
    segment = factory.SubFactory(SegmentFactory)


def consenting(**fields):
    """A customer who accepts marketing email."""
    return CustomerFactory(accepts_marketing=True, **fields)


def segment_of(*customers, **fields) -> Segment:
    segment = SegmentFactory(**fields)
    segment.members.add(*customers)
    return segment
