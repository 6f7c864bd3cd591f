"""Content-Security-Policy and Permissions-Policy on every response (django-csp, shop/csp.py,
django-permissions-policy). That real pages keep to the policy is test_csp_browser.py."""
import base64
import hashlib
import re

import pytest
from django.test import Client

from shop.csp import ADMIN_INLINE_HANDLERS, source_hash
from shop.tests.test_templates import _project_templates

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


@pytest.mark.parametrize("url", ["/", "/p/storm-shell/", "/cart/", "/account/login/", "/healthz"])
def test_the_storefront_policy_is_strict(client, storefront_catalog, url):
    response = client.get(url)

    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]  # nothing inline, no nonce
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'", "https://checkout.stripe.com"]  # Checkout is a redirect after a post


def test_a_page_from_the_shared_cache_carries_the_same_policy(client, storefront_catalog):
    first = client.get("/p/storm-shell/")
    again = client.get("/p/storm-shell/")

    assert (first["X-Cache"], again["X-Cache"]) == ("miss", "hit")
    assert again["Content-Security-Policy"] == first["Content-Security-Policy"]
    assert "nonce-" not in again["Content-Security-Policy"]


def test_media_from_a_cdn_may_be_shown_when_its_host_is_listed():
    from shop.tests.test_settings import _manage

    code = "from django.conf import settings; print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src'])"
    result = _manage("shell", "-c", code, CSP_IMG_HOSTS="https://media.example-cdn.com")

    assert result.stdout.split("\n")[-2] == "[\"'self'\", 'data:', 'https://media.example-cdn.com']", result.stderr


def test_the_back_office_relaxes_only_inline_styles_and_its_print_button(admin_client):
    csp = policy(admin_client.get("/admin/"))

    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]
    assert csp["script-src"] == ["'self'", "'unsafe-hashes'", source_hash("window.print()")]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["default-src"] == ["'self'"]


def test_the_hash_source_is_the_browsers():
    # What Chromium prints for `onclick="window.print()"` when it refuses it.
    digest = base64.b64encode(hashlib.sha256(b"window.print()").digest()).decode()

    assert source_hash("window.print()") == f"'sha256-{digest}'"


def test_the_error_page_may_use_its_own_inline_style_and_nothing_else(settings):
    settings.ROOT_URLCONF = "shop.tests.urls_with_error"
    client = Client(raise_request_exception=False)

    response = client.get("/fail/")

    assert response.status_code == 500
    [style] = re.findall(r"<style>(.*?)</style>", response.content.decode(), re.S)
    assert policy(response)["style-src"] == ["'self'", source_hash(style)]
    assert policy(client.get("/healthz"))["style-src"] == ["'self'"]


def test_every_inline_handler_in_the_templates_is_allowed_by_its_hash():
    # Inline handlers break under the policy unless listed; on the storefront there must be none.
    handlers = {}
    for path in _project_templates():
        for value in re.findall(r"""\son[a-z]+="([^"]*)\"""", path.read_text()):
            handlers.setdefault(value, []).append(str(path))

    assert set(handlers) <= set(ADMIN_INLINE_HANDLERS), handlers
    assert all("/print/" in path for paths in handlers.values() for path in paths)  # back-office documents


def test_inline_scripts_are_data_only():
    # A <script> without src is refused by script-src 'self'; JSON-LD is data and never runs.
    offenders = [
        str(path) for path in _project_templates()
        for tag in re.findall(r"<script\b[^>]*>", path.read_text())
        if "src=" not in tag and 'type="application/ld+json"' not in tag
    ]

    assert offenders == []


def test_permissions_policy_turns_off_what_the_store_does_not_use(client):
    header = client.get("/healthz")["Permissions-Policy"]

    features = dict(part.split("=") for part in header.split(", "))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "browsing-topics", "autoplay"):
        assert features[feature] == "()", feature
