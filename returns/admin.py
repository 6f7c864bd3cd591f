"""The returns back office: the policy (edited by staff), and each return, read-only, with buttons.

As on the order page (`orders/admin/orders.py`): nothing of a return is edited by hand; each step
is a button that checks `returns.change_returnrequest`, then one service acts (it locks the return
and checks its status again) and the page says what happened.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.models import Location
from orders.admin.inlines import ReadOnlyInline
from orders.admin.orders import button as order_button
from payments.models import Provider
from shop.money import format_money

from . import services
from .exceptions import ReturnError
from .forms import DecisionForm, ExchangeForm, ExchangeShipmentForm, ReceiveForm
from .models import ReturnEvent, ReturnLine, ReturnPolicy, ReturnRequest
from .views import photo_response

S = ReturnRequest.Status


@admin.register(ReturnPolicy)
class ReturnPolicyAdmin(admin.ModelAdmin):
    fields = ("window_days", "excluded_categories", "note")
    filter_horizontal = ("excluded_categories",)

    def has_add_permission(self, request):
        return False  # one row, made on first use (ReturnPolicy.current)

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied  # before the row is made for someone who may not see it
        policy = ReturnPolicy.current()
        return HttpResponseRedirect(reverse("admin:returns_returnpolicy_change", args=[policy.pk]))


class _ReadOnlyInline(ReadOnlyInline):
    """As the order page's parts, but seen by whoever may view returns."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("returns.view_returnrequest") or request.user.has_perm(
            "returns.change_returnrequest")


class ReturnLineInline(_ReadOnlyInline):
    model = ReturnLine
    fields = readonly_fields = ("order_line", "quantity", "restocked", "written_off", "write_off_reason")


class ReturnEventInline(_ReadOnlyInline):
    model = ReturnEvent
    fields = readonly_fields = ("created_at", "from_status", "to_status", "actor", "user", "message")


def button(*methods: str):
    """An admin view of one return, as the order page's buttons: permission (403), method (405),
    the return (404)."""
    return order_button(*methods, permission="returns.change_returnrequest")


@admin.register(ReturnRequest)
class ReturnRequestAdmin(admin.ModelAdmin):
    list_display = ("__str__", "created_at", "status", "reason", "order_link", "received_location")
    list_filter = ("status", "reason", "received_location")
    list_select_related = ("order", "received_location")
    list_per_page = 50
    search_fields = ("order__number", "order__email")
    search_help_text = gettext_lazy("A return number (R12, as on the parcel), an order number or the shopper's email.")
    fields = readonly_fields = ("order_link", "status", "reason", "comment", "photo_link", "created_at",
                                "decision_message", "decided_by", "decided_at", "received_at", "received_location",
                                "refund_due_display", "refunds_display", "exchange_display")
    inlines = [ReturnLineInline, ReturnEventInline]
    change_form_template = "admin/returns/returnrequest/change_form.html"

    def has_add_permission(self, request):
        return False  # shoppers ask from their order page

    def has_change_permission(self, request, obj=None):
        return False  # buttons act, the form only shows

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        """"R12" (as written on the parcel or the email) finds return 12; anything else as usual."""
        term = search_term.strip().upper()
        if term.startswith("R") and term[1:].isdigit():
            return queryset.filter(pk=int(term[1:])), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=gettext_lazy("order"), ordering="order__number")
    def order_link(self, obj: ReturnRequest) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[obj.order_id]),
                           obj.order.number)

    @admin.display(description=gettext_lazy("photo"))
    def photo_link(self, obj: ReturnRequest) -> str:
        if not obj.photo:
            return "—"
        return format_html('<a href="{}" id="return-photo" target="_blank">{}</a>', self._url("photo", obj),
                           _("Open the shopper's photo"))

    @admin.display(description=gettext_lazy("worth back"))
    def refund_due_display(self, obj: ReturnRequest) -> str:
        return format_money(obj.refund_due, obj.order.currency) if obj.refund_due is not None else "—"

    @admin.display(description=gettext_lazy("refunds"))
    def refunds_display(self, obj: ReturnRequest) -> str:
        rows = [(format_money(r.amount, obj.order.currency), r.payment.get_provider_display(), r.get_status_display(),
                 r.provider_reference or (_("no answer yet") if r.awaiting_provider else "—"), r.failure_reason or "")
                for r in obj.refunds.select_related("payment").order_by("pk")]
        if not rows:
            return "—"
        return format_html_join("", '<div class="return-refund">{} · {} · {} <small>({})</small> {}</div>', rows)

    @admin.display(description=gettext_lazy("exchange sent"))
    def exchange_display(self, obj: ReturnRequest) -> str:
        if obj.status != S.EXCHANGED:
            return "—"
        rows = [(shipment.collected_at.name if shipment.collected_at
                 else f"{shipment.carrier} {shipment.tracking_number}", shipment.created_at.strftime("%Y-%m-%d"))
                for shipment in obj.exchange_shipments.select_related("collected_at")]
        return format_html_join("", "<div>{} · {}</div>", rows) if rows else "—"

    # --- Page and buttons ---

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            can_act = request.user.has_perm("returns.change_returnrequest")
            context.update({
                "buttons": {
                    "decide": can_act and obj.status == S.REQUESTED,
                    "receive": can_act and obj.status in (S.REQUESTED, S.APPROVED),
                    "refund": can_act and obj.status in (S.RECEIVED, S.REFUNDING),
                    "exchange": can_act and obj.status == S.RECEIVED and not obj.refunds.exists(),
                    "ship_exchange": can_act and obj.status == S.EXCHANGED
                    and obj.exchange_lines.filter(shipment__isnull=True).exists(),
                },
                "decision_form": DecisionForm(),
                "action_urls": {name: self._url(name, obj) for name in
                                ("decide", "receive", "refund", "exchange", "ship_exchange")},
                "refund_due": self.refund_due_display(obj),
                "retry": obj.status == S.REFUNDING,
                # A till to pay cash back from, when several are open at the shop that received it.
                "cash_sessions": services.cash_sessions(obj) if can_act and obj.status in (S.RECEIVED, S.REFUNDING)
                and obj.order.payments.filter(provider=Provider.CASH).exists() else [],
            })
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        views = {"decide": self.decide_view, "receive": self.receive_view,
                 "refund": self.refund_view, "exchange": self.exchange_view,
                 "ship_exchange": self.ship_exchange_view, "photo": self.photo_view}
        return [
            path(f"<path:object_id>/{name.replace('_', '-')}/", self.admin_site.admin_view(view),
                 name=f"returns_returnrequest_{name}")
            for name, view in views.items()
        ] + super().get_urls()

    def _url(self, name: str, obj: ReturnRequest) -> str:
        return reverse(f"admin:returns_returnrequest_{name}", args=[obj.pk], current_app=self.admin_site.name)

    def _back(self, request: HttpRequest, obj: ReturnRequest, message: str, level=messages.SUCCESS):
        self.message_user(request, message, level)
        return HttpResponseRedirect(reverse("admin:returns_returnrequest_change", args=[obj.pk],
                                            current_app=self.admin_site.name))

    def _act(self, request: HttpRequest, obj: ReturnRequest, action, done: str):
        try:
            action()
        except ReturnError as error:
            return self._back(request, obj, str(error), messages.ERROR)
        return self._back(request, obj, done)

    @button("POST")
    def decide_view(self, request, obj):
        """One form, two buttons: "Approve" or "Refuse" (the button's name says which)."""
        form = DecisionForm(request.POST)
        if not form.is_valid():
            return self._back(request, obj, _("The message is too long; nothing was changed."), messages.ERROR)
        message = form.cleaned_data["message"]
        if "refuse" in request.POST:
            return self._act(request, obj, lambda: services.refuse_return(
                request_id=obj.pk, user=request.user, message=message),
                _("Return R%(pk)s refused; the shopper is emailed why.") % {"pk": obj.pk})
        return self._act(request, obj, lambda: services.approve_return(
            request_id=obj.pk, user=request.user, message=message),
            _("Return R%(pk)s approved; the shopper is emailed the instructions.") % {"pk": obj.pk})

    @button("POST")
    def refund_view(self, request, obj):
        amount = format_money(obj.refund_due, obj.order.currency) if obj.refund_due is not None else ""
        session = request.POST.get("session", "")
        try:
            done = services.refund_return(request_id=obj.pk, user=request.user,
                                          session_id=int(session) if session.isdigit() else None)
        except ReturnError as error:
            return self._back(request, obj, str(error), messages.ERROR)
        if done.status != S.REFUNDED and done.refunds.being_sent().exists():
            return self._back(request, obj, _("Return R%(pk)s is being refunded by another request right now; "
                                              "reload the page in a moment to see how it ended.") % {"pk": obj.pk},
                              messages.WARNING)
        if done.status != S.REFUNDED:  # a provider refused or did not answer: the page says what is left
            return self._back(request, obj, done.events.order_by("-pk").first().message, messages.WARNING)
        return self._back(request, obj, _("Refunded %(amount)s to the original payment for return R%(pk)s.")
                          % {"amount": amount, "pk": obj.pk})

    @button("GET", "POST")
    def ship_exchange_view(self, request, obj):
        rows = list(obj.exchange_lines.filter(shipment__isnull=True).select_related("stock_level__location"))
        if obj.status != S.EXCHANGED or not rows:
            return self._back(request, obj, _("The exchange of return R%(pk)s has already been sent.") % {"pk": obj.pk},
                              messages.ERROR)
        # The shop holding every unit, when the exchange was reserved there for the shopper to collect.
        places = {row.stock_level.location for row in rows}
        shop = places.pop() if len(places) == 1 else None
        form = ExchangeShipmentForm(request.POST if request.method == "POST" else None,
                                    shop=shop if shop is not None and shop.kind == Location.Kind.SHOP else None)
        if form.is_valid():
            try:
                services.ship_exchange(request_id=obj.pk, user=request.user, **form.shipment())
            except ReturnError as error:
                form.add_error(None, str(error))
            else:
                return self._back(request, obj, _("The exchange for return R%(pk)s is sent.") % {"pk": obj.pk})
        return self._form_page(request, obj, form, _("Send the exchange of return R%(pk)s") % {"pk": obj.pk},
                               "ship-exchange")

    @button("GET", "POST")
    def receive_view(self, request, obj):
        if obj.status not in (S.REQUESTED, S.APPROVED):
            return self._back(request, obj, _("Return R%(pk)s is %(status)s, so it cannot be received.")
                              % {"pk": obj.pk, "status": obj.get_status_display().lower()}, messages.ERROR)
        # Warehouses first, then shops: the parcel usually comes back to the warehouse.
        locations = list(Location.objects.filter(is_active=True).order_by("kind", "position", "name"))
        lines = obj.lines.select_related("order_line")
        form = ReceiveForm(request.POST if request.method == "POST" else None, lines=lines, locations=locations)
        if form.is_valid():
            receipt = services.Receipt(restock=form.restock(), write_off_reason=form.cleaned_data["write_off_reason"])
            try:
                services.receive_return(request_id=obj.pk, location_id=form.cleaned_data["location"],
                                        receipt=receipt, user=request.user)
            except ReturnError as error:
                form.add_error(None, str(error))
            else:
                return self._back(request, obj, _("Return R%(pk)s received.") % {"pk": obj.pk})
        return self._form_page(request, obj, form, _("Receive return R%(pk)s") % {"pk": obj.pk}, "receive")

    @button("GET", "POST")
    def exchange_view(self, request, obj):
        if obj.status != S.RECEIVED:
            return self._back(request, obj, _("Only a received return can be exchanged."), messages.ERROR)
        lines = obj.lines.select_related("order_line")
        form = ExchangeForm(request.POST if request.method == "POST" else None, lines=lines,
                            choices=services.exchange_variants(obj),
                            shops=Location.objects.filter(is_active=True, kind=Location.Kind.SHOP).order_by("position",
                                                                                                             "name"))
        if form.is_valid():
            try:
                services.exchange_return(request_id=obj.pk, variants=form.variants(), user=request.user,
                                         collect_at=form.cleaned_data["collect_at"])
            except ReturnError as error:
                form.add_error(None, str(error))
            else:
                return self._back(request, obj, _("Exchange reserved for return R%(pk)s.") % {"pk": obj.pk})
        return self._form_page(request, obj, form, _("Exchange return R%(pk)s") % {"pk": obj.pk}, "exchange")

    def photo_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm("returns.view_returnrequest"):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        return photo_response(obj)

    def _form_page(self, request, obj, form, title: str, form_id: str) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": obj, "title": title,
                   "form": form, "form_id": form_id,
                   "change_url": reverse("admin:returns_returnrequest_change", args=[obj.pk])}
        return TemplateResponse(request, "admin/returns/returnrequest/step_form.html", context)
