"""The Content-Security-Policy holds in a real Chromium: the main pages break none of it.

Each page of the demo catalog is loaded in Debian's Chromium; every `securitypolicyviolation`
event and every console message about the policy (or the Permissions-Policy header) is recorded.
None is allowed: a violation is something the browser refused to run or show, a broken page.
The back office is loaded the same way under its own policy (shop/csp.py), and the packing
slip's Print button must still work there.
"""
import re
from decimal import Decimal

import pytest
from django.core.management import call_command

from conftest import sign_in_to_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"} `
                           + `at ${event.sourceFile}:${event.lineNumber} ${event.sample}`);
});
"""
POLICY_WORDS = re.compile(r"Content.Security.Policy|Permissions.Policy|Refused to", re.I)


class PolicyWatch:
    """Violations and policy console messages of a tab, page by page."""

    def __init__(self, tab) -> None:
        self.tab = tab
        self.console: list[str] = []
        tab.add_init_script(RECORD_VIOLATIONS)
        tab.on("console", lambda message: self.console.append(message.text)
               if POLICY_WORDS.search(message.text) else None)

    def visit(self, path: str) -> list[str]:
        response = self.tab.goto(path)
        assert response is not None and response.ok, f"{path}: {response.status if response else 'no answer'}"
        return self.found(path)

    def found(self, label: str) -> list[str]:
        # One turn of the event loop: violation events are queued as tasks during parsing.
        events = self.tab.evaluate("new Promise((done) => setTimeout(() => done(window.__violations), 0))")
        problems = [f"{label}: {text}" for text in [*events, *self.console]]
        self.console.clear()
        return problems


@pytest.fixture
def demo_store(live_server, settings):
    settings.SITE_URL = live_server.url
    call_command("seed_demo", "--products", "24", "--customers", "0", stdout=open("/dev/null", "w"))
    call_command("collectstatic", "--noinput", "-v0")


def _order_link(product) -> str:
    from orders.links import signed_order_url
    from orders.services import PlacementLine, ShippingChoice, place_order

    variant = next(v for v in product.variants.all() if v.stock_levels.filter(on_hand__gt=5).exists())
    order = place_order(lines=[PlacementLine(variant.pk, 1)], email="ada@example.com", idempotency_key="csp-1",
                        shipping=ShippingChoice(name="Standard", price=Decimal("4.95")),
                        customer_name="Ada Lovelace",
                        shipping_address={"name": "Ada Lovelace", "line1": "1 Main St", "city": "Springfield",
                                          "postal_code": "12345", "country": "US"})
    return signed_order_url(order), order


def test_the_storefront_breaks_none_of_its_policy(new_page, demo_store):
    from playwright.sync_api import expect

    from catalog.models import OptionValue, Product
    from catalog.selectors import category_tree

    product = Product.objects.published().filter(variants__option_values__option__slug="colour").distinct().first()
    tree = category_tree()
    category = tree.ancestors(tree.by_id[product.category_id])[0]  # the product's top category
    order_url, _ = _order_link(product)
    tab = new_page()
    watch = PolicyWatch(tab)

    problems = []
    problems += watch.visit("/")
    problems += watch.visit(category.get_absolute_url())
    colour = OptionValue.objects.filter(option__slug="colour", variants__product=product).first()
    problems += watch.visit(f"{category.get_absolute_url()}?colour={colour.slug}")  # a chosen filter's chip
    problems += watch.visit(product.get_absolute_url())
    problems += watch.visit(f"/search/?q={product.title.split()[-1]}")  # results with colour swatches
    # add to cart on the product page (htmx), then the cart and the checkout with it
    tab.goto(product.get_absolute_url())
    tab.get_by_role("button", name="Add to cart").click()
    expect(tab.locator("#mini-cart .cart-count")).to_have_attribute("data-count", "1")
    problems += watch.found("add to cart")
    problems += watch.visit("/cart/")
    problems += watch.visit("/checkout/")
    problems += watch.visit(order_url)
    problems += watch.visit("/account/login/")

    assert problems == [], "\n".join(problems)


def test_the_back_office_breaks_none_of_its_policy(new_page, demo_store, django_user_model):
    from playwright.sync_api import expect

    from catalog.models import Product

    product = Product.objects.published().order_by("pk").first()
    _, order = _order_link(product)
    admin = sign_in_to_admin(new_page, django_user_model)
    watch = PolicyWatch(admin)
    admin.add_init_script("window.print = () => { document.documentElement.dataset.printed = 'yes'; };")

    problems = []
    problems += watch.visit("/admin/")
    problems += watch.visit(f"/admin/catalog/product/{product.pk}/change/")
    problems += watch.visit(f"/admin/orders/order/{order.pk}/change/")
    problems += watch.visit("/admin/customers/customer/")
    problems += watch.visit(f"/admin/orders/order/{order.pk}/packing-slip/")
    admin.get_by_role("button", name="Print").click()  # an inline onclick, allowed by its hash
    expect(admin.locator("html")).to_have_attribute("data-printed", "yes")
    problems += watch.found("print")

    assert problems == [], "\n".join(problems)
