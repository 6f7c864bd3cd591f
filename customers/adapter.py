"""How django-allauth fits the store: emails from the store's address in the store's style,
failed sign-ins on the customer's timeline, and the sign-in rules of customers/signin.py (limits
per address, per account and per known device; the second factor superusers need).

Links in allauth's emails (verify, reset) are built from the request's host, which Django has
checked against ALLOWED_HOSTS, as allauth does by default; the layout's header links to SITE_URL.
"""
from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.reauthentication import reauthenticate_by_password
from allauth.core import context as allauth_context
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sites.shortcuts import get_current_site
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from shop import background
from shop.site import absolute_url

from . import signin

# Which message a refused sign-in gets, by the limit that refused it.
REFUSALS = {"account": "too_many_attempts_for_account", "address": "too_many_attempts_from_address"}


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # allauth.mfa says this for too many wrong authenticator codes.
        "too_many_login_attempts": _("Too many wrong codes. Wait a few minutes, then try again."),
        "too_many_attempts_for_account": _(
            "Too many failed sign-ins to this account. Wait a few minutes and try again, or reset "
            "your password to sign in now."
        ),
        "too_many_attempts_from_address": _(
            "Too many failed sign-ins from your network. Wait a few minutes, then try again."
        ),
    }

    def get_from_email(self) -> str:
        return settings.DEFAULT_FROM_EMAIL

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Render the message in the request, send it after the response (shop/background.py).

        allauth sends inside the request, so a mail server that does not answer held "Sign up",
        "Reset my password" and the like for the whole EMAIL_TIMEOUT. These emails (verification,
        reset keys, notices) bypass the outbox on purpose, so no reset link is stored: one that
        fails is logged, and the shopper asks for it again.
        """
        request = allauth_context.request
        # The store's email layout (templates/emails/base.html) needs these, as order emails have.
        context = {
            "request": request, "email": email, "current_site": get_current_site(request),
            "store_name": settings.STORE_NAME, "site_url": absolute_url("/"), **context,
        }
        message = self.render_mail(template_prefix, email, context)
        background.submit(message.send, name=f"account email {template_prefix}")

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        # allauth clears this key after a password reset; it must be the one counted below.
        return signin.account_key(credentials.get("email") or credentials.get("username") or "")

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """Before any password is checked (sign-in and re-authentication): count the attempt per
        address and per account or known device, or refuse it. allauth's `authenticate` gives the
        count back (`_login_failed_rl_usage`) when the password was right."""
        login = credentials.get("email") or credentials.get("username") or ""
        try:
            self._login_failed_rl_usage = signin.consume_password_attempt(request, login=login)
        except signin.TooManyAttempts as refused:
            self._login_failed_rl_usage = None
            raise self.validation_error(REFUSALS[refused.limit]) from None

    def authenticate(self, request: HttpRequest, **credentials: Any) -> AbstractBaseUser | None:
        user = super().authenticate(request, **credentials)
        # post_login may need to know the password was checked in this very request.
        request.password_checked = user is not None
        return user

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        """A wrong password for an existing account goes on its customer's timeline (with the
        address it came from); attempts at unknown addresses are not recorded anywhere."""
        from .services.accounts import record_sign_in_failed

        email = credentials.get("email") or ""
        if email:
            record_sign_in_failed(email=email, ip=self.get_client_ip(request))

    def post_login(self, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> HttpResponse:
        """Signed in (after the authenticator code, if any): this browser becomes a known device
        of the account; a superuser who needs an authenticator app and has none sets one up
        before anything else (the back office stays closed until then)."""
        response = super().post_login(request, user, **kwargs)
        if signin.second_factor_required(user) and not signin.has_authenticator_app(user):
            signin.require_enrolment(request)
            if getattr(request, "password_checked", False):
                # The set-up page asks to confirm the password; it was typed a moment ago, here.
                reauthenticate_by_password(request)
            messages.warning(request, _(
                "Superusers sign in with an authenticator app as well as a password. Set one up "
                "to continue to the back office."
            ))
            response = HttpResponseRedirect(reverse("mfa_activate_totp"))
        signin.remember_device(request, response, user=user)
        return response


class MFAAdapter(DefaultMFAAdapter):
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": _("Superusers keep two-factor sign-in on."),
    }

    def get_totp_issuer(self) -> str:
        # The name the authenticator app lists the code under.
        return settings.STORE_NAME

    def build_totp_svg(self, url: str) -> str:
        # Drawn inline in the page (templates/mfa/totp/activate_form.html): no XML declaration.
        svg = super().build_totp_svg(url)
        return svg[svg.index("<svg"):]

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """A superuser in production cannot turn their authenticator app off (another superuser
        can delete it in the back office, under Authenticators, if the phone is lost)."""
        if authenticator.type == Authenticator.Type.TOTP and signin.second_factor_required(authenticator.user):
            return False
        return super().can_delete_authenticator(authenticator)
