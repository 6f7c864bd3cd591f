"""A customer's conversations are in their data download and go with them when erased."""
import json

import pytest

from chat import services
from chat.models import Conversation, Message
from customers.services.data_export import export_customer_data
from customers.services.privacy import erase_customer
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def conversation_of(customer, body="Where is my parcel?"):
    conversation = Conversation.objects.create(customer=customer, visitor_key="v", email=customer.email)
    services.add_shopper_message(conversation=conversation, body=body, rate_key=f"t{customer.pk}")
    services.add_agent_message(conversation=conversation, author=None, body="Checked the courier", is_note=True)
    return conversation


def test_the_download_holds_every_message_with_roles_not_names(django_user_model):
    customer, other = CustomerFactory(), CustomerFactory()
    conversation_of(customer)
    conversation_of(other, body="someone else's")
    agent = django_user_model.objects.create_user("anna", first_name="Anna")
    services.add_agent_message(conversation=customer.conversations.get(), author=agent, body="On its way")

    data = export_customer_data(customer=customer, actor=None)

    [chat] = data["chat_history"]
    assert [(m["from"], m["text"], m["internal_note"]) for m in chat["messages"]] == [
        ("shopper", "Where is my parcel?", False), ("staff", "Checked the courier", True),
        ("staff", "On its way", False),
    ]
    assert "Anna" not in json.dumps(data["chat_history"], default=str)


def test_erasure_deletes_their_conversations_only():
    customer, other = CustomerFactory(), CustomerFactory()
    conversation_of(customer)
    kept = conversation_of(other)

    erase_customer(customer=customer, actor=None)

    assert list(Conversation.objects.all()) == [kept]
    assert not Message.objects.exclude(conversation=kept).exists()
