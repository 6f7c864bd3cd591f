"""Customers: one record per buyer, with or without an account, and what the store knows of them.

A `Customer` is keyed by email, so a guest who buys twice is one customer, and signing up with
that email (once verified) makes the same record an account holder's. Orders point at it
(`orders.Order.customer`), which keeps the CRM complete even when a customer changes their email.

Figures that lists filter and sort on at 100,000 customers (order count, lifetime value, first
and last order, RFM scores) are stored on the row and kept by `services.refresh_customer_stats`
(after a payment or refund commits, and nightly), never computed per row on a page.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from shop.models import TimeStamped


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RFMSegment(models.TextChoices):
    """The built-in segments derived from the RFM scores (services.rfm_segment_for decides)."""

    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    NEW = "new", _("New")
    AT_RISK = "at_risk", _("At risk")
    LOST = "lost", _("Lost")
    OTHER = "other", _("Others")


class CustomerQuerySet(models.QuerySet):
    def with_account(self) -> CustomerQuerySet:
        return self.filter(user__isnull=False)

    def active(self) -> CustomerQuerySet:
        """Customers whose personal data has not been erased."""
        return self.filter(erased_at__isnull=True)

    def marketable(self) -> CustomerQuerySet:
        """Who a marketing email may go to: consented now, not erased."""
        return self.active().filter(accepts_marketing=True)


class Customer(TimeStamped):
    # Always stored lower-cased (services.normalise_email); a database constraint holds it.
    email = models.EmailField(_("email"), unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("account"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="customer",
    )
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    # A number proved to be this customer's (staff checked it at the counter, or a code sent to
    # it came back): E.164, "+" and digits (customers.services.normalise_phone). Orders from
    # any channel that give it attach here (customer_for_order(phone_verified=True)).
    verified_phone = models.CharField(_("verified phone"), max_length=20, blank=True, editable=False)
    phone_verified_at = models.DateTimeField(_("phone verified"), null=True, blank=True, editable=False)
    language = models.CharField(_("preferred language"), max_length=10, blank=True, choices=settings.LANGUAGES)

    # Marketing consent as it stands now; every grant and withdrawal is a ConsentRecord.
    accepts_marketing = models.BooleanField(_("accepts marketing email"), default=False)
    marketing_consent_at = models.DateTimeField(_("consent given"), null=True, blank=True)
    # Order updates, back-in-stock and price-drop notices for the wishlist (not marketing).
    wants_wishlist_alerts = models.BooleanField(_("wishlist alerts"), default=True)

    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="customers")

    # Order figures (paid orders; refunds subtracted), kept by services.refresh_customer_stats.
    order_count = models.PositiveIntegerField(_("orders"), default=0, editable=False)
    total_spent = models.DecimalField(
        _("lifetime value"), max_digits=12, decimal_places=2, default=Decimal("0"), editable=False
    )
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True, editable=False)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True, editable=False)

    # RFM scores, 1 (worst) to 5 (best); 0 until the customer has a paid order.
    recency_score = models.PositiveSmallIntegerField(_("recency"), default=0, editable=False)
    frequency_score = models.PositiveSmallIntegerField(_("frequency"), default=0, editable=False)
    monetary_score = models.PositiveSmallIntegerField(_("monetary"), default=0, editable=False)
    rfm_segment = models.CharField(
        _("RFM segment"), max_length=20, choices=RFMSegment.choices, blank=True, editable=False
    )
    rfm_scored_at = models.DateTimeField(_("scored"), null=True, blank=True, editable=False)

    # Set when the customer asked to be forgotten: personal fields are blanked, orders kept.
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True, editable=False)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-created_at", "-pk"]
        # Exporting personal data in bulk is its own right, recorded in the audit log.
        permissions = [("export_customer", _("Can export customers"))]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="customer_created"),
            models.Index(fields=["total_spent"], name="customer_total_spent"),
            models.Index(fields=["last_order_at"], name="customer_last_order"),
            models.Index(fields=["rfm_segment"], name="customer_rfm_segment"),
            models.Index(fields=["accepts_marketing"], name="customer_accepts_marketing"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(email=Lower("email")), name="customer_email_lowercase"),
            models.CheckConstraint(condition=Q(total_spent__gte=0), name="customer_total_spent_non_negative"),
            # One customer per verified number: what makes "the same customer by phone" well defined.
            models.UniqueConstraint(fields=["verified_phone"], condition=~Q(verified_phone=""),
                                    name="customer_verified_phone_unique"),
            models.CheckConstraint(
                condition=Q(recency_score__lte=5) & Q(frequency_score__lte=5) & Q(monetary_score__lte=5),
                name="customer_rfm_scores_within_5",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def average_order_value(self) -> Decimal:
        if not self.order_count:
            return Decimal("0.00")
        return (self.total_spent / self.order_count).quantize(Decimal("0.01"))

    @property
    def rfm_code(self) -> str:
        """"545" style, or "" when not scored."""
        if not self.recency_score:
            return ""
        return f"{self.recency_score}{self.frequency_score}{self.monetary_score}"


class Address(TimeStamped):
    """An address-book entry. Its fields match checkout's AddressForm and Order's address snapshots."""

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="addresses")
    name = models.CharField(_("full name"), max_length=120)
    company = models.CharField(_("company"), max_length=120, blank=True)
    line1 = models.CharField(_("address"), max_length=200, blank=True)
    line2 = models.CharField(_("apartment, suite, etc."), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("state / province"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = models.CharField(_("country"), max_length=2)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    is_default_shipping = models.BooleanField(_("default shipping address"), default=False)
    is_default_billing = models.BooleanField(_("default billing address"), default=False)

    ORDER_FIELDS = ("name", "company", "line1", "line2", "city", "region", "postal_code", "country")

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["-is_default_shipping", "-is_default_billing", "-updated_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=Q(is_default_shipping=True),
                                    name="address_one_default_shipping"),
            models.UniqueConstraint(fields=["customer"], condition=Q(is_default_billing=True),
                                    name="address_one_default_billing"),
        ]

    def __str__(self) -> str:
        return ", ".join(part for part in (self.name, self.line1, self.city, self.country) if part)

    def as_order_address(self) -> dict:
        """The address as checkout's AddressForm.address() and Order.shipping_address hold it."""
        return {field: getattr(self, field) for field in self.ORDER_FIELDS}


class ConsentRecord(models.Model):
    """One grant or withdrawal of consent, with when and where it happened. Never edited."""

    class Purpose(models.TextChoices):
        MARKETING_EMAIL = "marketing_email", _("Marketing email")

    class Source(models.TextChoices):
        SIGNUP = "signup", _("Sign-up form")
        ACCOUNT = "account", _("Account preferences")
        CHECKOUT = "checkout", _("Checkout")
        UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
        STAFF = "staff", _("Staff")
        ERASURE = "erasure", _("Account deleted")
        IMPORT = "import", _("Import or demo data")

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=30, choices=Purpose.choices,
                               default=Purpose.MARKETING_EMAIL)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=30, choices=Source.choices)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="consent_customer_created")]

    def __str__(self) -> str:
        verb = "granted" if self.granted else "withdrawn"
        return f"{self.get_purpose_display()} {verb} ({self.get_source_display()})"


class Note(models.Model):
    """A staff note or a record of an interaction with the customer."""

    class Kind(models.TextChoices):
        NOTE = "note", _("Note")
        CALL = "call", _("Phone call")
        EMAIL = "email", _("Email")
        VISIT = "visit", _("Shop visit")
        CHAT = "chat", _("Chat")

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="notes")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.NOTE)
    body = models.TextField(_("note"))
    # Whether the customer has been shown the note. Every note, internal or not, is part of their
    # data download (services.data_export: the right of access covers it), by "staff", not by name.
    visible_to_customer = models.BooleanField(_("visible to the customer"), default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes and interactions")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="note_customer_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.body[:60]}"


class Activity(models.Model):
    """What happened to a customer that no other table records (sign-ups, sign-ins, consent,
    exports, erasure, email changes), for the CRM timeline. Orders, order events, emails and notes
    come from their own tables."""

    class Kind(models.TextChoices):
        SIGNED_UP = "signed_up", _("Signed up")
        EMAIL_VERIFIED = "email_verified", _("Email verified")
        SIGNED_IN = "signed_in", _("Signed in")
        SIGN_IN_FAILED = "sign_in_failed", _("Sign-in failed")
        PASSWORD_CHANGED = "password_changed", _("Password changed")
        EMAIL_CHANGED = "email_changed", _("Email changed")
        CONSENT = "consent", _("Consent changed")
        GUEST_ORDERS_ATTACHED = "guest_orders_attached", _("Guest orders attached")
        DATA_EXPORTED = "data_exported", _("Data downloaded")
        ERASED = "erased", _("Personal data erased")
        SEGMENT = "segment", _("Segment changed")
        CAMPAIGN = "campaign", _("Campaign email")
        CHAT = "chat", _("Chat")
        PHONE_VERIFIED = "phone_verified", _("Phone verified")
        PHONE_UNVERIFIED = "phone_unverified", _("Phone verification removed")

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="activities")
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    message = models.CharField(_("what"), max_length=255, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="activity_customer_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"


class AuditLog(models.Model):
    """Who exported or deleted customer data, and when. Written by the services, never edited."""

    class Action(models.TextChoices):
        CUSTOMER_EXPORT = "customer_export", _("Customers exported")
        SEGMENT_EXPORT = "segment_export", _("Segment exported")
        DATA_EXPORT = "data_export", _("Customer data downloaded")
        CUSTOMER_ERASED = "customer_erased", _("Customer erased")
        ACCOUNT_DELETED = "account_deleted", _("Account deleted by the customer")

    action = models.CharField(_("action"), max_length=30, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    # Kept as text too: the customer row may be erased, the actor deleted.
    actor_repr = models.CharField(_("by (as recorded)"), max_length=255, blank=True)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_repr or '?'}"


class Segment(TimeStamped):
    """A group of customers: built from the RFM scores, from rules, or a hand-picked list.

    Rule segments match customers meeting every rule that is set (empty rules are ignored);
    selectors.segment_customers turns a segment into a queryset, evaluated when asked, so a rule
    segment is always current.
    """

    class Kind(models.TextChoices):
        RFM = "rfm", _("Built-in (RFM)")
        RULES = "rules", _("Rules")
        MANUAL = "manual", _("Manual list")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.RULES)
    description = models.TextField(_("description"), blank=True)

    # Kind.RFM: which built-in segment.
    rfm_segment = models.CharField(_("RFM segment"), max_length=20, choices=RFMSegment.choices, blank=True)

    # Kind.RULES: all that are set must hold.
    min_total_spent = models.DecimalField(_("spent at least"), max_digits=12, decimal_places=2,
                                          null=True, blank=True)
    max_total_spent = models.DecimalField(_("spent at most"), max_digits=12, decimal_places=2,
                                          null=True, blank=True)
    min_orders = models.PositiveIntegerField(_("at least this many orders"), null=True, blank=True)
    bought_from_category = models.ForeignKey(
        "catalog.Category", verbose_name=_("bought from category (or its subcategories)"), null=True,
        blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    no_order_for_days = models.PositiveIntegerField(_("no order in the last N days"), null=True, blank=True)
    ordered_within_days = models.PositiveIntegerField(_("ordered in the last N days"), null=True, blank=True)
    has_marketing_consent = models.BooleanField(_("has marketing consent"), null=True, blank=True)
    has_account = models.BooleanField(_("has an account"), null=True, blank=True)
    tag = models.ForeignKey(Tag, verbose_name=_("has tag"), null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    # A paid order that used the promotion (any of its codes, or automatically) / this very code.
    used_promotion = models.ForeignKey(
        "promotions.Promotion", verbose_name=_("used promotion"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    used_code = models.CharField(_("used code"), max_length=32, blank=True,
                                 help_text=_("Typed case, spaces and dashes do not matter."))

    # Kind.MANUAL: the hand-picked members.
    members = models.ManyToManyField(Customer, verbose_name=_("members"), blank=True,
                                     related_name="manual_segments")

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["rfm_segment"], condition=Q(kind="rfm"), name="segment_one_per_rfm"),
        ]
        # Downloading members' contact details is a permission of its own, apart from editing.
        permissions = [("export_segment", _("Can export segment members"))]

    def __str__(self) -> str:
        return self.name


class WishlistItem(models.Model):
    """A product a customer keeps for later, with its price and availability when added, so the
    wishlist can say "price dropped" and "back in stock"."""

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="wishlist")
    product = models.ForeignKey("catalog.Product", verbose_name=_("product"), on_delete=models.CASCADE,
                                related_name="+")
    price_when_added = models.DecimalField(_("price when added"), max_digits=12, decimal_places=2)
    was_in_stock = models.BooleanField(_("in stock when added"), default=True)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("wishlist item")
        verbose_name_plural = _("wishlist")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "product"], name="wishlist_product_once"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.product_id}"


class PendingSignup(models.Model):
    """What a sign-up form asked for that must wait until its email is verified.

    An unverified sign-up proves nothing about who owns the address, so it may neither take over
    a guest's customer record nor subscribe that address to marketing: the consent ticked on the
    form is kept here and applied (source "signup") by services.accounts.attach_customer.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="pending_signup")
    accepts_marketing = models.BooleanField(_("asked for marketing email"), default=False)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("pending sign-up")
        verbose_name_plural = _("pending sign-ups")

    def __str__(self) -> str:
        return f"{self.user_id}: marketing={self.accepts_marketing}"
