"""Chat: conversations on every channel, their messages, and what staff write for the assistant.

One conversation model for every channel (the web launcher, the contact form, later WhatsApp,
Messenger and email); one status per question: `status` says whose turn it is, `assignee` who
answers, `bot_active` whether the assistant still answers first.
"""
from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shop.models import TimeStamped

MESSAGE_MAX_LENGTH = 2000


def new_public_id() -> str:
    # 128 random bits: a conversation's address cannot be guessed, and it is still checked
    # against the visitor (or customer) on every request.
    return secrets.token_urlsafe(16)


class Channel(models.TextChoices):
    WEB = "web", _("Web chat")
    EMAIL = "email", _("Email")
    WHATSAPP = "whatsapp", _("WhatsApp")
    MESSENGER = "messenger", _("Messenger")


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=40, unique=True)

    class Meta:
        verbose_name = _("chat tag")
        verbose_name_plural = _("chat tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ConversationQuerySet(models.QuerySet):
    def for_visitor(self, *, visitor_key: str, user=None) -> ConversationQuerySet:
        """The conversations this browser may read: its own (by the signed visitor cookie) and,
        signed in, its customer's."""
        q = Q(visitor_key=visitor_key) if visitor_key else Q(pk__in=[])
        if user is not None and user.is_authenticated:
            q |= Q(customer__user=user)
        return self.filter(q)


class Conversation(TimeStamped):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")  # the store's turn
        WAITING = "waiting", _("Waiting on customer")
        RESOLVED = "resolved", _("Resolved")

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    visitor_key = models.CharField(_("visitor"), max_length=40, blank=True, db_index=True, editable=False)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="conversations",
    )
    email = models.EmailField(_("reply-to email"), blank=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assignee"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="chat_conversations",
    )
    bot_active = models.BooleanField(_("assistant answering"), default=True)
    # Answers the shopper did not accept in a row; at two the assistant offers a person.
    bot_misses = models.PositiveSmallIntegerField(default=0, editable=False)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="conversations")
    page_url = models.CharField(_("page"), max_length=300, blank=True)
    # The shopper's cart when they last wrote (a guest's lives in their session, out of staff's
    # reach otherwise); a customer's is found through their account.
    cart = models.ForeignKey("carts.Cart", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             editable=False)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)
    # When the shopper's oldest unanswered message was written (null: nobody is waiting).
    waiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    first_reply_at = models.DateTimeField(_("first reply"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    agent_last_seen_id = models.BigIntegerField(default=0, editable=False)
    shopper_last_seen_id = models.BigIntegerField(default=0, editable=False)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rating_comment = models.CharField(_("rating comment"), max_length=500, blank=True)
    # WhatsApp / Messenger: who writes (a phone number in international form, a page-scoped id),
    # and when they last wrote by the platform's clock (replies are free text for 24 hours after).
    external_sender = models.CharField(_("sender on the platform"), max_length=64, blank=True, editable=False)
    last_inbound_at = models.DateTimeField(_("last message from the customer"), null=True, blank=True,
                                           editable=False)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at", "-pk"]
        permissions = [
            ("reply_conversation", "Can answer chat conversations"),
            ("manage_chat", "Can manage chat: FAQ, canned replies, other agents' conversations"),
        ]
        indexes = [
            models.Index(fields=["status", "-last_message_at"], name="chat_conv_status_last"),
            models.Index(fields=["assignee", "status"], name="chat_conv_assignee_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                                   name="chat_rating_1_to_5"),
            # One conversation per sender per messaging app (concurrent first messages meet here).
            models.UniqueConstraint(fields=["channel", "external_sender"], condition=~Q(external_sender=""),
                                    name="chat_conv_external_sender_once"),
        ]

    def __str__(self) -> str:
        who = self.name or self.email or (self.customer.email if self.customer_id else _("Visitor"))
        return f"{who} ({self.get_channel_display()})"


class Message(models.Model):
    class Sender(models.TextChoices):
        SHOPPER = "shopper", _("Shopper")
        AGENT = "agent", _("Staff")
        BOT = "bot", _("Assistant")
        SYSTEM = "system", _("System")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sender = models.CharField(_("from"), max_length=8, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    # Plain text; links are found when shown. Never HTML.
    body = models.TextField(_("message"), max_length=MESSAGE_MAX_LENGTH)
    # An internal note: staff only, never sent to the shopper's stream or email.
    is_note = models.BooleanField(_("internal note"), default=False)
    # What the assistant or an agent attached: product cards, quick replies, an order link.
    payload = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.WEB)
    # The messaging app's own id, so a webhook delivered twice is stored once.
    external_id = models.CharField(max_length=200, blank=True)
    seen_at = models.DateTimeField(_("seen"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("emailed"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["pk"]
        indexes = [models.Index(fields=["conversation", "id"], name="chat_message_conv_id")]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], condition=~Q(external_id=""),
                                    name="chat_message_external_id_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_sender_display()}: {self.body[:60]}"


class FaqEntry(TimeStamped):
    """A question the assistant answers: its ways of asking (one per line) and the answer."""

    question = models.CharField(_("question"), max_length=200)
    variants = models.TextField(_("other ways to ask"), blank=True,
                                help_text=_("One per line. The assistant matches words, not exact sentences."))
    answer = models.TextField(_("answer"), max_length=MESSAGE_MAX_LENGTH, help_text=_("Plain text; links are allowed."))
    is_active = models.BooleanField(_("active"), default=True)
    times_used = models.PositiveIntegerField(_("times used"), default=0, editable=False)

    class Meta:
        verbose_name = _("FAQ entry")
        verbose_name_plural = _("FAQ entries")
        ordering = ["question"]

    def __str__(self) -> str:
        return self.question

    def phrasings(self) -> list[str]:
        return [self.question, *(line.strip() for line in self.variants.splitlines() if line.strip())]


class CannedReply(TimeStamped):
    """A reply staff insert with its shortcut; {first_name}, {agent_name}, {store_name} and
    {last_order} are filled in for the conversation."""

    shortcut = models.SlugField(_("shortcut"), max_length=40, unique=True)
    body = models.TextField(_("text"), max_length=MESSAGE_MAX_LENGTH)

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["shortcut"]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class ProactiveTrigger(TimeStamped):
    """A message the launcher opens with by itself, when a visitor matches: the kind of page, time
    on it, items in the cart, the cart's value, a returning visitor. The browser decides (nothing is
    sent about the visitor) except the cart's value, which the visitor's own `/chat/cart-value/` answers;
    at most once a day per visitor, never for one who closed the chat."""

    class PageType(models.TextChoices):
        ANY = "any", _("Any page")
        HOME = "home", _("Home page")
        PRODUCT = "product", _("Product page")
        CATEGORY = "category", _("Category page")
        SEARCH = "search", _("Search results")
        CART = "cart", _("Cart")

    name = models.CharField(_("name"), max_length=100)
    message = models.CharField(_("message"), max_length=300)
    page_type = models.CharField(_("page"), max_length=10, choices=PageType.choices, default=PageType.ANY)
    seconds_on_page = models.PositiveIntegerField(_("seconds on the page"), default=20)
    min_cart_items = models.PositiveIntegerField(_("at least this many items in the cart"), default=0)
    # Compared with the cart's value priced on the server (`views.cart_value`, never cached).
    min_cart_value = models.DecimalField(
        _("cart worth at least"), max_digits=12, decimal_places=2, default=0, validators=[MinValueValidator(0)],
        help_text=_("In the store's currency, at today's prices; 0: any cart."))
    returning_only = models.BooleanField(_("returning visitors only"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("proactive message")
        verbose_name_plural = _("proactive messages")
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(min_cart_value__gte=0), name="chat_trigger_cart_value_not_negative")]

    def __str__(self) -> str:
        return self.name


class ConversationOrder(models.Model):
    """An order that followed a conversation, recorded once when the order is placed
    (`services.attribute_order`, after it commits): the cart an agent built as a link and the
    shopper opened, else this browser's chat (a guest's too), else the customer's conversation,
    each within `selectors.ATTRIBUTION_DAYS`. The chat figures read these rows."""

    class How(models.TextChoices):
        CART_LINK = "cart_link", _("Cart link")
        SAME_VISITOR = "same_visitor", _("Same visitor")
        SAME_CUSTOMER = "same_customer", _("Same customer")

    conversation = models.ForeignKey(Conversation, verbose_name=_("conversation"), on_delete=models.CASCADE,
                                     related_name="attributed_orders")
    order = models.OneToOneField("orders.Order", verbose_name=_("order"), on_delete=models.CASCADE,
                                 related_name="chat_attribution")
    how = models.CharField(_("how"), max_length=16, choices=How.choices)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("order after a conversation")
        verbose_name_plural = _("orders after a conversation")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.order_id} ← {self.conversation_id} ({self.get_how_display()})"


def cart_link_key(token: str) -> str:
    """The indexed stand-in for a cart link's token (`CartLink.key`): its SHA-256, fixed length
    whatever the number of lines the signed token carries."""
    return hashlib.sha256(token.encode()).hexdigest()


class CartLink(models.Model):
    """A cart an agent sent as a link (`actions.send_cart_link`), so the link's page finds the
    conversation it was sent in by an index (`attribution.conversation_of_cart_link`) rather than
    by reading every agent message's payload. Not unique: the same lines sent again within the
    same second make the same token, and the latest sending wins."""

    key = models.CharField(max_length=64, db_index=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="cart_link")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("cart link")
        verbose_name_plural = _("cart links")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"cart link in conversation {self.conversation_id}"


WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class ChatSettings(models.Model):
    """What Support managers change about chat in the back office, one row (pk 1). Until it is
    first saved the environment's values apply (`CHAT_OPENING_HOURS`, `CHAT_AGENT_LIMIT`), and the
    add form starts from them; afterwards the row does. Read through `chat.config.current()`
    (cached; a save clears it). Times are the store's (`TIME_ZONE`)."""

    always_open = models.BooleanField(
        _("people answer at any time"), default=False,
        help_text=_("Ignore the hours below: someone answers chat whenever they are online."))
    monday_opens = models.TimeField(_("Monday from"), null=True, blank=True)
    monday_closes = models.TimeField(_("Monday until"), null=True, blank=True)
    tuesday_opens = models.TimeField(_("Tuesday from"), null=True, blank=True)
    tuesday_closes = models.TimeField(_("Tuesday until"), null=True, blank=True)
    wednesday_opens = models.TimeField(_("Wednesday from"), null=True, blank=True)
    wednesday_closes = models.TimeField(_("Wednesday until"), null=True, blank=True)
    thursday_opens = models.TimeField(_("Thursday from"), null=True, blank=True)
    thursday_closes = models.TimeField(_("Thursday until"), null=True, blank=True)
    friday_opens = models.TimeField(_("Friday from"), null=True, blank=True)
    friday_closes = models.TimeField(_("Friday until"), null=True, blank=True)
    saturday_opens = models.TimeField(_("Saturday from"), null=True, blank=True)
    saturday_closes = models.TimeField(_("Saturday until"), null=True, blank=True)
    sunday_opens = models.TimeField(_("Sunday from"), null=True, blank=True)
    sunday_closes = models.TimeField(_("Sunday until"), null=True, blank=True)
    agent_limit = models.PositiveSmallIntegerField(
        _("open conversations per agent"), default=5, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("New conversations wait in the queue once every online agent has this many open."))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("chat settings")
        verbose_name_plural = _("chat settings")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="chat_settings_single_row"),
            models.CheckConstraint(condition=Q(agent_limit__gte=1), name="chat_settings_agent_limit_positive"),
        ]

    def __str__(self) -> str:
        return str(_("Chat settings"))

    def clean(self) -> None:
        errors = {}
        for day in WEEKDAYS:
            opens, closes = getattr(self, f"{day}_opens"), getattr(self, f"{day}_closes")
            if (opens is None) != (closes is None):
                errors[f"{day}_closes" if closes is None else f"{day}_opens"] = _(
                    "Give both times, or neither for a day nobody answers.")
            elif opens is not None and closes <= opens:
                errors[f"{day}_closes"] = _("The closing time must be after the opening time.")
        if not errors and not self.always_open and not self.opening_hours():
            # Shoppers would be told "a person will answer soon" for ever.
            errors["always_open"] = _("Give the hours of at least one day, or tick this.")
        if errors:
            raise ValidationError(errors)

    def opening_hours(self) -> dict[int, tuple]:
        """Weekday (Monday 0) -> (opens, closes), for the days someone answers."""
        return {n: (getattr(self, f"{day}_opens"), getattr(self, f"{day}_closes"))
                for n, day in enumerate(WEEKDAYS) if getattr(self, f"{day}_opens") is not None}


def _private_storage():
    from .attachments import private_storage

    return private_storage()


class Attachment(models.Model):
    """An image or PDF sent with a message (`chat/attachments.py`: checked, re-encoded, stored
    privately, served only to whoever may read the conversation)."""

    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        PDF = "pdf", _("PDF")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(storage=_private_storage, upload_to="%Y/%m/", max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    name = models.CharField(_("file name"), max_length=100)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name


class AgentAway(models.Model):
    """An agent who said they are away (the inbox's Online/Away switch), and until when: the truth
    behind `presence`'s cache, so a cache cleared or restarted does not put them back in the round
    robin. No row, or `until` past: not away."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="+")
    until = models.DateTimeField(_("away until"))
    # The agent gave a time, so shoppers may be told it ("until I switch back" means nothing to them).
    said = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("agent away")
        verbose_name_plural = _("agents away")

    def __str__(self) -> str:
        return f"{self.user_id} away until {self.until:%Y-%m-%d %H:%M}"
