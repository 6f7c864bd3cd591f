"""Chat settings in the back office (`ChatSettings`): Support managers set the opening hours and
the per-agent limit as the browser submits the form (WebTest), the assistant follows at once;
Support members (not managers) are refused them, the FAQ editing and the proactive messages."""
import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from chat import assignment, config, hours, presence, services
from chat.models import ChatSettings, Conversation, FaqEntry, ProactiveTrigger

from .factories import FaqEntryFactory

pytestmark = pytest.mark.django_db

SETTINGS = "/admin/chat/chatsettings/"
SATURDAY_NIGHT = datetime.datetime(2026, 12, 5, 22, 0, tzinfo=datetime.UTC)


def staff(name: str, group: str):
    user = get_user_model().objects.create_user(name, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def offline_answer() -> str:
    """What a shopper asking for a person is told now (nobody is online)."""
    data = Client().post("/chat/start/", {"body": "talk to a person"}).json()
    conversation = Conversation.objects.get(public_id=data["conversation"]["id"])
    return conversation.messages.filter(sender="system", is_note=False).order_by("-pk").first().body


@time_machine.travel(SATURDAY_NIGHT, tick=False)
def test_a_manager_sets_the_hours_in_the_back_office_and_the_assistant_follows(django_app, settings):
    settings.CHAT_OPENING_HOURS = "mon-fri 09:00-17:00"
    manager = staff("mia", "Support managers")
    assert "from Monday 09:00" in offline_answer()  # the environment, until a manager saves

    # The first visit opens the add form, filled in from the environment.
    form = django_app.get(SETTINGS, user=manager).follow().forms["chatsettings_form"]
    assert form["monday_opens"].value == "09:00:00" and form["friday_closes"].value == "17:00:00"
    assert form["sunday_opens"].value == "" and form["agent_limit"].value == "5"
    form["sunday_opens"], form["sunday_closes"] = "10:00", "14:00"
    form.submit().follow()

    assert ChatSettings.objects.get().sunday_opens == datetime.time(10)
    assert "from Sunday 10:00" in offline_answer()

    # Later visits open the one row; a change applies at once (the cache is cleared on save).
    form = django_app.get(SETTINGS, user=manager).follow().forms["chatsettings_form"]
    form["sunday_opens"] = "11:30"
    form.submit().follow()
    assert "from Sunday 11:30" in offline_answer()

    form = django_app.get(SETTINGS, user=manager).follow().forms["chatsettings_form"]
    form["always_open"] = True
    form.submit().follow()
    assert hours.is_open() is True and hours.next_opening() is None


def test_a_closing_time_before_the_opening_is_refused_and_nothing_changes(django_app):
    manager = staff("mia", "Support managers")
    form = django_app.get(SETTINGS, user=manager).follow().forms["chatsettings_form"]
    form["monday_opens"], form["monday_closes"] = "17:00", "09:00"
    form["tuesday_opens"], form["tuesday_closes"] = "09:00", ""

    page = form.submit()

    assert "The closing time must be after the opening time." in page.text
    assert "Give both times, or neither" in page.text
    form = page.forms["chatsettings_form"]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday"):
        form[f"{day}_opens"], form[f"{day}_closes"] = "", ""
    page = form.submit()
    assert "Give the hours of at least one day, or tick this." in page.text
    assert not ChatSettings.objects.exists()


def test_the_per_agent_limit_comes_from_the_settings_row(django_app, settings):
    settings.CHAT_AGENT_LIMIT = 5
    settings.CHAT_OPENING_HOURS = ""
    anna = staff("anna", "Support")
    presence.agent_seen(anna.pk)
    Conversation.objects.create(visitor_key="v1", bot_active=False, assignee=anna)
    second = Conversation.objects.create(visitor_key="v2")
    services.hand_off(conversation=second, reason="test")
    second.refresh_from_db()
    assert second.assignee == anna  # under the environment's 5

    form = django_app.get(SETTINGS, user=staff("mia", "Support managers")).follow().forms["chatsettings_form"]
    form["agent_limit"] = "2"
    form.submit().follow()

    assert config.current().agent_limit == 2
    third = Conversation.objects.create(visitor_key="v3")
    services.hand_off(conversation=third, reason="test")
    third.refresh_from_db()
    assert third.assignee is None  # anna has two open: it waits
    assert assignment.assign_queued() == 0


def test_a_support_member_is_refused_the_settings_the_faq_and_the_triggers(client):
    ChatSettings.objects.create(pk=1, agent_limit=3)
    entry = FaqEntryFactory()
    trigger = ProactiveTrigger.objects.create(name="Cart", message="Need help?")
    client.force_login(staff("sam", "Support"))

    assert client.get(SETTINGS).status_code == 403
    assert client.get(f"{SETTINGS}1/change/").status_code == 403
    assert client.post(f"{SETTINGS}1/change/", {"agent_limit": "50"}).status_code == 403
    assert client.get("/admin/chat/faqentry/add/").status_code == 403
    assert client.post("/admin/chat/faqentry/add/", {"question": "Q", "answer": "A", "is_active": "on"}).status_code == 403
    assert client.post(f"/admin/chat/faqentry/{entry.pk}/change/",
                       {"question": "Changed", "answer": "A"}).status_code == 403
    assert client.post(f"/admin/chat/faqentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/chat/proactivetrigger/").status_code == 403
    assert client.post("/admin/chat/proactivetrigger/add/", {"name": "X", "message": "Y"}).status_code == 403
    assert client.post(f"/admin/chat/proactivetrigger/{trigger.pk}/change/",
                       {"name": "Changed", "message": "Y"}).status_code == 403

    assert ChatSettings.objects.get().agent_limit == 3
    assert list(FaqEntry.objects.values_list("question", flat=True)) == [entry.question]
    assert list(ProactiveTrigger.objects.values_list("name", flat=True)) == ["Cart"]
    # What they may do: read the FAQ the assistant answers from.
    assert client.get(f"/admin/chat/faqentry/{entry.pk}/change/").status_code == 200


@time_machine.travel(SATURDAY_NIGHT, tick=False)
def test_on_the_demo_store_the_hours_saved_in_the_admin_are_what_the_storefront_chat_tells_shoppers(
        admin_app, demo_catalog, settings):
    from django_webtest import DjangoTestApp

    from catalog.models import Product
    from chat.demo import seed_demo_chat

    settings.CHAT_OPENING_HOURS = "mon-fri 09:00-17:00"
    demo_catalog(products=2)
    seed_demo_chat()
    product_page = Product.objects.published().order_by("pk").first().get_absolute_url()

    def a_shopper_asks_for_a_person() -> str:
        """A new visitor on a demo product page does what the launcher's script does: reads its
        addresses from the page, its CSRF token from the state, and asks for a person."""
        shopper = DjangoTestApp()
        launcher = shopper.get(product_page).html.select_one("#chat")
        token = shopper.get(launcher["data-state-url"]).json["csrf"]
        answer = shopper.post(launcher["data-start-url"], {"body": "Talk to a person", "page": product_page},
                              headers={"X-CSRFToken": token}).json
        return [m["body"] for m in answer["messages"] if m["sender"] == "system"][-1]

    assert "from Monday 09:00" in a_shopper_asks_for_a_person()  # the environment's hours

    form = admin_app.get(SETTINGS).follow().forms["chatsettings_form"]
    form["saturday_opens"], form["saturday_closes"] = "08:00", "12:00"
    form["sunday_opens"], form["sunday_closes"] = "10:00", "16:00"
    form.submit().follow()
    assert "from Sunday 10:00" in a_shopper_asks_for_a_person()

    form = admin_app.get(SETTINGS).follow().forms["chatsettings_form"]
    form["sunday_opens"], form["sunday_closes"] = "", ""
    form.submit().follow()
    assert "from Monday 09:00" in a_shopper_asks_for_a_person()  # Sunday cleared: the next opening
