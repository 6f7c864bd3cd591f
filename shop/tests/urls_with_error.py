"""The project's URLconf plus a view that fails, to see the real 500 page and its headers."""
from django.urls import path

from shop.urls import urlpatterns as project_patterns


def fail(request):
    raise RuntimeError("a bug")


urlpatterns = [path("fail/", fail), *project_patterns]
