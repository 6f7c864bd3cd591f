"""Rich text that staff write is sanitised here, and only here."""
import nh3
from django.utils.html import strip_tags

# Formatting a product description needs, and nothing that runs or loads anything.
ALLOWED_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "h2", "h3", "h4",
    "blockquote", "a", "table", "thead", "tbody", "tr", "th", "td", "hr", "span", "small",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}, "td": {"colspan"}}


def sanitize_html(html: str) -> str:
    """Return `html` with every tag, attribute and URL scheme outside the allow-list removed.

    Links get rel="noopener noreferrer nofollow"; `javascript:` URLs, `<script>`, `<style>`,
    event handlers and inline styles never survive.
    """
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def plain_text(html: str) -> str:
    """The words of `html` as one line of text: for meta descriptions and structured data.

    Sanitising first drops the contents of <script> and <style>, which strip_tags would keep.
    """
    return " ".join(strip_tags(sanitize_html(html)).split())
