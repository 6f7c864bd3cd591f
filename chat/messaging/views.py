"""The webhook endpoints Meta calls: `/chat/webhooks/whatsapp/` and `/chat/webhooks/messenger/`.

GET is the subscription handshake (hub.mode=subscribe, hub.verify_token, echo hub.challenge).
POST carries messages, signed with the app secret in `X-Hub-Signature-256` over the raw body; a
missing or wrong signature is 403 and nothing is read. Both answer 404 while the platform's
verify token and app secret are not set. CSRF does not apply to these two views only (Meta
cannot hold a CSRF token; the signature proves the sender instead).
"""
from __future__ import annotations

import hmac
import json
import logging

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from ..models import Channel
from . import inbound, messenger, whatsapp
from .common import signature_ok

log = logging.getLogger(__name__)


def _webhook(request: HttpRequest, *, channel: str, platform) -> HttpResponse:
    if not platform.configured():
        raise Http404
    if request.method == "GET":
        given = request.GET.get("hub.verify_token", "")
        if request.GET.get("hub.mode") == "subscribe" and hmac.compare_digest(given.encode(),
                                                                             platform.verify_token().encode()):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        return HttpResponseForbidden("Wrong verify token.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    raw = request.body
    if not signature_ok(raw_body=raw, header=request.headers.get("X-Hub-Signature-256", ""),
                        secret=platform.app_secret()):
        return HttpResponseForbidden("Bad signature.")
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return HttpResponse("Not JSON.", status=400)
    if not isinstance(payload, dict):
        return HttpResponse("Not a JSON object.", status=400)
    try:
        items = platform.parse(payload)
    except (AttributeError, TypeError, KeyError) as error:  # signed, but not shaped as documented
        log.warning("%s webhook: unreadable payload (%s)", channel, error)
        return HttpResponse("Unexpected payload shape.", status=400)
    stored = inbound.receive(channel=channel, items=items)
    log.info("%s webhook: %s new message(s)", channel, stored)
    return HttpResponse("OK", content_type="text/plain")


@csrf_exempt
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    return _webhook(request, channel=Channel.WHATSAPP, platform=whatsapp)


@csrf_exempt
def messenger_webhook(request: HttpRequest) -> HttpResponse:
    return _webhook(request, channel=Channel.MESSENGER, platform=messenger)


@csrf_exempt
def email_webhook(request: HttpRequest) -> HttpResponse:
    """Mailgun's inbound route: a shopper's reply to a chat email (see `messaging/email.py` for
    the fields and what each status tells Mailgun). 404 while CHAT_REPLY_DOMAIN or
    MAILGUN_WEBHOOK_SIGNING_KEY is not set."""
    from django.conf import settings

    from ..exceptions import MessageRejected, RateLimited
    from ..models import MESSAGE_MAX_LENGTH
    from . import email

    if not email.configured():
        raise Http404
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    post = request.POST
    if not email.signature_ok(timestamp=post.get("timestamp", ""), token=post.get("token", ""),
                              signature=post.get("signature", ""), key=settings.MAILGUN_WEBHOOK_SIGNING_KEY):
        return HttpResponseForbidden("Bad or expired signature.")
    conversation = email.conversation_for_address(post.get("recipient", ""))
    if conversation is None:
        return HttpResponse("No conversation has this reply address.", status=406, content_type="text/plain")
    text = email.strip_quoted(post.get("stripped-text") or post.get("body-plain") or "")
    if len(text) > MESSAGE_MAX_LENGTH:
        text = text[:MESSAGE_MAX_LENGTH - 1] + "…"
    try:
        stored = email.receive(conversation=conversation, text=text, message_id=email.message_id_of(post),
                               sender=post.get("sender", "") or post.get("from", ""),
                               uploads=email.attached_files(post, request.FILES))
    except RateLimited as error:
        return HttpResponse(str(error), status=429, content_type="text/plain")
    except MessageRejected as error:
        return HttpResponse(str(error), status=406, content_type="text/plain")
    log.info("email webhook: conversation %s, %s", conversation.pk, "stored" if stored else "already stored")
    return HttpResponse("OK", content_type="text/plain")
