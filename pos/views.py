"""The sell screen: staff with `pos.sell` open a register, build a sale, take payment, print or
email the receipt, and close the register. Thin: forms validate, `pos.services` acts.

The sale being built lives in the staff member's session, per register session: its lines, its
customer and its idempotency key (made when the sale starts, sent with "Complete sale"). htmx
swaps the sale panel in place; every form also works as a plain POST and redirect.
"""
from __future__ import annotations

import uuid
from decimal import Decimal
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from catalog.exceptions import OutOfStock
from customers import services as customers
from customers.models import Customer
from giftcards.exceptions import GiftCardError
from saleschannels.selectors import counter_channel

from . import selectors, services
from .exceptions import SaleError
from .forms import CloseRegisterForm, OpenRegisterForm, PayForm, ReceiptEmailForm
from .models import Register, RegisterSession, Sale


def staff_can_sell(view):
    """Signed-in staff with the `pos.sell` permission; everyone else is refused (403)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not (request.user.is_active and request.user.is_staff and request.user.has_perm("pos.sell")):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


# --- The sale in the staff member's session ------------------------------------------------------


def _cart_key(session_id: int) -> str:
    return f"pos:sale:{session_id}"


def _new_cart() -> dict:
    return {"key": f"{services.KEY_PREFIX}{uuid.uuid4().hex}", "lines": [], "customer_id": None}


def _cart(request: HttpRequest, session_id: int) -> dict:
    cart = request.session.get(_cart_key(session_id))
    if not cart:
        cart = _new_cart()
        _save(request, session_id, cart)
    return cart


def _save(request: HttpRequest, session_id: int, cart: dict) -> None:
    request.session[_cart_key(session_id)] = cart
    request.session.modified = True


def _add(cart: dict, variant_id: int, quantity: int = 1) -> None:
    for line in cart["lines"]:
        if line[0] == variant_id:
            line[1] += quantity
            return
    cart["lines"].append([variant_id, quantity, False])


def _keep(request: HttpRequest, session: RegisterSession, cart: dict) -> HttpResponse:
    """Save the changed sale and show it."""
    _save(request, session.pk, cart)
    return _back(request, session)


def _session_or_404(session_id: int) -> RegisterSession:
    session = selectors.open_session(session_id)
    if session is None:
        raise Http404
    return session


def _screen(request: HttpRequest, session: RegisterSession, *, found=None, customers=None, pay_form=None,
            status: int = 200) -> HttpResponse:
    cart = _cart(request, session.pk)
    view = selectors.sale_view(session=session, cart=cart)
    context = {
        "session": session, "sale": view, "key": cart["key"], "found": found or [], "customers": customers,
        "pay_form": pay_form or PayForm(initial={"key": cart["key"]}),
    }
    template = "pos/_sale.html" if request.htmx else "pos/sell.html"
    return render(request, template, context, status=status)


def _back(request: HttpRequest, session: RegisterSession) -> HttpResponse:
    if request.htmx:
        return _screen(request, session)
    return redirect("pos:sell", session_id=session.pk)


# --- Registers ------------------------------------------------------------------------------------


@staff_can_sell
def registers(request: HttpRequest) -> HttpResponse:
    rows = Register.objects.filter(is_active=True).select_related("location")
    open_sessions = {s.register_id: s for s in RegisterSession.objects.filter(closed_at__isnull=True)
                     .select_related("opened_by")}
    return render(request, "pos/registers.html", {
        "rows": [(register, open_sessions.get(register.pk)) for register in rows], "form": OpenRegisterForm(),
    })


@staff_can_sell
@require_POST
def open_register(request: HttpRequest, register_id: int) -> HttpResponse:
    register = get_object_or_404(Register.objects.select_related("location"), pk=register_id, is_active=True)
    form = OpenRegisterForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Type the float as an amount such as 100.00."))
        return redirect("pos:registers")
    try:
        session = services.open_register(register=register, user=request.user,
                                         opening_float=form.cleaned_data["opening_float"])
    except SaleError as error:
        messages.error(request, str(error))
        return redirect("pos:registers")
    return redirect("pos:sell", session_id=session.pk)


@staff_can_sell
def close_register(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session_or_404(session_id)
    form = CloseRegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.close_register(session_id=session.pk, user=request.user,
                                              counted_cash=form.cleaned_data["counted_cash"],
                                              note=form.cleaned_data["note"])
        except SaleError as error:
            messages.error(request, str(error))
        request.session.pop(_cart_key(session.pk), None)
        return redirect("pos:closed", session_id=session.pk)
    if not session.is_open:
        return redirect("pos:closed", session_id=session.pk)
    return render(request, "pos/close.html", {"session": session, "form": form})


@staff_can_sell
def closed(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session_or_404(session_id)
    if session.is_open:
        return redirect("pos:sell", session_id=session.pk)
    return render(request, "pos/closed.html", {"session": session})


# --- Selling ----------------------------------------------------------------------------------------


@staff_can_sell
def sell(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session_or_404(session_id)
    if not session.is_open:
        return redirect("pos:closed", session_id=session.pk)
    return _screen(request, session)


@staff_can_sell
@require_POST
def scan(request: HttpRequest, session_id: int) -> HttpResponse:
    """The scan box: a barcode or SKU adds its item; a name lists the matches to choose from."""
    session = _session_or_404(session_id)
    code = request.POST.get("code", "").strip()[:100]
    view_channel = counter_channel(location_id=session.register.location_id)
    if view_channel is None:
        messages.error(request, _("This shop has no active counter channel."))
        return _back(request, session)
    found = selectors.find_items(channel=view_channel, code=code) if code else []
    exact = len(found) == 1 and (found[0].barcode == code or found[0].sku.lower() == code.lower())
    if len(found) == 1 or exact:
        cart = _cart(request, session.pk)
        _add(cart, found[0].pk)
        return _keep(request, session, cart)
    if not found:
        messages.error(request, _("Nothing sold here matches “%(code)s”.") % {"code": code})
        return _back(request, session)
    return _screen(request, session, found=found)


@staff_can_sell
@require_POST
def change_line(request: HttpRequest, session_id: int) -> HttpResponse:
    """Add one, take one away, remove, or switch a line between "taken now" and "ship to the customer"."""
    session = _session_or_404(session_id)
    cart = _cart(request, session.pk)
    try:
        variant_id = int(request.POST.get("variant", ""))
    except ValueError:
        return _back(request, session)
    action = request.POST.get("action")
    if action == "add":
        _add(cart, variant_id)
    for line in list(cart["lines"]):
        if line[0] != variant_id:
            continue
        if action == "minus":
            line[1] -= 1
        if action == "remove" or line[1] < 1:
            cart["lines"].remove(line)
        if action == "ship":
            line[2] = True
        if action == "here":
            line[2] = False
    return _keep(request, session, cart)


@staff_can_sell
@require_POST
def customer(request: HttpRequest, session_id: int) -> HttpResponse:
    """Look the customer up by email or phone, choose one, or sell anonymously."""
    session = _session_or_404(session_id)
    cart = _cart(request, session.pk)
    if request.POST.get("anonymous"):
        cart["customer_id"] = None
        return _keep(request, session, cart)
    if chosen := request.POST.get("customer"):
        person = Customer.objects.filter(pk=chosen if chosen.isdigit() else 0, erased_at__isnull=True).first()
        cart["customer_id"] = person.pk if person else None
        return _keep(request, session, cart)
    query = request.POST.get("q", "").strip()[:200]
    people = selectors.find_customers(query=query)
    if len(people) == 1:
        cart["customer_id"] = people[0].pk
        return _keep(request, session, cart)
    if not people:
        messages.info(request, _("No customer with “%(q)s”: sell anonymously, or type their email at payment.")
                      % {"q": query})
    return _screen(request, session, customers=people)


@staff_can_sell
@require_POST
def verify_phone(request: HttpRequest, session_id: int) -> HttpResponse:
    """The cashier checked the sale's customer's ID: the number they give is verified as theirs, so
    their next counter sales and WhatsApp messages attach to them by it."""
    session = _session_or_404(session_id)
    cart = _cart(request, session.pk)
    person = Customer.objects.filter(pk=cart["customer_id"] or 0, erased_at__isnull=True).first()
    if person is None:
        messages.error(request, _("Choose the customer before verifying their phone."))
        return _screen(request, session, status=400)
    try:
        customers.verify_phone(
            customer_id=person.pk, phone=request.POST.get("phone", "")[:40], user=request.user,
            note=_("ID checked at the counter of %(shop)s") % {"shop": session.register.location.name})
    except ValueError as error:
        messages.error(request, _("The phone was not verified: %(error)s") % {"error": error})
        return _screen(request, session, status=400)
    messages.success(request, _("Phone number verified for %(email)s.") % {"email": person.email})
    return _keep(request, session, cart)


@staff_can_sell
@require_POST
def pay(request: HttpRequest, session_id: int) -> HttpResponse:
    """Complete the sale with the tenders typed. The same key twice answers the same receipt."""
    session = _session_or_404(session_id)
    cart = _cart(request, session.pk)
    form = PayForm(request.POST)
    if not form.is_valid():
        return _screen(request, session, pay_form=form, status=400)
    key = form.cleaned_data["key"]
    done = services.find_sale(key)
    if done is not None:  # sent twice (a dropped connection, a double tap): the first sale's receipt
        return _to_receipt(request, done)
    if key != cart["key"]:
        messages.error(request, _("This sale screen is out of date: check the sale below and complete it again."))
        return _screen(request, session, status=409)
    data = form.cleaned_data
    try:
        gift_card_id = None
        if data["gift_card_code"]:
            from giftcards.services import find_card

            gift_card_id = find_card(code=data["gift_card_code"], session_key=f"pos-{request.user.pk}").pk
        person = Customer.objects.filter(pk=cart["customer_id"]).first() if cart["customer_id"] else None
        sale = services.sell(
            session_id=session.pk, staff=request.user, key=key,
            lines=[services.SaleLine(variant_id=v, quantity=q, ship=s) for v, q, s in cart["lines"]],
            tenders=services.Tenders(cash_tendered=data["cash_tendered"] or Decimal("0"),
                                     card_amount=data["card_amount"] or Decimal("0"),
                                     card_reference=data["card_reference"], gift_card_id=gift_card_id),
            customer=person, email=data["email"], name=data["name"],
            phone=person.phone if person else "", shipping_address=form.shipping_address(),
        )
    except (SaleError, OutOfStock, GiftCardError) as error:
        messages.error(request, str(error))
        return _screen(request, session, pay_form=form, status=400)
    _save(request, session.pk, _new_cart())
    return _to_receipt(request, sale)


def _to_receipt(request: HttpRequest, sale: Sale) -> HttpResponse:
    url = reverse("pos:receipt", kwargs={"number": sale.order.number})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@staff_can_sell
def receipt(request: HttpRequest, number: str) -> HttpResponse:
    sale = get_object_or_404(
        Sale.objects.select_related("order", "session__register__location", "sold_by"), order__number=number)
    form = ReceiptEmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sent_to = services.send_receipt(sale=sale, email=form.cleaned_data["email"] or "")
            messages.success(request, _("Receipt emailed to %(email)s.") % {"email": sent_to})
        except SaleError as error:
            messages.error(request, str(error))
        return redirect("pos:receipt", number=number)
    order = sale.order
    return render(request, "pos/receipt.html", {
        "sale": sale, "order": order, "lines": list(order.lines.all()), "form": form,
        "payments": list(order.payments.filter(status="succeeded").order_by("pk")),
    })
