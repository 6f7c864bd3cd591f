"""Structured data for search engines (schema.org Product with its offers)."""
from __future__ import annotations

from django.conf import settings

from shop.money import quantize
from shop.site import absolute_url

from .selectors import ProductPage


def product_structured_data(page: ProductPage) -> dict:
    product = page.product
    url = absolute_url(product.get_absolute_url())
    offers = []
    for variant in page.variants:
        # The page's own availability (stock at an inactive location cannot be sold), computed once.
        available = page.stock[variant.pk]
        availability = "InStock" if available > 0 else "OutOfStock"
        if available > 0 and variant.pk in page.online and not page.online[variant.pk].deliverable:
            availability = "InStoreOnly"  # collected at a shop that does not ship (catalog.stock)
        offers.append(
            {
                "@type": "Offer",
                "sku": variant.sku,
                "price": str(quantize(variant.price)),
                "priceCurrency": settings.STORE_CURRENCY,
                "availability": f"https://schema.org/{availability}",
                "url": url,
            }
        )
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.title,
        "description": page.description_text[:5000],
        "url": url,
        "image": [absolute_url(image.image.url) for image in page.images[:5]],
        "offers": offers[0] if len(offers) == 1 else {
            "@type": "AggregateOffer",
            "priceCurrency": settings.STORE_CURRENCY,
            "lowPrice": str(quantize(min(v.price for v in page.variants))) if page.variants else None,
            "highPrice": str(quantize(max(v.price for v in page.variants))) if page.variants else None,
            "offerCount": len(offers),
            "offers": offers,
        },
    }
    if page.selected_variant is not None:
        data["sku"] = page.selected_variant.sku
        if page.selected_variant.barcode:
            data["gtin"] = page.selected_variant.barcode
    if product.brand:
        data["brand"] = {"@type": "Brand", "name": product.brand.name}
    if page.breadcrumbs:
        data["category"] = " > ".join(node.name for node in page.breadcrumbs)
    return data

