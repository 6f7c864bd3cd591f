"""Account pages: privacy (download my data, delete my account) and one-click unsubscribe.

Download and delete act on the signed-in customer's own record only: there is no id in their
URLs, so no other customer's data is reachable through them. Unsubscribe is reached from an
email without signing in; its signed token is the only key (customers/unsubscribe.py).
"""
from __future__ import annotations

import json
import secrets
import time

from allauth.account.decorators import reauthentication_required
from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from analytics import recorder

from ..services import customer_for_user
from ..services.data_export import export_customer_data
from ..services.privacy import ErasureRefused, erase_customer, unsubscribe
from ..unsubscribe import customer_from_unsubscribe_token


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that my account, addresses, wishlist and saved details are deleted for good."),
        error_messages={"required": _("Tick the box to confirm that you want your account deleted.")},
    )


# The download after "Download my data": its one-time token lives in the session, so the link
# works only in the browser that re-entered the password, once, and for a few minutes.
DOWNLOAD_SESSION_KEY = "privacy_download"
DOWNLOAD_TTL_SECONDS = 300


def _pending_download(request: HttpRequest) -> str | None:
    """The token of the download this session may still fetch, or None."""
    pending = request.session.get(DOWNLOAD_SESSION_KEY)
    if not isinstance(pending, dict) or pending.get("expires", 0) < time.time():
        return None
    return pending.get("token")


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
@login_required
# The file holds every address, order and phone number on record: the download (not the page)
# asks for the password again, as deleting does. allauth replays the POST after the password;
# whatever answers a replayed POST is shown at the password page's address, so the POST answers
# with a redirect to this page, which offers the file (and starts it, without JavaScript, by a
# meta refresh to the attachment: the browser saves it and stays on the page).
@reauthentication_required(enabled=lambda request: request.method == "POST")  # not GET or HEAD
def privacy(request: HttpRequest) -> HttpResponse:
    """The privacy page; "Download my data" posts here and comes back to a one-time download."""
    if request.method == "POST":
        request.session[DOWNLOAD_SESSION_KEY] = {
            "token": secrets.token_urlsafe(24), "expires": time.time() + DOWNLOAD_TTL_SECONDS,
        }
        return redirect("customers:privacy", permanent=False)
    customer = customer_for_user(user=request.user)
    token = _pending_download(request)
    download_url = reverse("customers:privacy-download", args=[token]) if token else ""
    return render(request, "customers/privacy.html", {"customer": customer, "download_url": download_url})


@require_safe
@never_cache
@login_required
def privacy_download(request: HttpRequest, token: str) -> HttpResponse:
    """The JSON file, once per "Download my data" (the export is recorded each time it is made)."""
    pending = _pending_download(request)
    if pending is None or not secrets.compare_digest(pending, token):
        messages.info(request, _("That download link has expired or was already used. Press “Download my data” "
                                 "to get a new one."))
        return redirect("customers:privacy")
    if request.method == "HEAD":  # a link checker's look does not use the download up
        return HttpResponse(content_type="application/json; charset=utf-8")
    del request.session[DOWNLOAD_SESSION_KEY]
    data = export_customer_data(customer=customer_for_user(user=request.user))
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    filename = f"my-data-{timezone.localdate().isoformat()}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
@login_required
# allauth asks for the password again (GET and POST alike) unless the shopper re-entered it in the
# last ACCOUNT_REAUTHENTICATION_TIMEOUT seconds; a POST that needs it is replayed after.
@reauthentication_required
def delete_account(request: HttpRequest) -> HttpResponse:
    customer = customer_for_user(user=request.user)
    form = DeleteAccountForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            # This browser is theirs: its analytics events go too, signed in or not (docs/privacy.md).
            visitor = recorder.visitor_cookie(request)
            erase_customer(customer=customer, actor=request.user, reason="Deleted by the customer from their account",
                           visitor_ids=[visitor] if visitor else [])
        except ErasureRefused as exc:
            error = exc.message
        else:
            # The account is gone; end this session (and with it the cart id and any messages).
            logout(request)
            response = redirect("customers:privacy-deleted")
            # and the visitor id its events were under: the browser starts afresh.
            response.delete_cookie(recorder.VISITOR_COOKIE, samesite="Lax")
            return response
    return render(request, "customers/privacy_delete.html", {"form": form, "customer": customer, "error": error})


@require_safe
@never_cache
def account_deleted(request: HttpRequest) -> HttpResponse:
    return render(request, "customers/privacy_deleted.html")


# RFC 8058: mail clients POST "List-Unsubscribe=One-Click" to this URL with no cookies and no
# CSRF token. The signed token is the only authority, and it allows only stopping marketing
# email, so a forged cross-site POST could do nothing its holder could not do anyway.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    customer = customer_from_unsubscribe_token(token)
    if customer is None:
        return render(request, "customers/unsubscribe_invalid.html", status=404)
    if request.method == "POST":
        unsubscribe(customer=customer)
        return render(request, "customers/unsubscribe_done.html")
    # A GET never unsubscribes: mail scanners and link previews open links without a person.
    return render(request, "customers/unsubscribe.html", {"token": token})


urlpatterns = [
    path("privacy/", privacy, name="privacy"),
    path("privacy/download/<str:token>/", privacy_download, name="privacy-download"),
    path("privacy/delete/", delete_account, name="privacy-delete"),
    path("privacy/deleted/", account_deleted, name="privacy-deleted"),
    path("unsubscribe/<str:token>/", unsubscribe_view, name="unsubscribe"),
]
