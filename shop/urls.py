from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.urls import include, path
from django.views.generic import TemplateView

from catalog.sitemaps import CategorySitemap, ProductSitemap
from catalog.sitemaps import index as sitemap_index
from customers.views.signin import staff_entrance

from .health import healthz

sitemaps = {"categories": CategorySitemap, "products": ProductSitemap}

admin.site.site_header = f"{settings.STORE_NAME} back office"
admin.site.site_title = settings.STORE_NAME
admin.site.index_title = "Back office"
# Staff sign in on the store's sign-in page (limits on guessing, authenticator codes), not on
# Django's admin form; before `admin.site.urls` below builds the admin's URLs from the site.
staff_entrance(admin.site)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("sitemap.xml", sitemap_index, {"sitemaps": sitemaps}, name="sitemap-index"),
    path("sitemap-<section>.xml", sitemap_views.sitemap, {"sitemaps": sitemaps},
         name="django.contrib.sitemaps.views.sitemap"),
    path("robots.txt", TemplateView.as_view(template_name="robots.txt", content_type="text/plain"), name="robots"),
    path("account/", include("allauth.urls")),
    path("account/", include("customers.urls")),
    path("cart/", include("carts.urls")),
    path("orders/", include("orders.urls")),
    path("returns/", include("returns.urls")),
    path("payments/", include("payments.urls")),
    path("checkout/", include("checkout.urls")),
    path("", include("chat.urls")),
    path("gift-cards/", include("giftcards.urls")),
    path("promotions/", include("promotions.urls")),
    path("pos/", include("pos.urls")),
    path("", include("catalog.urls")),
]

if settings.SERVE_MEDIA:
    # Uploaded images served by the store itself, with their real content type and cache headers
    # (catalog/media.py): right for one machine; docs/operations.md shows nginx and object storage.
    from django.urls import re_path

    from catalog.media import serve_media

    urlpatterns.insert(0, re_path(r"^media/(?P<path>.*)$", serve_media, name="media"))
