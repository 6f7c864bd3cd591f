"""The customer's address book: add, edit, delete, choose the defaults, save one from checkout.

At most one default shipping and one default billing address per customer (database
constraints); setting one clears the previous one in the same transaction, holding the
customer's row lock, so two tabs changing the book at once queue instead of one failing on the
constraint.
"""
from __future__ import annotations

from django.db import transaction

from ..models import Address, Customer

DEFAULT_FLAGS = {"shipping": "is_default_shipping", "billing": "is_default_billing"}
ADDRESS_FIELDS = (*Address.ORDER_FIELDS, "phone")


def _lock_book(customer_id: int) -> None:
    """Hold the customer's row lock for the rest of the transaction (caller is in one)."""
    Customer.objects.select_for_update().filter(pk=customer_id).values_list("pk", flat=True).get()


def _clear_default(*, customer: Customer, flag: str, keep: Address | None = None) -> None:
    others = Address.objects.filter(customer=customer, **{flag: True})
    if keep is not None and keep.pk:
        others = others.exclude(pk=keep.pk)
    others.update(**{flag: False})


def _apply(address: Address, data: dict) -> None:
    for field in ADDRESS_FIELDS:
        if field in data:
            setattr(address, field, (data[field] or "").strip())


@transaction.atomic
def create_address(*, customer: Customer, data: dict, default_shipping: bool = False,
                   default_billing: bool = False) -> Address:
    """A new address-book entry from cleaned form `data` (AddressForm's fields and phone). The
    customer's first address becomes both defaults."""
    _lock_book(customer.pk)
    first = not Address.objects.filter(customer=customer).exists()
    address = Address(customer=customer)
    _apply(address, data)
    address.is_default_shipping = default_shipping or first
    address.is_default_billing = default_billing or first
    for kind, flag in DEFAULT_FLAGS.items():
        if getattr(address, flag):
            _clear_default(customer=customer, flag=flag)
    address.save()
    return address


@transaction.atomic
def update_address(*, address: Address, data: dict, default_shipping: bool | None = None,
                   default_billing: bool | None = None) -> Address:
    """Edit an entry; a default flag given as True makes it that default, False un-sets it,
    None leaves it."""
    _lock_book(address.customer_id)
    _apply(address, data)
    for flag, wanted in (("is_default_shipping", default_shipping), ("is_default_billing", default_billing)):
        if wanted is None:
            continue
        if wanted:
            _clear_default(customer=address.customer, flag=flag, keep=address)
        setattr(address, flag, wanted)
    address.save()
    return address


@transaction.atomic
def set_default_address(*, address: Address, kind: str) -> Address:
    """Make `address` the customer's default for `kind` ("shipping" or "billing"; ValueError
    otherwise)."""
    flag = DEFAULT_FLAGS.get(kind)
    if flag is None:
        raise ValueError(f"Unknown default address kind: {kind!r}")
    _lock_book(address.customer_id)
    _clear_default(customer=address.customer, flag=flag, keep=address)
    setattr(address, flag, True)
    address.save(update_fields=[flag, "updated_at"])
    return address


def delete_address(*, address: Address) -> None:
    """Remove an entry. Orders keep their own copy of every address, so none is affected."""
    address.delete()


@transaction.atomic
def save_checkout_address(*, customer: Customer, address: dict, phone: str = "") -> Address | None:
    """Keep an address typed at checkout (the shopper ticked "Save this address"). An identical
    entry already in the book is returned as it is; an address without a street (click and
    collect asks only for the name and country) is not saved and gives None."""
    if not (address.get("line1") or "").strip():
        return None
    values = {field: (address.get(field) or "").strip() for field in Address.ORDER_FIELDS}
    existing = Address.objects.filter(customer=customer, **values).first()
    if existing is not None:
        return existing
    return create_address(customer=customer, data={**values, "phone": phone},
                          default_shipping=not Address.objects.filter(customer=customer,
                                                                      is_default_shipping=True).exists())
