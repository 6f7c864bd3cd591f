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


# --- Senders who are not customers (WhatsApp, Messenger, guest email) ---------------------------

def _manager(django_user_model, name="privacy", group="Customer managers"):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(name, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def _whatsapp_sender(number="16315551181", body="My number is on the parcel"):
    conversation = Conversation.objects.create(channel="whatsapp", external_sender=number, name="Kerry Fisher",
                                               bot_active=False)
    services.add_shopper_message(conversation=conversation, body=body, rate_key="")
    services.add_agent_message(conversation=conversation, author=None, body="Looked up by phone", is_note=True)
    return conversation


def _with_file(conversation):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from chat import attachments
    from conftest import image_bytes

    checked = attachments.check_upload(SimpleUploadedFile("parcel.png", image_bytes("PNG")))
    message = attachments.add_with_attachment(conversation=conversation, checked=checked, rate_key="")
    return message.attachments.get()


def test_staff_download_a_whatsapp_senders_data_found_by_their_number_as_typed(django_app, django_user_model):
    from customers.models import AuditLog

    conversation = _whatsapp_sender()
    _with_file(conversation)
    _whatsapp_sender(number="447700900123", body="someone else")
    django_app.set_user(_manager(django_user_model))

    page = django_app.get("/admin/chat/conversation/privacy/")
    find = page.forms["chat-sender-find"]
    find["kind"] = "whatsapp"
    find["value"] = "+1 631-555-1181"
    found = find.submit()
    assert "1 conversation(s), 3 message(s), 1 file(s)." in found.text
    download = found.forms["chat-sender-download"].submit("do", value="download")

    data = json.loads(download.body)
    [chat] = data["conversations"]
    assert data["sender"] == {"kind": "whatsapp", "identifier": "16315551181"}
    assert chat["identifier_on_platform"] == "16315551181" and chat["name"] == "Kerry Fisher"
    assert [(m["from"], m["text"], m["internal_note"]) for m in chat["messages"]] == [
        ("shopper", "My number is on the parcel", False), ("staff", "Looked up by phone", True),
        ("shopper", "parcel.png", False)]
    assert chat["files"][0]["name"] == "parcel.png" and "someone else" not in download.text
    entry = AuditLog.objects.get(action="data_export")
    assert entry.customer is None and entry.actor.username == "privacy"
    assert "16315551181" not in json.dumps(entry.data) + entry.detail and entry.data["chat_sender"]


def test_staff_erase_a_messenger_senders_data_with_their_files_and_nobody_elses(django_app, django_user_model,
                                                                              settings,
                                                                              django_capture_on_commit_callbacks):
    from pathlib import Path

    from customers.models import AuditLog

    theirs = Conversation.objects.create(channel="messenger", external_sender="1254459154682919", bot_active=False)
    services.add_shopper_message(conversation=theirs, body="Please delete my data", rate_key="")
    attachment = _with_file(theirs)
    path = Path(settings.CHAT_ATTACHMENT_ROOT) / attachment.file.name
    kept = _whatsapp_sender(number="1254459154682919")  # the same digits on another platform: someone else
    django_app.set_user(_manager(django_user_model))

    page = django_app.get("/admin/chat/conversation/privacy/", {"kind": "messenger", "value": "1254459154682919"})
    form = page.forms["chat-sender-erase"]
    unconfirmed = form.submit("do", value="erase")
    assert "Tick the box to confirm" in unconfirmed.text and Conversation.objects.filter(pk=theirs.pk).exists()

    form = unconfirmed.forms["chat-sender-erase"]
    form["confirm"].checked = True
    form["reason"] = "Asked by Messenger on 5 Dec"
    with django_capture_on_commit_callbacks(execute=True):
        done = form.submit("do", value="erase").follow()

    assert "1 conversation(s) of this sender erased" in done.text
    assert not Conversation.objects.filter(pk=theirs.pk).exists() and not path.exists()
    assert list(Conversation.objects.all()) == [kept]
    entry = AuditLog.objects.get(action="customer_erased")
    assert entry.customer is None and "Asked by Messenger" in entry.detail and entry.data["messages"] == 2


def test_a_guest_email_senders_conversations_but_not_a_customers_with_that_email(django_user_model):
    from chat import privacy

    customer = CustomerFactory(email="bo@example.com")
    customers_own = conversation_of(customer)
    guest = Conversation.objects.create(visitor_key="g", channel="email", email="bo@example.com")
    services.add_shopper_message(conversation=guest, body="From the contact form", rate_key="")

    erased = privacy.erase_sender(sender=privacy.sender_from(kind="email", value=" Bo@Example.com "),
                                  actor=_manager(django_user_model))

    assert erased == 1 and list(Conversation.objects.all()) == [customers_own]


def test_only_customer_managers_reach_the_sender_privacy_page(client, django_user_model):
    from django.contrib.auth.models import Group

    support = django_user_model.objects.create_user("support", is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))
    client.force_login(support)
    _whatsapp_sender()

    assert client.get("/admin/chat/conversation/privacy/").status_code == 403
    assert client.post("/admin/chat/conversation/privacy/", {"kind": "whatsapp", "value": "16315551181",
                                                              "do": "erase", "confirm": "yes"}).status_code == 403
    assert Conversation.objects.count() == 1


def test_a_whatsapp_number_typed_as_the_person_says_it_finds_their_conversations(settings):
    from chat import privacy

    settings.STORE_LOCALE = "en_GB"
    _whatsapp_sender(number="447700900123")

    assert privacy.sender_from(kind="whatsapp", value="07700 900123").value == "447700900123"
    assert privacy.sender_from(kind="whatsapp", value="447700900123").value == "447700900123"
    assert privacy.summary(privacy.sender_from(kind="whatsapp", value="07700 900123"))["conversations"] == 1


def test_a_bad_identifier_is_refused_with_a_message(client, django_user_model):
    client.force_login(_manager(django_user_model))

    page = client.get("/admin/chat/conversation/privacy/", {"kind": "whatsapp", "value": "call me maybe"})

    assert "Enter the number or id in digits" in page.content.decode()


def test_the_conversation_page_links_an_unmatched_senders_data_request(client, django_user_model):
    from django.contrib.auth.models import Group

    conversation = _whatsapp_sender()
    user = _manager(django_user_model)
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)

    page = client.get(f"/admin/chat/conversation/{conversation.pk}/change/").content.decode()

    assert "/admin/chat/conversation/privacy/?kind=whatsapp&amp;value=16315551181" in page


def test_erasing_a_customer_deletes_their_chat_files(settings, django_capture_on_commit_callbacks):
    from pathlib import Path

    customer = CustomerFactory()
    attachment = _with_file(conversation_of(customer))
    path = Path(settings.CHAT_ATTACHMENT_ROOT) / attachment.file.name
    assert path.exists()

    with django_capture_on_commit_callbacks(execute=True):
        erase_customer(customer=customer, actor=None)

    assert not path.exists()


def test_the_sender_privacy_page_stays_within_its_query_budget(client, django_user_model,
                                                               django_assert_max_num_queries):
    for number in ("16315551181", "16315551182", "16315551183"):
        _with_file(_whatsapp_sender(number=number))
    client.force_login(_manager(django_user_model))

    with django_assert_max_num_queries(8):
        page = client.get("/admin/chat/conversation/privacy/", {"kind": "whatsapp", "value": "16315551181"})

    assert "1 conversation(s), 3 message(s), 1 file(s)." in page.content.decode()
