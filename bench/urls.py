"""The store's own URLs plus a bare view: the ceiling each storefront page is compared with.

Used only by the benchmark (ROOT_URLCONF=bench.urls); the bare view goes through the same
middleware as every page, so the difference is the page's own work.
"""
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/bare/", bare, name="bench-bare"),
    path("", include("shop.urls")),
]
