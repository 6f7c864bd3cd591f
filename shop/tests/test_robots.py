"""robots.txt, noindex and the sitemaps agree.

A crawler obeys a page's `noindex` only if robots.txt lets it read the page; a page it may not
read can still be indexed from links alone, address and all (a search, a signed order link).
So: pages that must stay out of the index say noindex and are readable; robots.txt disallows
only what is not a page (the fragments htmx swaps in); the sitemaps list only pages that may be
indexed, each under its canonical address.
"""
import re
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import pytest

from conftest import html_tags

from .routes import shop_objects, storefront_routes, url_for

pytestmark = pytest.mark.django_db

SITE = "https://shop.example.com"
INDEXABLE = {"catalog:home", "catalog:category", "catalog:product"}


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


def robots_txt(client) -> RobotFileParser:
    """Read after the test's data exists: any page caches the category tree."""
    parser = RobotFileParser()
    parser.parse(client.get("/robots.txt").content.decode().splitlines())
    return parser


def says_noindex(response) -> bool:
    header = response.get("X-Robots-Tag", "")
    metas = [tag.get("content") or "" for tag in html_tags(response.content, "meta", name="robots")]
    return any(re.search(r"\b(noindex|none)\b", value, re.I) for value in [header, *metas])


def test_crawlers_may_read_the_search_page_and_see_its_noindex(client, storefront_catalog):
    robots = robots_txt(client)
    response = client.get("/search/?q=shell")

    assert robots.can_fetch("Googlebot", f"{SITE}/search/?q=shell")
    assert robots.can_fetch("*", f"{SITE}/search/")
    assert says_noindex(response)


@pytest.mark.parametrize("visitor", ["anonymous", "shopper"])
def test_every_page_kept_out_of_the_index_says_so_and_may_be_read(client, visitor):
    objects = shop_objects(client)
    robots = robots_txt(client)
    if visitor == "anonymous":
        client.logout()

    wrong = []
    for route in storefront_routes():
        url = url_for(route, objects)
        response = client.get(url)
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
            continue
        page = b"<html" in response.content
        readable = robots.can_fetch("*", f"{SITE}{url}")
        if page and not readable:
            wrong.append(f"{url}: a page robots.txt hides (its noindex is never seen)")
        if page and route.name not in INDEXABLE and not says_noindex(response):
            wrong.append(f"{url}: a page that may be indexed")
        if not page and readable and not says_noindex(response):
            wrong.append(f"{url}: a fragment crawlers may read and index")

    assert not wrong, "\n".join(wrong)


def test_the_sitemaps_list_only_indexable_pages_at_their_canonical_address(client, storefront_catalog):
    robots = robots_txt(client)
    index = client.get("/sitemap.xml").content.decode()
    locations = []
    for section in re.findall(r"<loc>(.*?)</loc>", index):
        locations += re.findall(r"<loc>(.*?)</loc>", client.get(urlsplit(section).path).content.decode())

    assert len(locations) == 9
    for location in locations:
        assert robots.can_fetch("*", location), location
        response = client.get(urlsplit(location).path)
        assert response.status_code == 200, location
        assert not says_noindex(response), location
        [canonical] = html_tags(response.content, "link", rel="canonical")
        assert canonical["href"] == location
