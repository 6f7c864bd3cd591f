"""Checks over every template the project ships, whatever page renders it."""
import re
from pathlib import Path

from django.conf import settings

# An attribute htmx reads, written without the `data-` prefix that keeps the HTML valid.
BARE_HTMX_ATTRIBUTE = re.compile(r"(?<![\w-])hx-[a-z-]+\s*=")


def _project_templates():
    roots = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]]
    roots += [p for p in Path(settings.BASE_DIR).glob("*/templates") if ".venv" not in p.parts]
    for root in roots:
        yield from root.rglob("*.html")


def _lines_matching(pattern: re.Pattern, templates: list[Path]) -> list[str]:
    """`path:line` of every template line the pattern finds."""
    return [
        f"{path.relative_to(settings.BASE_DIR)}:{number}"
        for path in templates
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]


def test_htmx_attributes_use_the_valid_data_prefix():
    templates = list(_project_templates())
    assert len(templates) > 50  # the scan found the project's templates

    assert _lines_matching(BARE_HTMX_ATTRIBUTE, templates) == []


# A `style` attribute: what a Content-Security-Policy without 'unsafe-inline' in style-src refuses.
STYLE_ATTRIBUTE = re.compile(r"(?<![\w-])style\s*=", re.IGNORECASE)


def _served_as_pages(path: Path) -> bool:
    """Everything but the Django admin's templates and the emails (mail clients need inline
    styles, and no Content-Security-Policy applies to a message)."""
    parts = path.relative_to(settings.BASE_DIR).parts
    return "admin" not in parts and "emails" not in parts and "email" not in parts


def test_pages_have_no_style_attributes():
    templates = [path for path in _project_templates() if _served_as_pages(path)]
    assert len(templates) > 50
    assert any(path.name == "_facets.html" for path in templates)  # the storefront is scanned

    assert _lines_matching(STYLE_ATTRIBUTE, templates) == []
