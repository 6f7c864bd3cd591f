"""What the audit tools found on listings: the largest paint lazy-loaded, disabled controls too faint.

The first row of a listing loads at once (the first card's picture with high priority), the rest
lazily; a real Chromium confirms the largest paint of each page is never lazy. Disabled controls'
text is measured as rendered (colours, backgrounds and opacity computed by the browser).
"""
import re
from io import StringIO

import pytest
from django.core.management import call_command

from conftest import html_tags

pytestmark = pytest.mark.django_db

PER_PAGE = 8


def _seed_demo():
    call_command("seed_demo", "--products", "60", "--customers", "0", stdout=StringIO())


@pytest.fixture
def demo(seeded_demo_module, db):
    """The demo catalog's first 60 products, with their pictures (catalog/tests/conftest.py)."""


def _card_images(response) -> list[dict]:
    html = response.content.decode()
    html = html[html.index('id="listing-results"'):]
    return [img for img in html_tags(html, "img") if "/media/" in (img.get("src") or "")]


@pytest.mark.parametrize("url", ["/c/clothing/", "/c/outdoor/?page=2", "/search/?q=northwind", "/c/home/?o_colour=navy"])
def test_a_listings_first_row_loads_at_once_and_the_rest_lazily(client, demo, monkeypatch, url):
    monkeypatch.setattr("catalog.views.PER_PAGE", PER_PAGE)

    images = _card_images(client.get(url))

    assert len(images) > 4, url
    assert [img["loading"] for img in images] == ["eager"] * 4 + ["lazy"] * (len(images) - 4)
    # The first row's pictures are the same size: whichever the browser paints first is the
    # largest paint, so each of them is fetched first (one alone made the browser test flaky).
    assert [img.get("fetchpriority") for img in images] == ["high"] * 4 + [None] * (len(images) - 4)


def test_the_product_pages_main_picture_loads_first_and_related_products_lazily(client, demo):
    from catalog.models import Product

    product = Product.objects.published().filter(images__isnull=False, category__products__isnull=False).first()
    html = client.get(product.get_absolute_url()).content.decode()

    gallery = html[html.index('id="product-gallery"'):]
    main = html_tags(gallery, "img")[0]
    assert (main["loading"], main.get("fetchpriority")) == ("eager", "high")
    others = [img for img in html_tags(html, "img") if "/media/" in (img.get("src") or "")][1:]
    assert others and all(img["loading"] == "lazy" and not img.get("fetchpriority") for img in others)


def test_home_page_pictures_below_the_hero_load_lazily_and_the_hero_first(client, demo):
    html = client.get("/").content.decode()

    [hero] = [img for img in html_tags(html, "img") if "hero.svg" in img["src"]]
    assert hero.get("fetchpriority") == "high" and hero.get("loading") != "lazy"
    cards = [img for img in html_tags(html, "img") if "/media/" in (img.get("src") or "")]
    assert cards and all(img["loading"] == "lazy" for img in cards)


# --- In a real browser ------------------------------------------------------------------------------

LARGEST_PAINT = """() => new Promise(resolve => {
  new PerformanceObserver(list => {
    const entries = list.getEntries();
    const element = entries[entries.length - 1].element;
    resolve(element && {tag: element.tagName, loading: element.getAttribute("loading"),
                        priority: element.getAttribute("fetchpriority")});
  }).observe({type: "largest-contentful-paint", buffered: true});
})"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_largest_paint_of_each_page_is_never_lazy_loaded(new_page):
    _seed_demo()
    for viewport in ({"width": 1280, "height": 900}, {"width": 375, "height": 812}):
        tab = new_page(viewport=viewport)
        for url in ("/", "/c/clothing/", "/search/?q=northwind", "/p/redwood-waterproof-rain-jacket/"):
            tab.goto(url)
            tab.wait_for_load_state("load")
            largest = tab.evaluate(LARGEST_PAINT)
            assert largest, (viewport, url)
            assert largest["loading"] != "lazy", (viewport, url, largest)
            if largest["tag"] == "IMG":
                assert largest["priority"] == "high", (viewport, url, largest)


# What the browser computed for an element and every ancestor: colours and opacity.
RENDERED = """element => {
  const chain = [];
  for (let node = element; node; node = node.parentElement) {
    const style = getComputedStyle(node);
    chain.push({color: style.color, background: style.backgroundColor, opacity: Number(style.opacity)});
  }
  return chain;
}"""


def _rgba(css: str) -> tuple[float, float, float, float]:
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    return (*numbers[:3], numbers[3] if len(numbers) > 3 else 1.0)


def _over(top, bottom, alpha=None):
    alpha = top[3] if alpha is None else alpha
    return tuple(alpha * t + (1 - alpha) * b for t, b in zip(top[:3], bottom[:3]))


def _luminance(rgb) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_as_rendered(chain: list[dict]) -> float:
    """Text against its background as painted: backgrounds stacked from the page down, the
    element's text over its own, and every opacity on the way applied over what lies beneath."""
    behind = (255.0, 255.0, 255.0)  # the canvas
    for node in reversed(chain[1:]):
        behind = _over(_rgba(node["background"]), behind)
    own = _over(_rgba(chain[0]["background"]), behind)
    text = _over(_rgba(chain[0]["color"]), own)
    opacity = 1.0
    for node in chain:
        opacity *= node["opacity"]
    text, own = _over(text, behind, opacity), _over(own, behind, opacity)
    light, dark = sorted((_luminance(text), _luminance(own)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_measure_matches_the_audit():
    # The old disabled pagination link: #1c2420 text on white at opacity 0.45 (the audit said 2.76:1).
    old = [
        {"color": "rgb(28, 36, 32)", "background": "rgb(255, 255, 255)", "opacity": 0.45},
        {"color": "rgb(28, 36, 32)", "background": "rgba(0, 0, 0, 0)", "opacity": 1.0},
    ]
    assert round(contrast_as_rendered(old), 2) == 2.76
    assert round(contrast_as_rendered([{**old[0], "opacity": 1.0}, old[1]]), 1) == 15.9


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_disabled_controls_are_readable(page, storefront_catalog, monkeypatch):
    monkeypatch.setattr("catalog.views.PER_PAGE", 2)
    disabled = {
        # "Previous" on page 1 of a listing
        "/c/clothing/": 'nav[aria-label="Pages"] [aria-hidden="true"]:has-text("Previous")',
        # a size that is not available with red, and "Out of stock" for a product with none left
        "/p/storm-shell/": '[data-option="size"] [aria-disabled="true"]',
        "/p/trail-tee/": 'button[disabled]:has-text("Out of stock")',
    }
    for url, selector in disabled.items():
        page.goto(url)
        element = page.locator(selector).first
        element.wait_for()

        ratio = contrast_as_rendered(element.evaluate(RENDERED))

        assert ratio >= 4.5, f"{url} {selector}: {ratio:.2f}:1"
