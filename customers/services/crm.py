"""Writes of the CRM back office: notes and interactions, tags, exports (audited), erasure by staff."""
from __future__ import annotations

from collections.abc import Iterator

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet

from ..models import AuditLog, Customer, Note, Tag
from ..selectors.crm import customer_export_lines
from . import record_audit

NOTE_MAX_LENGTH = 5000


class CRMError(Exception):
    """A CRM action refused; the message says why and nothing was changed."""


def add_note(*, customer: Customer, author: AbstractBaseUser | None, kind: str, body: str,
             visible_to_customer: bool = False) -> Note:
    """Record a staff note or an interaction (call, email, visit, chat) on the customer's timeline.

    Raises CRMError for an unknown kind, an empty body or one over NOTE_MAX_LENGTH characters.
    """
    body = (body or "").strip()
    if kind not in Note.Kind.values:
        raise CRMError(f"Unknown kind of note: {kind!r}.")
    if not body:
        raise CRMError("Write the note first.")
    if len(body) > NOTE_MAX_LENGTH:
        raise CRMError(f"A note can be at most {NOTE_MAX_LENGTH:,} characters; this one has {len(body):,}.")
    return Note.objects.create(customer=customer, author=author, kind=kind, body=body,
                               visible_to_customer=visible_to_customer)


@transaction.atomic
def add_tag(*, customers: QuerySet[Customer], tag_name: str) -> tuple[Tag, int]:
    """Give every customer in `customers` the tag `tag_name` (created if new); returns the tag and
    how many customers newly got it. Customers who already have it are left as they are.

    Two writes whatever the number of customers: the tag, and one INSERT ... SELECT-like bulk
    insert of the missing links (ON CONFLICT DO NOTHING keeps it safe against a concurrent add).
    """
    name = (tag_name or "").strip()
    if not name:
        raise CRMError("Give the tag a name.")
    max_length = Tag._meta.get_field("name").max_length
    if len(name) > max_length:
        raise CRMError(f"A tag name can be at most {max_length} characters.")
    tag = Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)
    Through = Customer.tags.through
    missing = customers.exclude(tags=tag).values_list("pk", flat=True)
    links = [Through(customer_id=pk, tag_id=tag.pk) for pk in missing.iterator(chunk_size=5000)]
    Through.objects.bulk_create(links, batch_size=5000, ignore_conflicts=True)
    return tag, len(links)


def export_customers(*, customers: QuerySet[Customer], actor: AbstractBaseUser, filters: dict) -> Iterator[str]:
    """Record the export in the audit log (who, how many, which filter), then return the CSV lines.

    The caller must have checked `customers.export_customer`; this records whatever it is given.
    The audit row is written before the first line is read, so a download cut short is still on
    record.
    """
    count = customers.count()
    record_audit(action=AuditLog.Action.CUSTOMER_EXPORT, actor=actor,
                 detail=f"{count} customers exported", count=count, filters=filters)
    return customer_export_lines(customers)
