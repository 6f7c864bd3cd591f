"""The segment back office: list with figures, segment page with members, rule editor, manual
lists, "Recompute scores now" and the permission-gated CSV export."""
import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import AuditLog, Customer, RFMSegment, Segment
from customers.tests.factories import CustomerFactory
from customers.tests.test_segments import built_in_segments, shop  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
LIST = reverse("admin:customers_segment_changelist")


def _staff(client, *codenames: str):
    user = get_user_model().objects.create_user(f"staff-{'-'.join(codenames) or 'none'}", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="customers", codename__in=codenames))
    client.force_login(user)
    return user


@pytest.fixture
def boss(client):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", None)  # no password: no hashing
    client.force_login(user)
    return user


def _change(segment: Segment) -> str:
    return reverse("admin:customers_segment_change", args=[segment.pk])


def _export(segment: Segment) -> str:
    return reverse("admin:customers_segment_export", args=[segment.pk])


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_shows_size_and_revenue_share_in_the_same_queries_for_3_or_10_segments(
        client, boss, shop, built_in_segments):
    big = Segment.objects.create(name="Big spenders", min_total_spent=Decimal("300.00"))
    for n in range(2):
        Segment.objects.create(name=f"List {n}", kind=Segment.Kind.MANUAL).members.add(shop["bob"])

    page = client.get(LIST).content.decode()  # also the session's first touch
    # amy 300 + cal 600 of everyone's 2,440 (eli, erased, still counts in the whole).
    assert "Big spenders" in page and "36.9 %" in page
    assert "Recompute scores now" in page
    with_three = _queries(client, LIST)

    for n in range(2, 9):
        Segment.objects.create(name=f"List {n}", kind=Segment.Kind.MANUAL).members.add(shop["bob"])
    assert _queries(client, LIST) == with_three
    assert big.pk


def test_the_page_of_a_rule_segment_edits_rules_and_lists_members_50_a_page(client, boss):
    segment = Segment.objects.create(name="Spent something", min_total_spent=Decimal("1.00"))
    for n in range(3):
        CustomerFactory(total_spent=Decimal(100 + n), order_count=1)
    client.get(_change(segment))  # the first request also touches the session
    few = _queries(client, _change(segment))
    for n in range(57):
        CustomerFactory(total_spent=Decimal(10 + n), order_count=1)
    CustomerFactory(total_spent=Decimal("0"))  # not a member

    page = client.get(_change(segment)).content.decode()
    assert "60 members" in page
    assert page.count('<td class="number">1</td>') == 50
    assert 'name="min_total_spent"' in page and 'name="bought_from_category"' in page
    assert 'name="members"' not in page
    assert "Page 1 of 2" in page
    assert client.get(_change(segment) + "?members_page=2").content.decode().count('<td class="number">1</td>') == 10
    assert _queries(client, _change(segment)) == few


def test_saving_rules_and_refusing_contradictory_ones(client, boss):
    segment = Segment.objects.create(name="Quiet")
    form = {"name": "Quiet big spenders", "description": "", "min_total_spent": "100", "max_total_spent": "",
            "min_orders": "", "bought_from_category": "", "no_order_for_days": "90", "ordered_within_days": "",
            "has_marketing_consent": "true", "has_account": "unknown", "tag": ""}

    assert client.post(_change(segment), form).status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.min_total_spent, segment.no_order_for_days, segment.has_marketing_consent,
            segment.has_account) == ("Quiet big spenders", Decimal("100"), 90, True, None)

    bad = {**form, "max_total_spent": "50", "ordered_within_days": "30"}
    page = client.post(_change(segment), bad).content.decode()
    assert "must not be less than" in page
    assert "make it more than 90" in page
    segment.refresh_from_db()
    assert segment.max_total_spent is None and segment.ordered_within_days is None


def test_a_new_segment_goes_on_to_its_page_and_cannot_be_built_in(client, boss):
    response = client.post(reverse("admin:customers_segment_add"),
                           {"name": "VIP list", "kind": "manual", "description": ""})
    segment = Segment.objects.get(name="VIP list")
    assert response.status_code == 302 and response["Location"] == _change(segment)

    response = client.post(reverse("admin:customers_segment_add"), {"name": "Fake", "kind": "rfm"})
    assert response.status_code == 200
    assert not Segment.objects.filter(name="Fake").exists()


def test_a_manual_list_is_edited_with_its_members_picker(client, boss):
    segment = Segment.objects.create(name="Press", kind=Segment.Kind.MANUAL)
    one, two = CustomerFactory(), CustomerFactory()

    page = client.get(_change(segment)).content.decode()
    assert 'name="members"' in page and 'name="min_total_spent"' not in page

    response = client.post(_change(segment), {"name": "Press", "description": "", "members": [one.pk, two.pk]})
    assert response.status_code == 302
    assert set(segment.members.all()) == {one, two}


def test_built_in_segments_cannot_be_deleted(client, boss, built_in_segments):
    champions = Segment.objects.get(kind=Segment.Kind.RFM, rfm_segment=RFMSegment.CHAMPIONS)
    assert client.post(reverse("admin:customers_segment_delete", args=[champions.pk]), {"post": "yes"}).status_code == 403
    assert Segment.objects.filter(pk=champions.pk).exists()
    assert "delete_selected" not in client.get(LIST).content.decode()


def test_recompute_scores_now(client, boss, shop):
    Customer.objects.update(recency_score=0, rfm_segment="")

    assert client.get(reverse("admin:customers_segment_recompute")).status_code == 405
    response = client.post(reverse("admin:customers_segment_recompute"))

    assert response.status_code == 302
    assert set(Customer.objects.exclude(rfm_segment="").values_list("email", flat=True)) == {
        "amy@example.com", "bob@example.com", "cal@example.com"}


def test_recompute_needs_the_change_permission(client):
    _staff(client, "view_segment")
    assert client.post(reverse("admin:customers_segment_recompute")).status_code == 403
    assert "Recompute scores now" not in client.get(LIST).content.decode()


def test_export_is_refused_without_the_export_permission_and_nothing_is_recorded(client, shop):
    segment = Segment.objects.create(name="Everyone")
    _staff(client, "view_segment", "change_segment")

    assert "Export CSV" not in client.get(_change(segment)).content.decode()
    assert client.post(_export(segment)).status_code == 403
    assert not AuditLog.objects.exists()


def test_export_streams_the_members_and_writes_the_audit_log(client, shop):
    segment = Segment.objects.create(name="Spent 100 or more", min_total_spent=Decimal("100"))
    Customer.objects.filter(pk=shop["cal"].pk).update(first_name="=HYPERLINK(\"http://evil\")", rfm_segment="at_risk",
                                                       recency_score=1, frequency_score=5, monetary_score=5)
    user = _staff(client, "view_segment", "export_segment")

    assert "Export CSV" in client.get(_change(segment)).content.decode()
    assert client.get(_export(segment)).status_code == 405
    response = client.post(_export(segment))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["email"] for row in rows] == ["amy@example.com", "cal@example.com"]  # eli: erased
    cal = rows[1]
    assert cal["first_name"].startswith("'=")  # a spreadsheet will not run it
    assert (cal["orders"], cal["lifetime_value"], cal["recency"], cal["frequency"], cal["monetary"],
            cal["rfm_segment"], cal["accepts_marketing"]) == ("5", "600.00", "1", "5", "5", "at_risk", "yes")
    assert cal["last_order"]
    entry = AuditLog.objects.get()
    assert entry.action == AuditLog.Action.SEGMENT_EXPORT
    assert entry.actor == user
    assert entry.data["count"] == 2 and entry.data["segment_id"] == segment.pk


def test_export_needs_to_see_the_segment_too(client, shop):
    segment = Segment.objects.create(name="Everyone")
    _staff(client, "export_segment")
    assert client.post(_export(segment)).status_code == 403
    assert not AuditLog.objects.exists()


def test_export_of_a_missing_segment_is_404(client):
    _staff(client, "view_segment", "export_segment")
    assert client.post(reverse("admin:customers_segment_export", args=[99999])).status_code == 404


def test_members_are_picked_by_autocomplete_searching_the_customer_list(client, boss):
    segment = Segment.objects.create(name="Hand-picked", kind=Segment.Kind.MANUAL)

    page = client.get(_change(segment)).content.decode()
    amy = CustomerFactory(email="amy.picked@example.com")
    found = client.get(reverse("admin:autocomplete"), {
        "term": "amy.picked", "app_label": "customers", "model_name": "segment", "field_name": "members",
    })

    assert "admin-autocomplete" in page
    assert [item["id"] for item in found.json()["results"]] == [str(amy.pk)]
