from django.contrib.sitemaps import Sitemap

from .models import Product
from .selectors import CategoryNode, category_tree


class CategorySitemap(Sitemap):
    changefreq = "daily"
    priority = 0.6

    def items(self) -> list[CategoryNode]:
        return list(category_tree().by_path.values())


class ProductSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.8
    limit = 10_000

    def items(self):
        return Product.objects.published().only("slug", "updated_at").order_by("pk")

    def lastmod(self, item: Product):
        return item.updated_at
