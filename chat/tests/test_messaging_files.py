"""Files on WhatsApp and Messenger: staff's images and PDFs out through the Graph API (WhatsApp's
media upload then an image or document message; Messenger's attachment message), within the
reply window, failures recorded; customers' photos and documents fetched after the webhook,
checked like every chat attachment and stored, refusals noted for staff. The HTTP layer is the
recorder of test_messaging.py; payloads are shaped like Meta's documented ones."""
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from webtest import Upload

from chat.models import Attachment, Conversation, Message
from chat.tests.test_messaging import (FB_SECRET, FB_URL, INBOX, WA_SECRET, WA_URL, FakeResponse,  # noqa: F401
                                       fb_payload, graph, platforms, post_signed, support, wa_payload)
from conftest import image_bytes

pytestmark = pytest.mark.django_db

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
GRAPH = "https://graph.facebook.com/v21.0"
MEDIA_ID = "1003383421387256"
CDN = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1003383421387256&ext=1&hash=ATs"


def conversation_on(client, channel):
    if channel == "whatsapp":
        post_signed(client, WA_URL, wa_payload(), WA_SECRET)
    else:
        post_signed(client, FB_URL, fb_payload(), FB_SECRET)
    return Conversation.objects.get()


def send_file(django_app, user, conversation, name, content, content_type, body=""):
    django_app.set_user(user)
    page = django_app.get(f"{INBOX}{conversation.pk}/change/")
    form = page.forms["chat-attach-form"]
    form["file"] = Upload(name, content, content_type)
    form["body"] = body
    return form.submit().follow()


# --- Out: staff's files --------------------------------------------------------------------------

def test_a_photo_goes_to_whatsapp_uploaded_then_sent_by_its_media_id(client, django_app, graph,
                                                                     django_capture_on_commit_callbacks):
    conversation = conversation_on(client, "whatsapp")
    graph.answers = [FakeResponse(200, {"id": "4490709327384033"}),
                     FakeResponse(200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.PHOTO"}]})]

    with django_capture_on_commit_callbacks(execute=True):
        send_file(django_app, support(client), conversation, "jacket.png", image_bytes("PNG"), "image/png",
                  body="This is the red one")

    upload, sent = graph.calls
    attachment = Attachment.objects.get()
    assert upload["url"] == f"{GRAPH}/106540352242922/media"
    assert upload["data"] == {"messaging_product": "whatsapp", "type": "image/png"}
    assert upload["files"] == {"file": ("jacket.png", attachment.file.open("rb").read(), "image/png")}
    assert upload["headers"] == {"Authorization": "Bearer wa-access-token"} and upload["timeout"] == 7.5
    assert sent["url"] == f"{GRAPH}/106540352242922/messages"
    assert sent["json"] == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16315551181",
                            "type": "image", "image": {"id": "4490709327384033", "caption": "This is the red one"}}
    message = conversation.messages.get(sender="agent")
    assert message.external_id == "wamid.PHOTO" and attachment.message == message


def test_a_pdf_goes_to_messenger_after_its_text_as_an_attachment_message(client, django_app, graph,
                                                                          django_capture_on_commit_callbacks):
    conversation = conversation_on(client, "messenger")
    graph.answers = [FakeResponse(200, {"recipient_id": "1254459154682919", "message_id": "m_TEXT"}),
                     FakeResponse(200, {"recipient_id": "1254459154682919", "message_id": "m_FILE",
                                        "attachment_id": "687799999980546"})]

    with django_capture_on_commit_callbacks(execute=True):
        send_file(django_app, support(client), conversation, "size-guide.pdf", PDF, "application/pdf",
                  body="The size guide")

    text, file = graph.calls
    assert text["json"] == {"recipient": {"id": "1254459154682919"}, "messaging_type": "RESPONSE",
                            "message": {"text": "The size guide"}}
    assert file["url"] == f"{GRAPH}/me/messages" and file["headers"] == {"Authorization": "Bearer fb-page-token"}
    assert file["data"] == {"recipient": '{"id": "1254459154682919"}', "messaging_type": "RESPONSE",
                            "message": '{"attachment": {"type": "file", "payload": {"is_reusable": false}}}'}
    assert file["files"] == {"filedata": ("size-guide.pdf", PDF, "application/pdf")}
    assert conversation.messages.get(sender="agent").external_id == "m_FILE"


def test_a_timeout_after_the_upload_resends_without_uploading_again(client, django_app, graph,
                                                                    django_capture_on_commit_callbacks):
    conversation = conversation_on(client, "whatsapp")
    graph.answers = [FakeResponse(200, {"id": "MEDIA1"}), requests.Timeout("read timed out"),
                     FakeResponse(200, {"messages": [{"id": "wamid.DOC"}]})]

    with django_capture_on_commit_callbacks(execute=True):
        send_file(django_app, support(client), conversation, "invoice.pdf", PDF, "application/pdf")

    assert [call["url"].rsplit("/", 1)[1] for call in graph.calls] == ["media", "messages", "messages"]
    assert graph.calls[2]["json"]["document"] == {"id": "MEDIA1", "filename": "invoice.pdf"}  # no caption: no text
    assert conversation.messages.get(sender="agent").external_id == "wamid.DOC"


def test_a_refused_upload_is_recorded_on_the_message_and_shown_and_the_file_kept(client, django_app, graph,
                                                                                django_capture_on_commit_callbacks):
    conversation = conversation_on(client, "whatsapp")
    agent = support(client)
    graph.answers = [FakeResponse(400, {"error": {"message": "(#131053) Media upload error", "code": 131053}})]

    with django_capture_on_commit_callbacks(execute=True):
        page = send_file(django_app, agent, conversation, "photo.png", image_bytes("PNG"), "image/png")

    assert len(graph.calls) == 1
    message = conversation.messages.get(sender="agent")
    assert message.external_id == "" and "131053" in message.payload["delivery_error"]
    assert Attachment.objects.get().message == message  # kept: staff still see what did not go
    page = django_app.get(f"{INBOX}{conversation.pk}/change/")
    assert "Not delivered:" in page.text and "upload of photo.png: HTTP 400 (#131053) Media upload error" in page.text


def test_outside_the_24_hours_a_file_is_refused_and_nothing_is_stored(client, django_app, graph, settings):
    old = int((timezone.now() - timedelta(hours=25)).timestamp())
    post_signed(client, WA_URL, wa_payload(timestamp=old), WA_SECRET)
    conversation = Conversation.objects.get()

    page = send_file(django_app, support(client), conversation, "photo.png", image_bytes("PNG"), "image/png")

    assert "WhatsApp only accepts an approved template" in page.text
    assert not Attachment.objects.exists() and not conversation.messages.filter(sender="agent").exists()
    assert graph.calls == []


# --- In: customers' files ------------------------------------------------------------------------

def wa_media_payload(*, kind="image", wamid="wamid.MEDIA1", mime_type="image/jpeg", **extra):
    payload = wa_payload(wamid=wamid, kind="text")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["text"]
    message["type"] = kind
    message[kind] = {"mime_type": mime_type, "sha256": "6pGHZxEHCXbQ1tV4eeqk3Mk9TClLjcY5ZdD8dWkGQeI=",
                     "id": MEDIA_ID, **extra}
    return payload


def media_answer(size):
    return FakeResponse(200, {"messaging_product": "whatsapp", "url": CDN, "mime_type": "image/jpeg",
                              "sha256": "6pGHZxEHCXbQ1tV4eeqk3Mk9TClLjcY5ZdD8dWkGQeI=", "file_size": str(size),
                              "id": MEDIA_ID})


def test_a_whatsapp_photo_is_fetched_after_the_webhook_checked_and_stored_once(client, graph,
                                                                                django_capture_on_commit_callbacks):
    from chat.tasks import fetch_inbound_media_task

    photo = image_bytes("JPEG", size=(40, 30))
    graph.downloads = {f"{GRAPH}/{MEDIA_ID}": [media_answer(len(photo))], CDN: [FakeResponse(200, content=photo)]}

    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(client, WA_URL, wa_media_payload(caption="The seam came apart"), WA_SECRET)
    fetch_inbound_media_task.delay(Message.objects.get().pk)  # run twice: nothing more

    assert response.status_code == 200
    assert graph.gets == [
        {"url": f"{GRAPH}/{MEDIA_ID}", "params": None, "headers": {"Authorization": "Bearer wa-access-token"},
         "timeout": 7.5},
        {"url": CDN, "params": None, "headers": {"Authorization": "Bearer wa-access-token"}, "timeout": 7.5,
         "stream": True}]
    message = Message.objects.get()
    attachment = Attachment.objects.get()
    assert message.body == "The seam came apart" and attachment.message == message
    assert (attachment.kind, attachment.content_type, attachment.width, attachment.name) == (
        "image", "image/jpeg", 40, f"image-{message.pk}.jpg")
    assert message.payload["attachments"] == [{"id": attachment.pk, "name": attachment.name, "kind": "image",
                                               "size": attachment.size, "content_type": "image/jpeg"}]
    assert message.payload["media"][0]["state"] == "stored"
    support(client)
    page = client.get(f"{INBOX}{message.conversation_id}/change/").content.decode()
    assert f"/attachments/{attachment.pk}/" in page


def test_a_messenger_file_is_fetched_from_its_url_without_the_token(client, graph, django_capture_on_commit_callbacks):
    url = "https://cdn.fbsbx.com/v/t59.2708-21/123_returns-form.pdf?_nc_cat=1&oh=abc"
    graph.downloads = {url: [FakeResponse(200, content=PDF)]}
    payload = fb_payload()
    message = payload["entry"][0]["messaging"][0]["message"]
    del message["text"]
    message["attachments"] = [{"type": "file", "payload": {"url": url}}]

    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, FB_URL, payload, FB_SECRET)

    assert [call for call in graph.gets if call["url"] == url] == [
        {"url": url, "params": None, "headers": {}, "timeout": 7.5, "stream": True}]
    attachment = Attachment.objects.get()
    assert (attachment.kind, attachment.name) == ("pdf", "123_returns-form.pdf")
    assert attachment.message.body == "123_returns-form.pdf"


@pytest.mark.parametrize(("kind", "mime_type", "content", "size", "reason"), [
    ("document", "application/pdf", b"%PDF-1.4 cut short", 18, "The PDF is incomplete or damaged"),
    ("image", "image/jpeg", b"MZ\x90\x00 not a photo", 16, "Only images (JPEG, PNG, WebP, GIF) and PDF files"),
    ("image", "image/jpeg", b"", 6 * 1024 * 1024, "The file is 6.0\xa0MB; the largest allowed is 5.0\xa0MB."),
    ("document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK", 2,
     "only images and PDF files are kept (this one is application/vnd.openxmlformats"),
])
def test_a_refused_file_is_not_stored_and_staff_are_told_why(client, graph, settings, kind, mime_type, content, size,
                                                             reason, django_capture_on_commit_callbacks):
    graph.downloads = {f"{GRAPH}/{MEDIA_ID}": [media_answer(size)], CDN: [FakeResponse(200, content=content)]}

    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, WA_URL, wa_media_payload(kind=kind, mime_type=mime_type, filename="scan.pdf"), WA_SECRET)

    assert not Attachment.objects.exists() and not list(settings.CHAT_ATTACHMENT_ROOT.rglob("*.*"))
    message = Message.objects.get(sender="shopper")
    assert message.payload["media"][0]["state"] == "refused" and reason in message.payload["media"][0]["reason"]
    note = Message.objects.get(sender="system", is_note=True)
    assert note.body.startswith("The scan.pdf sent on WhatsApp was not kept:") and reason in note.body
    if size > 5 * 1024 * 1024 or "officedocument" in mime_type:
        assert not [call for call in graph.gets if call["url"] == CDN]  # refused before downloading


def test_a_download_that_fails_is_retried_then_noted(client, graph, django_capture_on_commit_callbacks):
    photo = image_bytes("PNG")
    graph.downloads = {f"{GRAPH}/{MEDIA_ID}": [media_answer(len(photo))],
                       CDN: [requests.Timeout("read timed out"), FakeResponse(503), FakeResponse(200, content=photo)]}

    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, WA_URL, wa_media_payload(), WA_SECRET)

    assert Attachment.objects.count() == 1  # the third try (each asks WhatsApp for a fresh URL)
    assert len([call for call in graph.gets if call["url"] == CDN]) == 3

    graph.downloads[CDN] = [FakeResponse(502)]
    with django_capture_on_commit_callbacks(execute=True):
        post_signed(client, WA_URL, wa_media_payload(wamid="wamid.MEDIA2"), WA_SECRET)

    later = Message.objects.get(external_id="wamid.MEDIA2")
    assert (later.payload["media"][0]["state"], later.payload["media"][0]["reason"]) == (
        "refused", "could not be fetched (HTTP 502)")
    assert Message.objects.filter(is_note=True, body__contains="could not be fetched (HTTP 502)").count() == 1


# --- Resending a file the platform refused -------------------------------------------------------

UPLOAD_REFUSED = {"error": {"message": "(#131053) Media upload error", "type": "OAuthException", "code": 131053,
                            "error_data": {"messaging_product": "whatsapp",
                                           "details": "Unsupported file type or size"},
                            "fbtrace_id": "AbCdEfGhIjKlMnOp"}}


def a_refused_photo(client, django_app, graph, capture, *, body=""):
    """Staff send photo.png to a WhatsApp customer and WhatsApp refuses the upload: the
    conversation, the agent and their message."""
    conversation = conversation_on(client, "whatsapp")
    agent = support(client)
    graph.answers = [FakeResponse(400, UPLOAD_REFUSED)]
    with capture(execute=True):
        send_file(django_app, agent, conversation, "photo.png", image_bytes("PNG"), "image/png", body=body)
    return conversation, agent, conversation.messages.get(sender="agent")


def test_staff_resend_a_refused_file_and_a_double_click_sends_it_once(client, django_app, graph,
                                                                     django_capture_on_commit_callbacks):
    conversation, agent, message = a_refused_photo(client, django_app, graph, django_capture_on_commit_callbacks,
                                                   body="The red one")
    assert len(graph.calls) == 1 and message.payload["failures"] == 1

    # The refused message offers Resend; pressed twice before the page reloads (the same form).
    form = django_app.get(f"{INBOX}{conversation.pk}/change/").forms[f"chat-resend-{message.pk}"]
    graph.answers = [FakeResponse(200, {"id": "4490709327384033"}),
                     FakeResponse(200, {"messaging_product": "whatsapp",
                                        "contacts": [{"input": "16315551181", "wa_id": "16315551181"}],
                                        "messages": [{"id": "wamid.RESENT"}]})]
    with django_capture_on_commit_callbacks(execute=True):
        first = form.submit().follow()
    with django_capture_on_commit_callbacks(execute=True):
        second = form.submit().follow()

    upload, sent = graph.calls[1:]
    assert len(graph.calls) == 3  # the refused upload, then one upload and one send: not two
    assert upload["url"] == f"{GRAPH}/106540352242922/media" and upload["files"]["file"][0] == "photo.png"
    assert sent["json"]["image"] == {"id": "4490709327384033", "caption": "The red one"}
    message.refresh_from_db()
    assert message.external_id == "wamid.RESENT" and "delivery_error" not in message.payload
    assert message.payload["resent"] == 1
    assert "Sending it again." in first.text and "That file was already sent again." in second.text
    assert f"chat-resend-{message.pk}" not in second.forms
    assert conversation.messages.filter(is_note=True, body="agent resent photo.png.").count() == 1
    assert Attachment.objects.get().message == message  # the same file, not a copy


def test_a_resend_refused_again_offers_resend_again_and_sends_nothing_twice(client, django_app, graph,
                                                                           django_capture_on_commit_callbacks):
    conversation = conversation_on(client, "messenger")
    agent = support(client)
    text_sent = FakeResponse(200, {"recipient_id": "1254459154682919", "message_id": "m_TEXT"})
    refused = FakeResponse(400, {"error": {"message": "(#100) Upload attachment failure.", "type": "OAuthException",
                                           "code": 100, "error_subcode": 2018047, "fbtrace_id": "A1b2C3"}})
    graph.answers = [text_sent, refused]
    with django_capture_on_commit_callbacks(execute=True):
        send_file(django_app, agent, conversation, "size-guide.pdf", PDF, "application/pdf", body="The size guide")
    message = conversation.messages.get(sender="agent")

    # Refused again: the text that went is not sent again, and the same button does nothing more.
    form = django_app.get(f"{INBOX}{conversation.pk}/change/").forms[f"chat-resend-{message.pk}"]
    graph.answers = [refused]
    with django_capture_on_commit_callbacks(execute=True):
        form.submit().follow()
    with django_capture_on_commit_callbacks(execute=True):
        page = form.submit().follow()
    assert [bool(call.get("files")) for call in graph.calls] == [False, True, True]  # text, file, file again
    message.refresh_from_db()
    assert message.payload["failures"] == 2 and "2018047" not in message.payload["delivery_error"]
    assert "HTTP 400 (#100) Upload attachment failure." in message.payload["delivery_error"]

    # The page shows the new refusal's button: this one sends the file.
    graph.answers = [FakeResponse(200, {"recipient_id": "1254459154682919", "message_id": "m_FILE",
                                        "attachment_id": "687799999980546"})]
    with django_capture_on_commit_callbacks(execute=True):
        page.forms[f"chat-resend-{message.pk}"].submit().follow()
    assert len(graph.calls) == 4 and graph.calls[3]["files"]["filedata"][0] == "size-guide.pdf"
    message.refresh_from_db()
    assert message.external_id == "m_FILE" and message.payload["sent_parts"]["text"] == "m_TEXT"


def test_resend_needs_the_right_to_answer_a_csrf_token_and_the_reply_window(client, django_app, graph,
                                                                            django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    conversation, agent, message = a_refused_photo(client, django_app, graph, django_capture_on_commit_callbacks)
    resend = {"do": "resend", "message": message.pk, "failure": 1}
    act = f"{INBOX}{conversation.pk}/act/"

    # Someone who may read conversations but not answer them: no button, and a post is refused.
    reader = get_user_model().objects.create_user("reader", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    page = django_app.get(f"{INBOX}{conversation.pk}/change/", user=reader)
    assert "Not delivered:" in page.text and f"chat-resend-{message.pk}" not in page.forms
    client.force_login(reader)
    assert client.post(act, resend).status_code == 403
    # Without the page's CSRF token (another site's form): refused.
    assert django_app.post(act, resend, user=agent, expect_errors=True).status_code == 403

    # Outside WhatsApp's 24 hours: refused with the reason, nothing changes.
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    form = django_app.get(f"{INBOX}{conversation.pk}/change/", user=agent).forms[f"chat-resend-{message.pk}"]
    with django_capture_on_commit_callbacks(execute=True):
        page = form.submit().follow()
    assert "WhatsApp only accepts an approved template" in page.text
    message.refresh_from_db()
    assert len(graph.calls) == 1 and "delivery_error" in message.payload and "resent" not in message.payload
    assert not conversation.messages.filter(is_note=True, body__contains="resent").exists()
