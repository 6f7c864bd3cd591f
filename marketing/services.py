"""Writes for campaigns: sending one (its recipients fixed once), sending its batches (each message
once), test sends, cancelling and resuming.

The flow: `send_campaign` locks the campaign, writes one pending `CampaignMessage` per consenting
member and, after commit, enqueues `tasks.send_campaign_batch_task` per BATCH_SIZE messages. Each
batch (`send_campaign_batch`) re-checks consent, renders its messages in a fixed number of
queries (`rendering.render_for_customers`), and sends each message under the outbox contract of
`notifications.delivery`: claim the row, send, mark it sent (here in one transaction, once the
SMTP connection is open).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from smtplib import SMTPRecipientsRefused

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.template import TemplateSyntaxError
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Activity, Customer, Segment
from customers.selectors.segments import segment_customers
from notifications.links import absolute_url
from notifications.services import SMTP_TIMEOUT_SECONDS, message_id

from .exceptions import CampaignError
from .models import Campaign, CampaignMessage
from .rendering import RenderedEmail, compile_campaign, render_for_customers

logger = logging.getLogger(__name__)

# Messages per task: small enough that a retried batch repeats little work, large enough that
# rendering (a fixed number of queries per batch) and the SMTP connection are shared widely.
BATCH_SIZE = 200
# A message the mail server keeps refusing with a temporary error is given up after this many tries.
MAX_ATTEMPTS = 5
# Previews and test sends show this instead of a real link, so clicking it in a test email
# cannot unsubscribe the customer the preview was rendered for.
PREVIEW_UNSUBSCRIBE_PATH = "/account/unsubscribe/preview/"

M = CampaignMessage.Status


# --- Seams the lead unifies at merge -------------------------------------------------------------

def recipients(*, segment: Segment) -> QuerySet[Customer]:
    """The members of `segment` a campaign may go to now: marketing consent, not erased."""
    return Customer.objects.marketable().filter(pk__in=segment_customers(segment).values("pk"))


# --- Starting, cancelling, resuming --------------------------------------------------------------

def send_campaign(*, campaign: Campaign, actor: AbstractBaseUser | None) -> bool:
    """Send a draft `campaign` to the members of its segment who accept marketing email now.

    One transaction holding the campaign's row lock: the campaign moves to "sending" (recording
    when and by whom, and how many recipients), one pending CampaignMessage per recipient is
    written (INSERT … ON CONFLICT DO NOTHING: (campaign, customer) is unique), and one
    `send_campaign_batch_task` per BATCH_SIZE messages is enqueued after commit.

    Returns False, doing nothing, if the campaign is not a draft any more: a second click or a
    second call (also a concurrent one, which waits for the lock) never sends again.
    Raises CampaignError, changing nothing, when there is no segment, a template does not
    compile, or nobody in the segment may receive it.
    """
    with transaction.atomic():
        # of=("self",): the segment is an outer join, which PostgreSQL will not lock (nor need we).
        campaign = Campaign.objects.select_for_update(of=("self",)).select_related("segment").get(pk=campaign.pk)
        if campaign.status != Campaign.Status.DRAFT:
            return False
        if campaign.segment is None:
            raise CampaignError(_("Choose the segment this campaign goes to first; nothing was sent."))
        try:
            compile_campaign(campaign)
        except TemplateSyntaxError as error:
            raise CampaignError(_("The campaign's templates have an error (%(error)s); nothing was sent.")
                                % {"error": error}) from error
        members = recipients(segment=campaign.segment).order_by("pk").values_list("pk", "email")
        CampaignMessage.objects.bulk_create(
            (CampaignMessage(campaign=campaign, customer_id=pk, email=email) for pk, email in members.iterator()),
            batch_size=1000, ignore_conflicts=True,
        )
        message_ids = list(campaign.messages.filter(status=M.PENDING).order_by("pk").values_list("pk", flat=True))
        if not message_ids:
            raise CampaignError(_("Nobody in segment “%(segment)s” accepts marketing email now; nothing was sent.")
                                % {"segment": campaign.segment})
        campaign.status = Campaign.Status.SENDING
        campaign.sent_at = timezone.now()
        campaign.sent_by = actor if actor is not None and actor.is_authenticated else None
        campaign.recipient_count = len(message_ids)
        campaign.save(update_fields=["status", "sent_at", "sent_by", "recipient_count", "updated_at"])
        _enqueue_batches(campaign_id=campaign.pk, message_ids=message_ids)
    return True


def resume_campaign(*, campaign: Campaign) -> int:
    """Enqueue the batches of every message of a sending campaign that is still pending; return
    how many messages that is.

    For when tasks were lost (the broker was down at commit, a worker died, retries ran out):
    safe at any time, since a message is sent at most once. Raises CampaignError if the
    campaign is not sending.
    """
    if campaign.status != Campaign.Status.SENDING:
        raise CampaignError(_("Campaign “%(name)s” is not sending, so there is nothing to resume.")
                            % {"name": campaign.name})
    message_ids = list(campaign.messages.filter(status=M.PENDING).order_by("pk").values_list("pk", flat=True))
    _enqueue_batches(campaign_id=campaign.pk, message_ids=message_ids)
    if not message_ids:
        _finish_if_done(campaign_id=campaign.pk)
    return len(message_ids)


def cancel_campaign(*, campaign: Campaign) -> int:
    """Cancel a draft or sending campaign; return how many unsent messages were skipped.

    Holds the campaign's row lock. Messages already sent stay sent; pending ones become skipped,
    and a batch still running finds nothing left to claim. Raises CampaignError for a campaign
    that is sent or already cancelled.
    """
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SENDING):
            raise CampaignError(_("Campaign “%(name)s” is %(status)s; it cannot be cancelled.")
                                % {"name": campaign.name, "status": campaign.get_status_display().lower()})
        skipped = campaign.messages.filter(status=M.PENDING).update(
            status=M.SKIPPED, error=_("The campaign was cancelled.")
        )
        campaign.status = Campaign.Status.CANCELLED
        campaign.finished_at = timezone.now() if campaign.sent_at else None
        campaign.save(update_fields=["status", "finished_at", "updated_at"])
    return skipped


def _enqueue_batches(*, campaign_id: int, message_ids: list[int]) -> None:
    from .tasks import send_campaign_batch_task

    for start in range(0, len(message_ids), BATCH_SIZE):
        batch = message_ids[start:start + BATCH_SIZE]
        # One callback per batch: robust=True logs a failing one (a broker outage, or a mail
        # outage in eager mode) and still enqueues the rest; resume_campaign re-enqueues later.
        transaction.on_commit(
            lambda batch=batch: send_campaign_batch_task.delay(campaign_id=campaign_id, message_ids=batch),
            robust=True,
        )


def _finish_if_done(*, campaign_id: int) -> bool:
    """Mark a sending campaign sent once none of its messages is pending."""
    if CampaignMessage.objects.filter(campaign_id=campaign_id, status=M.PENDING).exists():
        return False
    now = timezone.now()
    return bool(Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING).update(
        status=Campaign.Status.SENT, finished_at=now, updated_at=now,
    ))


# --- Sending a batch -----------------------------------------------------------------------------

@dataclass
class BatchResult:
    sent: list[int] = field(default_factory=list)  # message ids
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def send_campaign_batch(*, campaign_id: int, message_ids: list[int]) -> BatchResult:
    """Send the listed messages of a sending campaign that are still pending; any number of runs,
    also concurrent ones, send each message at most once.

    Consent is checked again first, and once more as each message is claimed: a recipient who
    unsubscribed or was erased since "send" is skipped. Rendering costs a fixed number of queries for the whole batch; the messages share
    one SMTP connection. Each message is claimed (a conditional UPDATE, which holds its row lock),
    sent and marked sent in one transaction (the SMTP connection is opened before it): a duplicate
    task waits for the lock and then finds the message sent. An Activity(kind=campaign) is
    written for every message sent, in one INSERT at the end of the run (a worker killed mid-run
    loses those timeline rows, never the messages' status).

    A refused recipient fails that message and the batch goes on. Any other SMTP or connection
    error leaves the message pending (with the error and an attempt counted; after MAX_ATTEMPTS
    it is failed), stops the batch and is raised, for the task to retry the rest later.
    Marks the campaign sent when no message of it is pending any more.
    """
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    result = BatchResult()
    if campaign is None or campaign.status != Campaign.Status.SENDING:
        return result  # cancelled (its pending messages are skipped) or already finished
    messages = list(
        CampaignMessage.objects.filter(campaign=campaign, pk__in=message_ids, status=M.PENDING)
        .select_related("customer").order_by("attempts", "pk")  # one that failed before goes last
    )
    withdrawn = [message.pk for message in messages if not _may_receive(message.customer)]
    if withdrawn:
        _skip_withdrawn(withdrawn)
        result.skipped.extend(withdrawn)
        messages = [message for message in messages if message.pk not in withdrawn]

    failure: Exception | None = None
    if messages:
        rendered = render_for_customers(campaign=campaign, customers=[message.customer for message in messages])
        connection = get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or SMTP_TIMEOUT_SECONDS)
        try:
            for message in messages:
                email = rendered[message.customer_id]
                try:
                    if _send_one(message=message, email=email, campaign=campaign, connection=connection):
                        result.sent.append(message.pk)
                    elif _skip_withdrawn([message.pk]):  # unsubscribed or erased since the batch began
                        result.skipped.append(message.pk)
                except SMTPRecipientsRefused as error:
                    _record_failure(message=message, error=error, permanent=True)
                    result.failed.append(message.pk)
                except Exception as error:
                    _record_failure(message=message, error=error, permanent=False)
                    failure = error
                    break
        finally:
            connection.close()
            sent = set(result.sent)
            _record_activities(campaign=campaign, messages=[m for m in messages if m.pk in sent], rendered=rendered)
    if failure is not None:
        logger.warning("Campaign %s: batch stopped by a mail error, to be retried: %s", campaign_id, failure)
        raise failure
    _finish_if_done(campaign_id=campaign_id)
    return result


def _may_receive(customer: Customer) -> bool:
    return customer.accepts_marketing and customer.erased_at is None and bool(customer.email)


def _skip_withdrawn(message_ids: list[int]) -> int:
    return CampaignMessage.objects.filter(pk__in=message_ids, status=M.PENDING).update(
        status=M.SKIPPED, error=_("No marketing consent any more when it was due to be sent.")
    )


def _send_one(*, message: CampaignMessage, email: RenderedEmail, campaign: Campaign,
              connection: BaseEmailBackend) -> bool:
    """Claim, send and mark one message in one transaction; False if another run had it or the
    customer no longer accepts marketing email.

    The claim re-checks consent: a batch takes minutes to send, and the customer's row read at
    its start may be out of date by the time their message is due.
    """
    customer = message.customer
    outgoing = _build_message(email=email, to=customer.email, key=f"campaign:{campaign.pk}:{customer.pk}",
                              connection=connection)
    # Connected before the claim: a mail server that accepts and never answers holds this sender
    # for EMAIL_TIMEOUT, never the message's row lock (on SQLite, the database's write lock).
    connection.open()  # a no-op once open: the batch shares one connection
    with transaction.atomic():
        claimed = CampaignMessage.objects.filter(
            pk=message.pk, status=M.PENDING,
            customer__in=Customer.objects.marketable().filter(pk=customer.pk).values("pk"),
        ).update(
            status=M.SENT, sent_at=timezone.now(), email=customer.email, attempts=F("attempts") + 1, error="",
        )
        if not claimed:
            return False
        # Last: once the server has the message only our COMMIT can fail.
        outgoing.send()
    return True


def _record_failure(*, message: CampaignMessage, error: Exception, permanent: bool) -> None:
    status = Value(M.FAILED) if permanent else Case(
        When(attempts__gte=MAX_ATTEMPTS - 1, then=Value(M.FAILED)), default=Value(M.PENDING)
    )
    CampaignMessage.objects.filter(pk=message.pk, status=M.PENDING).update(
        status=status, attempts=F("attempts") + 1, error=f"{type(error).__name__}: {error}"[:2000],
    )


def _record_activities(*, campaign: Campaign, messages: list[CampaignMessage],
                       rendered: dict[int | None, RenderedEmail]) -> None:
    if messages:
        Activity.objects.bulk_create([
            Activity(customer_id=message.customer_id, kind=Activity.Kind.CAMPAIGN,
                     message=rendered[message.customer_id].subject[:255],
                     data={"campaign_id": campaign.pk, "campaign": campaign.name, "message_id": message.pk})
            for message in messages
        ])


def _build_message(*, email: RenderedEmail, to: str, key: str | None,
                   connection: BaseEmailBackend | None = None, subject_prefix: str = "") -> EmailMultiAlternatives:
    headers = {
        # RFC 2369 and RFC 8058: mail clients show an "Unsubscribe" button that POSTs to the link.
        "List-Unsubscribe": f"<{email.unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if key is not None:
        # The same Message-ID on every attempt, as for the store's other emails.
        headers["Message-ID"] = message_id(key)
    message = EmailMultiAlternatives(
        subject=f"{subject_prefix}{email.subject}", body=email.text, from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to], headers=headers, connection=connection,
    )
    message.attach_alternative(email.html, "text/html")
    return message


# --- Preview and test sends ----------------------------------------------------------------------

@dataclass(frozen=True)
class Preview:
    customer: Customer
    is_sample_member: bool  # False: nobody in the segment may receive it; a made-up customer is shown
    email: RenderedEmail
    recipient_count: int


def preview_campaign(*, campaign: Campaign, sample_only: bool = False) -> Preview:
    """The campaign as the first consenting member of its segment would get it, with their picks;
    or, with `sample_only` (or an empty segment), as a made-up customer with the store's
    best-sellers.

    Raises CampaignError when a template does not render.
    """
    members = recipients(segment=campaign.segment) if campaign.segment_id else Customer.objects.none()
    customer = None if sample_only else members.order_by("pk").first()
    count = members.count() if customer is not None else 0
    sample = customer or Customer(first_name=_("Alex"), last_name=_("Example"), email="alex@example.com")
    try:
        email = render_for_customers(
            campaign=campaign, customers=[sample],
            unsubscribe_url=lambda customer: absolute_url(PREVIEW_UNSUBSCRIBE_PATH),
        )[sample.pk]
    except TemplateSyntaxError as error:
        raise CampaignError(_("The campaign's templates have an error: %(error)s") % {"error": error}) from error
    return Preview(customer=sample, is_sample_member=customer is not None, email=email, recipient_count=count)


def send_test_email(*, campaign: Campaign, to: str, actor: AbstractBaseUser | None = None) -> Preview:
    """Email the preview (see `preview_campaign`) to `to` now, subject marked "[Test]".

    Rendered for the made-up sample customer, never a real member: `to` may be any address, and a
    member's name and purchase-based picks are theirs. Not a CampaignMessage: it is not counted,
    and the real send still reaches everyone, `to` included. Its unsubscribe link is a dummy. Raises CampaignError for a bad address or a
    template error; a mail server error (SMTPException, OSError) is raised as it is.
    """
    to = (to or "").strip()
    try:
        validate_email(to)
    except ValidationError as error:
        raise CampaignError(_("“%(to)s” is not an email address; nothing was sent.") % {"to": to}) from error
    preview = preview_campaign(campaign=campaign, sample_only=True)
    connection = get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or SMTP_TIMEOUT_SECONDS)
    _build_message(email=preview.email, to=to, key=None, connection=connection, subject_prefix=_("[Test] ")).send()
    logger.info("Campaign %s: test email sent to %s by %s", campaign.pk, to, getattr(actor, "pk", None))
    return preview
