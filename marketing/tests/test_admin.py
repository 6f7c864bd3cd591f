"""The campaign back office: write (templates checked), preview, test, confirm and send, follow."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse

from catalog.tests.factories import product_with_stock
from customers.tests.factories import CustomerFactory, UserFactory
from marketing.models import Campaign, CampaignMessage
from conftest import html_tags

from .factories import CampaignFactory, SegmentFactory, consenting, segment_of

pytestmark = pytest.mark.django_db


def url(name: str, campaign: Campaign) -> str:
    return reverse(f"admin:marketing_campaign_{name}", args=[campaign.pk])


@pytest.fixture
def campaign(email_settings):
    product_with_stock(title="Best Lantern", units_sold=100)
    members = [consenting(first_name="Grace", last_name="Hopper", email="grace@example.com"), consenting(),
               CustomerFactory(accepts_marketing=False)]
    return CampaignFactory(name="Spring news", segment=segment_of(*members, name="Campers"))


def test_a_template_error_is_a_form_error_and_nothing_is_saved(admin_client):
    segment = SegmentFactory()
    response = admin_client.post(reverse("admin:marketing_campaign_add"), {
        "name": "Broken", "segment": segment.pk, "subject": "Hi {{ customer.first_name|shout }}",
        "html_body": "<p>ok</p>\n{% include 'emails/base.html' %}", "text_body": "",
    })

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["subject"] == ["Line 1: Invalid filter: 'shout'"]
    assert "Line 2: {% include %} does not exist or is not allowed in a campaign." in errors["html_body"]
    assert not Campaign.objects.exists()


def test_staff_write_a_campaign_and_are_recorded_as_its_author(admin_client, admin_user):
    segment = SegmentFactory()
    response = admin_client.post(reverse("admin:marketing_campaign_add"), {
        "name": "Autumn", "segment": segment.pk, "subject": "Hello {{ customer.first_name|default:'there' }}",
        "html_body": "<p>{{ picks }}</p>", "text_body": "",
    })

    assert response.status_code == 302
    created = Campaign.objects.get()
    assert (created.status, created.created_by) == ("draft", admin_user)


def test_preview_shows_a_consenting_member_with_their_picks(admin_client, campaign):
    response = admin_client.get(url("preview", campaign))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Grace Hopper" in page and "grace@example.com" in page
    assert "It would go to 2 customers now." in page
    assert "News for Grace" in page
    assert "Best Lantern" in page
    [frame] = html_tags(page, "iframe", id="preview-html")
    assert "sandbox" in frame and "Hello Grace," in frame["srcdoc"]
    assert mail.outbox == [] and not CampaignMessage.objects.exists()


def test_send_test_goes_to_the_typed_address_only_and_counts_nothing(admin_client, campaign):
    response = admin_client.post(url("test", campaign), {"to": "boss@shop.example"}, follow=True)

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["Test email sent to boss@shop.example."]
    [test] = mail.outbox
    assert test.to == ["boss@shop.example"] and test.subject.startswith("[Test] ")
    campaign.refresh_from_db()
    assert campaign.status == "draft" and not CampaignMessage.objects.exists()


def test_the_campaign_page_offers_a_test_to_the_staff_members_own_address(admin_client, admin_user, campaign):
    admin_user.email = "me@shop.example"
    admin_user.save()

    page = admin_client.get(reverse("admin:marketing_campaign_change", args=[campaign.pk]))

    [field] = html_tags(page.content, "input", name="to")
    assert field["value"] == "me@shop.example"
    assert html_tags(page.content, "a", id="send-link")


def test_sending_asks_for_confirmation_with_the_number_of_recipients_then_sends(admin_client, campaign,
                                                                                 django_capture_on_commit_callbacks):
    confirmation = admin_client.get(url("send", campaign))
    assert confirmation.status_code == 200
    text = confirmation.content.decode()
    assert "will be emailed to <strong>2</strong> customers" in text
    assert "The segment has 3 members in all" in text
    # The subject as the first recipient gets it, as the preview renders it; never the template.
    assert "Subject: “News for Grace” (as Grace Hopper will get it)." in text
    assert "{{" not in text and "customer.first_name" not in text
    assert mail.outbox == [] and Campaign.objects.get().status == "draft"  # a GET sends nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("send", campaign), follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Sending “Spring news” to 2 customers."]
    assert len(mail.outbox) == 2

    # A second click (e.g. the back button and "Yes, send it" again) sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        again = admin_client.post(url("send", campaign), follow=True)
    assert "it is not sent again" in str(list(again.context["messages"])[0])
    assert len(mail.outbox) == 2

    page = admin_client.get(reverse("admin:marketing_campaign_change", args=[campaign.pk])).content.decode()
    assert 'id="count-recipients">2<' in page and 'id="count-sent">2<' in page
    assert 'id="count-failed">0<' in page and 'id="count-unsubscribed">0<' in page
    assert 'name="_save"' not in page  # a sent campaign is a record


def test_a_segment_nobody_may_receive_says_so_and_has_no_send_button(admin_client, email_settings):
    campaign = CampaignFactory(segment=segment_of(CustomerFactory(accepts_marketing=False)))

    response = admin_client.get(url("send", campaign))

    assert b'id="nobody"' in response.content and not html_tags(response.content, "form", id="send-form")
    refused = admin_client.post(url("send", campaign), follow=True)
    assert "accepts marketing email now; nothing was sent" in str(list(refused.context["messages"])[0])


def test_sending_needs_the_send_permission_and_post(client, campaign):
    writer = UserFactory(is_staff=True)
    writer.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="marketing", codename="change_campaign"))
    client.force_login(writer)

    assert client.get(url("preview", campaign)).status_code == 200
    assert client.get(url("send", campaign)).status_code == 403
    assert client.post(url("send", campaign)).status_code == 403
    assert client.post(url("cancel", campaign)).status_code == 403
    assert client.get(url("test", campaign)).status_code == 405
    page = client.get(reverse("admin:marketing_campaign_change", args=[campaign.pk]))
    assert not html_tags(page.content, "a", id="send-link")
    assert mail.outbox == [] and Campaign.objects.get().status == "draft"


def test_staff_without_campaign_permissions_see_nothing(client, campaign):
    client.force_login(UserFactory(is_staff=True))
    for name in ("preview", "send"):
        assert client.get(url(name, campaign)).status_code == 403
    assert client.post(url("test", campaign), {"to": "x@example.com"}).status_code == 403
    assert mail.outbox == []


def test_campaign_list_costs_the_same_queries_for_many_campaigns(admin_client, email_settings,
                                                                 django_assert_max_num_queries):
    for _ in range(12):
        sent = CampaignFactory(status="sent", sent_at="2026-01-01T00:00:00Z")
        CampaignMessage.objects.create(campaign=sent, customer=consenting(), email="x@example.com", status="sent",
                                       sent_at="2026-01-01T00:00:00Z")

    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("admin:marketing_campaign_changelist"))
    assert response.status_code == 200 and response.content.count(b'class="field-sent">1<') == 12


def test_the_message_list_shows_each_recipient_and_edits_nothing(admin_client, campaign,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url("send", campaign))
    message = CampaignMessage.objects.get(email="grace@example.com")

    listing = admin_client.get(reverse("admin:marketing_campaignmessage_changelist"),
                               {"campaign__id__exact": campaign.pk, "status__exact": "sent"})
    assert listing.status_code == 200 and b"grace@example.com" in listing.content
    page = admin_client.get(reverse("admin:marketing_campaignmessage_change", args=[message.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content


def test_stop_sending_and_resume_buttons(admin_client, campaign, django_capture_on_commit_callbacks):
    # given: "send" pressed, but its tasks were lost (the broker was down)
    with django_capture_on_commit_callbacks(execute=False):
        admin_client.post(url("send", campaign))
    page = admin_client.get(reverse("admin:marketing_campaign_change", args=[campaign.pk]))
    assert html_tags(page.content, "form", id="resume-form") and html_tags(page.content, "form", id="cancel-form")
    assert b'id="count-pending">2<' in page.content

    # when: resumed
    with django_capture_on_commit_callbacks(execute=True):
        resumed = admin_client.post(url("resume", campaign), follow=True)
    assert [str(m) for m in resumed.context["messages"]] == ["2 unsent emails queued again."]
    assert len(mail.outbox) == 2

    # then: a sent campaign can be neither stopped nor resumed
    stopped = admin_client.post(url("cancel", campaign), follow=True)
    assert "is sent; it cannot be cancelled" in str(list(stopped.context["messages"])[0])
    assert admin_client.get(url("cancel", campaign)).status_code == 405
