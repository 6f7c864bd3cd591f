"""Every report page and the dashboard link to every report (one list: analytics/reports/_links.html)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from analytics.admin import REPORTS

pytestmark = pytest.mark.django_db


def test_every_report_and_the_dashboard_link_to_every_report(admin_app):
    urls = [reverse(f"admin:{name}") for _label, _object, name in REPORTS]
    assert len(urls) == 7
    dashboard = admin_app.get("/admin/")
    assert [a["href"] for a in dashboard.html.select("#reports-nav a")] == urls
    for url in urls:
        page = admin_app.get(url)
        assert page.status_code == 200
        # the report's own navigation, above its form
        assert [a["href"] for a in page.html.select("#report-nav a")] == urls, url
        assert page.html.select_one("#report-form") is not None
