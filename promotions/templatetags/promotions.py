from django import template

register = template.Library()


@register.filter
def discounts_for(pricing, variant_id):
    """[(name, amount)] of the promotions on the cart line of `variant_id` ({{ pricing|discounts_for:item.variant.pk }})."""
    return pricing.breakdown(variant_id) if pricing is not None else []


@register.filter
def discounted_total(pricing, item):
    """The cart line's total after its discounts."""
    if pricing is None:
        return item.line_total
    return item.line_total - pricing.line_discount(item.variant.pk)


@register.simple_tag
def promotion_labels(page):
    """(name, label) of the promotions every shopper gets on this product page (promotions/labels.py)."""
    from promotions.labels import product_labels

    return product_labels(product=page.product, variants=page.variants,
                          attribute_value_ids=[value.pk for value in page.attributes],
                          category_ids=[node.id for node in page.breadcrumbs] or [page.product.category_id])
