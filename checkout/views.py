"""Checkout in two steps and a button: details (/checkout/), review (/checkout/review/), place.

Every page is server-rendered and works without JavaScript; htmx only refreshes the delivery
options when the country changes. The session keeps just the typed details between the steps,
and forgets them once the order exists. Every amount is computed by `services` on the server.
"""
from __future__ import annotations

import logging
import secrets

from django.contrib import messages
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)

import analytics
from catalog.exceptions import OutOfStock
from chat import attribution as chat_attribution
from chat.identity import visitor_key
from customers.selectors.account import account_addresses
from giftcards import checkout as gift_card_checkout
from customers.services import customer_for_user
from customers.services.addresses import save_checkout_address
from orders.links import signed_confirmation_url, signed_order_url
from payments.exceptions import OrderNotPayable, ProviderUnavailable
from promotions.exceptions import PromotionUnavailable
from payments.links import status_url
from payments.models import Payment
from payments.services import open_payment, start_payment

from . import selectors, services
from .exceptions import CartNotReady, CheckoutError, EmptyCart, ShippingUnavailable
from .forms import AddressForm, CheckoutForm, PlaceOrderForm
from .services import CheckoutDetails

logger = logging.getLogger(__name__)

SESSION_KEY = "checkout"
# Whether a signed-in shopper ticked "Save this address to my address book" (kept apart from the
# details so CheckoutDetails stays what the order is made of).
SAVE_ADDRESS_KEY = "checkout_save_address"


def _save_to_address_book(*, user, details: CheckoutDetails) -> None:
    """The shipping address (or, for click and collect, the billing one) joins the signed-in
    shopper's own book, once the order exists: the account's customer, never the customer of an
    email typed at checkout."""
    customer = customer_for_user(user=user)
    address = details.shipping_address if (details.shipping_address.get("line1") or "").strip() else details.billing_address
    save_checkout_address(customer=customer, address=address, phone=details.phone)


def _back_to_cart(request: HttpRequest, error: CheckoutError) -> HttpResponse:
    if isinstance(error, CartNotReady):
        messages.warning(request, _("Your cart changed since you last saw it. Please check it before paying."))
        for warning in error.warnings:
            messages.warning(request, warning)
    else:
        messages.info(request, str(error))
    return redirect("carts:detail")


def _saved(request: HttpRequest) -> CheckoutDetails | None:
    data = request.session.get(SESSION_KEY)
    return CheckoutDetails.from_session(data) if isinstance(data, dict) else None


def _book_choice(request: HttpRequest, book: list, param: str):
    """The address-book entry `?<param>=<id>` names, if it is one of this shopper's own (any
    other id, or garbage, is ignored: the book holds only the signed-in customer's addresses)."""
    wanted = request.GET.get(param, "")
    return next((address for address in book if str(address.pk) == wanted), None)


def _initial(request: HttpRequest, saved: CheckoutDetails | None, book: list) -> tuple[dict, dict, dict]:
    """Initial values of the contact, shipping and billing forms: what the shopper typed before,
    else (signed in) their email and their address book's defaults, else their last order's
    addresses, else the store's country. An address picked from the book (`?address=<id>` for
    shipping, `?billing=<id>` for billing: plain links, so it works without JavaScript) replaces
    the shipping or billing part."""
    if saved is not None:
        same = saved.billing_address == saved.shipping_address
        contact = {"email": saved.email, "phone": saved.phone, "delivery": saved.delivery, "billing_same": same}
        shipping, billing = saved.shipping_address, {} if same else saved.billing_address
    else:
        contact = {"billing_same": True}
        shipping = {"country": selectors.default_country()}
        billing = {}
        if request.user.is_authenticated:
            contact["email"] = request.user.email
            default_shipping = next((address for address in book if address.is_default_shipping), None)
            default_billing = next((address for address in book if address.is_default_billing), None)
            if default_shipping is not None or default_billing is not None:
                # The book's defaults; a missing default billing means "same as shipping".
                first = default_shipping or default_billing
                shipping = first.as_order_address()
                contact["phone"] = first.phone
                if default_billing is not None and default_billing.as_order_address() != shipping:
                    contact["billing_same"] = False
                    billing = default_billing.as_order_address()
            else:
                last = selectors.last_addresses(user=request.user)
                if last:
                    contact["phone"] = last["phone"]
                    shipping = last["shipping_address"] or shipping
                    if last["billing_address"] and last["billing_address"] != last["shipping_address"]:
                        contact["billing_same"] = False
                        billing = last["billing_address"]
    picked = _book_choice(request, book, "address")
    if picked is not None:
        shipping = picked.as_order_address()
        contact["phone"] = contact.get("phone") or picked.phone
        if contact.get("billing_same", True):
            billing = {}
    picked_billing = _book_choice(request, book, "billing")
    if picked_billing is not None and picked_billing.as_order_address() != shipping:
        contact["billing_same"] = False
        billing = picked_billing.as_order_address()
    return contact, shipping, billing


def _typed(data) -> tuple[dict, dict, dict]:
    """The contact, shipping and billing values as the shopper typed them, unchecked."""
    contact = {"email": data.get("email", ""), "phone": data.get("phone", ""), "delivery": data.get("delivery", ""),
               "billing_same": bool(data.get("billing_same"))}
    shipping = {name: data.get(f"shipping-{name}", "") for name in AddressForm.base_fields}
    billing = {name: data.get(f"billing-{name}", "") for name in AddressForm.base_fields}
    return contact, shipping, billing


def _country(value: str | None, fallback: str) -> str:
    codes = dict(selectors.country_choices())
    value = (value or "").upper()
    return value if value in codes else fallback


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def details(request: HttpRequest) -> HttpResponse:
    """Step 1: contact, shipping address, billing address and delivery (or pick-up) choice.

    A POST with `refresh` (the no-JavaScript "Update delivery options" button) re-renders with
    the options for the posted country and shows no errors; any other valid POST stores the
    details in the session and goes on to the review.
    """
    try:
        cart = services.checkout_cart(user=request.user, session=request.session, images=False)
    except CheckoutError as error:
        return _back_to_cart(request, error)
    if request.method == "GET":
        analytics.record(request, "checkout_started")
        analytics.record(request, "checkout_step", step="details")
    posted = request.POST if request.method == "POST" else None
    # A form is bound (and so checked, and shows its errors) only when the shopper pressed Continue.
    data = posted if posted is not None and "refresh" not in posted else None
    if data is not None and _country(data.get("billing-country" if cart.digital_only else "shipping-country"), ""):
        # Continue, with a country we deliver to: every form is bound to what was posted, so the
        # initial values (address book, last order: two queries for a customer) are not read;
        # the book is, should the page be shown again with errors.
        book, contact, shipping, billing = None, {}, {}, {}
    else:
        book = account_addresses(user=request.user)
        contact, shipping, billing = _initial(request, _saved(request), book)
    if posted is not None:
        typed_contact, typed_shipping, typed_billing = _typed(posted)
        billing = typed_billing
        if "refresh" in posted:
            # Only new delivery options: what was typed comes back as typed, unchecked (a form
            # bound to it would be validated, and its errors named by the fields' aria attributes).
            contact, shipping = typed_contact, typed_shipping
    country = _country(posted.get("shipping-country") if posted else None, shipping.get("country") or
                       selectors.default_country())
    pickup = selectors.pickup_availability(cart=cart)
    options = services.shipping_options(cart=cart, country=country, pickup=pickup)
    form = CheckoutForm(data, options=options, initial=contact)
    digital = cart.digital_only
    if digital:
        # Gift cards only: nothing is shipped, so no shipping address and no delivery choice; the
        # billing name and country (tax) are enough. Works the same without JavaScript.
        billing_same = False
        billing_form = AddressForm(data, prefix="billing", initial=billing or shipping or {"country": country},
                                   street_required=False)
        shipping_form = None
    else:
        shipping_form = AddressForm(data, prefix="shipping", initial=shipping, street_required=form.is_delivery())
        billing_same = bool(posted.get("billing_same")) if posted is not None else contact.get("billing_same", True)
        # With "same as shipping" ticked the billing fields are not checked, so not bound either.
        billing_form = AddressForm(None if billing_same else data, prefix="billing",
                                   initial=billing or {"country": country})
    if data is not None:
        if digital:
            valid = form.is_valid() & billing_form.is_valid()
        else:
            valid = form.is_valid() & shipping_form.is_valid() & (billing_same or billing_form.is_valid())
        if valid and form.chosen().kind == services.DELIVERY:
            # Before the review: lines only a shop that does not ship can hand over (placement
            # would refuse them). Said here, with the shops that have them; nothing is saved.
            collect_only = selectors.collect_only_lines(cart=cart)
            if collect_only:
                form.add_error("delivery", services.collect_only_message(lines=collect_only, pickup=pickup))
                valid = False
        if valid:
            address = {} if digital else shipping_form.address()
            request.session[SESSION_KEY] = CheckoutDetails(
                email=form.cleaned_data["email"], phone=form.cleaned_data["phone"], shipping_address=address,
                billing_address=address if billing_same else billing_form.address(),
                delivery=form.cleaned_data["delivery"],
            ).to_session()
            if request.user.is_authenticated:
                request.session[SAVE_ADDRESS_KEY] = bool(data.get("save_address"))
            return redirect("checkout:review")
    if book is None:
        book = account_addresses(user=request.user)
    context = {
        "cart": cart, "form": form, "shipping_form": shipping_form, "billing_form": billing_form,
        "billing_same": billing_same, "country": country, "options": options,
        "pickup": pickup, "selected": form["delivery"].value(), "book": book, "digital": digital,
        "save_address": bool(posted.get("save_address")) if posted is not None else request.session.get(SAVE_ADDRESS_KEY, False),
    }
    return render(request, "checkout/details.html", context)


@never_cache
@require_safe
def delivery_options(request: HttpRequest) -> HttpResponse:
    """The delivery choices for `?shipping-country=`, as the fragment htmx swaps into step 1."""
    try:
        cart = services.checkout_cart(user=request.user, session=request.session, images=False)
    except CheckoutError:
        return HttpResponse(status=204)
    country = _country(request.GET.get("shipping-country"), selectors.default_country())
    pickup = selectors.pickup_availability(cart=cart)
    options = services.shipping_options(cart=cart, country=country, pickup=pickup)
    form = CheckoutForm(None, options=options, initial={"delivery": request.GET.get("delivery", "")})
    context = {"form": form, "options": options, "pickup": pickup, "selected": form["delivery"].value(),
               "country": country}
    return render(request, "checkout/_delivery_options.html", context)


@never_cache
@require_safe
def review(request: HttpRequest) -> HttpResponse:
    """Step 2: lines, shipping, tax and total as the order will charge them, and "Place order".

    The form carries a fresh idempotency key each time the page is rendered: posting it twice
    (a double click, a retried request) gives the order the first post created.
    """
    try:
        cart = services.checkout_cart(user=request.user, session=request.session, images=False)
    except CheckoutError as error:
        return _back_to_cart(request, error)
    details = _saved(request)
    if details is None:
        return redirect("checkout:details")
    try:
        option = services.chosen_option(cart=cart, details=details)
    except ShippingUnavailable as error:
        messages.warning(request, str(error))
        return redirect("checkout:details")
    if option.kind == services.DELIVERY:
        # Chosen before some lines became collect-only (a shop stopped shipping, the warehouse
        # sold out): back to the delivery step, which says which and where.
        collect_only = selectors.collect_only_lines(cart=cart)
        if collect_only:
            pickup = selectors.pickup_availability(cart=cart)
            for message in services.collect_only_message(lines=collect_only, pickup=pickup):
                messages.warning(request, message)
            return redirect("checkout:details")
    taxes = services.tax_table(country=services.tax_country(option=option, address_country=details.country))
    pricing = services.checkout_pricing(cart=cart, user=request.user, session=request.session, details=details,
                                        option=option)
    summary = services.checkout_summary(cart=cart, shipping=option, tax_rate=taxes.rate_for, pricing=pricing)
    form = PlaceOrderForm(initial={"idempotency_key": secrets.token_urlsafe(24), "discount": summary.discount_total})
    analytics.record(request, "checkout_step", step="review")
    context = {
        "summary": summary, "details": details, "option": option, "form": form, "pricing": pricing,
        "billing_same": details.billing_address == details.shipping_address,
    }
    return render(request, "checkout/review.html", context)


@never_cache
@require_POST
def place(request: HttpRequest) -> HttpResponse:
    """Create the order (or find the one this key already made) and send the shopper to pay.

    Out of stock: back to the cart naming every short item; nothing is created.
    """
    form = PlaceOrderForm(request.POST)
    if not form.is_valid():
        messages.warning(request, _("Your checkout page was out of date. Please check your order and try again."))
        return redirect("checkout:review")
    details = _saved(request)
    # A new order's first payment is written in the order's own transaction: one transaction and
    # one order lock less than paying an existing order, and a racing twin request finds it.
    opened: list[Payment | None] = []
    try:
        order = services.place_checkout_order(
            user=request.user, session=request.session, details=details,
            idempotency_key=form.cleaned_data["idempotency_key"], shown_discount=form.cleaned_data["discount"],
            on_placed=lambda new: opened.append(open_payment(order=new, gift_cards=gift_card_checkout.on_order_placed(
                order=new, session=request.session, user=request.user))),
        )
    except (EmptyCart, CartNotReady) as error:
        return _back_to_cart(request, error)
    except ShippingUnavailable as error:
        messages.warning(request, str(error))
        return redirect("checkout:details")
    except PromotionUnavailable as error:
        # A limit ran out between the review and this click: nothing was ordered; the review
        # shows the new total.
        messages.error(request, _("%(reason)s Nothing was ordered: please check the new total.") % {"reason": error.reason})
        return redirect("checkout:review")
    except OutOfStock as error:
        messages.error(request, _("Sorry, some items ran out while you were checking out. Nothing was ordered."))
        for shortage in error.shortages:
            messages.error(request, _("%(title)s (%(sku)s): you wanted %(requested)d, %(available)d left.") % {
                "title": shortage.title, "sku": shortage.sku, "requested": shortage.requested,
                "available": max(shortage.available, 0),
            })
        return redirect("carts:detail")
    analytics.record(request, "order_placed", order_id=order.pk, total=str(order.total), customer_id=order.customer_id)
    # The order has committed: which chat conversation it followed, if any (once per order), after
    # the response. A failure there must not keep the shopper from paying: it is logged, the order
    # goes on.
    try:
        chat_attribution.attribute_order_after_response(order=order, session=request.session,
                                                        visitor_key=visitor_key(request))
    except DatabaseError:
        logger.exception("Could not record the chat conversation of order %s", order.number)
    request.session.pop(SESSION_KEY, None)
    gift_card_checkout.forget(request.session)
    if request.session.pop(SAVE_ADDRESS_KEY, False) and request.user.is_authenticated and details is not None:
        _save_to_address_book(user=request.user, details=details)
    try:
        return start_payment(order=order, request=request, payment=opened[0] if opened else None)
    except OrderNotPayable as error:
        # A retried POST after the order was paid: show it rather than a second payment page.
        if error.reason == "paid":
            return redirect(signed_confirmation_url(order))
        messages.error(request, str(error))
        return redirect(signed_order_url(order))
    except ProviderUnavailable as error:
        # Never the "thank you" page: the order is not paid. Its payment page says so, says nothing
        # was charged, and offers "Pay now" (this browser started the payment, so it may open it).
        messages.error(request, _("Your order %(number)s is saved, but it is not paid yet.") % {"number": order.number})
        if error.payment is not None:
            return redirect(status_url(error.payment))
        return redirect(signed_order_url(order))
