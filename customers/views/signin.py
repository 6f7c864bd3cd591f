"""The back office's entrance: staff sign in through the store's one sign-in flow.

Django's own admin login form checks a username and password with no limit on guesses and no
second factor. `staff_entrance(admin.site)` (called by shop/urls.py before the admin's URLs are
built) sends /admin/login/ to allauth's sign-in page instead (allauth's `secure_admin_login`),
where the limits of customers/signin.py and the authenticator code apply; staff sign in with
their email address. The admin's "Change password" goes to the account's password page, which
allauth limits per user and confirms by email.
"""
from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from .. import signin


def staff_entrance(site: AdminSite) -> None:
    """Route `site`'s sign-in and password change through the store's account pages, and keep it
    closed to a session that signed in without the authenticator app its user needs."""
    admin_login = secure_admin_login(site.login)
    admin_has_permission = site.has_permission

    def login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if request.user.is_authenticated and signin.enrolment_pending(request):
            messages.warning(request, _("Set up your authenticator app to continue to the back office."))
            return redirect("mfa_activate_totp")
        return admin_login(request, extra_context)

    def has_permission(request: HttpRequest) -> bool:
        return admin_has_permission(request) and not signin.enrolment_pending(request)

    def password_change(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return redirect("account_change_password")

    site.login = login
    site.has_permission = has_permission
    site.password_change = password_change
