"""How django-allauth fits the store: emails from the store's address in the store's style,
failed sign-ins on the customer's timeline.

Links in allauth's emails (verify, reset) are built from the request's host, which Django has
checked against ALLOWED_HOSTS, as allauth does by default; the layout's header links to SITE_URL.
"""
from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest

from shop.site import absolute_url


class AccountAdapter(DefaultAccountAdapter):
    def get_from_email(self) -> str:
        return settings.DEFAULT_FROM_EMAIL

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # The store's email layout (templates/emails/base.html) needs these, as order emails have.
        context = {"store_name": settings.STORE_NAME, "site_url": absolute_url("/"), **context}
        super().send_mail(template_prefix, email, context)

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        """A wrong password for an existing account goes on its customer's timeline (with the
        address it came from); attempts at unknown addresses are not recorded anywhere."""
        from .services.accounts import record_sign_in_failed

        email = credentials.get("email") or ""
        if email:
            record_sign_in_failed(email=email, ip=self.get_client_ip(request))
