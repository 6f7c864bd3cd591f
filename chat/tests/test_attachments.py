"""Images and PDFs in chat: checked from their content, images re-encoded, stored privately,
served only to the conversation's shopper and to staff who may read it; in the widget's
endpoints, the plain contact form (submitted as a browser does, WebTest) and the inbox."""
import io
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from webtest import Upload

from chat.models import Attachment, Conversation, Message
from conftest import image_bytes

pytestmark = pytest.mark.django_db

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def photo_with_location() -> bytes:
    """A JPEG as a phone writes it: EXIF with GPS coordinates."""
    image = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (59.0, 19.0, 0.0)}  # GPSInfo
    exif[0x010F] = "PhoneMaker"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def stored_files(settings) -> list[Path]:
    root = Path(settings.CHAT_ATTACHMENT_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def start_with_file(client, name, content, content_type="application/octet-stream", body=""):
    return client.post("/chat/start/", {"body": body, "page": "/", "file": SimpleUploadedFile(name, content, content_type)})


def test_a_photo_from_the_widget_is_re_encoded_without_its_location_and_stored_privately(client, settings):
    response = start_with_file(client, "IMG_0042.jpg", photo_with_location(), "image/jpeg", body="The zip is broken")

    assert response.status_code == 200
    [attachment] = Attachment.objects.all()
    assert (attachment.kind, attachment.content_type, attachment.name) == ("image", "image/jpeg", "IMG_0042.jpg")
    message = attachment.message
    assert message.sender == "shopper" and message.body == "The zip is broken"
    assert message.payload["attachments"] == [{"id": attachment.pk, "name": "IMG_0042.jpg", "kind": "image",
                                               "size": attachment.size, "content_type": "image/jpeg"}]
    [path] = stored_files(settings)
    assert not str(path).startswith(str(settings.MEDIA_ROOT))
    with Image.open(path) as stored:
        assert stored.format == "JPEG" and stored.size == (64, 48) and not stored.getexif()
    shown = response.json()["messages"]
    assert any(m.get("payload", {}).get("attachments") for m in shown)
    with pytest.raises(ValueError):
        attachment.file.url  # no public address


def test_the_file_is_served_to_its_visitor_and_nobody_else(client, settings):
    from django.test import Client

    start_with_file(client, "scan.pdf", PDF, "application/pdf")
    conversation = Conversation.objects.get()
    attachment = Attachment.objects.get()
    url = f"/chat/{conversation.public_id}/attachments/{attachment.pk}/"

    mine = client.get(url)
    stranger = Client().get(url)

    assert mine.status_code == 200 and mine["Content-Type"] == "application/pdf"
    assert mine["Content-Disposition"].startswith("attachment;") and "sandbox" in mine["Content-Security-Policy"]
    assert b"".join(mine.streaming_content) == PDF
    assert stranger.status_code == 404


def test_another_conversations_file_cannot_be_read_through_mine(client):
    from django.test import Client

    other_browser = Client()
    start_with_file(other_browser, "theirs.png", image_bytes("PNG"), "image/png")
    theirs = Attachment.objects.get()
    client.post("/chat/start/", {"body": "Hello", "page": "/"})
    mine = Conversation.objects.exclude(pk=theirs.conversation_id).get()

    assert client.get(f"/chat/{mine.public_id}/attachments/{theirs.pk}/").status_code == 404


@pytest.mark.parametrize(("name", "content", "message"), [
    ("invoice.jpg", b"<html><script>alert(1)</script></html>", "Only images (JPEG, PNG, WebP, GIF) and PDF files"),
    ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "Only images (JPEG, PNG, WebP, GIF) and PDF files"),
    ("doc.pdf", b"%PDF-1.4\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\n%%EOF", "scripts"),
    ("cut.pdf", b"%PDF-1.4\n1 0 obj << >> endobj\n", "incomplete or damaged"),
])
def test_a_file_that_is_not_what_it_claims_is_refused_and_nothing_is_stored(client, settings, name, content, message):
    response = start_with_file(client, name, content, "image/jpeg")

    assert response.status_code == 400 and message in response.json()["error"]
    assert not Conversation.objects.exists() and not Message.objects.exists() and not Attachment.objects.exists()
    assert stored_files(settings) == []


def test_a_file_over_the_limit_is_refused_with_the_limit(client, settings):
    settings.CHAT_ATTACHMENT_MAX_BYTES = 1024
    client.post("/chat/start/", {"body": "Hi", "page": "/"})
    conversation = Conversation.objects.get()
    before = conversation.messages.count()

    response = client.post(f"/chat/{conversation.public_id}/send/",
                           {"body": "", "file": SimpleUploadedFile("big.pdf", PDF + b" " * 2048, "application/pdf")})

    assert response.status_code == 400 and "the largest allowed is 1.0" in response.json()["error"]
    assert conversation.messages.count() == before and stored_files(settings) == []


def test_a_gif_is_kept_as_a_png_of_its_first_frame(client, settings):
    start_with_file(client, "anim.gif", image_bytes("GIF"), "image/gif")

    attachment = Attachment.objects.get()
    assert attachment.content_type == "image/png" and attachment.file.name.endswith(".png")


def support(django_user_model, name="agent", groups=("Support",)):
    user = django_user_model.objects.create_user(name, is_staff=True, first_name=name.title())
    for group in groups:
        user.groups.add(Group.objects.get(name=group))
    return user


def test_the_inbox_shows_the_file_and_serves_it_to_support_only(client, django_user_model,
                                                                django_assert_max_num_queries):
    from django.test import Client

    start_with_file(client, "damage.png", image_bytes("PNG", size=(40, 30)), "image/png", body="Arrived like this")
    conversation = Conversation.objects.get()
    attachment = Attachment.objects.get()
    staff, nobody = Client(), Client()
    staff.force_login(support(django_user_model))
    nobody.force_login(django_user_model.objects.create_user("clerk", is_staff=True))
    url = f"/admin/chat/conversation/{conversation.pk}/attachments/{attachment.pk}/"

    with django_assert_max_num_queries(30):
        page = staff.get(f"/admin/chat/conversation/{conversation.pk}/change/")

    assert f'src="{url}"' in page.content.decode()
    served = staff.get(url)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["Content-Disposition"].startswith("inline;")
    assert nobody.get(url).status_code == 403
    assert Client().get(url).status_code == 302  # to the sign-in page


def test_staff_send_a_pdf_from_the_inbox_and_the_shopper_gets_it(client, django_app, django_user_model):
    client.post("/chat/start/", {"body": "Can I have the manual?", "page": "/"})
    conversation = Conversation.objects.get()
    django_app.set_user(support(django_user_model))

    page = django_app.get(f"/admin/chat/conversation/{conversation.pk}/change/")
    form = page.forms["chat-attach-form"]
    form["file"] = Upload("manual.pdf", PDF, "application/pdf")
    form["body"] = "Here it is"
    form.submit().follow()

    message = conversation.messages.get(sender="agent")
    [item] = message.payload["attachments"]
    state = client.get("/chat/state/").json()
    assert any(m["id"] == message.pk and m["payload"]["attachments"] for m in state["messages"])
    served = client.get(f"/chat/{conversation.public_id}/attachments/{item['id']}/")
    assert served.status_code == 200 and b"".join(served.streaming_content) == PDF


def test_a_file_on_an_internal_note_is_never_the_shoppers(client, django_user_model):
    from chat import attachments

    client.post("/chat/start/", {"body": "Hello", "page": "/"})
    conversation = Conversation.objects.get()
    note = Message.objects.create(conversation=conversation, sender="agent", body="internal", is_note=True)
    checked = attachments.check_upload(SimpleUploadedFile("x.png", image_bytes("PNG")))
    hidden = Attachment.objects.create(conversation=conversation, message=note, kind="image", content_type="image/png",
                                       size=len(checked.content), name="x.png", file="2026/12/x.png")

    assert client.get(f"/chat/{conversation.public_id}/attachments/{hidden.pk}/").status_code == 404


def test_the_contact_form_without_javascript_takes_a_file(django_app, settings):
    page = django_app.get("/contact/")
    form = page.forms["chat-contact-form"]
    form["name"] = "Bo"
    form["email"] = "bo@example.com"
    form["message"] = "The invoice has the wrong address"
    form["attachment"] = Upload("invoice.pdf", PDF, "application/pdf")

    conversation_page = form.submit().follow()

    conversation = Conversation.objects.get()
    attachment = Attachment.objects.get()
    assert attachment.message.body == "The invoice has the wrong address" and conversation.channel == "email"
    link = conversation_page.html.select_one(".chat-attachment a")
    assert link.text == "invoice.pdf"
    served = django_app.get(link["href"])
    assert served.content_type == "application/pdf" and served.body == PDF
    # The same link from another browser (the email's signed link) works; a made-up id does not.
    assert django_app.get(link["href"].replace(f"/{attachment.pk}/", f"/{attachment.pk + 99}/"),
                          status=404).status_code == 404


def test_the_contact_form_refuses_a_bad_file_with_a_message_and_starts_nothing(django_app, settings):
    page = django_app.get("/contact/")
    form = page.forms["chat-contact-form"]
    form["email"] = "bo@example.com"
    form["message"] = "See attached"
    form["attachment"] = Upload("photo.jpg", b"MZ\x90\x00 not a photo", "image/jpeg")

    answer = form.submit()

    assert answer.status_code == 200
    assert "Only images (JPEG, PNG, WebP, GIF) and PDF files can be sent." in answer.text
    assert not Conversation.objects.exists() and stored_files(settings) == []


def test_the_conversation_page_reply_form_takes_a_file_alone(django_app, settings):
    from chat.identity import link_token

    conversation = Conversation.objects.create(visitor_key="v", email="bo@example.com", bot_active=False)
    page = django_app.get(f"/chat/c/{link_token(conversation.public_id)}/")
    form = page.forms["chat-reply-form"]
    form["attachment"] = Upload("receipt.png", image_bytes("PNG"), "image/png")

    form.submit().follow()

    message = conversation.messages.get()
    assert message.body == "receipt.png" and message.payload["attachments"][0]["kind"] == "image"
