"""Shopper pages: enter or remove a gift card code at checkout, choose who gets the gift cards
being bought, and the account's list of cards. Every POST works without JavaScript and returns to
the checkout's review page; nothing here is cached (personal)."""
from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from shop.money import format_money

from . import selectors, services
from .exceptions import GiftCardError
from .forms import ApplyCodeForm, RecipientForm, ResendForm
from .models import GiftCardEvent
from .resend import resend_gift_card


def _client_address(request: HttpRequest) -> str:
    from allauth.core.internal.ratelimit import get_ip  # the store's one notion of a client address

    return get_ip(request)


@never_cache
@require_POST
def apply_code(request: HttpRequest) -> HttpResponse:
    """Add a card to this checkout. Wrong codes count against this address and session
    (`services.find_card`); a right one is remembered by id, never by its code."""
    form = ApplyCodeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a gift card code."))
        return redirect("checkout:review")
    if not request.session.session_key:
        request.session.save()
    applied = list(request.session.get(selectors.SESSION_KEY, []))
    try:
        card = services.find_card(code=form.cleaned_data["code"], address=_client_address(request),
                                  session_key=request.session.session_key or "")
    except GiftCardError as error:
        messages.error(request, str(error))
        return redirect("checkout:review")
    if card.pk in applied:
        messages.info(request, _("This gift card is already applied."))
    elif len(applied) >= selectors.MAX_CARDS:
        messages.error(request, _("At most %(count)d gift cards can pay one order.") % {"count": selectors.MAX_CARDS})
    else:
        request.session[selectors.SESSION_KEY] = [*applied, card.pk]
        messages.success(request, _("Gift card %(card)s applied: balance %(balance)s.") % {
            "card": card.display_code, "balance": format_money(card.balance, card.currency)})
    return redirect("checkout:review")


@never_cache
@require_POST
def remove_card(request: HttpRequest, card_id: int) -> HttpResponse:
    applied = list(request.session.get(selectors.SESSION_KEY, []))
    if card_id in applied:
        applied.remove(card_id)
        request.session[selectors.SESSION_KEY] = applied
        messages.info(request, _("Gift card removed."))
    return redirect("checkout:review")


@never_cache
@require_POST
def recipient(request: HttpRequest) -> HttpResponse:
    """Who gets the gift cards this checkout buys, and when; kept in the session until placing."""
    form = RecipientForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
        return redirect("checkout:review")
    data = form.cleaned_data
    request.session[selectors.RECIPIENT_SESSION_KEY] = {
        "email": data["email"], "name": data["name"], "sender": data["sender"], "message": data["message"],
        "deliver_on": data["deliver_on"].isoformat() if data["deliver_on"] else "",
    }
    messages.success(request, _("The gift cards will be sent to %(email)s.") % {"email": data["email"]})
    return redirect("checkout:review")


@never_cache
@login_required
def account_cards(request: HttpRequest) -> HttpResponse:
    """The shopper's cards and balances; each card they bought has a "Send again" form (its own
    key, made now: one click sends once)."""
    cards = list(selectors.cards_for_user(user=request.user)[:100])
    for card in cards:
        if card.bought_by_them and card.is_active:
            card.resend_form = ResendForm(initial={"recipient_email": card.recipient_email,
                                                   "key": secrets.token_urlsafe(24)}, prefix=f"card{card.pk}")
    return render(request, "giftcards/account.html", {"cards": cards})


@never_cache
@login_required
@require_POST
def resend(request: HttpRequest, card_id: int) -> HttpResponse:
    """The buyer has a card they bought emailed again (new code), to its recipient or a corrected
    address (`resend.resend_gift_card`, which checks they bought it). The code is never shown."""
    card = selectors.cards_for_user(user=request.user).filter(pk=card_id).first()
    if card is None or not card.bought_by_them:
        raise Http404("No such gift card")
    form = ResendForm(request.POST, prefix=f"card{card.pk}")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("giftcards:cards")
    data = form.cleaned_data
    try:
        done = resend_gift_card(card_id=card.pk, user=request.user, by=GiftCardEvent.By.PURCHASER, key=data["key"],
                                recipient_email=data["recipient_email"])
    except GiftCardError as error:
        messages.error(request, str(error))
        return redirect("giftcards:cards")
    if done.sent:
        messages.success(request, _("The gift card was emailed again to %(email)s, with a new code; the old code no "
                                    "longer works.") % {"email": done.event.recipient_email})
    else:
        messages.success(request, _("The gift card will be emailed to %(email)s on its delivery day.")
                         % {"email": done.event.recipient_email})
    return redirect("giftcards:cards")
