"""The back office, driven as a browser submits its pages (django-webtest: the rendered form
followed, filled and submitted, with the inlines' management forms and the CSRF token as
rendered): staff issue a goodwill card (its code shown once), deactivate one with a reason, send
one again (a new code, to a corrected address, once per click) and read its ledger and events;
nobody edits a balance or deletes a card."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from giftcards import codes, services
from giftcards.exceptions import CardNotFound
from giftcards.models import GiftCard, GiftCardEvent

pytestmark = pytest.mark.django_db
CODE_SHOWN = re.compile(r'class="gift-card-code">([^<]+)<')


def change_url(card) -> str:
    return reverse("admin:giftcards_giftcard_change", args=[card.pk])


def code_in(email) -> str:
    return next(word for word in email.body.split() if codes.looks_like_code(word))


def test_staff_issue_a_goodwill_card_and_see_its_code_once(admin_app):
    form = admin_app.get(reverse("admin:giftcards_giftcard_add")).forms["giftcard_form"]
    form["amount"] = "25.00"
    form["reason"] = "Goodwill: parcel arrived late"

    page = form.submit("_save").follow()

    card = GiftCard.objects.get()
    code = CODE_SHOWN.search(page.text)[1]
    assert codes.looks_like_code(code) and services.find_card(code=code) == card
    assert (card.balance, card.source, card.issued_by.username, card.reason) == (
        Decimal("25.00"), "issued", "webtest-admin", "Goodwill: parcel arrived late")
    again = admin_app.get(change_url(card))
    assert code not in again.text and card.display_code in again.text  # masked from then on
    assert "Issued" in again.text and "$25.00" in again.text  # the ledger


def test_issuing_to_a_recipient_emails_the_code_and_never_shows_it(admin_app, django_capture_on_commit_callbacks):
    form = admin_app.get(reverse("admin:giftcards_giftcard_add")).forms["giftcard_form"]
    form["amount"] = "40.00"
    form["reason"] = "Goodwill: wrong size sent"
    form["recipient_email"] = "ada@example.com"
    form["recipient_name"] = "Ada"

    with django_capture_on_commit_callbacks(execute=True):
        page = form.submit("_save").follow()

    [email] = mail.outbox
    assert email.to == ["ada@example.com"]
    assert "emailed to ada@example.com" in page.text and not CODE_SHOWN.search(page.text)
    assert code_in(email) not in page.text


def test_issuing_needs_a_reason_and_a_positive_value(admin_app):
    form = admin_app.get(reverse("admin:giftcards_giftcard_add")).forms["giftcard_form"]
    form["amount"] = "0"

    page = form.submit("_save")

    assert page.status_code == 200 and not GiftCard.objects.exists()
    assert "This field is required." in page.text  # the reason
    assert "Ensure this value is greater than or equal to 0.01." in page.text


def test_staff_deactivate_a_card_with_a_reason(admin_app, issue):
    card, code = issue("25.00")
    form = admin_app.get(change_url(card)).forms["giftcard_form"]
    form["deactivate"].checked = True

    refused = form.submit("_save")

    assert refused.status_code == 200 and "Say why the card is deactivated." in refused.text
    card.refresh_from_db()
    assert card.is_active

    form = refused.forms["giftcard_form"]
    form["deactivation_note"] = "Reported stolen"
    form.submit("_save").follow()
    card.refresh_from_db()
    assert (card.is_active, card.deactivation_reason, card.deactivated_by.username, card.balance) == (
        False, "Reported stolen", "webtest-admin", Decimal("25.00"))
    page = admin_app.get(change_url(card))
    assert "Deactivated" in page.text and "Reported stolen" in page.text  # the card's events
    assert GiftCardEvent.objects.get(card=card).kind == GiftCardEvent.Kind.DEACTIVATED
    assert 'id="resend-gift-card"' not in page.text  # nothing to send for a deactivated card


def test_staff_send_a_card_again_to_a_corrected_address_once_per_click(admin_app, issue,
                                                                       django_capture_on_commit_callbacks):
    # given: a card emailed to a mistyped address
    with django_capture_on_commit_callbacks(execute=True):
        card, _none = issue("30.00", recipient_email="ada@exmaple.com")
    old_code = code_in(mail.outbox[0])
    page = admin_app.get(change_url(card))

    # when: staff follow "Send again…" and correct the address
    resend = page.click(linkid="resend-gift-card")
    assert "a new code is made and emailed" in resend.text
    form = resend.forms["resend-form"]
    assert form["recipient_email"].value == "ada@exmaple.com"
    form["recipient_email"] = "ada@example.com"
    form["note"] = "Customer called: typo in the address"
    done = form.submit().follow()

    # then: a new code went to the right address, the old one no longer works, nobody saw it
    card.refresh_from_db()
    sent = [m for m in mail.outbox if m.to == ["ada@example.com"]]
    assert len(sent) == 1 and "no longer works" in sent[0].body
    new_code = code_in(sent[0])
    assert new_code not in done.text and old_code not in done.text
    assert f"new code ending {card.last4}" in done.text
    assert services.find_card(code=new_code) == card and card.recipient_email == "ada@example.com"
    with pytest.raises(CardNotFound):
        services.find_card(code=old_code)
    event = GiftCardEvent.objects.get(card=card)
    assert (event.kind, event.previous_email, event.recipient_email, event.user.username, event.note) == (
        "resent", "ada@exmaple.com", "ada@example.com", "webtest-admin", "Customer called: typo in the address")
    assert "ada@exmaple.com" in done.text  # the event on the card's page
    assert card.balance == Decimal("30.00")

    # the same click again (a double submit): nothing more is sent
    again = form.submit().follow()
    assert "Already done" in again.text
    assert len([m for m in mail.outbox if m.to == ["ada@example.com"]]) == 1
    assert GiftCardEvent.objects.filter(card=card).count() == 1


def test_the_send_again_action_opens_one_cards_page(admin_app, issue):
    card, _code = issue("10.00")
    issue("12.00")
    changelist = admin_app.get(reverse("admin:giftcards_giftcard_changelist"))
    form = changelist.forms["changelist-form"]
    form["action"] = "send_again"
    form.get("_selected_action", index=0).checked = True
    form.get("_selected_action", index=1).checked = True
    assert "Choose one card" in form.submit().follow().text

    form = admin_app.get(reverse("admin:giftcards_giftcard_changelist")).forms["changelist-form"]
    form["action"] = "send_again"
    [box] = [f for f in form.fields["_selected_action"] if f._value == str(card.pk)]
    box.checked = True
    page = form.submit().follow()
    assert page.request.path == reverse("admin:giftcards_giftcard_resend", args=[card.pk])
    # a card issued without a recipient needs an address to go to
    refused = page.forms["resend-form"].submit()
    assert "Enter the email address to send the card to." in refused.text and not mail.outbox


def test_the_card_list_costs_the_same_queries_for_many_cards(admin_app, issue, django_assert_max_num_queries):
    issue("5.00")
    url = reverse("admin:giftcards_giftcard_changelist")
    admin_app.get(url)
    with django_assert_max_num_queries(12):
        admin_app.get(url)
    for n in range(6):
        issue("5.00")
    with django_assert_max_num_queries(12):
        response = admin_app.get(url)
    assert response.status_code == 200 and response.text.count("$5.00") >= 7


def test_the_card_page_and_the_resend_page_stay_within_their_query_budgets(admin_app, issue,
                                                                           django_assert_max_num_queries):
    card, _code = issue("5.00", recipient_email="ada@example.com")
    with django_assert_max_num_queries(16):
        admin_app.get(change_url(card))
    with django_assert_max_num_queries(8):
        admin_app.get(reverse("admin:giftcards_giftcard_resend", args=[card.pk]))


def test_nobody_deletes_a_card(admin_app, issue):
    card, _code = issue("5.00")
    response = admin_app.get(reverse("admin:giftcards_giftcard_delete", args=[card.pk]), expect_errors=True)
    assert response.status_code == 403 and GiftCard.objects.filter(pk=card.pk).exists()


def test_staff_make_a_product_a_gift_card_and_it_sells_without_stock(admin_app, storefront_catalog, django_app,
                                                                     django_capture_on_commit_callbacks):
    """The gift card product form as the admin renders it (the product chosen in its
    autocomplete select, as the widget's JavaScript would set it); the product page then offers
    the product although it has no stock row."""
    from catalog.models import StockLevel
    from catalog.tests import factories as f
    from giftcards.models import GiftCardProduct

    product = f.ProductFactory(title="Gift card $10", slug="gift-card-10", category=storefront_catalog.gear)
    f.VariantFactory(product=product, sku="GIFT-10", price=Decimal("10.00"))
    assert not StockLevel.objects.filter(variant__product=product).exists()
    assert 'name="quantity"' not in django_app.get("/p/gift-card-10/").text  # out of stock: nothing to add

    form = admin_app.get(reverse("admin:giftcards_giftcardproduct_add")).forms["giftcardproduct_form"]
    form["product"].force_value(str(product.pk))  # an autocomplete select renders no options
    form["valid_months"] = "24"
    with django_capture_on_commit_callbacks(execute=True):  # the product page's cached copy is dropped
        form.submit("_save").follow()

    assert GiftCardProduct.objects.get().product == product
    page = django_app.get("/p/gift-card-10/")
    assert "In stock" in page.text and 'name="quantity"' in page.text
