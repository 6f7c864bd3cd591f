"""The order admin: list, read-only order page, action buttons, packing slip and invoice.

The order form itself is view-only for everyone (`has_change_permission` is False), so a POST to
the change page can never edit an order. What staff may do is a button: a small admin view under
the order that checks `orders.change_order`, checks the move is legal, calls one service and
says what happened. The services lock the order and check again; the check here only keeps an
illegal click from reaching them (and, for a payment, from writing an alert to the history).
"""
from __future__ import annotations

from functools import wraps

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from catalog.models import Location
from chat.order_admin import chat_conversation
from inventory.order_admin import fulfilment_routing
from pickup.order_admin import click_and_collect
from payments.exceptions import PaymentError
from payments.models import Provider
from payments.services import record_manual_payment, refund_payment
from payments.services.gift_cards import amount_due
from shop.addresses import address_html
from shop.money import format_money

from .. import services
from ..exceptions import OrderError
from ..forms import CancelForm, NoteForm, RefundForm, ReturnForm, ShipmentForm
from ..models import NEVER_PAID_FULFILMENT, Order, OrderEvent
from ..status import can_cancel, can_pay, can_ship, label
from . import payment_state
from .bulk import BulkActions
from .documents import document_context
from .filters import (
    ChannelFilter,
    CountryFilter,
    HandoverFilter,
    LineBrandFilter,
    LineCategoryFilter,
    LineProductFilter,
    MoneyMovedFilter,
    NeedsAttentionFilter,
    PaidOnFilter,
    PickupLocationFilter,
    ReturnedOnFilter,
    SoldOrCollectedAtFilter,
)
from .inlines import OrderLineInline, ShipmentInline

STAFF = OrderEvent.Actor.STAFF


def button(*methods: str, permission: str = "orders.change_order"):
    """Make an admin view of one order out of `view(self, request, order)`.

    Checks, in this order: the permission (403, whatever the method), the HTTP method (405), and
    that the order exists (404). A button that changes something takes POST only, so the admin's
    CSRF check covers it.
    """

    def decorate(view):
        @wraps(view)
        def checked(self, request: HttpRequest, object_id: str) -> HttpResponse:
            if not request.user.has_perm(permission):
                raise PermissionDenied
            if request.method not in methods:
                return HttpResponseNotAllowed(methods)
            order = self.get_object(request, unquote(object_id))
            if order is None:
                raise Http404
            return view(self, request, order)

        return checked

    return decorate


def _money_field(name: str, description: str, *, ordering: str | None = None):
    @admin.display(description=description, ordering=ordering)
    def show(self, order: Order) -> str:
        return format_money(getattr(order, name), order.currency)

    return show


@admin.register(Order)
class OrderAdmin(BulkActions, admin.ModelAdmin):
    list_display = ("number", "created_at", "buyer", "payment_status", "fulfilment_status", "total_display",
                    "delivery")
    list_filter = (
        NeedsAttentionFilter, "payment_status", "fulfilment_status", "channel", ("shipping_method_name", admin.AllValuesFieldListFilter),
        PickupLocationFilter,
        # The Sales report's drill-down (analytics/reports.py): shown only while in use.
        MoneyMovedFilter, PaidOnFilter, LineCategoryFilter, LineBrandFilter, LineProductFilter, CountryFilter,
        ChannelFilter, ReturnedOnFilter, SoldOrCollectedAtFilter, HandoverFilter,
    )
    date_hierarchy = "created_at"
    list_select_related = ("pickup_location",)
    list_per_page = 50
    # A filtered list would otherwise count every order a second time, for "(N total)".
    show_full_result_count = False
    search_fields = ("number", "email", "customer_name")
    search_help_text = gettext_lazy("An order number, an email address, or words from the customer's name.")
    fieldsets = (
        (None, {"fields": ("number", ("payment_status", "paid_at", "payment_terms"), "fulfilment_status",
                           ("created_at", "reservation_expires_at"), ("channel", "sale_location", "sold_by"))}),
        (gettext_lazy("Customer"), {"fields": (("customer_name", "customer", "email"), ("phone", "user"),
                                               chat_conversation)}),
        (gettext_lazy("Delivery"), {"fields": (("shipping_method_name", "pickup_location"), "shipping_address_display",
                                               "billing_address_display", fulfilment_routing,
                                               click_and_collect)}),
        (gettext_lazy("Totals"), {"fields": (("subtotal_display", "shipping_total_display"),
                                             ("tax_total_display", "total_display"), "amount_due_display",
                                             "prices_include_tax")}),
    )
    readonly_fields = (
        "number", "payment_status", "fulfilment_status", "paid_at", "created_at", "reservation_expires_at",
        "customer_name", "customer", "email", "phone", "user", "shipping_method_name", "pickup_location",
        "shipping_address_display", "billing_address_display", "subtotal_display", "shipping_total_display",
        "tax_total_display", "total_display", "amount_due_display", "prices_include_tax", "payment_terms",
        "channel", "sale_location", "sold_by",
        fulfilment_routing, click_and_collect, chat_conversation,
    )
    inlines = [OrderLineInline, ShipmentInline, payment_state.PaymentInline]
    change_form_template = "admin/orders/order/change_form.html"

    # --- Nothing is edited by hand ---

    def has_add_permission(self, request):
        return False  # orders come from checkout

    def has_change_permission(self, request, obj=None):
        return False  # see the module docstring: buttons act, the form only shows

    def has_delete_permission(self, request, obj=None):
        return False  # an order is a record: cancel it, don't delete it

    def can_act(self, request: HttpRequest) -> bool:
        """Whether the user may press the buttons (the real `orders.change_order` permission)."""
        return super().has_change_permission(request)

    # --- List ---

    def get_search_results(self, request, queryset, search_term):
        """An order number finds its order; an email its orders; otherwise words of name or email.

        The number (with or without its dash, any case) is an exact, indexed lookup tried first;
        an email address is matched whole; only other terms search inside names and emails.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        number = term.upper().replace(" ", "")
        if len(number) == 8 and "-" not in number:
            number = f"{number[:4]}-{number[4:]}"
        by_number = queryset.filter(number=number)
        if by_number.exists():
            return by_number, False
        if "@" in term and " " not in term:
            return queryset.filter(email__iexact=term), False
        words = Q()
        for word in term.split():
            words &= Q(customer_name__icontains=word) | Q(email__icontains=word)
        return queryset.filter(words), False

    @admin.display(description=gettext_lazy("customer"), ordering="email")
    def buyer(self, order: Order) -> str:
        if order.customer_name:
            return format_html("{}<br><small>{}</small>", order.customer_name, order.email)
        return order.email

    @admin.display(description=gettext_lazy("delivery"), ordering="shipping_method_name")
    def delivery(self, order: Order) -> str:
        if order.pickup_location_id:
            return format_html("{}<br><small>{}</small>", order.shipping_method_name, order.pickup_location.name)
        return order.shipping_method_name

    subtotal_display = _money_field("subtotal", gettext_lazy("subtotal"))
    shipping_total_display = _money_field("shipping_total", gettext_lazy("shipping"))
    tax_total_display = _money_field("tax_total", gettext_lazy("tax"))
    total_display = _money_field("total", gettext_lazy("total"), ordering="total")

    # --- Order page ---

    @admin.display(description=gettext_lazy("amount due"))
    def amount_due_display(self, order: Order) -> str:
        """What the customer still owes: an unpaid order's total less what gift cards paid (one
        query, only for an unpaid open order), "on invoice" for one paid after delivery."""
        if order.payment_status != Order.PaymentStatus.UNPAID or order.fulfilment_status in NEVER_PAID_FULFILMENT:
            return "—"
        due = format_money(amount_due(order), order.currency)
        return format_html('<span id="amount-due">{}</span>', _("%(amount)s, on invoice") % {"amount": due}
                           if order.on_invoice else due)

    @admin.display(description=gettext_lazy("shipping address"))
    def shipping_address_display(self, order: Order) -> str:
        return address_html(order.shipping_address) or "—"

    @admin.display(description=gettext_lazy("billing address"))
    def billing_address_display(self, order: Order) -> str:
        return address_html(order.billing_address) or _("Same as shipping")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self._order_page_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _order_page_context(self, request: HttpRequest, order: Order) -> dict:
        can_act = self.can_act(request)
        left_to_ship = order.lines.filter(quantity__gt=F("quantity_fulfilled")).exists() if can_act else False
        returnable = order.lines.filter(quantity_fulfilled__gt=F("quantity_returned")).exists() if can_act else False
        refundable = payment_state.refundable_payments(order) if can_act else []
        buttons = {
            "mark_paid": can_act and can_pay(order),
            # A pick-up is handed over from its "Click and collect" box, for its code (pickup/).
            "ship": can_act and left_to_ship and can_ship(order) and order.pickup_location_id is None,
            "cancel": can_act and can_cancel(order),
            # Money left on a payment can always go back, whatever the order's states (a payment
            # of the wrong amount leaves the order unpaid; a cancelled order's payment state becomes
            # refunded once all of it is back): payments.services moves the payment state only where
            # its machine allows. A refund never moves the fulfilment state.
            "refund": can_act and bool(refundable),
            # Whatever the status: goods that shipped can come back even after a refund.
            "return": can_act and returnable,
        }
        events = order.events.select_related("user").order_by("-created_at", "-pk")
        return {
            "buttons": buttons,
            "any_button": any(buttons.values()),
            "total": format_money(order.total, order.currency),
            "cancel_form": CancelForm(),
            "note_form": NoteForm() if request.user.has_perm("orders.add_orderevent") else None,
            "history": [_history_row(event) for event in events],
            "action_urls": {name: self._url(name, order) for name in
                            ("mark_paid", "ship", "cancel", "refund", "return", "note", "packing_slip",
                             "invoice")},
        }

    # --- Buttons and documents ---

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        views = {
            "mark_paid": ("mark-paid", self.mark_paid_view),
            "ship": ("ship", self.ship_view),
            "cancel": ("cancel", self.cancel_view),
            "refund": ("refund", self.refund_view),
            "return": ("return", self.return_view),
            "note": ("note", self.note_view),
            "packing_slip": ("packing-slip", self.packing_slip_view),
            "invoice": ("invoice", self.invoice_view),
        }
        # Before the default URLs: their "<object_id>/" catch-all would take these otherwise.
        return [
            path(f"<path:object_id>/{segment}/", self.admin_site.admin_view(view), name="%s_%s_" % info + name)
            for name, (segment, view) in views.items()
        ] + super().get_urls()

    def _url(self, name: str, order: Order) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=[order.pk],
                       current_app=self.admin_site.name)

    def _change_url(self, order: Order) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[order.pk],
                       current_app=self.admin_site.name)

    def _refuse(self, request: HttpRequest, order: Order, message: str) -> HttpResponseRedirect:
        self.message_user(request, message, messages.ERROR)
        return HttpResponseRedirect(self._change_url(order))

    def _done(self, request: HttpRequest, order: Order, message: str) -> HttpResponseRedirect:
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(order))

    def _not_now(self, request: HttpRequest, order: Order, sentence: str) -> HttpResponseRedirect:
        """Refuse a move the order's states do not allow; `sentence` names the number and status."""
        return self._refuse(request, order, sentence % {
            "number": order.number, "status": _("%(payment)s and %(fulfilment)s") % {
                "payment": order.get_payment_status_display().lower(),
                "fulfilment": order.get_fulfilment_status_display().lower()},
        })

    @button("POST")
    def mark_paid_view(self, request: HttpRequest, order: Order) -> HttpResponse:
        """A manual payment (bank transfer, cash at the shop) of the order's whole total, recorded as
        a Payment (provider "manual") so it can be refunded like any other."""
        if not can_pay(order):
            return self._not_now(request, order, _(
                "Order %(number)s is %(status)s, so it cannot be marked paid. Nothing was changed."))
        outcome, _payment = record_manual_payment(order_id=order.pk, user=request.user)
        if outcome is services.PaymentOutcome.PAID:
            return self._done(request, order, _("Order %(number)s is marked paid (%(amount)s).")
                              % {"number": order.number, "amount": format_money(order.total, order.currency)})
        if outcome is services.PaymentOutcome.NEEDS_REFUND:
            return self._refuse(request, order, _(
                "Order %(number)s was not marked paid: its stock is no longer available. Give the money back "
                "to the customer; the order's history has the details.") % {"number": order.number})
        return self._refuse(request, order, _("Order %(number)s was not marked paid; nothing was changed.")
                            % {"number": order.number})

    @button("POST")
    def cancel_view(self, request: HttpRequest, order: Order) -> HttpResponse:
        if not can_cancel(order):
            return self._not_now(request, order, _(
                "Order %(number)s is %(status)s, so it cannot be cancelled. Nothing was changed."))
        form = CancelForm(request.POST)
        if not form.is_valid():
            return self._refuse(request, order, _("The reason is too long; nothing was changed."))
        try:
            services.cancel_order(order_id=order.pk, actor=STAFF, user=request.user,
                                  reason=form.cleaned_data["reason"])
        except OrderError as error:
            return self._refuse(request, order, str(error))
        return self._done(request, order, _("Order %(number)s is cancelled and its stock released.")
                          % {"number": order.number})

    @button("GET", "POST")
    def ship_view(self, request: HttpRequest, order: Order) -> HttpResponse:
        if not can_ship(order):
            return self._not_now(request, order, _(
                "Order %(number)s is %(status)s, so it cannot be shipped. Nothing was changed."))
        if order.pickup_location_id is not None:
            # Handing over needs the pick-up code or a recorded override (the service refuses too).
            return self._refuse(request, order, _(
                "Order %(number)s is collected at %(shop)s: hand it over with \"Collect…\" in its Click and collect "
                "box, for the shopper's pick-up code (or without it, giving the reason). Nothing was shipped.")
                % {"number": order.number, "shop": order.pickup_location.name})
        lines = list(order.lines.all())
        form = ShipmentForm(request.POST if request.method == "POST" else None, lines=lines)
        if form.is_valid():
            try:
                shipment = services.create_shipment(order_id=order.pk, request=form.shipment_request(),
                                                    user=request.user)
            except OrderError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                units = sum(item.quantity for item in shipment.lines.all())
                return self._done(request, order, ngettext(
                    "Shipment of %(units)d item created for order %(number)s.",
                    "Shipment of %(units)d items created for order %(number)s.", units,
                ) % {"units": units, "number": order.number})
        return self._form_page(request, order, form, title=_("Ship order %(number)s") % {"number": order.number},
                               template="admin/orders/order/shipment_form.html")

    @button("GET", "POST")
    def refund_view(self, request: HttpRequest, order: Order) -> HttpResponse:
        refundable = payment_state.refundable_payments(order)
        if not refundable:
            return self._refuse(request, order, _("Order %(number)s has no payment that can be refunded.")
                                % {"number": order.number})
        form = RefundForm(request.POST if request.method == "POST" else None, payments=refundable,
                          currency=order.currency,
                          returned=payment_state.returned_not_refunded(order) if request.method == "GET" else None)
        if form.is_valid():
            amount = form.cleaned_data["amount"]
            try:
                refund = refund_payment(payment_id=form.cleaned_data["payment"], amount=amount, user=request.user,
                                        reason=form.cleaned_data["reason"])
            except (PaymentError, OrderError) as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                done = _("Refunded %(amount)s of order %(number)s.") % {
                    "amount": format_money(amount, order.currency), "number": order.number}
                if refund.payment.provider == Provider.MANUAL:
                    done += " " + _("It was a manual payment: pay the money back to the customer yourself.")
                elif refund.status == refund.Status.PENDING:
                    done += " " + _("The provider is still processing it; the order moves when it succeeds.")
                return self._done(request, order, done)
        return self._form_page(request, order, form, title=_("Refund order %(number)s") % {"number": order.number},
                               template="admin/orders/order/refund_form.html")

    @button("GET", "POST")
    def return_view(self, request: HttpRequest, order: Order) -> HttpResponse:
        """Record goods the customer sent back, and whether (and where) they go back in stock.

        Money is not touched: staff refund separately (the "Refund…" button).
        """
        lines = list(order.lines.all())
        # Goods come back to a warehouse or to the pick-up shop they left from; warehouses first.
        locations = sorted(Location.objects.filter(is_active=True),
                           key=lambda loc: (loc.pk != order.pickup_location_id, loc.kind != Location.Kind.WAREHOUSE,
                                            loc.position, loc.name))
        form = ReturnForm(request.POST if request.method == "POST" else None, lines=lines, locations=locations)
        if request.method == "GET" and not form.lines:
            return self._refuse(request, order, _("Nothing shipped in order %(number)s is left to come back.")
                                % {"number": order.number})
        if form.is_valid():
            restock = form.cleaned_data["restock"]
            try:
                services.record_return(
                    order=order, lines=form.quantities(), restock=restock,
                    location_id=form.cleaned_data["location"] if restock else None,
                    actor=STAFF, user=request.user, note=form.cleaned_data["note"],
                )
            except OrderError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                units = sum(form.quantities().values())
                message = ngettext(
                    "Return of %(units)d item recorded for order %(number)s.",
                    "Return of %(units)d items recorded for order %(number)s.", units,
                ) % {"units": units, "number": order.number}
                if restock:
                    message = f"{message} {_('The units are back in stock.')}"
                return self._done(request, order, f"{message} {_('Refund the customer separately if money is due.')}")
        return self._form_page(request, order, form, title=_("Record a return for order %(number)s")
                               % {"number": order.number}, template="admin/orders/order/return_form.html")

    @button("POST", permission="orders.add_orderevent")
    def note_view(self, request: HttpRequest, order: Order) -> HttpResponse:
        form = NoteForm(request.POST)
        if not form.is_valid():
            return self._refuse(request, order, _("Write the note first (at most 2,000 characters)."))
        form.save_note(order=order, user=request.user)
        return self._done(request, order, _("Note added to order %(number)s.") % {"number": order.number})

    def packing_slip_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._document(request, object_id, "orders/print/packing_slip.html")

    def invoice_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._document(request, object_id, "orders/print/invoice.html")

    def _document(self, request: HttpRequest, object_id: str, template: str) -> HttpResponse:
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404
        if not self.has_view_permission(request, order):
            raise PermissionDenied
        return TemplateResponse(request, template, document_context(order))

    def _form_page(self, request: HttpRequest, order: Order, form, *, title: str, template: str) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": order,
            "order": order,
            "title": title,
            "form": form,
            "total": format_money(order.total, order.currency),
            "change_url": self._change_url(order),
        }
        return TemplateResponse(request, template, context)


def _history_row(event: OrderEvent) -> dict:
    state = f"{event.get_state_display()}: " if event.state else ""
    if event.kind == OrderEvent.Kind.STATUS and event.from_status:
        change = f"{state}{label(event.state, event.from_status)} → {label(event.state, event.to_status)}"
    elif event.to_status:
        change = f"{state}{label(event.state, event.to_status)}"
    else:
        change = ""
    who = event.get_actor_display()
    if event.user is not None:
        who = f"{event.user.get_full_name() or event.user.get_username()} ({who})"
    return {"when": event.created_at, "kind": event.get_kind_display(), "kind_value": event.kind,
            "state": event.state, "who": who,
            "change": change, "message": event.message}
