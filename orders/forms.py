"""Back-office forms for orders: each checks what staff typed, then one service acts on it.

None of them touches an order's totals or status; the services in `orders.services` (and
`payments.services` for refunds) do that, holding the order's row lock.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.translation import gettext_lazy as _

from shop.money import MoneyField, format_money

from .models import Order, OrderEvent, OrderLine
from .services import ShipmentRequest


class _LineQuantitiesForm(forms.Form):
    """A form with a `line_<pk>` quantity field for each of `self.lines`, shown before its other
    fields; at least one must be above zero. Subclasses pick the lines and say what is wanted."""

    nothing_left: str
    nothing_chosen: str

    def add_line_field(self, line: OrderLine, *, maximum: int, initial: int, help_text: str) -> None:
        self.fields[self._name(line)] = forms.IntegerField(
            label=f"{line.product_title} ({line.sku})", min_value=0, max_value=maximum, initial=initial,
            help_text=help_text,
        )

    @staticmethod
    def _name(line: OrderLine) -> str:
        return f"line_{line.pk}"

    def line_fields(self) -> Iterator[tuple[OrderLine, forms.BoundField]]:
        for line in self.lines:
            yield line, self[self._name(line)]

    def quantities(self) -> dict[int, int]:
        data = self.cleaned_data
        return {line.pk: data[self._name(line)] for line in self.lines if data.get(self._name(line))}

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.lines:
            raise forms.ValidationError(self.nothing_left)
        if not self.errors and not any(cleaned.get(self._name(line)) for line in self.lines):
            raise forms.ValidationError(self.nothing_chosen)
        return cleaned


class ShipmentForm(_LineQuantitiesForm):
    """One parcel: how many units of each line still to ship go in it, and how to track it.

    Each line with units left gets a `line_<pk>` field, filled with everything left, so the
    common case (ship it all) is one click. The service checks the quantities again under the
    order's lock; these limits only give staff a clear message first.
    """

    carrier = forms.CharField(label=_("Carrier"), max_length=80, required=False)
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=80, required=False)
    tracking_url = forms.URLField(label=_("Tracking link"), max_length=200, required=False, assume_scheme="https")
    nothing_left = _("Everything in this order has been shipped.")
    nothing_chosen = _("Choose at least one item to ship.")

    def __init__(self, *args, lines: Sequence[OrderLine], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lines = [line for line in lines if line.quantity > line.quantity_fulfilled]
        for line in self.lines:
            remaining = line.quantity - line.quantity_fulfilled
            self.add_line_field(line, maximum=remaining, initial=remaining, help_text=_(
                "%(remaining)d of %(quantity)d left to ship") % {"remaining": remaining, "quantity": line.quantity})
        # The line fields first: they are what the form is about.
        self.order_fields(self._name(line) for line in self.lines)

    def tracking_fields(self) -> list[forms.BoundField]:
        return [self["carrier"], self["tracking_number"], self["tracking_url"]]

    def shipment_request(self) -> ShipmentRequest:
        data = self.cleaned_data
        return ShipmentRequest(
            quantities=self.quantities(),
            carrier=data["carrier"], tracking_number=data["tracking_number"], tracking_url=data["tracking_url"],
        )


class ReturnForm(_LineQuantitiesForm):
    """Units the customer sent back, per line (at most what shipped and has not come back), and
    whether they go back on a shelf, and which. The service checks again under the order's lock.
    """

    restock = forms.BooleanField(
        label=_("Put the items back in stock"), required=False, initial=True,
        help_text=_("Leave unticked for damaged goods: they are recorded as returned but not sellable."),
    )
    location = forms.TypedChoiceField(label=_("Location"), coerce=int, required=False, empty_value=None)
    note = forms.CharField(
        label=_("Note"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the order's history, e.g. the reason or the parcel's condition."),
    )
    nothing_left = _("Nothing shipped in this order is left to come back.")
    nothing_chosen = _("Enter how many units of at least one item came back.")

    def __init__(self, *args, lines: Sequence[OrderLine], locations: Sequence, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lines = [line for line in lines if line.quantity_fulfilled > line.quantity_returned]
        for line in self.lines:
            returnable = line.quantity_fulfilled - line.quantity_returned
            self.add_line_field(line, maximum=returnable, initial=0, help_text=_(
                "%(returnable)d of %(shipped)d shipped can come back")
                % {"returnable": returnable, "shipped": line.quantity_fulfilled})
        self.fields["location"].choices = [("", "—")] + [(location.pk, location.name) for location in locations]
        if locations:
            self.fields["location"].initial = locations[0].pk
        self.order_fields(self._name(line) for line in self.lines)

    def other_fields(self) -> list[forms.BoundField]:
        return [self["restock"], self["location"], self["note"]]

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("restock") and cleaned.get("location") is None:
            self.add_error("location", _("Choose where the items go back to, or untick restocking."))
        return cleaned


@dataclass(frozen=True)
class RefundablePayment:
    """A payment that still has money to give back, as the refund form offers it."""

    pk: int
    label: str
    refundable: Decimal


class RefundForm(forms.Form):
    """Give back all or part of one payment, through the provider that took it."""

    payment = forms.TypedChoiceField(label=_("Payment"), coerce=int)
    amount = MoneyField(label=_("Amount"), min_value=Decimal("0.01"))
    reason = forms.CharField(
        label=_("Reason"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the order's history."),
    )

    def __init__(self, *args, payments: Sequence[RefundablePayment], currency: str,
                 returned: Decimal | None = None, **kwargs) -> None:
        """`returned`: what returned units not yet refunded are worth after their discounts
        (`payment_state.returned_not_refunded`; None when nothing came back): the proposed amount,
        and when goods came back but are worth nothing more, no amount is proposed at all."""
        super().__init__(*args, **kwargs)
        self.payments = {payment.pk: payment for payment in payments}
        self.currency = currency
        self.fields["amount"].currency = currency
        self.fields["payment"].choices = [
            (payment.pk, _("%(payment)s: up to %(amount)s")
             % {"payment": payment.label, "amount": format_money(payment.refundable, currency)})
            for payment in payments
        ]
        if payments:
            # The usual case is one payment, refunded in full.
            self.fields["payment"].initial = payments[0].pk
            self.fields["amount"].initial = payments[0].refundable
            if returned is not None and returned > 0:
                self.fields["amount"].initial = min(returned, payments[0].refundable)
                self.fields["amount"].help_text = _(
                    "Proposed: %(amount)s for the returned items, each at the price paid after its share of "
                    "the discounts.") % {"amount": format_money(returned, currency)}
            elif returned is not None:
                # Goods came back, but they are worth nothing back (a free gift, a "buy 3 for 2"
                # whose kept items no longer earn it): proposing the whole payment would invite a
                # refund nobody owes.
                self.fields["amount"].initial = None
                self.fields["amount"].help_text = _(
                    "Nothing is due for the returned items: what they were worth went to the promotion "
                    "the kept items no longer earn. Enter an amount only for another reason.")
        if len(payments) == 1:
            self.fields["payment"].widget = forms.HiddenInput()

    def clean(self) -> dict:
        cleaned = super().clean()
        payment = self.payments.get(cleaned.get("payment"))
        amount = cleaned.get("amount")
        if payment is not None and amount is not None and amount > payment.refundable:
            self.add_error(
                "amount",
                _("At most %(amount)s can be refunded from this payment.")
                % {"amount": format_money(payment.refundable, self.currency)},
            )
        return cleaned


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


class NoteForm(forms.ModelForm):
    """An internal note: an entry in the order's history that the customer never sees."""

    message = forms.CharField(label=_("Internal note"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    class Meta:
        model = OrderEvent
        fields = ["message"]

    def save_note(self, *, order: Order, user: AbstractBaseUser) -> OrderEvent:
        """Add the note to `order`'s history, written by `user` (a staff member)."""
        note = self.instance
        note.order = order
        note.kind = OrderEvent.Kind.NOTE
        note.actor = OrderEvent.Actor.STAFF
        note.user = user
        note.save()
        return note
