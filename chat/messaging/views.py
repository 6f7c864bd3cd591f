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
