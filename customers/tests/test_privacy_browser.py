"""Download my data in a real Chromium: after "Confirm it's you" the shopper is back on the privacy
page and the file has downloaded (the replayed POST used to answer with the file itself, so the
browser saved it and stayed on the password page)."""
import json
import re

import pytest

from .helpers import PASSWORD, sign_in, verified_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _signed_in_tab(new_page, live_server, **options):
    user, customer = verified_account("ada@example.com", first_name="Ada")
    tab = new_page(accept_downloads=True, **options)
    tab.goto("/account/login/")
    tab.locator("#id_login").fill("ada@example.com")
    tab.locator("#id_password").fill(PASSWORD)
    tab.locator("form.account-form button[type=submit]").click()
    tab.wait_for_url(re.compile(r"/account/"))
    return tab, customer


def _reauthenticated_download(tab):
    """Press "Download my data", confirm the password, and return the download."""
    from playwright.sync_api import expect

    tab.goto("/account/privacy/")
    # Signing in counts as authenticating, but not as re-authenticating for the download.
    tab.get_by_role("button", name="Download my data").click()
    expect(tab.locator("h1")).to_have_text("Confirm it's you")
    tab.locator("#id_password").fill(PASSWORD)
    with tab.expect_download() as downloading:
        tab.get_by_role("button", name="Continue").click()
    return downloading.value


@pytest.mark.parametrize("java_script", [True, False], ids=["js", "no-js"])
def test_after_confirming_the_password_the_file_downloads_and_the_privacy_page_shows(new_page, live_server,
                                                                                     java_script):
    from playwright.sync_api import expect

    tab, customer = _signed_in_tab(new_page, live_server, java_script_enabled=java_script)

    download = _reauthenticated_download(tab)

    assert re.fullmatch(r"my-data-\d{4}-\d{2}-\d{2}\.json", download.suggested_filename)
    with open(download.path(), encoding="utf-8") as file:
        assert json.load(file)["profile"]["email"] == customer.email
    expect(tab).to_have_url(re.compile(r"/account/privacy/$"))
    expect(tab.locator("h1")).to_have_text("Privacy and your data")
    expect(tab.locator("#download-ready")).to_contain_text("download")


def test_the_ready_link_works_once(new_page, live_server):
    from playwright.sync_api import expect

    tab, _customer = _signed_in_tab(new_page, live_server)
    _reauthenticated_download(tab)
    expect(tab.locator("#download-ready")).to_be_visible()

    # Back on the page later: no second automatic download, and the used link is refused.
    tab.reload()
    expect(tab.locator("#download-ready")).to_have_count(0)
