"""Campaigns in the back office: write, preview, send a test, send (after a confirmation), follow.

A campaign is edited only while it is a draft; from "send" on it is a record, and what staff may
still do are buttons that call one service each (cancel, resume). Sending needs the
`marketing.send_campaign` permission; writing and test sends need `marketing.change_campaign`.
"""
from __future__ import annotations

from functools import wraps
from smtplib import SMTPException
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from customers.selectors.segments import segment_customers
from shop.admin import ReadOnlyAdmin

from . import services
from .exceptions import CampaignError
from .forms import CampaignForm, SendTestForm
from .models import Campaign, CampaignMessage
from .selectors import campaign_counts, with_message_counts

SEND_PERMISSION = "marketing.send_campaign"
CHANGE_PERMISSION = "marketing.change_campaign"


def button(*methods: str, permission: str | None):
    """An admin view of one campaign, `view(self, request, campaign)`: permission (403; None: may
    view campaigns), method (405), campaign exists (404), in that order. Buttons that change
    something take POST only, so the admin's CSRF check covers them."""

    def decorate(view):
        @wraps(view)
        def checked(self, request: HttpRequest, object_id: str) -> HttpResponse:
            allowed = self.has_view_permission(request) if permission is None else request.user.has_perm(permission)
            if not allowed:
                raise PermissionDenied
            if request.method not in methods:
                return HttpResponseNotAllowed(methods)
            campaign = self.get_object(request, unquote(object_id))
            if campaign is None:
                raise Http404
            return view(self, request, campaign)

        return checked

    return decorate


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ("name", "status", "segment", "recipient_count", "sent", "failed", "sent_at")
    list_filter = ("status",)
    list_select_related = ("segment",)
    list_per_page = 50
    search_fields = ("name", "subject")
    fieldsets = (
        (None, {"fields": ("name", "segment")}),
        (gettext_lazy("Email"), {"fields": ("subject", "html_body", "text_body")}),
        (gettext_lazy("Sending"), {"fields": (("status", "recipient_count"), ("created_by", "sent_by"),
                                              ("sent_at", "finished_at"))}),
    )
    change_form_template = "admin/marketing/campaign/change_form.html"

    def get_queryset(self, request):
        return with_message_counts(super().get_queryset(request))

    def get_readonly_fields(self, request, obj=None):
        sending = ("status", "recipient_count", "created_by", "sent_by", "sent_at", "finished_at")
        if obj is not None and not obj.is_draft:
            return ("name", "segment", "subject", "html_body", "text_body") + sending
        return sending

    def has_change_permission(self, request, obj=None):
        # Only a draft is edited: what was sent stays what it was (the page is then view-only).
        return super().has_change_permission(request, obj) and (obj is None or obj.is_draft)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_draft)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description=gettext_lazy("sent"), ordering="sent_count")
    def sent(self, campaign: Campaign) -> int:
        return campaign.sent_count

    @admin.display(description=gettext_lazy("failed"), ordering="failed_count")
    def failed(self, campaign: Campaign) -> int:
        return campaign.failed_count

    # --- The campaign page ---

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self._campaign_page_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _campaign_page_context(self, request: HttpRequest, campaign: Campaign) -> dict:
        can_send = request.user.has_perm(SEND_PERMISSION)
        can_change = request.user.has_perm(CHANGE_PERMISSION)
        S = Campaign.Status
        counts = campaign_counts(campaign=campaign) if not campaign.is_draft else None
        return {
            "campaign": campaign,
            "counts": counts,
            "count_links": self._count_links(campaign) if counts else {},
            "buttons": {
                "preview": True,
                "test": can_change,
                "send": can_send and campaign.status == S.DRAFT,
                "cancel": can_send and campaign.status in (S.DRAFT, S.SENDING),
                "resume": can_send and campaign.status == S.SENDING,
            },
            "test_form": SendTestForm(initial={"to": request.user.email}),
            "action_urls": {name: self._url(name, campaign) for name in ("preview", "test", "send", "cancel", "resume")},
        }

    def _count_links(self, campaign: Campaign) -> dict[str, str]:
        """Each figure links to the messages it counts."""
        base = reverse("admin:marketing_campaignmessage_changelist", current_app=self.admin_site.name)
        links = {"recipients": f"{base}?{urlencode({'campaign__id__exact': campaign.pk})}"}
        for status in CampaignMessage.Status.values:
            links[status] = f"{base}?{urlencode({'campaign__id__exact': campaign.pk, 'status__exact': status})}"
        return links

    # --- Buttons ---

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        views = {
            "preview": ("preview", self.preview_view),
            "test": ("send-test", self.send_test_view),
            "send": ("send", self.send_view),
            "cancel": ("cancel", self.cancel_view),
            "resume": ("resume", self.resume_view),
        }
        # Before the default URLs: their "<object_id>/" catch-all would take these otherwise.
        return [
            path(f"<path:object_id>/{segment}/", self.admin_site.admin_view(view), name="%s_%s_" % info + name)
            for name, (segment, view) in views.items()
        ] + super().get_urls()

    def _url(self, name: str, campaign: Campaign) -> str:
        return reverse(f"admin:marketing_campaign_{name}", args=[campaign.pk], current_app=self.admin_site.name)

    def _change_url(self, campaign: Campaign) -> str:
        return reverse("admin:marketing_campaign_change", args=[campaign.pk], current_app=self.admin_site.name)

    def _back(self, request: HttpRequest, campaign: Campaign, message: str, level=messages.SUCCESS):
        self.message_user(request, message, level)
        return HttpResponseRedirect(self._change_url(campaign))

    @button("GET", permission=None)
    def preview_view(self, request: HttpRequest, campaign: Campaign) -> HttpResponse:
        try:
            preview = services.preview_campaign(campaign=campaign)
        except CampaignError as error:
            return self._back(request, campaign, str(error), messages.ERROR)
        return self._page(request, campaign, "admin/marketing/campaign/preview.html",
                          title=_("Preview of %(name)s") % {"name": campaign.name}, preview=preview,
                          test_form=SendTestForm(initial={"to": request.user.email}),
                          can_test=request.user.has_perm(CHANGE_PERMISSION))

    @button("POST", permission=CHANGE_PERMISSION)
    def send_test_view(self, request: HttpRequest, campaign: Campaign) -> HttpResponse:
        form = SendTestForm(request.POST)
        if not form.is_valid():
            return self._back(request, campaign, _("Type the email address the test should go to; nothing was sent."),
                              messages.ERROR)
        to = form.cleaned_data["to"]
        try:
            services.send_test_email(campaign=campaign, to=to, actor=request.user)
        except CampaignError as error:
            return self._back(request, campaign, str(error), messages.ERROR)
        except (SMTPException, OSError) as error:
            return self._back(request, campaign, _("The mail server did not take the test email (%(error)s). "
                                                   "Nothing was sent; try again later.") % {"error": error},
                              messages.ERROR)
        return self._back(request, campaign, _("Test email sent to %(to)s.") % {"to": to})

    @button("GET", "POST", permission=SEND_PERMISSION)
    def send_view(self, request: HttpRequest, campaign: Campaign) -> HttpResponse:
        if not campaign.is_draft:
            return self._back(request, campaign, _("Campaign “%(name)s” is %(status)s; it is not sent again.") % {
                "name": campaign.name, "status": campaign.get_status_display().lower()}, messages.WARNING)
        if request.method == "POST":
            try:
                started = services.send_campaign(campaign=campaign, actor=request.user)
            except CampaignError as error:
                return self._back(request, campaign, str(error), messages.ERROR)
            if not started:  # a second click that waited for the first
                return self._back(request, campaign, _("Campaign “%(name)s” was already being sent; it is not sent "
                                                       "again.") % {"name": campaign.name}, messages.WARNING)
            campaign.refresh_from_db()
            return self._back(request, campaign, ngettext(
                "Sending “%(name)s” to %(count)d customer.", "Sending “%(name)s” to %(count)d customers.",
                campaign.recipient_count) % {"name": campaign.name, "count": campaign.recipient_count})
        recipients = members = 0
        problem = ""
        preview = None
        if campaign.segment is None:
            problem = _("Choose the segment this campaign goes to first.")
        else:
            try:
                members = segment_customers(campaign.segment).count()
                # The subject as a recipient gets it (as on the preview page), never the template.
                preview = services.preview_campaign(campaign=campaign)
                recipients = preview.recipient_count
            except CampaignError as error:
                problem = str(error)
        return self._page(request, campaign, "admin/marketing/campaign/send_confirmation.html",
                          title=_("Send %(name)s") % {"name": campaign.name}, recipients=recipients, members=members,
                          problem=problem, preview=preview)

    @button("POST", permission=SEND_PERMISSION)
    def cancel_view(self, request: HttpRequest, campaign: Campaign) -> HttpResponse:
        try:
            skipped = services.cancel_campaign(campaign=campaign)
        except CampaignError as error:
            return self._back(request, campaign, str(error), messages.ERROR)
        return self._back(request, campaign, ngettext(
            "Campaign cancelled; %(count)d unsent email will not be sent.",
            "Campaign cancelled; %(count)d unsent emails will not be sent.", skipped) % {"count": skipped})

    @button("POST", permission=SEND_PERMISSION)
    def resume_view(self, request: HttpRequest, campaign: Campaign) -> HttpResponse:
        try:
            pending = services.resume_campaign(campaign=campaign)
        except CampaignError as error:
            return self._back(request, campaign, str(error), messages.ERROR)
        return self._back(request, campaign, ngettext(
            "%(count)d unsent email queued again.", "%(count)d unsent emails queued again.", pending)
            % {"count": pending})

    def _page(self, request: HttpRequest, campaign: Campaign, template: str, *, title: str, **extra) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": campaign,
            "campaign": campaign,
            "title": title,
            "change_url": self._change_url(campaign),
            "action_urls": {name: self._url(name, campaign) for name in ("preview", "test", "send")},
            **extra,
        }
        return TemplateResponse(request, template, context)


@admin.register(CampaignMessage)
class CampaignMessageAdmin(ReadOnlyAdmin):
    """Each recipient's message, to see who got what and why one failed. Nothing here is edited."""

    list_display = ("email", "campaign", "status", "attempts", "sent_at", "error")
    list_filter = ("status", "campaign")
    list_select_related = ("campaign",)
    list_per_page = 100
    show_full_result_count = False
    search_fields = ("email",)
    readonly_fields = ("campaign", "customer", "email", "status", "attempts", "error", "sent_at", "created_at")
    raw_id_fields = ("customer",)


