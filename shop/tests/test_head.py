"""HEAD is GET without the body (RFC 9110): uptime monitors and link checkers send it.

Every route outside the admin, read from the URLconf (shop/tests/routes.py), is asked with HEAD
and then GET, by an anonymous visitor and by a signed-in shopper with a cart, an order and a
payment: the status, redirect and content type must agree, and HEAD has no body. A view that
allows GET but not HEAD (`require_GET`, `require_http_methods(["GET", "POST"])`) answers 405.
"""
import pytest

from .routes import shop_objects, storefront_routes, url_for

pytestmark = pytest.mark.django_db

ROUTES = storefront_routes()


def test_the_routes_cover_the_storefront():
    names = {route.name for route in ROUTES}

    assert {"healthz", "robots", "sitemap-index", "catalog:home", "catalog:product", "carts:detail",
            "checkout:details", "orders:detail_signed", "payments:status", "account_login",
            "customers:account"} <= names
    assert not any(name.startswith("admin:") for name in names)


@pytest.mark.parametrize("visitor", ["anonymous", "shopper"])
def test_every_route_answers_head_like_get_without_a_body(client, visitor):
    objects = shop_objects(client)
    if visitor == "anonymous":
        client.logout()

    wrong = []
    for route in ROUTES:
        url = url_for(route, objects)
        head = client.head(url)
        get = client.get(url)
        seen = [(response.status_code, response.get("Location"), response.get("Content-Type"))
                for response in (head, get)]
        if seen[0] != seen[1] or head.content:
            wrong.append(f"{url}: HEAD {seen[0]} {len(head.content)} bytes, GET {seen[1]}")

    assert not wrong, "\n".join(wrong)


def test_head_is_answered_by_the_server_without_a_body(live_server):
    # Through a real HTTP server (Django's, as runserver): the client, not the test harness,
    # sees no body.
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(live_server.url)
    for path in ("/healthz", "/robots.txt"):
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        connection.request("HEAD", path)
        response = connection.getresponse()

        assert response.status == 200, path
        assert response.read() == b""
        connection.close()
