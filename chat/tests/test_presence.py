"""The inbox's Online/Away switch, submitted as the browser submits it (WebTest follows the
rendered form), and what shoppers are told when everyone is away."""
import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from chat import presence, services
from chat.models import Conversation

pytestmark = pytest.mark.django_db

INBOX = "/admin/chat/conversation/"
WEDNESDAY_11 = datetime.datetime(2026, 12, 2, 11, 0, tzinfo=datetime.UTC)


def agent(name="anna", group="Support"):
    user = get_user_model().objects.create_user(name, is_staff=True, first_name=name.title())
    user.groups.add(Group.objects.get(name=group))
    return user


def handed_off() -> Conversation:
    conversation = Conversation.objects.create(visitor_key="v1")
    services.add_shopper_message(conversation=conversation, body="I need help with sizes", rate_key="test:v1")
    services.hand_off(conversation=conversation, reason="the shopper asked for a person")
    conversation.refresh_from_db()
    return conversation


def told(conversation) -> str:
    return conversation.messages.filter(sender="system", is_note=False).order_by("-pk").first()


def set_presence(django_app, user, status, away_for=""):
    page = django_app.get(INBOX, user=user)
    form = page.forms["chat-presence"]
    form["status"] = status
    form["away_for"] = away_for
    return form.submit().follow()


@time_machine.travel(WEDNESDAY_11, tick=False)
def test_an_agent_goes_away_for_30_minutes_and_shoppers_are_told_when_and_asked_for_an_email(django_app, settings):
    settings.CHAT_OPENING_HOURS = "mon-fri 09:00-17:00"
    anna = agent()
    page = django_app.get(INBOX, user=anna)
    assert "You are online" in page.text
    assert presence.online_agent_ids() == [anna.pk]

    page = set_presence(django_app, anna, "away", "30")

    assert "You are away" in page.text
    assert page.forms["chat-presence"]["status"].value == "away"
    assert presence.online_agent_ids() == []  # the inbox is open, but she said she is away
    conversation = handed_off()
    assert conversation.assignee is None
    message = told(conversation)
    assert "a person will answer from Wednesday 11:30" in message.body
    assert message.payload["ask_email"] is True


@time_machine.travel(WEDNESDAY_11, tick=False)
def test_everyone_away_until_they_switch_back_means_the_next_opening(django_app, settings):
    settings.CHAT_OPENING_HOURS = "mon-fri 09:00-17:00"
    anna, bea = agent("anna"), agent("bea")
    set_presence(django_app, anna, "away")
    set_presence(django_app, bea, "away", "120")  # back at 13:00: the first one back

    assert "from Wednesday 13:00" in told(handed_off()).body

    set_presence(django_app, bea, "away")
    assert "from Thursday 09:00" in told(handed_off()).body


@time_machine.travel(WEDNESDAY_11, tick=False)
def test_back_online_takes_the_queued_conversations(django_app, settings):
    settings.CHAT_OPENING_HOURS = "mon-fri 09:00-17:00"
    anna = agent()
    set_presence(django_app, anna, "away", "15")
    waiting = handed_off()
    assert waiting.assignee is None

    page = set_presence(django_app, anna, "online")

    assert "You are online" in page.text
    waiting.refresh_from_db()
    assert waiting.assignee == anna


def test_the_away_time_runs_out_by_itself(django_app, settings):
    settings.CHAT_OPENING_HOURS = ""
    with time_machine.travel(WEDNESDAY_11, tick=False) as traveller:
        anna = agent()
        set_presence(django_app, anna, "away", "15")
        assert presence.is_away(anna.pk)
        traveller.shift(datetime.timedelta(minutes=16))
        presence.agent_seen(anna.pk)  # her inbox stream beats on

        assert not presence.is_away(anna.pk)
        assert presence.online_agent_ids() == [anna.pk]


def test_an_unknown_status_changes_nothing(django_app):
    anna = agent()
    page = django_app.get(INBOX, user=anna)
    form = page.forms["chat-presence"]
    form["status"].force_value("asleep")

    page = form.submit().follow()

    assert "Choose Online or Away." in page.text
    assert not presence.is_away(anna.pk)


def test_staff_who_do_not_answer_chat_have_no_switch_and_cannot_post_it(django_app, client):
    viewer = get_user_model().objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    page = django_app.get(INBOX, user=viewer)
    assert "chat-presence" not in page.forms

    client.force_login(viewer)
    assert client.post(f"{INBOX}presence/", {"status": "away"}).status_code == 403
    assert client.get(f"{INBOX}presence/").status_code == 405
    assert not presence.is_away(viewer.pk)


@time_machine.travel(WEDNESDAY_11, tick=False)
def test_away_survives_a_cleared_cache_and_is_read_from_the_cache_again_after(django_app, settings,
                                                                              django_assert_num_queries):
    from django.core.cache import cache

    settings.CHAT_OPENING_HOURS = "mon-fri 09:00-17:00"
    anna, bea = agent("anna"), agent("bea")
    set_presence(django_app, anna, "away", "30")
    set_presence(django_app, bea, "online")

    cache.clear()  # a restarted cache: the heartbeats go (the inboxes beat again), the away stays
    presence.agent_seen(anna.pk)
    presence.agent_seen(bea.pk)

    with django_assert_num_queries(1):
        assert presence.online_agent_ids() == [bea.pk]
    with django_assert_num_queries(0):
        assert presence.is_away(anna.pk) and not presence.is_away(bea.pk)
    assert "from Wednesday 11:30" not in told(handed_off()).body  # bea is online: she gets it
    cache.clear()
    set_presence(django_app, bea, "away", "60")
    assert "a person will answer from Wednesday 11:30" in told(handed_off()).body

    set_presence(django_app, anna, "online")
    cache.clear()
    assert not presence.is_away(anna.pk) and presence.is_away(bea.pk)
