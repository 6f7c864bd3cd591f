"""Long facet lists (colour, size, brand) show every value: the first ones, then "Show all N".

They used to sit in a scroll box 16rem high, with nothing saying more values were below.
"""
from html.parser import HTMLParser

import pytest

pytestmark = pytest.mark.django_db


class FacetBoxes(HTMLParser):
    """Each facet checkbox (name, value) -> whether it sits behind a "Show all" disclosure, and
    each disclosure's summary text and whether it is open."""

    def __init__(self):
        super().__init__()
        self.boxes: dict[tuple[str, str], bool] = {}
        self.disclosures: dict[str, dict] = {}
        self.inside: str | None = None
        self.in_summary = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "details" and "data-facet-more" in attrs:
            self.inside = attrs["data-facet-more"]
            self.disclosures[self.inside] = {"open": "open" in attrs, "summary": ""}
        elif tag == "summary" and self.inside:
            self.in_summary = True
        elif tag == "input" and attrs.get("type") == "checkbox" and attrs.get("name", "").startswith(("o_", "a_", "brand")):
            self.boxes[(attrs["name"], attrs["value"])] = self.inside == attrs["name"]

    def handle_endtag(self, tag):
        if tag == "details":
            self.inside = None
        elif tag == "summary":
            self.in_summary = False

    def handle_data(self, data):
        if self.in_summary:
            self.disclosures[self.inside]["summary"] += data


def _boxes(response) -> FacetBoxes:
    parser = FacetBoxes()
    parser.feed(response.content.decode())
    return parser


@pytest.fixture
def demo(demo_catalog, db):
    """The demo catalog's first 60 products (catalog/tests/conftest.py)."""


def test_a_long_facet_list_shows_its_first_values_and_says_how_many_there_are(client, demo):
    response = client.get("/c/clothing/")

    groups = {group.key: group for group in response.context["facets"].groups}
    long = {key: group for key, group in groups.items() if len(group.values) > 10}
    assert "o_size" in long  # the demo's clothing: apparel and shoe sizes
    page = _boxes(response)
    for key, group in groups.items():
        behind = [slug for (name, slug), hidden in page.boxes.items() if name == key and hidden]
        shown = [slug for (name, slug), hidden in page.boxes.items() if name == key and not hidden]
        # every value is on the page; a long list shows 8 and folds the rest behind "Show all N"
        assert shown + behind == [value.slug for value in group.values]
        if key in long:
            assert len(shown) == 8
            assert " ".join(page.disclosures[key]["summary"].split()) == f"Show all {len(group.values)}Show fewer"
            assert not page.disclosures[key]["open"]
        else:
            assert behind == [] and key not in page.disclosures


def test_a_selected_value_behind_show_all_is_shown_open(client, demo):
    first = client.get("/c/clothing/")
    sizes = next(group for group in first.context["facets"].groups if group.key == "o_size")
    last = sizes.values[-1].slug

    response = client.get(f"/c/clothing/?o_size={last}")

    page = _boxes(response)
    assert page.boxes[("o_size", last)] is True  # behind the disclosure...
    assert page.disclosures["o_size"]["open"]  # ...which is open, so the ticked value shows
    assert "checked" in response.content.decode().split(f'value="{last}"')[1].split(">")[0]
