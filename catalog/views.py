"""Storefront pages. Views parse input, call selectors, render; nothing else."""
from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

import analytics
from promotions.labels import attach_card_promotions
from shop.site import absolute_url

from . import search as product_search
from . import selectors, versions
from .cache import cache_storefront_page, wants_fragment
from .forms import SORT_LABELS, parse_listing_filters, search_query
from .pictures import pick_card_pictures
from .seo import product_structured_data

PER_PAGE = 24


@require_safe
@cache_storefront_page
def home(request: HttpRequest) -> HttpResponse:
    data = selectors.home_page_data()
    # Both grids' sale labels at once (at most one query for the two: promotions/labels.py).
    attach_card_promotions([*data["featured"], *data["new_arrivals"]])
    # New arrivals and featured products: any product published or unpublished anywhere.
    versions.depends_on(versions.ASSORTMENT_KEY, *versions.card_keys([*data["featured"], *data["new_arrivals"]]))
    return render(request, "catalog/home.html", data)


def _listing_context(request: HttpRequest, category_ids: list[int], *, ranked_ids: list[int] | None = None) -> dict:
    """Filters, facets and one page of the products of `category_ids`; `ranked_ids` (search)
    narrows to those products and orders by relevance. Counted and sorted from the listing
    index, then only the page's cards are loaded: no query grows with the catalog."""
    filters, errors = parse_listing_filters(request.GET)
    found = selectors.listing(category_ids=category_ids, filters=filters, ranked_ids=ranked_ids)
    page = Paginator(found.ids, PER_PAGE).get_page(request.GET.get("page") or 1)
    page.object_list = selectors.cards_in_order(list(page.object_list))
    pick_card_pictures(page.object_list, filters)
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "filters": filters,
        "filter_errors": errors,
        "facets": found.facets,
        "page": page,
        "products": page.object_list,
        "sort_options": [(key, label) for key, label in SORT_LABELS.items()],
        "query_without_page": query.urlencode(),
    }


@require_safe
@cache_storefront_page
def category(request: HttpRequest, path: str) -> HttpResponse:
    tree = selectors.category_tree()
    node = selectors.category_by_path(path)
    # Which products, in which order, with which counts: bumped for the whole chain of a change.
    versions.depends_on(versions.listing_key(node.id))
    context = _listing_context(request, tree.descendant_ids(node))
    context.update(category=node, breadcrumbs=tree.ancestors(node), subcategories=node.children)
    template = "catalog/_listing_results.html" if wants_fragment(request) else "catalog/category.html"
    return render(request, template, context)


@require_safe
@cache_storefront_page
def product(request: HttpRequest, slug: str) -> HttpResponse:
    selection = {key: value for key, value in request.GET.items() if len(key) <= 60 and len(value) <= 60}
    page = selectors.product_page(slug=slug, selection=selection)
    versions.depends_on(
        versions.product_key(page.product.pk),
        versions.members_key(page.product.category_id),  # "more from this category"
        *versions.card_keys(page.related),
    )
    template = "catalog/_product_purchase.html" if wants_fragment(request) else "catalog/product.html"
    context = {
        "page": page,
        "product": page.product,
        "canonical_url": absolute_url(page.product.get_absolute_url()),
        "structured_data": product_structured_data(page),
    }
    return render(request, template, context)


@require_safe
@cache_storefront_page
def search(request: HttpRequest) -> HttpResponse:
    query = search_query(request.GET)
    context: dict = {"query": query}
    result = product_search.search(query) if query else None
    if result is not None:
        analytics.note_search_results(request, query=query, results=len(result.ids))
    if result and result.ids:
        context["corrected"] = result.corrected
        categories = result.categories
        # Matches come and go with the assortment; their prices and stock (sort, filters, facets)
        # move with the listings of their categories.
        versions.depends_on(versions.ASSORTMENT_KEY, *map(versions.listing_key, categories))
        context.update(_listing_context(request, categories, ranked_ids=result.ids))
        fragment = "catalog/_listing_results.html"
    elif result:
        # Nothing found: never an empty page, but what shoppers buy most, and a likelier query.
        popular_products = selectors.popular_products()
        versions.depends_on(versions.ASSORTMENT_KEY, *versions.card_keys(popular_products))
        context.update(
            no_results=True, products=[],
            popular_categories=selectors.popular_categories(), popular_products=popular_products,
        )
        if result.suggestion:
            context["suggestion"] = result.suggestion
            context["suggestion_url"] = f"{reverse('catalog:search')}?{urlencode({'q': result.suggestion})}"
        fragment = "catalog/_search_no_results.html"
    else:
        context["products"] = []
        context["empty_reason"] = _("Type what you are looking for: a product, a brand or a colour.")
        fragment = "catalog/_listing_results.html"
    template = fragment if wants_fragment(request) else "catalog/search.html"
    return render(request, template, context)


@require_safe
@cache_storefront_page
def suggestions(request: HttpRequest) -> HttpResponse:
    """Search-as-you-type: a small list of matching products (htmx)."""
    query = search_query(request.GET)
    items = product_search.suggest(query) if len(query) >= 2 else []
    versions.depends_on(versions.ASSORTMENT_KEY)  # titles of published products
    return render(request, "catalog/_suggestions.html", {"query": query, "suggestions": items})
