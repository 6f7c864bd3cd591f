"""A shopper answering a chat email by replying: the signed Reply-To address, Mailgun's inbound
webhook (form fields as Mailgun posts them, the signature computed here with the signing key),
quoted text removed, replays stored once, and bad requests refused with nothing changed."""
import time

import pytest
from django.core import mail

from chat import realtime, services
from chat.messaging import email
from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db

URL = "/chat/webhooks/email/"
KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


@pytest.fixture(autouse=True)
def mailgun(settings):
    settings.CHAT_REPLY_DOMAIN = "reply.shop.example"
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = KEY
    return settings


def mailgun_post(client, *, recipient, text, message_id="<CAF=1a2b@mail.gmail.com>", key=KEY, timestamp=None,
                 token="4d1d4c3c5e0e6c1f1b5d5c8c2f0e9a7b6c5d4e3f2a1b0c9d8e", signature=None, stripped=None):
    """What a Mailgun route's forward() posts: multipart form data with Mailgun's field names."""
    timestamp = str(timestamp or int(time.time()))
    fields = {
        "recipient": recipient, "sender": "bo@example.com", "from": "Bo Berg <bo@example.com>",
        "subject": "Re: Your question to Northwind Supply", "body-plain": text,
        "Message-Id": message_id, "timestamp": timestamp, "token": token,
        "signature": signature if signature is not None else email.sign(timestamp=timestamp, token=token, key=key),
    }
    if stripped is not None:
        fields["stripped-text"] = stripped
    return client.post(URL, fields)


GMAIL_REPLY = """Yes please, the blue one in M.

Thanks!

On Sat, Dec 5, 2026 at 10:04 AM Northwind Supply <
reply+{pk}-abc@reply.shop.example> wrote:

> Anna from Northwind Supply answered your message:
>
> We have it in blue and green.
"""


@pytest.fixture
def conversation():
    return Conversation.objects.create(visitor_key="v", email="bo@example.com", bot_active=False, status="waiting")


def test_the_reply_email_carries_the_conversations_signed_reply_to_address(conversation, django_user_model,
                                                                          django_capture_on_commit_callbacks):
    agent = django_user_model.objects.create_user("anna", first_name="Anna", is_staff=True)

    with django_capture_on_commit_callbacks(execute=True):
        services.add_agent_message(conversation=conversation, author=agent, body="We have it in blue and green.")

    [sent] = mail.outbox
    address = email.reply_address(conversation.pk)
    assert sent.reply_to == [address] and address.startswith(f"reply+{conversation.pk}-")
    assert address.endswith("@reply.shop.example") and address == address.lower()
    assert "Answer by replying to this email" in sent.body


def test_a_reply_by_email_continues_the_conversation_without_the_quoted_text(client, conversation,
                                                                            django_capture_on_commit_callbacks,
                                                                            monkeypatch):
    published = []
    monkeypatch.setattr(realtime, "publish", lambda channel, data: published.append((channel, data)))

    with django_capture_on_commit_callbacks(execute=True):
        response = mailgun_post(client, recipient=email.reply_address(conversation.pk),
                                text=GMAIL_REPLY.format(pk=conversation.pk))

    assert response.status_code == 200
    message = conversation.messages.get()
    assert (message.sender, message.channel, message.body) == ("shopper", "email", "Yes please, the blue one in M.\n\nThanks!")
    assert message.external_id == "<CAF=1a2b@mail.gmail.com>" and message.payload == {"email_from": "bo@example.com"}
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.waiting_since is not None
    assert (realtime.INBOX_CHANNEL, {"type": "conversation", "id": conversation.pk}) in published


def test_the_same_email_posted_again_is_stored_once(client, conversation):
    address = email.reply_address(conversation.pk)
    first = mailgun_post(client, recipient=address, text="Blue, please.")
    again = mailgun_post(client, recipient=address, text="Blue, please.", token="another-token-for-the-retry-0000000")

    assert (first.status_code, again.status_code) == (200, 200)
    assert conversation.messages.count() == 1


@pytest.mark.parametrize("signature", ["", "0" * 64, email.sign(timestamp="1", token="x", key=KEY)])
def test_a_bad_signature_is_403_and_changes_nothing(client, conversation, signature):
    response = mailgun_post(client, recipient=email.reply_address(conversation.pk), text="Hi", signature=signature)

    assert response.status_code == 403 and not Message.objects.exists()


def test_a_signature_made_with_another_key_or_too_old_is_403(client, conversation):
    address = email.reply_address(conversation.pk)
    other_key = mailgun_post(client, recipient=address, text="Hi", key="key-someone-else")
    stale = mailgun_post(client, recipient=address, text="Hi", timestamp=int(time.time()) - 16 * 60)

    assert (other_key.status_code, stale.status_code) == (403, 403)
    assert not Message.objects.exists()


@pytest.mark.parametrize("recipient", [
    "support@reply.shop.example",  # no token
    "reply+{pk}-000000000000000000000000@reply.shop.example",  # a made-up signature
    "reply+{other}-{other_mac}@reply.shop.example",  # a well-signed id of no conversation
])
def test_an_address_that_is_not_a_conversations_is_406_and_changes_nothing(client, conversation, recipient):
    other = conversation.pk + 1000
    recipient = recipient.format(pk=conversation.pk, other=other, other_mac=email._mac(other))

    response = mailgun_post(client, recipient=recipient, text="Hello")

    assert response.status_code == 406 and b"No conversation has this reply address" in response.content
    assert not Message.objects.exists()
    conversation.refresh_from_db()
    assert conversation.status == "waiting"


def test_an_address_for_one_conversation_does_not_open_another(conversation):
    other = Conversation.objects.create(visitor_key="w")
    forged = email.reply_address(conversation.pk).replace(f"reply+{conversation.pk}-", f"reply+{other.pk}-")

    assert email.conversation_for_address(forged) is None
    assert email.conversation_for_address(email.reply_address(other.pk).upper()) == other  # case changed in transit


def test_only_quoted_text_is_406_and_stores_nothing(client, conversation):
    response = mailgun_post(client, recipient=email.reply_address(conversation.pk), text="> only the old message\n")

    assert response.status_code == 406 and not Message.objects.exists()


def test_mailguns_own_stripped_text_is_preferred(client, conversation):
    mailgun_post(client, recipient=email.reply_address(conversation.pk), text=GMAIL_REPLY.format(pk=conversation.pk),
                 stripped="Yes please.")

    assert conversation.messages.get().body == "Yes please."


def test_a_reply_to_a_conversation_the_assistant_still_answers_goes_to_a_person(client):
    conversation = Conversation.objects.create(visitor_key="v", email="bo@example.com", bot_active=True)

    response = mailgun_post(client, recipient=email.reply_address(conversation.pk), text="A person please")

    conversation.refresh_from_db()
    assert response.status_code == 200 and not conversation.bot_active


def test_without_settings_the_endpoint_is_not_there(client, settings, conversation):
    address = email.reply_address(conversation.pk)
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = ""

    assert mailgun_post(client, recipient=address, text="Hi").status_code == 404
    assert client.get(URL).status_code == 404
    assert not Message.objects.exists()


@pytest.mark.parametrize(("raw", "new"), [
    ("Thanks!\n\nOn Mon, 7 Dec 2026, 09:12 Shop <reply@x> wrote:\n> old", "Thanks!"),
    ("Fine.\r\n\r\n-----Original Message-----\r\nFrom: Shop\r\nSent: Monday\r\n\r\nold", "Fine."),
    ("Fine.\n\n________________________________\nFrom: Shop <a@b>\nSent: Monday\nold", "Fine."),
    ("Merci\n\nLe lun. 7 déc. 2026 à 09:12, Shop <a@b> a écrit :\n> old", "Merci"),
    ("Danke\n\nAm Mo., 7. Dez. 2026 um 09:12 Uhr schrieb Shop <a@b>:\n> old", "Danke"),
    ("Top posted\n> quoted line\nmore of mine\n-- \nBo Berg\n+46 70 123", "Top posted\nmore of mine"),
    ("Ok\n\nSent from my iPhone", "Ok"),
    ("On second thought, blue.", "On second thought, blue."),  # "On" alone is not a quote header
])
def test_quoted_text_and_signatures_are_removed(raw, new):
    assert email.strip_quoted(raw) == new


def test_the_message_id_is_read_from_message_headers_when_it_is_not_a_field(client, conversation):
    import json as json_module

    address = email.reply_address(conversation.pk)
    timestamp, token = str(int(time.time())), "t" * 50
    fields = {"recipient": address, "sender": "bo@example.com", "body-plain": "Blue, please.",
              "message-headers": json_module.dumps([["Subject", "Re: x"], ["Message-Id", "<abc@mail.example>"]]),
              "timestamp": timestamp, "token": token, "signature": email.sign(timestamp=timestamp, token=token, key=KEY)}

    assert client.post(URL, fields).status_code == 200
    assert client.post(URL, fields).status_code == 200  # the same email again

    assert list(conversation.messages.values_list("external_id", flat=True)) == ["<abc@mail.example>"]


def test_a_photo_attached_to_the_email_joins_the_conversation_and_signature_logos_do_not(client, conversation,
                                                                                         settings):
    import json as json_module
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    from conftest import image_bytes

    timestamp, token = str(int(time.time())), "u" * 50
    fields = {
        "recipient": email.reply_address(conversation.pk), "sender": "bo@example.com",
        "body-plain": "Here is the damage.\n\nOn Sat, Dec 5, 2026 at 10:04 AM Shop <x@y> wrote:\n> old",
        "Message-Id": "<photo@mail.example>", "timestamp": timestamp, "token": token,
        "signature": email.sign(timestamp=timestamp, token=token, key=KEY),
        "attachment-count": "3",
        "content-id-map": json_module.dumps({"<logo@sig>": "attachment-3"}),
        # As Mailgun posts them: multipart files named attachment-1 ... attachment-N.
        "attachment-1": SimpleUploadedFile("IMG_1.png", image_bytes("PNG", size=(30, 20)), "image/png"),
        "attachment-2": SimpleUploadedFile("notes.docx", b"PK\x03\x04 a word file", "application/msword"),
        "attachment-3": SimpleUploadedFile("logo.png", image_bytes("PNG"), "image/png"),
    }

    response = client.post(URL, fields)

    assert response.status_code == 200
    [message] = conversation.messages.filter(sender="shopper")
    assert message.body == "Here is the damage." and message.channel == "email"
    [file] = message.payload["attachments"]
    assert file["name"] == "IMG_1.png" and message.payload["email_from"] == "bo@example.com"
    note = conversation.messages.get(sender="system", is_note=True)
    assert "notes.docx" in note.body and "Only images" in note.body
    assert len([p for p in Path(settings.CHAT_ATTACHMENT_ROOT).rglob("*") if p.is_file()]) == 1


def test_an_email_with_only_a_photo_and_quoted_text_is_stored_with_the_photo(client, conversation):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from conftest import image_bytes

    timestamp, token = str(int(time.time())), "v" * 50
    response = client.post(URL, {
        "recipient": email.reply_address(conversation.pk), "sender": "bo@example.com", "body-plain": "> old",
        "timestamp": timestamp, "token": token, "signature": email.sign(timestamp=timestamp, token=token, key=KEY),
        "attachment-1": SimpleUploadedFile("receipt.png", image_bytes("PNG"), "image/png"),
    })

    assert response.status_code == 200
    assert conversation.messages.get().body == "receipt.png"
