"""CRM writes: notes, tags, audited exports."""
import pytest
from django.contrib.auth import get_user_model

from customers.models import AuditLog, Customer, Note, Tag
from customers.services.crm import NOTE_MAX_LENGTH, CRMError, add_note, add_tag, export_customers
from customers.tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_user():
    return get_user_model().objects.create(username="agent", is_staff=True)


def test_a_note_records_its_author_kind_and_visibility(staff_user):
    customer = CustomerFactory()

    note = add_note(customer=customer, author=staff_user, kind=Note.Kind.CALL, body="  Rang back.  ",
                    visible_to_customer=True)

    assert (note.customer, note.author, note.kind, note.body, note.visible_to_customer) == (
        customer, staff_user, "call", "Rang back.", True)


@pytest.mark.parametrize(("kind", "body", "message"), [
    ("note", "   ", "Write the note first."),
    ("fax", "Sent a fax", "Unknown kind of note: 'fax'."),
    ("note", "x" * (NOTE_MAX_LENGTH + 1), "A note can be at most 5,000 characters; this one has 5,001."),
])
def test_a_bad_note_is_refused_and_nothing_is_written(staff_user, kind, body, message):
    with pytest.raises(CRMError) as error:
        add_note(customer=CustomerFactory(), author=staff_user, kind=kind, body=body)

    assert str(error.value) == message
    assert not Note.objects.exists()


def test_add_tag_reuses_a_tag_whatever_its_case_and_skips_customers_who_have_it():
    vip = TagFactory(name="VIP")
    has_it, new_one, not_chosen = CustomerFactory(), CustomerFactory(), CustomerFactory()
    has_it.tags.add(vip)

    tag, added = add_tag(customers=Customer.objects.exclude(pk=not_chosen.pk), tag_name=" vip ")

    assert (tag, added) == (vip, 1)
    assert set(vip.customers.all()) == {has_it, new_one}
    assert Tag.objects.count() == 1


def test_add_tag_creates_a_new_tag():
    customer = CustomerFactory()

    tag, added = add_tag(customers=Customer.objects.all(), tag_name="Trade fair 2026")

    assert (tag.name, added) == ("Trade fair 2026", 1)
    assert list(customer.tags.all()) == [tag]


@pytest.mark.parametrize("name", ["", "  ", "x" * 51])
def test_add_tag_refuses_a_bad_name_and_changes_nothing(name):
    CustomerFactory()

    with pytest.raises(CRMError):
        add_tag(customers=Customer.objects.all(), tag_name=name)

    assert not Tag.objects.exists()


def test_an_export_is_audited_before_a_line_is_read(staff_user):
    CustomerFactory(accepts_marketing=True)
    CustomerFactory(accepts_marketing=False)

    lines = export_customers(customers=Customer.objects.filter(accepts_marketing=True), actor=staff_user,
                             filters={"accepts_marketing__exact": "1"})

    entry = AuditLog.objects.get()
    assert (entry.action, entry.actor, entry.actor_repr) == (AuditLog.Action.CUSTOMER_EXPORT, staff_user,
                                                             f"agent (#{staff_user.pk})")
    assert entry.data == {"count": 1, "filters": {"accepts_marketing__exact": "1"}}
    assert len("".join(lines).splitlines()) == 2  # header and the one customer
