"""Campaign templates: checking what staff wrote, and rendering it for each customer.

Subject, HTML body and text body are Django templates run by `ENGINE`, which knows only the tags
in `template_library` and loads no other template. Their context holds plain values and nothing
else (`campaign_context`): a model instance would let `{{ customer.user.password }}` through.
The rendered HTML body is sanitised with `shop.html.sanitize_html` before it is placed in the
store's email layout (`templates/emails/campaign.html`), which adds the unsubscribe link.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig
from inscriptis.model.tag import CustomHtmlTagHandlerMapping

from analytics import utm
from customers.models import Customer
from customers.unsubscribe import unsubscribe_url as customer_unsubscribe_url
from notifications.links import absolute_url
from notifications.services import tidy_text
from shop.html import sanitize_html

from .models import Campaign
from .selectors import Pick, Picks, picks_for_customers


class _CampaignEngine(Engine):
    # Engine adds defaulttags, defaultfilters and loader_tags to any builtins it is given.
    default_builtins: list[str] = []


# No loaders: nothing a template names can be read from disk (include/extends are not even tags).
ENGINE = _CampaignEngine(loaders=[], builtins=["marketing.template_library"], libraries={})
# The same, keeping each node's position, so a syntax error can name its line.
_CHECKING_ENGINE = _CampaignEngine(loaders=[], builtins=["marketing.template_library"], libraries={}, debug=True)

PLACEHOLDERS = ("customer.first_name", "customer.last_name", "customer.full_name", "picks", "unsubscribe_url",
                "store_name", "site_url")


def check_template(source: str) -> None:
    """Raise TemplateSyntaxError, with the line number in its message, if `source` does not compile
    or fails to render with sample values."""
    try:
        template = _CHECKING_ENGINE.from_string(source)
    except TemplateSyntaxError as error:
        raise TemplateSyntaxError(_explain(error)) from error
    sample = campaign_context(
        customer=Customer(first_name="Ada", last_name="Lovelace"),
        picks=Picks([Pick(product_id=0, title="Sample", url=absolute_url("/"), price="$1.00")]),
        unsubscribe_url=absolute_url("/"),
    )
    try:
        template.render(Context(sample))
        template.render(Context({**sample, "picks": sample["picks"].as_html()}))
    except Exception as error:  # a filter given a bad argument, {% widthratio %} with text, …
        raise TemplateSyntaxError(_("This template cannot be rendered: %(error)s") % {"error": error}) from error


def _explain(error: TemplateSyntaxError) -> str:
    """Django's message, with the line first and a plain word for a tag campaigns do not have."""
    line = getattr(error, "template_debug", {}).get("line")
    message = re.sub(r" on line \d+", "", str(error))
    unknown = re.match(r"Invalid block tag: '([^']+)'", message)
    if unknown:
        message = _("{%% %(tag)s %%} does not exist or is not allowed in a campaign.") % {"tag": unknown.group(1)}
    return _("Line %(line)s: %(error)s") % {"line": line, "error": message} if line else message


def campaign_context(*, customer: Customer, picks: Picks, unsubscribe_url: str, html: bool = False) -> dict:
    """The only names a campaign template sees; `html` for the HTML body (picks as a list of links)."""
    return {
        "customer": {"first_name": customer.first_name, "last_name": customer.last_name,
                     "full_name": customer.full_name},
        "picks": picks.as_html() if html else picks,
        "unsubscribe_url": unsubscribe_url,
        "store_name": settings.STORE_NAME,
        "site_url": absolute_url("/"),
    }


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    unsubscribe_url: str
    picks: Picks


@dataclass(frozen=True)
class CompiledCampaign:
    subject: Template
    html_body: Template
    text_body: Template | None


def compile_campaign(campaign: Campaign) -> CompiledCampaign:
    """Compile once per batch; raises TemplateSyntaxError (send_campaign checks before it starts)."""
    return CompiledCampaign(
        subject=ENGINE.from_string(campaign.subject),
        html_body=ENGINE.from_string(campaign.html_body),
        text_body=ENGINE.from_string(campaign.text_body) if campaign.text_body.strip() else None,
    )


def render_for_customers(
    *, campaign: Campaign, customers: Sequence[Customer], unsubscribe_url=None,
) -> dict[int | None, RenderedEmail]:
    """Each customer's copy of the campaign, keyed by customer id.

    A fixed number of queries for any number of customers (the picks: see
    `selectors.picks_for_customers`). `unsubscribe_url(customer) -> str` defaults to the
    customer's real link (customers.unsubscribe.unsubscribe_url); previews pass a harmless one.
    """
    if unsubscribe_url is None:
        unsubscribe_url = customer_unsubscribe_url
    compiled = compile_campaign(campaign)
    # An unsaved sample customer (a preview for an empty segment) is 0: no history, best-sellers.
    picks = picks_for_customers(customer_ids=[customer.pk or 0 for customer in customers])
    with translation.override(settings.LANGUAGE_CODE):
        emails = {}
        for customer in customers:
            unsubscribe = unsubscribe_url(customer)
            emails[customer.pk] = render_one(compiled=compiled, customer=customer, picks=picks[customer.pk or 0],
                                             unsubscribe_url=unsubscribe, tag=campaign_link_tagger(campaign, unsubscribe))
        return emails


def campaign_link_tagger(campaign: Campaign, unsubscribe_url: str) -> Callable[[str], str]:
    """Signs the campaign's links to the store with its UTM parameters (analytics/utm.py:
    source "campaign", medium "email", campaign its id), so a click is attributed to it. The
    unsubscribe link and links elsewhere are left alone; an unsaved campaign tags nothing."""
    if campaign.pk is None:
        return _same
    return utm.tagger(origin=absolute_url("/"), source=utm.CAMPAIGN_SOURCE, medium=utm.EMAIL,
                      campaign=str(campaign.pk), leave=frozenset({unsubscribe_url}))


def _same(url: str) -> str:
    return url


def render_one(*, compiled: CompiledCampaign, customer: Customer, picks: Picks, unsubscribe_url: str,
               tag: Callable[[str], str] = _same) -> RenderedEmail:
    """One customer's copy; `tag` rewrites each link (`campaign_link_tagger`): those staff wrote,
    the picks and the store's address, in the HTML and the text alike."""
    context = campaign_context(customer=customer, picks=picks, unsubscribe_url=unsubscribe_url)
    subject = " ".join(compiled.subject.render(Context(context, autoescape=False)).split())
    # Sanitised after rendering, so what the context adds is covered as well as what staff wrote.
    html_context = campaign_context(customer=customer, picks=picks, unsubscribe_url=unsubscribe_url, html=True)
    rendered_html = utm.tag_hrefs(compiled.html_body.render(Context(html_context)), tag)
    body_html = sanitize_html(rendered_html)
    if compiled.text_body is not None:
        body_text = utm.tag_text_links(compiled.text_body.render(Context(context, autoescape=False)),
                                       origin=absolute_url("/"), tag=tag)
    else:
        body_text = html_to_text(rendered_html)
    layout = {"store_name": settings.STORE_NAME, "site_url": tag(absolute_url("/")), "subject": subject,
              "body_html": body_html, "body_text": body_text, "unsubscribe_url": unsubscribe_url}
    return RenderedEmail(
        subject=subject,
        text=tidy_text(render_to_string("emails/campaign.txt", layout)),
        html=render_to_string("emails/campaign.html", layout),
        unsubscribe_url=unsubscribe_url,
        picks=picks,
    )


def _link_start(state, attrs: dict) -> None:
    # Only addresses a reader can follow are shown (what the sanitiser lets through in the HTML part).
    href = (attrs.get("href") or "").strip()
    state.link_target = href if urlsplit(href).scheme in _LINK_SCHEMES else ""


def _link_end(state) -> None:
    if state.link_target:
        state.tags[-1].write(f" ({state.link_target})")


_LINK_SCHEMES = {"http", "https", "mailto"}
_TEXT_CONFIG = ParserConfig(
    css=CSS_PROFILES["strict"],
    custom_html_tag_handler_mapping=CustomHtmlTagHandlerMapping(
        start_tag_mapping={"a": _link_start}, end_tag_mapping={"a": _link_end},
    ),
)
# "https://x.example (https://x.example)": a link whose text is its address is shown once.
_SAME_ADDRESS_TWICE = re.compile(r"(\S+) \(\1\)")


def html_to_text(body: str) -> str:
    """A readable plain-text version of the HTML body: paragraphs, headings and `<div>`s on lines of
    their own, list items as bullets, table cells apart, links followed by their address.

    inscriptis lays the HTML out as a browser would (block and inline elements, lists, tables) and
    never outputs the content of `<script>` or `<style>`. Give it the body as rendered, before
    sanitising: the sanitiser drops tags it does not allow (`<div>`, `<h1>`) and with them the line
    breaks they made.
    """
    if not body.strip():
        return ""
    return _SAME_ADDRESS_TWICE.sub(r"\1", get_text(body, _TEXT_CONFIG))
