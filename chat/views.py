"""The shopper's side of chat: the launcher's JSON and live stream, the contact form, the
conversation's own page (the link in reply emails, working without JavaScript) and "Messages"
under the account.

Every conversation is looked up through `Conversation.objects.for_visitor` (this browser's signed
visitor key, or the signed-in customer): someone else's answers 404, as an unknown id does.
"""
from __future__ import annotations

import json
import time

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import (
    Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse, StreamingHttpResponse,
)
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import assistant, identity, presence, realtime, selectors, services
from .exceptions import ChatError
from .forms import ContactForm, RatingForm, ReplyForm
from .models import Channel, Conversation


def _rate_key(request: HttpRequest, visitor: str) -> str:
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"visitor:{visitor}"


def _own_conversation(request: HttpRequest, public_id: str) -> Conversation:
    conversation = (Conversation.objects.for_visitor(visitor_key=identity.visitor_key(request), user=request.user)
                    .filter(public_id=public_id).first())
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def _conversation_data(conversation: Conversation) -> dict:
    return {
        "id": conversation.public_id, "status": conversation.status, "bot": conversation.bot_active,
        "rating": conversation.rating, "has_email": bool(conversation.email),
        "urls": {**{name: reverse(f"chat:{name}", args=[conversation.public_id])
                    for name in ("messages", "send", "stream", "typing", "seen", "rate")},
                 # The script puts an attachment's id in place of 0.
                 "attachment": reverse("chat:attachment", args=[conversation.public_id, 0])},
    }


def _cart_id(request: HttpRequest) -> int | None:
    from carts.selectors import guest_cart_id

    return guest_cart_id(request.session) if hasattr(request, "session") else None


def _page(request: HttpRequest) -> str:
    page = request.POST.get("page", "")[:300]
    return page if page.startswith("/") and url_has_allowed_host_and_scheme(page, allowed_hosts=None) else ""


@require_safe
def triggers(request: HttpRequest) -> JsonResponse:
    """The active proactive messages: the same for everyone (no cookie read or set), so browsers
    and proxies may keep it five minutes. The launcher's script decides which applies."""
    from .models import ProactiveTrigger

    rows = ProactiveTrigger.objects.filter(is_active=True).values(
        "id", "message", "page_type", "seconds_on_page", "min_cart_items", "min_cart_value", "returning_only")
    response = JsonResponse({"triggers": [{**row, "min_cart_value": str(row["min_cart_value"])} for row in rows]})
    response["Cache-Control"] = "public, max-age=300"
    return response


@never_cache
@require_safe
def state(request: HttpRequest) -> JsonResponse:
    """The launcher opening: this visitor's latest conversation and its messages (none: the
    greeting). Also hands the script a CSRF token: the cached page carries none."""
    conversation = (Conversation.objects.for_visitor(visitor_key=identity.visitor_key(request), user=request.user)
                    .order_by("-last_message_at", "-pk").first())
    data: dict = {"csrf": get_token(request), "greeting": assistant.greeting(), "menu": assistant.menu()}
    if conversation is not None:
        data["conversation"] = _conversation_data(conversation)
        data["messages"] = [selectors.message_data(m) for m in selectors.shopper_messages(conversation=conversation)]
    else:
        data["conversation"] = None
        data["messages"] = []
    return JsonResponse(data)


@never_cache
@require_safe
def cart_value(request: HttpRequest) -> JsonResponse:
    """This visitor's cart value at today's prices, purchasable lines only, as a decimal string in
    the store's currency: all a proactive message with a minimum cart value needs to decide. The
    launcher asks only when such a message could apply and the header counts items in the cart,
    so the pages themselves stay the same for everyone (in the shared cache) and the visitor's
    conversation is not read for it. Never cached; sets no cookie."""
    from carts.selectors import cart_contents

    value = cart_contents(user=request.user, session=request.session, images=False).subtotal
    return JsonResponse({"cart_value": str(value)})


def _turn(request: HttpRequest) -> assistant.Turn:
    return assistant.Turn(text=request.POST.get("body", ""), action=request.POST.get("action", "")[:30],
                          value=request.POST.get("value", "")[:60])


def _checked_file(request: HttpRequest):
    """The attachment sent with this message, checked (raises MessageRejected), or None."""
    from . import attachments

    upload = request.FILES.get("file")
    return attachments.check_upload(upload) if upload is not None else None


def _shopper_says(request: HttpRequest, conversation: Conversation, turn: assistant.Turn, rate_key: str,
                  checked=None) -> None:
    if checked is not None:
        from . import attachments

        attachments.add_with_attachment(conversation=conversation, checked=checked, text=turn.text,
                                        rate_key=rate_key)
    else:
        services.add_shopper_message(conversation=conversation, body=turn.text, rate_key=rate_key)
    # What staff see beside the conversation: the page the shopper is on now, and their cart.
    updates = {}
    cart_id, page = _cart_id(request), _page(request)
    if cart_id and conversation.cart_id != cart_id:
        updates["cart_id"] = cart_id
    if page and conversation.page_url != page:
        updates["page_url"] = page
    if updates:
        Conversation.objects.filter(pk=conversation.pk).update(**updates)
    if checked is not None and not turn.text.strip():
        return  # a file alone: nothing for the assistant to read
    assistant.respond(conversation=conversation, turn=turn, user=request.user, rate_key=rate_key)


@never_cache
@require_POST
def start(request: HttpRequest) -> JsonResponse:
    """The first message: a new conversation, the greeting, the message, the assistant's answer."""
    visitor = identity.visitor_key(request) or identity.new_visitor_key()
    turn = _turn(request)
    try:
        checked = _checked_file(request)
        if checked is None:
            services.clean_body(turn.text)
        services.check_rate(who=f"ip:{request.META.get('REMOTE_ADDR', '')}")
    except ChatError as error:
        return JsonResponse({"error": str(error)}, status=400 if not isinstance(error, services.RateLimited) else 429)
    conversation = services.start_conversation(visitor_key=visitor, user=request.user, page_url=_page(request))
    services.add_bot_message(conversation=conversation, body=assistant.greeting(), payload={"quick_replies": assistant.menu()})
    try:
        _shopper_says(request, conversation, turn, _rate_key(request, visitor), checked)
    except ChatError as error:
        return JsonResponse({"error": str(error)}, status=429)
    conversation.refresh_from_db()
    response = JsonResponse({
        "conversation": _conversation_data(conversation),
        "messages": [selectors.message_data(m) for m in selectors.shopper_messages(conversation=conversation)],
    })
    identity.remember_visitor(response, visitor)
    return response


@never_cache
@require_POST
def send(request: HttpRequest, public_id: str) -> JsonResponse:
    """A message (or a quick reply, sent as its label plus its action) from the shopper."""
    conversation = _own_conversation(request, public_id)
    after = conversation.messages.order_by("-pk").values_list("pk", flat=True).first() or 0
    try:
        checked = _checked_file(request)
        _shopper_says(request, conversation, _turn(request), _rate_key(request, identity.visitor_key(request)),
                      checked)
    except services.RateLimited as error:
        return JsonResponse({"error": str(error)}, status=429)
    except ChatError as error:
        return JsonResponse({"error": str(error)}, status=400)
    conversation.refresh_from_db()
    return JsonResponse({
        "conversation": _conversation_data(conversation),
        "messages": [selectors.message_data(m) for m in selectors.shopper_messages(conversation=conversation, after=after)],
    })


@never_cache
@require_safe
def messages(request: HttpRequest, public_id: str) -> JsonResponse:
    """Messages after `?after=<id>`: what a client without a stream, or one catching up, reads."""
    conversation = _own_conversation(request, public_id)
    after = _int(request.GET.get("after"))
    return JsonResponse({
        "conversation": _conversation_data(conversation),
        "messages": [selectors.message_data(m) for m in selectors.shopper_messages(conversation=conversation, after=after)],
    })


def _int(value) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _same_origin(request: HttpRequest) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return True  # same-origin GETs carry none; a cross-site page's EventSource always does
    return origin == f"{request.scheme}://{request.get_host()}"


def sse(event: dict, *, with_id: bool) -> str:
    lines = [f"event: {event['type']}"]
    if with_id:
        lines.append(f"id: {event['id']}")
    lines.append("data: " + json.dumps(event, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def event_stream(*, conversation_id: int, after: int, staff: bool, messages_after) -> object:
    """The live stream: subscribe first, then replay from the database what came after the
    client's cursor, then forward live events until `CHAT_STREAM_SECONDS`. A message already sent
    (replayed, or published twice) is skipped by id; staff's notes reach staff only; each side
    gets the other's typing and seen. The browser reconnects by itself, with the last id."""
    listener = realtime.listen([realtime.conversation_channel(conversation_id)])
    me = "agent" if staff else "shopper"
    try:
        yield "retry: 1000\n\n"
        last = after
        for message in messages_after(after):
            last = message.pk
            yield sse(selectors.message_data(message), with_id=True)
        # The wait needs no database: give the connection back (a test's transaction keeps its own).
        if not connection.in_atomic_block:
            connection.close()
        deadline = time.monotonic() + settings.CHAT_STREAM_SECONDS
        while (remaining := deadline - time.monotonic()) > 0:
            if not staff:
                presence.shopper_seen(conversation_id)
            events = listener.get(timeout=min(5.0, remaining))
            if not events:
                yield ": still here\n\n"
                continue
            for event in events:
                if event["type"] == "message":
                    if event["id"] <= last or (event.get("note") and not staff):
                        continue
                    last = event["id"]
                    yield sse(event, with_id=True)
                elif event["type"] in ("typing", "seen") and event.get("by") == me:
                    continue
                else:
                    yield sse(event, with_id=False)
    finally:
        listener.close()


def stream_response(request: HttpRequest, conversation: Conversation, *, staff: bool) -> HttpResponse:
    if not _same_origin(request):
        return HttpResponseForbidden("Cross-origin streams are not allowed.")
    after = _int(request.headers.get("Last-Event-ID") or request.GET.get("after"))
    if staff:
        def messages_after(cursor):
            return selectors.staff_messages(conversation=conversation, after=cursor)
    else:
        def messages_after(cursor):
            return selectors.shopper_messages(conversation=conversation, after=cursor)
    response = StreamingHttpResponse(
        event_stream(conversation_id=conversation.pk, after=after, staff=staff, messages_after=messages_after),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache, no-store, private"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


@require_safe
def stream(request: HttpRequest, public_id: str) -> HttpResponse:
    return stream_response(request, _own_conversation(request, public_id), staff=False)


@require_POST
def typing_view(request: HttpRequest, public_id: str) -> HttpResponse:
    services.typing(conversation=_own_conversation(request, public_id), by="shopper")
    return HttpResponse(status=204)


@require_POST
def seen(request: HttpRequest, public_id: str) -> HttpResponse:
    services.mark_seen(conversation=_own_conversation(request, public_id), by="shopper",
                       up_to_id=_int(request.POST.get("up_to")))
    return HttpResponse(status=204)


@require_POST
def rate_view(request: HttpRequest, public_id: str) -> JsonResponse:
    conversation = _own_conversation(request, public_id)
    form = RatingForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": _("Choose from 1 to 5 stars.")}, status=400)
    try:
        services.rate(conversation=conversation, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"])
    except ChatError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse({"conversation": _conversation_data(conversation)})


@require_POST
def email_view(request: HttpRequest, public_id: str) -> JsonResponse:
    from django import forms

    conversation = _own_conversation(request, public_id)
    field = forms.EmailField()
    try:
        email = field.clean(request.POST.get("email", ""))
    except forms.ValidationError:
        return JsonResponse({"error": _("Enter a valid email address.")}, status=400)
    services.set_email(conversation=conversation, email=email)
    return JsonResponse({"conversation": _conversation_data(conversation)})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def contact(request: HttpRequest) -> HttpResponse:
    """"Contact us" without JavaScript: the same kind of conversation, answered by email."""
    form = ContactForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        visitor = identity.visitor_key(request) or identity.new_visitor_key()
        try:
            services.check_rate(who=f"ip:{request.META.get('REMOTE_ADDR', '')}")
            conversation = services.start_conversation(
                visitor_key=visitor, user=request.user, channel=Channel.EMAIL, email=form.cleaned_data["email"],
                name=form.cleaned_data["name"], subject=form.cleaned_data["message"][:80],
            )
            _contact_message(conversation, text=form.cleaned_data["message"],
                             checked=form.cleaned_data.get("attachment"), rate_key=_rate_key(request, visitor))
        except ChatError as error:
            form.add_error("message", str(error))
        else:
            services.hand_off(conversation=conversation, reason=_("the contact form"))
            flash.success(request, _("Thank you. We will answer by email; you can also follow the conversation here."))
            response = redirect("chat:conversation", identity.link_token(conversation.public_id))
            identity.remember_visitor(response, visitor)
            return response
    return render(request, "chat/contact.html", {"form": form})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def conversation_page(request: HttpRequest, token: str) -> HttpResponse:
    """A conversation as a plain page (the link in reply emails, and "Messages"): its messages,
    a reply form, and the rating form once resolved. The signed token is the key."""
    public_id = identity.public_id_from_token(token)
    conversation = Conversation.objects.filter(public_id=public_id).first() if public_id else None
    if conversation is None:
        raise Http404("No such conversation")
    reply, rating = ReplyForm(), RatingForm()
    if request.method == "POST":
        if "rating" in request.POST:
            rating = RatingForm(request.POST)
            if rating.is_valid():
                try:
                    services.rate(conversation=conversation, rating=rating.cleaned_data["rating"],
                                  comment=rating.cleaned_data["comment"])
                except ChatError as error:
                    rating.add_error(None, str(error))
                else:
                    flash.success(request, _("Thank you for rating the conversation."))
                    return redirect(request.path)
        else:
            reply = ReplyForm(request.POST, request.FILES)
            if reply.is_valid():
                try:
                    _contact_message(conversation, text=reply.cleaned_data["message"],
                                     checked=reply.cleaned_data.get("attachment"),
                                     rate_key=f"conversation:{conversation.pk}")
                except ChatError as error:
                    reply.add_error("message", str(error))
                else:
                    if conversation.bot_active:
                        services.hand_off(conversation=conversation, reason=_("a reply on the conversation page"))
                    flash.success(request, _("Sent. We will answer by email."))
                    return redirect(request.path)
    return render(request, "chat/conversation.html", {
        "conversation": conversation, "messages_list": selectors.shopper_messages(conversation=conversation),
        "reply_form": reply, "rating_form": rating, "token": token,
    })


def _contact_message(conversation: Conversation, *, text: str, checked, rate_key: str) -> None:
    """A message from the plain forms (contact, the conversation's page), with its file if any."""
    if checked is not None:
        from . import attachments

        attachments.add_with_attachment(conversation=conversation, checked=checked, text=text, rate_key=rate_key)
    else:
        services.add_shopper_message(conversation=conversation, body=text, rate_key=rate_key)


def _shopper_attachment(conversation: Conversation, attachment_id: int) -> HttpResponse:
    from . import attachments
    from .models import Attachment

    # Staff's internal notes are never the shopper's, nor what is attached to them.
    found = (Attachment.objects.filter(pk=attachment_id, conversation=conversation, message__isnull=False,
                                       message__is_note=False).first())
    if found is None:
        raise Http404("No such attachment")
    return attachments.response_for(found)


@require_safe
def attachment(request: HttpRequest, public_id: str, attachment_id: int) -> HttpResponse:
    """A file of this browser's (or customer's) conversation; anyone else's answers 404."""
    return _shopper_attachment(_own_conversation(request, public_id), attachment_id)


@require_safe
def conversation_attachment(request: HttpRequest, token: str, attachment_id: int) -> HttpResponse:
    """A file of the conversation whose signed link this is (the reply email's page)."""
    public_id = identity.public_id_from_token(token)
    conversation = Conversation.objects.filter(public_id=public_id).first() if public_id else None
    if conversation is None:
        raise Http404("No such conversation")
    return _shopper_attachment(conversation, attachment_id)


@never_cache
@login_required
def account_messages(request: HttpRequest) -> HttpResponse:
    conversations = (Conversation.objects.filter(customer__user=request.user)
                     .order_by("-last_message_at", "-pk")[:50])
    rows = [{"conversation": c, "token": identity.link_token(c.public_id)} for c in conversations]
    return render(request, "chat/account_messages.html", {"rows": rows})





@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def cart_link(request: HttpRequest, token: str) -> HttpResponse:
    """A cart an agent built in the chat (`actions.send_cart_link`): the page lists what is in it
    at today's prices, and its button puts it in this browser's cart (GET changes nothing, so a
    link previewer cannot fill anyone's cart). A line that cannot be added (out of stock, off
    sale) is said and skipped; the rest are added."""
    from django.core import signing

    from carts.exceptions import CartError
    from carts.services import add_to_cart
    from catalog.models import Product, Variant

    from . import actions

    try:
        pairs = actions.read_cart_link(token)
    except signing.SignatureExpired:
        return render(request, "chat/cart_link.html", {"expired": True}, status=410)
    except signing.BadSignature:
        raise Http404("No such cart link") from None
    variants = Variant.objects.select_related("product").in_bulk([variant_id for variant_id, _qty in pairs])
    published = set(Product.objects.published().filter(pk__in={v.product_id for v in variants.values()})
                    .values_list("pk", flat=True))
    lines = [{"variant": variants[variant_id], "quantity": quantity} for variant_id, quantity in pairs
             if variant_id in variants and variants[variant_id].product_id in published and variants[variant_id].is_active]
    if request.method == "POST":
        added = 0
        for line in lines:
            try:
                add_to_cart(user=request.user, session=request.session, variant_id=line["variant"].pk,
                            product_id=line["variant"].product_id, quantity=line["quantity"])
                added += 1
            except CartError as error:
                flash.error(request, error.message)
        if added:
            from .attribution import conversation_of_cart_link, remember_cart_link

            flash.success(request, _("The cart we made for you is in your cart."))
            # The order this cart becomes is the conversation's (`attribution.attribute_order`).
            conversation = conversation_of_cart_link(token)
            if conversation is not None:
                remember_cart_link(session=request.session, conversation=conversation)
        return redirect("carts:detail")
    return render(request, "chat/cart_link.html", {"lines": lines, "missing": len(pairs) - len(lines)})
