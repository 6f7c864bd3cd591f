"""Back office: the customer list and the customer page.

The list reads stored figures (order count, lifetime value, last order, RFM segment) from the
customer row, so every column and filter is a plain indexed condition on one table and the page
costs the same queries at 5 customers or 100,000 (tags: one prefetch per page).

The page is mostly read-only: totals and stats are kept by services, never typed in. Staff edit
the name, phone, language and tags; notes, exports and erasure are buttons that call services
(`customers.services.crm`). Nobody deletes a customer through the admin: orders, consent history
and the audit log must survive, so the only way out is "Erase personal data".
"""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef
from django.http import (
    Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from shop.admin import ReadOnlyAdmin
from shop.money import format_money

from ..models import AuditLog, Customer, Note, Segment, Tag
from ..selectors.segments import segment_customers
from ..selectors.crm import customer_list, customer_page
from ..services import unverify_phone, verify_phone
from ..services.crm import CRMError, add_note, add_tag, export_customers
from ..services.privacy import ErasureRefused, erase_customer

PHONE_LIKE = re.compile(r"\+?[\d\s().-]+")
EXPORT_PERMISSION = "customers.export_customer"
ERASE_PERMISSION = "customers.delete_customer"
NOTE_PERMISSION = "customers.add_note"


# --- Filters -------------------------------------------------------------------------------------


class SegmentFilter(admin.SimpleListFilter):
    title = gettext_lazy("segment")
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Segment.objects.order_by("kind", "name").values_list("pk", "name")]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        segment = Segment.objects.filter(pk=self.value()).first() if self.value().isdigit() else None
        if segment is None:
            messages.error(request, _("That segment does not exist (any more); the list is not filtered by segment."))
            return queryset
        members = segment_customers(segment)
        try:
            # Both are Customer querysets: AND-ing their conditions lets PostgreSQL plan one scan
            # (2-3x faster at 100,000 customers than `pk__in`, see docs/architecture.md).
            return queryset & members
        except TypeError:
            # A segment queryset that cannot be combined (e.g. a DISTINCT one) still filters.
            return queryset.filter(pk__in=members.values("pk"))


class TagFilter(admin.SimpleListFilter):
    title = gettext_lazy("tag")
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Tag.objects.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if not self.value().isdigit():
            return queryset.none()
        # EXISTS rather than a join on tags: the admin would add DISTINCT over the whole table.
        return queryset.filter(Exists(Customer.tags.through.objects.filter(customer=OuterRef("pk"),
                                                                          tag=int(self.value()))))


class HasAccountFilter(admin.SimpleListFilter):
    title = gettext_lazy("account")
    parameter_name = "account"

    def lookups(self, request, model_admin):
        return [("yes", _("Has an account")), ("no", _("Guest"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(user__isnull=False)
        if self.value() == "no":
            return queryset.filter(user__isnull=True)
        return queryset


class LastOrderFilter(admin.SimpleListFilter):
    title = gettext_lazy("last order")
    parameter_name = "last_order"
    WITHIN = {"30d": 30, "90d": 90, "365d": 365}

    def lookups(self, request, model_admin):
        return [("30d", _("In the last 30 days")), ("90d", _("In the last 90 days")),
                ("365d", _("In the last year")), ("over_year", _("Over a year ago")), ("never", _("Never"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() in self.WITHIN:
            return queryset.filter(last_order_at__gte=now - timedelta(days=self.WITHIN[self.value()]))
        if self.value() == "over_year":
            return queryset.filter(last_order_at__lt=now - timedelta(days=365))
        if self.value() == "never":
            return queryset.filter(last_order_at__isnull=True)
        return queryset


class LifetimeValueFilter(admin.ListFilter):
    """Lifetime value between two amounts (either may be left empty), typed into two boxes.

    A value that is not an amount filters nothing and says so; the list never errors on it.
    """

    title = gettext_lazy("lifetime value")
    template = "admin/customers/customer/range_filter.html"
    parameters = ("ltv_min", "ltv_max")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.parameters:
            if name in params:
                self.used_parameters[name] = params.pop(name)[-1].strip()
        self.bounds: dict[str, Decimal] = {}
        for name, text in self.used_parameters.items():
            if not text:
                continue
            try:
                amount = Decimal(text.replace(",", ""))
            except InvalidOperation:
                amount = None
            if amount is None or not amount.is_finite() or amount < 0:
                messages.error(request, _("“%(value)s” is not an amount; the lifetime value filter ignores it.")
                               % {"value": text})
                continue
            self.bounds[name] = amount

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return list(self.parameters)

    def queryset(self, request, queryset):
        if "ltv_min" in self.bounds:
            queryset = queryset.filter(total_spent__gte=self.bounds["ltv_min"])
        if "ltv_max" in self.bounds:
            queryset = queryset.filter(total_spent__lte=self.bounds["ltv_max"])
        return queryset

    def choices(self, changelist):
        # One "choice" carrying what the template needs: the values and the other parameters to keep.
        # The page number is dropped: a narrower list may not have that page.
        keep = [(key, value) for key, values in changelist.params.items() if key not in (*self.parameters, "p")
                for value in (values if isinstance(values, list) else [values])]
        yield {
            "ltv_min": self.used_parameters.get("ltv_min", ""),
            "ltv_max": self.used_parameters.get("ltv_max", ""),
            "keep": keep,
            "clear_url": changelist.get_query_string(remove=list(self.parameters)),
            "active": bool(self.bounds),
        }


# --- Forms ---------------------------------------------------------------------------------------


class CustomerActionForm(ActionForm):
    """The list's action bar, with the box the "Add tag" action reads."""

    tag_name = forms.CharField(label=gettext_lazy("Tag"), required=False, max_length=50)


class NoteForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Note.Kind.choices, initial=Note.Kind.NOTE)
    body = forms.CharField(label=gettext_lazy("Note"), widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))
    visible_to_customer = forms.BooleanField(label=gettext_lazy("Visible to the customer"), required=False)


class VerifyPhoneForm(forms.Form):
    phone = forms.CharField(label=gettext_lazy("Phone number"), max_length=40)
    note = forms.CharField(label=gettext_lazy("How it was checked"), max_length=200,
                           help_text=gettext_lazy("E.g. ID seen at the counter, called back on this number."))


class UnverifyPhoneForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)


class EraseForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200,
                             help_text=gettext_lazy("Kept in the audit log, e.g. the customer's request by email."))


# --- Admin ---------------------------------------------------------------------------------------


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)  # the customer page's tag box searches here
    list_display = ("name",)


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """Who exported or erased customer data: read-only, written only by services."""

    list_display = ("created_at", "action", "actor_repr", "detail")
    list_filter = ("action",)
    date_hierarchy = "created_at"
    list_per_page = 100
    fields = ("created_at", "action", "actor_repr", "customer", "detail", "data")
    readonly_fields = fields


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name_and_email", "has_account", "order_count", "lifetime_value", "last_order_at",
                    "rfm_segment", "consent", "tag_list")
    list_filter = (SegmentFilter, TagFilter, HasAccountFilter, "accepts_marketing", LifetimeValueFilter,
                   LastOrderFilter)
    list_per_page = 50
    # "(N total)" beside a filtered count would count the whole table once more on every page.
    show_full_result_count = False
    # "Show counts" would count every choice of every filter over the whole table on each load.
    show_facets = admin.ShowFacets.NEVER
    # Phone numbers are searched on their own (see get_search_results).
    search_fields = ("email", "first_name", "last_name")
    search_help_text = gettext_lazy("An email address, a phone number, or words from the name or email.")
    actions = ["export_selected", "add_tag_to_selected"]
    action_form = CustomerActionForm
    autocomplete_fields = ("tags",)
    fieldsets = (
        (gettext_lazy("Profile"), {"fields": (("email", "account"), ("first_name", "last_name"),
                                              ("phone", "language"), "created_at")}),
        (gettext_lazy("Tags"), {"fields": ("tags",)}),
    )
    readonly_fields = ("email", "account", "created_at")
    change_form_template = "admin/customers/customer/change_form.html"
    change_list_template = "admin/customers/customer/change_list.html"

    # --- What may be done ---

    def has_add_permission(self, request):
        return False  # customers come from checkout and sign-up, keyed by their email

    def has_delete_permission(self, request, obj=None):
        # The cascade would take addresses, consent history and notes with it and orphan the
        # orders; erasing personal data ("Erase personal data" button) is the only way out.
        return False

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm(ERASE_PERMISSION)

    # --- List ---

    def get_queryset(self, request):
        return customer_list()

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}),
                                                 "can_export": self.has_export_permission(request)})

    def get_search_results(self, request, queryset, search_term):
        """A whole email address is one indexed lookup; digits (with spaces, +, -, dots or brackets)
        search the phone; anything else searches inside the names and email (every word must
        match one of them). On PostgreSQL trigram indexes (migration 0003) serve the "inside"."""
        term = search_term.strip()
        if "@" in term and " " not in term:
            return queryset.filter(email=term.lower()), False
        if PHONE_LIKE.fullmatch(term) and sum(char.isdigit() for char in term) >= 4:
            return queryset.filter(phone__icontains=term), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=gettext_lazy("customer"), ordering="email")
    def name_and_email(self, customer: Customer) -> str:
        if customer.full_name:
            return format_html("{}<br><small>{}</small>", customer.full_name, customer.email)
        return customer.email

    @admin.display(description=gettext_lazy("account"), boolean=True, ordering="user")
    def has_account(self, customer: Customer) -> bool:
        return customer.user_id is not None

    @admin.display(description=gettext_lazy("lifetime value"), ordering="total_spent")
    def lifetime_value(self, customer: Customer) -> str:
        return format_money(customer.total_spent)

    @admin.display(description=gettext_lazy("consent"), boolean=True, ordering="accepts_marketing")
    def consent(self, customer: Customer) -> bool:
        return customer.accepts_marketing

    @admin.display(description=gettext_lazy("tags"))
    def tag_list(self, customer: Customer) -> str:
        return ", ".join(tag.name for tag in customer.tags.all())  # prefetched: no query per row

    # --- Actions ---

    @admin.action(description=gettext_lazy("Export to CSV (audited)"), permissions=["export"])
    def export_selected(self, request, queryset):
        select_across = request.POST.get("select_across") == "1"
        filters = self._filters(request)
        filters["selection"] = "all matching" if select_across else "selected rows"
        return self._csv_response(request, queryset, filters)

    @admin.action(description=gettext_lazy("Add the tag typed in the box"), permissions=["change"])
    def add_tag_to_selected(self, request, queryset):
        try:
            tag, added = add_tag(customers=queryset, tag_name=request.POST.get("tag_name", ""))
        except CRMError as error:
            self.message_user(request, _("%(error)s Nothing was changed.") % {"error": error}, messages.ERROR)
            return None
        self.message_user(request, ngettext(
            "Tag “%(tag)s” added to %(count)d customer.", "Tag “%(tag)s” added to %(count)d customers.", added,
        ) % {"tag": tag.name, "count": added}, messages.SUCCESS)
        return None

    def _filters(self, request: HttpRequest) -> dict:
        """The list's filter and search as the audit log keeps them (paging and sorting left out)."""
        return {key: values if len(values) > 1 else values[0] for key, values in request.GET.lists()
                if key not in ("p", "o", "e")}

    def _csv_response(self, request: HttpRequest, queryset, filters: dict) -> StreamingHttpResponse:
        lines = export_customers(customers=queryset, actor=request.user, filters=filters)
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
        return response

    # --- Extra views: export of the filtered list, notes, erasure ---

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        admin_view = self.admin_site.admin_view
        # Before the default URLs: their "<object_id>/" catch-all would take these otherwise.
        return [
            path("export/", admin_view(self.export_view), name="%s_%s_export" % info),
            path("<path:object_id>/note/", admin_view(self.note_view), name="%s_%s_note" % info),
            path("<path:object_id>/erase/", admin_view(self.erase_view), name="%s_%s_erase" % info),
            path("<path:object_id>/verify-phone/", admin_view(self.verify_phone_view),
                 name="%s_%s_verify_phone" % info),
            path("<path:object_id>/unverify-phone/", admin_view(self.unverify_phone_view),
                 name="%s_%s_unverify_phone" % info),
        ] + super().get_urls()

    def _url(self, name: str, *args) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args,
                       current_app=self.admin_site.name)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The whole filtered list as CSV (the same filters and search as the list page's URL)."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            self.message_user(request, _("The list's filters are not valid; nothing was exported."), messages.ERROR)
            return HttpResponseRedirect(self._url("changelist"))
        filters = self._filters(request)
        filters["selection"] = "all matching"
        return self._csv_response(request, changelist.get_queryset(request), filters)

    def _customer_or_404(self, request: HttpRequest, object_id: str) -> Customer:
        customer = self.get_object(request, unquote(object_id))
        if customer is None:
            raise Http404
        return customer

    def note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm(NOTE_PERMISSION):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        customer = self._customer_or_404(request, object_id)
        change_url = self._url("change", customer.pk)
        form = NoteForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _("The note was not added: choose a kind and write the note."), messages.ERROR)
            return HttpResponseRedirect(change_url)
        try:
            add_note(customer=customer, author=request.user, **form.cleaned_data)
        except CRMError as error:
            self.message_user(request, _("The note was not added: %(error)s") % {"error": error}, messages.ERROR)
        else:
            self.message_user(request, _("Note added."), messages.SUCCESS)
        return HttpResponseRedirect(change_url)

    def _phone_customer(self, request: HttpRequest, object_id: str) -> Customer:
        """The customer whose phone verification staff change: they must be allowed to change it."""
        customer = self._customer_or_404(request, object_id)
        if not self.has_change_permission(request, customer) or customer.erased_at is not None:
            raise PermissionDenied
        return customer

    def verify_phone_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Staff record that a number is proved to be this customer's (checked at the counter, a
        call back): counter sales and WhatsApp messages giving it then attach here."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        customer = self._phone_customer(request, object_id)
        form = VerifyPhoneForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _("The phone was not verified: give the number and how it was checked."),
                              messages.ERROR)
        else:
            try:
                verify_phone(customer_id=customer.pk, user=request.user, **form.cleaned_data)
            except ValueError as error:
                self.message_user(request, _("The phone was not verified: %(error)s") % {"error": error},
                                  messages.ERROR)
            else:
                self.message_user(request, _("Phone number verified."), messages.SUCCESS)
        return HttpResponseRedirect(self._url("change", customer.pk))

    def unverify_phone_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        customer = self._phone_customer(request, object_id)
        form = UnverifyPhoneForm(request.POST)
        try:
            unverify_phone(customer_id=customer.pk, user=request.user,
                           reason=form.cleaned_data["reason"] if form.is_valid() else "")
        except ValueError as error:
            self.message_user(request, _("The verification was kept: %(error)s") % {"error": error}, messages.ERROR)
        else:
            self.message_user(request, _("The phone number is no longer verified."), messages.SUCCESS)
        return HttpResponseRedirect(self._url("change", customer.pk))

    def erase_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: what erasure does, and a form asking for the reason. POST: erase."""
        if not self.has_erase_permission(request):
            raise PermissionDenied
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        customer = self._customer_or_404(request, object_id)
        change_url = self._url("change", customer.pk)
        if customer.erased_at is not None:
            self.message_user(request, _("This customer's personal data has already been erased."), messages.INFO)
            return HttpResponseRedirect(change_url)
        form = EraseForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                erase_customer(customer=customer, actor=request.user, reason=form.cleaned_data["reason"])
            except ErasureRefused as error:
                self.message_user(request, _("Nothing was erased: %(error)s") % {"error": error}, messages.ERROR)
            else:
                self.message_user(request, _("The customer's personal data was erased; their orders are kept."),
                                  messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "original": customer, "customer": customer, "form": form,
            "title": _("Erase the personal data of %(customer)s") % {"customer": customer},
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/customers/customer/erase_form.html", context)

    # --- The customer page ---

    @admin.display(description=gettext_lazy("account"))
    def account(self, customer: Customer) -> str:
        if customer.user_id is None:
            return _("Guest (no account)")
        return format_html("{} <small>({})</small>", customer.user.get_username(), _("has an account"))

    def get_object(self, request, object_id, from_field=None):
        # The profile shows the account's username: read it with the customer, not after.
        queryset = Customer.objects.select_related("user")
        model_field = self.opts.pk if from_field is None else self.opts.get_field(from_field)
        try:
            return queryset.get(**{model_field.name: model_field.to_python(object_id)})
        except (Customer.DoesNotExist, ValueError, ValidationError):
            return None

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            page = customer_page(customer=obj)
            context.update({
                "page": page,
                "ltv": format_money(obj.total_spent),
                "aov": format_money(obj.average_order_value),
                "note_form": NoteForm() if request.user.has_perm(NOTE_PERMISSION) else None,
                "note_url": self._url("note", obj.pk),
                "erase_url": self._url("erase", obj.pk) if self.has_erase_permission(request) else "",
                "can_verify_phone": self.has_change_permission(request, obj) and obj.erased_at is None,
                "verify_phone_form": VerifyPhoneForm(initial={"phone": obj.verified_phone or obj.phone}),
                "unverify_phone_form": UnverifyPhoneForm(),
                "verify_phone_url": self._url("verify_phone", obj.pk),
                "unverify_phone_url": self._url("unverify_phone", obj.pk),
                "orders_url": reverse("admin:orders_order_changelist") + "?" + urlencode({"q": obj.email}),
            })
        return super().render_change_form(request, context, add, change, form_url, obj)
