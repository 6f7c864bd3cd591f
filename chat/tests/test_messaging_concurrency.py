"""Meta delivering the same first message twice at the same moment (PostgreSQL, real threads):
one conversation, one message."""
import pytest
from django.utils import timezone

from chat.messaging import inbound
from chat.messaging.common import Inbound
from chat.models import Conversation, Message
from conftest import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_same_first_message_delivered_twice_at_once_is_stored_once():
    item = Inbound(sender="16315551181", external_id="wamid.same", sent_at=timezone.now(), text="Hello")

    results = run_together(lambda i: inbound.receive(channel="whatsapp", items=[item]), 2)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(results) == [0, 1]
    assert Conversation.objects.count() == 1 and Message.objects.count() == 1


def test_two_first_messages_from_one_sender_at_once_share_a_conversation():
    items = [Inbound(sender="16315551181", external_id=f"wamid.{n}", sent_at=timezone.now(), text=f"m{n}") for n in (1, 2)]

    results = run_together(lambda i: inbound.receive(channel="whatsapp", items=[items[i]]), 2)

    assert results == [1, 1]
    assert Conversation.objects.count() == 1 and Message.objects.count() == 2
