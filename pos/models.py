"""The point of sale: registers in shops, their sessions (float in, cash counted out), the cash
that moved through each drawer, and the sales made at the counter.

A counter sale is an ordinary order (`orders.Order`, channel = the shop's counter, `sale_location`
and `sold_by` set) placed by `pos.services.sell`; `Sale` adds what only the counter knows: the
register session, what was tendered and the change given. The drawer's cash is `CashMovement`
rows: the float, cash taken for sales, cash paid back for refunds. What the drawer should hold is
their sum; closing records what was counted and the difference.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shop.models import TimeStamped


class Register(TimeStamped):
    """A till in a shop: sells on that shop's counter channel."""

    name = models.CharField(_("name"), max_length=80)
    location = models.ForeignKey("catalog.Location", verbose_name=_("shop"), on_delete=models.PROTECT,
                                 related_name="registers")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("register")
        verbose_name_plural = _("registers")
        ordering = ["location__name", "name"]
        constraints = [models.UniqueConstraint(fields=["location", "name"], name="register_unique_name_per_shop")]

    def __str__(self) -> str:
        return f"{self.location.name} · {self.name}"


class RegisterSession(models.Model):
    """One opening of a register, from the float counted in to the cash counted out."""

    register = models.ForeignKey(Register, verbose_name=_("register"), on_delete=models.PROTECT,
                                 related_name="sessions")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("opened by"), on_delete=models.PROTECT,
                                  related_name="+")
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    opening_float = models.DecimalField(_("float"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("closed by"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Written when the session closes: the drawer's movements added up, what staff counted, and
    # counted - expected (negative: cash missing).
    expected_cash = models.DecimalField(_("expected cash"), max_digits=12, decimal_places=2, null=True, blank=True)
    counted_cash = models.DecimalField(_("counted cash"), max_digits=12, decimal_places=2, null=True, blank=True)
    difference = models.DecimalField(_("difference"), max_digits=12, decimal_places=2, null=True, blank=True)
    closing_note = models.TextField(_("closing note"), blank=True)

    class Meta:
        verbose_name = _("register session")
        verbose_name_plural = _("register sessions")
        ordering = ["-opened_at", "-pk"]
        constraints = [
            # One open session per register: a second "open" fails in the database, whoever races.
            models.UniqueConstraint(fields=["register"], condition=Q(closed_at__isnull=True),
                                    name="register_one_open_session"),
            models.CheckConstraint(condition=Q(opening_float__gte=0), name="register_session_float_non_negative"),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | (Q(counted_cash__isnull=False) & Q(expected_cash__isnull=False)),
                name="register_session_closed_with_count",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.register} from {self.opened_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class CashMovement(models.Model):
    """Cash into (positive) or out of (negative) a register's drawer during a session, and why."""

    class Kind(models.TextChoices):
        FLOAT = "float", _("Opening float")
        SALE = "sale", _("Cash sale")
        REFUND = "refund", _("Cash refund")

    session = models.ForeignKey(RegisterSession, verbose_name=_("session"), on_delete=models.PROTECT,
                                related_name="movements")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    order = models.ForeignKey("orders.Order", verbose_name=_("order"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="cash_movements")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(_("when"), auto_now_add=True)
    note = models.CharField(_("note"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("cash movement")
        verbose_name_plural = _("cash movements")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="refund", amount__lt=0) | (~Q(kind="refund") & Q(amount__gte=0))),
                name="cash_movement_sign_follows_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class Sale(models.Model):
    """A sale made at a register: its order, and what the counter took for it."""

    order = models.OneToOneField("orders.Order", verbose_name=_("order"), on_delete=models.PROTECT,
                                 related_name="counter_sale")
    session = models.ForeignKey(RegisterSession, verbose_name=_("session"), on_delete=models.PROTECT,
                                related_name="sales")
    sold_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("sold by"), on_delete=models.PROTECT,
                                related_name="+")
    cash_tendered = models.DecimalField(_("cash tendered"), max_digits=12, decimal_places=2, default=Decimal("0"))
    cash_taken = models.DecimalField(_("cash"), max_digits=12, decimal_places=2, default=Decimal("0"))
    change_given = models.DecimalField(_("change"), max_digits=12, decimal_places=2, default=Decimal("0"))
    card_amount = models.DecimalField(_("card"), max_digits=12, decimal_places=2, default=Decimal("0"))
    card_reference = models.CharField(_("terminal reference"), max_length=80, blank=True)
    gift_card_amount = models.DecimalField(_("gift card"), max_digits=12, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField(_("sold"), auto_now_add=True)

    class Meta:
        verbose_name = _("counter sale")
        verbose_name_plural = _("counter sales")
        ordering = ["-created_at", "-pk"]
        permissions = [("sell", "Can sell at a shop's counter and open or close its register")]
        constraints = [
            models.CheckConstraint(condition=Q(change_given__gte=0) & Q(cash_taken__gte=0) & Q(card_amount__gte=0)
                                   & Q(gift_card_amount__gte=0), name="sale_amounts_non_negative"),
            models.CheckConstraint(condition=Q(cash_tendered=models.F("cash_taken") + models.F("change_given")),
                                   name="sale_change_is_tendered_less_taken"),
        ]

    def __str__(self) -> str:
        return f"Counter sale {self.order_id}"
