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


def test_htmx_attributes_use_the_valid_data_prefix():
    templates = list(_project_templates())
    assert len(templates) > 50  # the scan found the project's templates

    offenders = [
        f"{path.relative_to(settings.BASE_DIR)}:{number}"
        for path in templates
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if BARE_HTMX_ATTRIBUTE.search(line)
    ]

    assert offenders == []
