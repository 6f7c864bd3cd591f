"""The outbox in the back office: what was sent, what is waiting, and why a send failed."""
from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from shop.admin import ReadOnlyAdmin

from . import services
from .delivery import UNSENT
from .models import OutboundEmail


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):
    list_display = ("key", "subject", "status", "attempts", "last_attempt_at", "next_attempt_at", "error", "sent_at",
                    "created_at")
    list_filter = ("status", "kind")
    search_fields = ("key", "subject", "order__number", "order__email")
    list_select_related = ("order",)
    list_per_page = 100
    date_hierarchy = "created_at"
    readonly_fields = (
        "key", "kind", "order", "params", "recipients", "subject", "status", "attempts", "last_error",
        "last_attempt_at", "next_attempt_at", "sent_at", "created_at", "updated_at",
    )
    actions = ["send_now"]

    @admin.display(description=_("last error"))
    def error(self, outbox: OutboundEmail) -> str:
        return Truncator(outbox.last_error).chars(120)

    @admin.action(description=_("Send the selected unsent emails now"))
    def send_now(self, request: HttpRequest, queryset: QuerySet[OutboundEmail]) -> None:
        """Whatever their schedule, given-up ones too (after fixing what the last error names)."""
        unsent = queryset.filter(status__in=UNSENT)
        count = failed = 0
        for outbox in unsent.order_by("pk"):
            try:
                services.enqueue_again(outbox=outbox)
            except Exception as error:  # the broker is down (outside a web process: in line)
                self.message_user(
                    request,
                    _("%(key)s could not be sent now: %(error)s") % {"key": outbox.key, "error": error},
                    messages.ERROR,
                )
                failed += 1
                continue
            count += 1
        if count or not failed:
            self.message_user(
                request,
                ngettext("%(count)d email queued for sending.", "%(count)d emails queued for sending.", count)
                % {"count": count},
                messages.SUCCESS,
            )
