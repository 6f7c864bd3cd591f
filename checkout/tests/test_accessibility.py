"""Every shopper page, checkout's steps with and without errors among them: headings never skip a
level, and every id that aria-describedby, aria-labelledby or a label's `for` names is on the page.

(Checkout jumped from h1 to h3, and its field template wrote `…-help` while Django's widgets
pointed aria-describedby at `…_helptext`: one field template now, templates/forms/_field.html.)
"""
from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from .conftest import address
from .journey import ENTRANCE_PAGES, account_pages, shopper_with_history

pytestmark = pytest.mark.django_db


class Page(HTMLParser):
    """The headings (level, text), the ids, and the ids other elements point at, of one page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[list] = []
        self.ids: set[str] = set()
        self.references: list[tuple[str, str, str]] = []  # (tag, attribute, id)
        self._open_heading: list | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        for name in ("aria-describedby", "aria-labelledby", "for"):
            if tag == "output" and name == "for":
                continue
            for ref in (attributes.get(name) or "").split():
                self.references.append((tag, name, ref))
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self._open_heading = [int(tag[1]), ""]
            self.headings.append(self._open_heading)

    def handle_endtag(self, tag):
        if len(tag) == 2 and tag[0] == "h":
            self._open_heading = None

    def handle_data(self, data):
        if self._open_heading is not None:
            self._open_heading[1] += data.strip()

    def skipped_levels(self) -> list[str]:
        problems, previous = [], 0
        for level, text in self.headings:
            if level > previous + 1:
                problems.append(f"h{previous or '-'} then h{level} ({text!r})")
            previous = level
        return problems

    def dangling_references(self) -> list[str]:
        return [f"<{tag} {name}={ref!r}>" for tag, name, ref in self.references if ref not in self.ids]


@pytest.fixture
def visits(storefront_catalog, shipping):
    """(name, response) for every page a shopper sees, in the states that change its markup."""
    history = shopper_with_history(storefront_catalog)
    shopper = Client()
    shopper.force_login(history.user)
    responses = [(name, shopper.get(path)) for name, path in account_pages(history).items()]
    # Checkout: errors on every field, "update delivery options" without JavaScript, the review.
    responses.append(("checkout details with errors", shopper.post("/checkout/", {
        "email": "not an email", "delivery": "", "shipping-country": "US", "billing-country": "US"})))
    responses.append(("checkout details, options refreshed", shopper.post("/checkout/", {
        **address(), "refresh": "1"})))
    continued = shopper.post("/checkout/", address(delivery=f"method:{shipping.standard.pk}", **{
        "billing_same": "", "billing-name": "Max", "billing-line1": "1 Bill St", "billing-city": "Chicago",
        "billing-region": "IL", "billing-postal_code": "60601", "billing-country": "US"}))
    assert continued.status_code == 302
    responses.append(("checkout review", shopper.get("/checkout/review/")))
    responses.append(("address book form with errors", shopper.post("/account/addresses/new/", {"country": "US"})))
    visitor = Client()
    responses += [(name, visitor.get(path)) for name, path in ENTRANCE_PAGES.items()]
    responses.append(("sign in with errors", visitor.post("/account/login/", {"login": "x@example.com",
                                                                              "password": "wrong"})))
    responses.append(("sign up with errors", visitor.post("/account/signup/", {"email": "bad"})))
    for name, response in responses:
        assert response.status_code == 200, (name, response.status_code)
    return [(name, Page(response.content.decode())) for name, response in responses]


def test_no_page_skips_a_heading_level(visits):
    problems = {name: page.skipped_levels() for name, page in visits if page.skipped_levels()}

    assert problems == {}
    assert all(page.headings and page.headings[0][0] == 1 for _name, page in visits)


def test_every_id_a_control_or_label_points_at_is_on_the_page(visits):
    problems = {name: page.dangling_references() for name, page in visits if page.dangling_references()}

    assert problems == {}
    # The check has something to check: help texts and errors are described on these pages.
    described = {ref for _name, page in visits for tag, attribute, ref in page.references
                 if attribute == "aria-describedby"}
    assert {"id_shipping-region_helptext", "id_billing-region_helptext", "id_email_error"} <= described
