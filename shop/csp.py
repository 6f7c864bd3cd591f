"""Content-Security-Policy: django-csp's middleware with a second policy for the back office.

The storefront's policy (settings.CONTENT_SECURITY_POLICY) is strict: scripts, styles, images,
fonts and requests from the store's own origin only, no inline script or style, no nonces (its
pages are cached whole and shared between visitors, and a nonce must differ per response).

The Django admin and its add-ons write inline `<style>` blocks and `style=` attributes, and the
packing slip's Print button is an inline `onclick`, so under the admin's path the policy adds:
- style-src 'unsafe-inline': inline styles (CSS cannot run script; staff-only pages);
- script-src 'unsafe-hashes' with the hash of `window.print()`: that one handler and nothing else.
Everything else stays as strict as the storefront's: no inline `<script>`, no eval, no other
origin, no framing.

The plain 500 page carries its own `<style>` (it must render whatever broke, static files
included); its hash is allowed on error responses only.
"""
from __future__ import annotations

import base64
import hashlib
import re
from functools import cache

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import NoReverseMatch, reverse

# Inline event handlers the back office uses, allowed by their hash ('unsafe-hashes').
ADMIN_INLINE_HANDLERS = ("window.print()",)


def source_hash(text: str) -> str:
    """A CSP hash source for `text`: "'sha256-…'"."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def admin_relaxations() -> dict[str, list[str]]:
    return {
        "style-src": ["'unsafe-inline'"],
        "script-src": ["'unsafe-hashes'", *(source_hash(handler) for handler in ADMIN_INLINE_HANDLERS)],
    }


@cache
def error_page_style_hash() -> str | None:
    """The hash of templates/500.html's `<style>` block (the template has no tags inside it)."""
    for directory in settings.TEMPLATES[0]["DIRS"]:
        try:
            source = (directory / "500.html").read_text()
        except OSError:
            continue
        found = re.search(r"<style>(.*?)</style>", source, re.S)
        return source_hash(found[1]) if found else None
    return None


@cache
def _admin_prefix() -> str | None:
    try:
        return reverse("admin:index")
    except NoReverseMatch:
        return None


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(self, request: HttpRequest, response: HttpResponseBase,
                         report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        additions: dict[str, list[str]] = {}
        prefix = _admin_prefix()
        if prefix and request.path_info.startswith(prefix):
            additions = admin_relaxations()
        elif response.status_code >= 500 and error_page_style_hash():
            additions = {"style-src": [error_page_style_hash()]}
        if additions:
            update = dict(parts.update or {})
            for directive, sources in additions.items():
                update[directive] = [*update.get(directive, ()), *sources]
            parts.update = update
        return parts
