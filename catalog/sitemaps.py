"""The sitemaps. Every location names SITE_URL (shop/site.py), like the pages' canonical links,
whatever host the crawler asked: a sitemap that disagrees with the canonical links is ignored."""
from urllib.parse import urlsplit

from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps import views as sitemap_views
from django.http import HttpRequest
from django.template.response import TemplateResponse

from shop.site import absolute_url, site_scheme_and_host

from .models import Product
from .selectors import CategoryNode, category_tree


class SiteSitemap(Sitemap):
    def get_protocol(self, protocol: str | None = None) -> str:
        return site_scheme_and_host()[0]

    def get_domain(self, site=None) -> str:
        return site_scheme_and_host()[1]


class CategorySitemap(SiteSitemap):
    changefreq = "daily"
    priority = 0.6

    def items(self) -> list[CategoryNode]:
        return list(category_tree().by_path.values())


class ProductSitemap(SiteSitemap):
    changefreq = "daily"
    priority = 0.8
    limit = 10_000

    def items(self):
        return Product.objects.published().only("slug", "updated_at").order_by("pk")

    def lastmod(self, item: Product):
        return item.updated_at


def index(request: HttpRequest, sitemaps: dict) -> TemplateResponse:
    """Django's sitemap index (sections, their pages, lastmod), its locations moved to SITE_URL.

    Django's view names the request's host; the response is rendered later, so its items can be
    corrected first.
    """
    response = sitemap_views.index(request, sitemaps)
    for item in response.context_data["sitemaps"]:
        location = urlsplit(item.location)
        item.location = absolute_url(f"{location.path}?{location.query}" if location.query else location.path)
    return response
