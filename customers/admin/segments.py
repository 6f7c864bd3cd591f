"""Back office: segments.

The list shows each segment's size and share of revenue, computed for the whole page in one
aggregate query (selectors.segments.segment_figures), and a "Recompute scores now" button. A
segment's page shows the same figures and its members, 50 a page; a rule segment's form is its
rule editor, a manual list's form its members picker. "Export CSV" streams the members to a
user holding `customers.export_segment`, and the export is written to the audit log.
"""
from __future__ import annotations

import csv
from collections.abc import Iterator

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.http import StreamingHttpResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.money import format_money
from shop.spreadsheets import safe_text

from ..models import AuditLog, Customer, Segment
from ..selectors.segments import SegmentFigures, segment_customers, segment_figures
from ..services import record_audit

MEMBERS_PER_PAGE = 50
EXPORT_CHUNK = 1000
RULE_FIELDS = (
    ("min_total_spent", "max_total_spent"), "min_orders", "bought_from_category",
    ("no_order_for_days", "ordered_within_days"), "has_marketing_consent", "has_account", "tag",
    ("used_promotion", "used_code"),
)
EXPORT_COLUMNS = (
    "email", "first_name", "last_name", "orders", "lifetime_value", "last_order", "recency", "frequency",
    "monetary", "rfm_segment", "accepts_marketing",
)


class AnySelect(forms.NullBooleanSelect):
    """A yes/no rule that may be left out: "Any" rather than Django's "Unknown"."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("unknown", _("Any")), ("true", _("Yes")), ("false", _("No"))]


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = "__all__"
        widgets = {"has_marketing_consent": AnySelect, "has_account": AnySelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            # Built-in segments come with the store (migration 0003); staff make rule and manual ones.
            self.fields["kind"].choices = [c for c in Segment.Kind.choices if c[0] != Segment.Kind.RFM]

    def clean_used_code(self) -> str:
        from promotions.models import Code, normalize_code

        typed = self.cleaned_data.get("used_code", "")
        code = normalize_code(typed)
        if typed.strip() and not Code.objects.filter(code=code).exists():
            raise forms.ValidationError(_("There is no code “%(code)s”. Check it on the promotion's page.")
                                        % {"code": typed.strip()})
        return code

    def clean(self):
        data = super().clean()
        low, high = data.get("min_total_spent"), data.get("max_total_spent")
        if low is not None and high is not None and low > high:
            self.add_error("max_total_spent", _("“Spent at most” must not be less than “spent at least”."))
        quiet, recent = data.get("no_order_for_days"), data.get("ordered_within_days")
        if quiet is not None and recent is not None and recent <= quiet:
            self.add_error("ordered_within_days", _(
                "Nobody can have ordered in the last %(recent)d days without ordering in the last %(quiet)d: "
                "make it more than %(quiet)d, or clear one of the two."
            ) % {"recent": recent, "quiet": quiet})
        return data


class SegmentChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # The page's figures in one query, whatever the number of segments on it.
        figures = segment_figures(self.result_list)
        for segment in self.result_list:
            segment.figures = figures[segment.pk]


def _share(figures: SegmentFigures) -> str:
    return f"{figures.revenue_share * 100:.1f} %"


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ("name", "kind", "size", "revenue_share", "description")
    list_filter = ("kind",)
    search_fields = ("name",)
    list_per_page = 50
    autocomplete_fields = ("bought_from_category", "members")
    readonly_fields = ("size", "revenue", "revenue_share", "rfm_segment")
    change_form_template = "admin/customers/segment/change_form.html"
    change_list_template = "admin/customers/segment/change_list.html"

    # --- List ---

    def get_changelist(self, request, **kwargs):
        return SegmentChangeList

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Built-in segments must not go, and a bulk delete cannot tell them apart: one at a time.
        actions.pop("delete_selected", None)
        return actions

    def _figures(self, segment: Segment) -> SegmentFigures:
        if not hasattr(segment, "figures"):
            segment.figures = segment_figures([segment])[segment.pk]
        return segment.figures

    @admin.display(description=gettext_lazy("customers"))
    def size(self, segment: Segment) -> str:
        return f"{self._figures(segment).size:,}" if segment.pk else "–"

    @admin.display(description=gettext_lazy("lifetime value"))
    def revenue(self, segment: Segment) -> str:
        return format_money(self._figures(segment).revenue) if segment.pk else "–"

    @admin.display(description=gettext_lazy("share of revenue"))
    def revenue_share(self, segment: Segment) -> str:
        return _share(self._figures(segment)) if segment.pk else "–"

    # --- Page ---

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ("name", "kind", "description"),
                            "description": _("Save to go on to the rules or the members.")})]
        figures = (_("Figures"), {"fields": (("size", "revenue", "revenue_share"),)})
        if obj.kind == Segment.Kind.RFM:
            return [(None, {"fields": ("name", "rfm_segment", "description")}), figures]
        if obj.kind == Segment.Kind.MANUAL:
            return [(None, {"fields": ("name", "description")}), figures,
                    (_("Members"), {"fields": ("members",)})]
        return [(None, {"fields": ("name", "description")}), figures,
                (_("Rules"), {"fields": RULE_FIELDS,
                              "description": _("A customer is in the segment when every rule that is set holds. "
                                               "“No order in the last N days” includes customers who never "
                                               "ordered.")})]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.kind == Segment.Kind.RFM:
            return False
        return super().has_delete_permission(request, obj)

    def response_add(self, request, obj, post_url_continue=None):
        # The rules and members are edited on the segment's own page.
        if "_addanother" not in request.POST and "_popup" not in request.POST:
            request.POST = request.POST.copy()
            request.POST["_continue"] = "1"
        return super().response_add(request, obj, post_url_continue)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        segment = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if segment is not None:
            paginator = Paginator(
                segment_customers(segment).select_related(None).order_by("-total_spent", "pk"), MEMBERS_PER_PAGE
            )
            context["members_page"] = paginator.get_page(request.GET.get("members_page"))
            context["can_export"] = request.user.has_perm("customers.export_segment")
            context["export_url"] = reverse("admin:customers_segment_export", args=[segment.pk])
            context["customer_url"] = self._customer_url_pattern()
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _customer_url_pattern(self) -> str | None:
        """The customer pages' URL up to the id, when the customer admin is there."""
        try:
            return reverse("admin:customers_customer_change", args=[0]).removesuffix("0/change/")
        except NoReverseMatch:
            return None

    # --- Buttons ---

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("recompute/", wrap(self.recompute_view), name="customers_segment_recompute"),
            path("<path:object_id>/export/", wrap(self.export_view), name="customers_segment_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        context = {**(extra_context or {}), "can_recompute": super().has_change_permission(request)}
        return super().changelist_view(request, extra_context=context)

    def recompute_view(self, request: HttpRequest) -> HttpResponse:
        """POST: refresh every customer's figures and scores now, through the nightly task."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        from ..tasks import score_customers_task

        score_customers_task.delay()
        messages.success(request, _(
            "Recomputing every customer's figures and scores. With a worker running this takes a "
            "minute or two; reload the list to see the new sizes."
        ))
        return HttpResponseRedirect(reverse("admin:customers_segment_changelist"))

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: the segment's members as CSV, streamed; allowed with `customers.export_segment`.

        The member ids are read first, so the audit entry records exactly how many rows follow;
        the rows are then read 1,000 at a time while streaming.
        """
        if not request.user.has_perm("customers.export_segment"):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        segment = self.get_object(request, unquote(object_id))
        if segment is None:
            raise Http404
        if not self.has_view_permission(request, segment):
            raise PermissionDenied
        ids = list(segment_customers(segment).order_by("pk").values_list("pk", flat=True))
        record_audit(action=AuditLog.Action.SEGMENT_EXPORT, actor=request.user,
                     detail=f"Segment “{segment.name}”: {len(ids)} customers", segment_id=segment.pk,
                     segment=segment.name, count=len(ids))
        filename = f"segment-{segment.pk}-{timezone.now():%Y%m%d-%H%M}.csv"
        response = StreamingHttpResponse(self._csv_rows(ids), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"
        return response

    def _csv_rows(self, ids: list[int]) -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(EXPORT_COLUMNS)
        for start in range(0, len(ids), EXPORT_CHUNK):
            chunk = Customer.objects.filter(pk__in=ids[start:start + EXPORT_CHUNK]).order_by("pk")
            for c in chunk:
                yield writer.writerow([
                    safe_text(c.email), safe_text(c.first_name), safe_text(c.last_name), c.order_count,
                    c.total_spent, c.last_order_at.isoformat() if c.last_order_at else "", c.recency_score,
                    c.frequency_score, c.monetary_score, c.rfm_segment, "yes" if c.accepts_marketing else "no",
                ])
