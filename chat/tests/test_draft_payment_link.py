"""A draft order with a payment link, started from a conversation: the agent starts it from the
inbox, staff type its lines and place it with a payment link (the stafforders pages, as a browser
submits them), and the link arrives in the conversation as an order card the shopper pays from."""
import pytest

from chat import actions
from chat.models import Message
from orders.links import signed_order_url
from orders.models import Order
from stafforders.models import DraftOrder

from .test_actions import agent
from .test_payloads import in_the_launcher, on_the_messages_page, shopper  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk():
    return agent("carl", "Order managers")  # Support and Order managers: answers chat, types and places drafts


def start_and_type_draft(django_app, clerk, conversation, variant):
    """The agent presses "Build a draft order…" on the conversation page, then types a line and the address."""
    chat_page = django_app.get(f"/admin/chat/conversation/{conversation.pk}/change/", user=clerk)
    form = chat_page.forms["chat-draft-order-form"].submit().follow().forms["draftorder_form"]
    form["lines-0-variant"].force_value(str(variant.pk))  # an autocomplete box: its script selects it
    form["lines-0-quantity"] = "2"
    for name, value in {"address_line1": "1 Pier Road", "city": "Arlington", "postal_code": "22201",
                        "country": "US"}.items():
        form[name] = value
    return form.submit("_continue").follow()


def place(draft_page, payment: str):
    form = draft_page.click(description="Place order…").forms["place_draft_form"]
    form["payment"] = payment
    return form.submit()


def test_a_draft_placed_with_a_payment_link_is_posted_to_its_conversation_and_the_shopper_pays_from_it(
        client, django_app, shopper, clerk, storefront_catalog, django_capture_on_commit_callbacks):
    user, conversation = shopper
    draft_page = start_and_type_draft(django_app, clerk, conversation, storefront_catalog.lamp.variants.get())

    with django_capture_on_commit_callbacks(execute=True):
        place(draft_page, "link").follow()

    order = Order.objects.get()
    assert order.is_awaiting_payment and order.total > 0
    message = conversation.messages.filter(is_note=False).latest("pk")
    assert message.sender == Message.Sender.AGENT and message.author == clerk
    assert order.number in message.body
    # The shopper, in the launcher and on the page behind "Messages": the order with "Pay now".
    shown = in_the_launcher(client, user)["orders"][0]
    assert shown["number"] == order.number and shown["pay"] is True and shown["url"] == signed_order_url(order)
    _page, element = on_the_messages_page(django_app, user)
    button = element.select_one(".chat-order a.chat-card-action")
    assert (button.text, button["href"]) == ("Pay now", signed_order_url(order))
    order_page = django_app.get(button["href"])
    assert "pay-now-form" in order_page.forms  # the order page offers the payment
    # Staff see the same card, with the draft it came from; the customer's timeline says so.
    staff_page = django_app.get(f"/admin/chat/conversation/{conversation.pk}/change/", user=clerk)
    card = staff_page.html.select("#chat-messages .chat-order")[-1]
    assert "with Pay now" in card.text and card.select("a")[-1]["href"].endswith(
        f"/stafforders/draftorder/{DraftOrder.objects.get().pk}/change/")
    assert conversation.customer.activities.filter(message__contains=order.number).exists()

    # Posting again (a retried callback) posts nothing more.
    assert actions.post_draft_payment_link(draft_id=DraftOrder.objects.get().pk) is None
    assert conversation.messages.filter(payload__placed_draft__isnull=False).count() == 1


def test_a_draft_paid_offline_or_not_from_a_conversation_posts_nothing(
        django_app, shopper, clerk, storefront_catalog, django_capture_on_commit_callbacks):
    _user, conversation = shopper
    draft_page = start_and_type_draft(django_app, clerk, conversation, storefront_catalog.lamp.variants.get())
    before = conversation.messages.count()

    with django_capture_on_commit_callbacks(execute=True):
        place(draft_page, "invoice").follow()

    assert Order.objects.count() == 1 and conversation.messages.count() == before


def test_a_placement_refused_posts_nothing(django_app, shopper, clerk, storefront_catalog,
                                           django_capture_on_commit_callbacks):
    _user, conversation = shopper
    tee = storefront_catalog.tee.variants.get()  # out of stock
    draft_page = start_and_type_draft(django_app, clerk, conversation, tee)
    before = conversation.messages.count()

    with django_capture_on_commit_callbacks(execute=True):
        refused = place(draft_page, "link")

    assert "Not enough stock" in refused.text
    assert not Order.objects.exists() and conversation.messages.count() == before
