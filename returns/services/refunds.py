"""Money back for a return: recorded pending, sent provider by provider, settled; cash at a counter
from its open register."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Location
from orders.exceptions import OrderError
from payments.exceptions import PaymentError
from payments.models import Refund
from shop.money import format_money

from ..exceptions import ReturnError
from ..models import ReturnRequest
from .common import S, _actor, _locked, _record


# --- Money back --------------------------------------------------------------------------------------


def cash_sessions(request: ReturnRequest) -> list:
    """The registers open at the shop where `request` was received, when it was received at a
    shop: where cash paid back for it comes from (`pos.selectors.open_sessions_at`). Empty for a
    parcel received at a warehouse."""
    from pos.selectors import open_sessions_at

    location = request.received_location
    if location is None or location.kind != Location.Kind.SHOP:
        return []
    return open_sessions_at(location_id=location.pk)


def _counter_session(request: ReturnRequest, session_id: int | None):
    """The open register the cash comes from: the one chosen, or the only one open at the shop."""
    sessions = cash_sessions(request)
    shop = request.received_location.name
    if session_id is not None:
        chosen = [session for session in sessions if session.pk == session_id]
        if not chosen:
            raise ReturnError(_("That register is not open at %(shop)s any more. Nothing was changed.")
                              % {"shop": shop})
        return chosen[0]
    if not sessions:
        raise ReturnError(_("The order was paid in cash, which goes back from a register at %(shop)s, and no "
                            "register is open there: open one at the counter (/pos/), then refund. Nothing was "
                            "changed.") % {"shop": shop})
    if len(sessions) > 1:
        raise ReturnError(_("Several registers are open at %(shop)s: choose the one the cash comes from. Nothing "
                            "was changed.") % {"shop": shop})
    return sessions[0]


def refund_return(*, request_id: int, user: AbstractBaseUser | None, session_id: int | None = None) -> ReturnRequest:
    """Give back what the received units are worth (`refund_due`) to the order's original
    payments, card first, gift cards after; again (a retry) for what a first try left unfinished.

    1. One transaction holding the return's lock: what is still missing (due less the refunds
       made for it that did not fail) is split over the payments (`payments.services.open_refund`,
       each payment locked and checked) and recorded as pending refunds with their idempotency
       keys; no provider is asked in it. Cash taken at a counter is paid back here and now from a
       register open at the shop where the items were received: no provider holds that money, so
       its refund completes in this transaction (`payments.services.refund_by_hand`, asking
       nobody) with the drawer's movement naming the order (`pos.services.record_cash_refund`);
       refused, changing nothing, when none is open there (received at a warehouse, cash goes
       back by hand as any manual refund). Committed.
    2. After commit, with no transaction open, the return's refunds still awaiting their provider
       are sent (`payments.services.send_awaiting_refunds`): each claimed, asked, and answered in
       its own transaction, so what one provider did is committed before the next is asked and a
       later failure never erases it; a retry (or the periodic job) sends the same refund with the
       same key, and never while another sender is asking.
    3. Settled under the return's lock (`settle_refund`): refunded when every part succeeded or is
       pending at its provider; else "refund not finished" with what is missing and why, for a
       retry; left as it was while another sender (a second click, the periodic job) is asking a
       provider for a part right now (that sender settles it).

    Call outside any transaction (TransactionManagementError otherwise, before any provider is
    asked; inside one, a later failure could roll back what a provider did). Raises ReturnError,
    changing nothing, unless received (or refunding), when nothing is due, the payments hold less
    than is missing, or cash needs a register that is not open.
    """
    from orders.admin.payment_state import refundable_payments
    from payments.models import Payment, Provider
    from payments.services import open_refund, refund_by_hand, send_awaiting_refunds
    from pos.exceptions import SaleError
    from pos.services import record_cash_refund

    with transaction.atomic():
        request = _locked(request_id, S.RECEIVED, S.REFUNDING, doing=_("refunded"))
        order = request.order
        due = request.refund_due or Decimal("0")
        if due <= 0:
            raise ReturnError(_("Nothing is due for return R%(pk)s.") % {"pk": request.pk})
        live = list(request.refunds.exclude(status=Refund.Status.FAILED))
        missing = due - sum((refund.amount for refund in live), Decimal("0"))
        if missing > 0:
            payments = refundable_payments(order)
            if sum((p.refundable for p in payments), Decimal("0")) < missing:
                raise ReturnError(_("The order's payments hold less than the %(amount)s due; refund by hand from the "
                                    "order page.") % {"amount": format_money(missing, order.currency)})
            plan, left = [], missing
            for payment in payments:
                if left <= 0:
                    break
                plan.append((payment.pk, min(left, payment.refundable)))
                left -= plan[-1][1]
            locked = {p.pk: p for p in Payment.objects.select_for_update().filter(
                pk__in=[pk for pk, _part in plan]).order_by("pk")}
            session = None
            at_counter = request.received_location is not None and request.received_location.kind == Location.Kind.SHOP
            if at_counter and any(locked[pk].provider == Provider.CASH for pk, _part in plan):
                session = _counter_session(request, session_id)  # refused when none is open there
            reason = _("Return R%(pk)s") % {"pk": request.pk}
            try:
                for pk, part in plan:
                    payment = locked[pk]
                    from_drawer = session is not None and payment.provider == Provider.CASH
                    refund = open_refund(
                        payment=payment, amount=part, user=user,
                        reason=(_("%(reason)s: cash from %(register)s") % {"reason": reason,
                                                                          "register": session.register})
                        if from_drawer else reason)
                    request.refunds.add(refund)
                    if from_drawer:
                        # The drawer pays it now: no provider to ask, so it completes in this transaction.
                        refund_by_hand(payment=payment, refund=refund, user=user)
                        record_cash_refund(session_id=session.pk, order=order, amount=refund.amount, user=user,
                                           note=reason)
            except (PaymentError, OrderError, SaleError) as error:
                raise ReturnError(f"{error} " + _("Nothing was changed.")) from error
    send_awaiting_refunds(refunds=request.refunds.all(), user=user)
    return settle_refund(request_id=request_id, user=user)


def settle_refund(*, request_id: int, user: AbstractBaseUser | None = None) -> ReturnRequest:
    """Refunded once the return's refunds add up to what is due and each succeeded or is pending at
    its provider; otherwise "refund not finished", saying what is missing and why. Under the
    return's lock; a return no longer received or refunding is left as it is, and so is one with a
    refund another sender is asking its provider for right now (`Refund.being_sent`: that sender
    settles it). A step that changes nothing is recorded only when staff asked (a retry), not by
    the periodic task."""
    with transaction.atomic():
        request = ReturnRequest.objects.select_for_update().select_related("order").get(pk=request_id)
        if request.status not in (S.RECEIVED, S.REFUNDING):
            return request
        currency = request.order.currency
        refunds = list(request.refunds.select_related("payment").order_by("pk"))
        live = [refund for refund in refunds if refund.status != Refund.Status.FAILED]
        given = sum((refund.amount for refund in live), Decimal("0"))
        due = request.refund_due or Decimal("0")
        unfinished = [refund for refund in live if refund.awaiting_provider]
        if any(refund.being_sent for refund in unfinished):
            # Another sender (a second click, the periodic job) is asking a provider right now:
            # it settles the return once it has the answer, so nothing is concluded here.
            return request
        data = {"refunds": [refund.pk for refund in refunds], "amount": str(due)}
        if given >= due and not unfinished:
            message = _("%(amount)s back to the original payment.") % {"amount": format_money(due, currency)}
            if any(refund.status == Refund.Status.PENDING for refund in live):
                message += " " + _("The provider is still processing it; the order's payment state moves when it "
                                   "succeeds.")
            _record(request, to=S.REFUNDED, actor=_actor(user), user=user, message=message, data=data)
            return request
        why = [_("%(amount)s to %(payment)s: no answer from the provider yet") % {
            "amount": format_money(refund.amount, currency), "payment": refund.payment.get_provider_display()}
            for refund in unfinished]
        why += [_("%(amount)s to %(payment)s refused: %(reason)s") % {
            "amount": format_money(refund.amount, currency), "payment": refund.payment.get_provider_display(),
            "reason": refund.failure_reason or "-"}
            for refund in refunds if refund.status == Refund.Status.FAILED and given < due]
        done = given - sum((refund.amount for refund in unfinished), Decimal("0"))
        message = _("Refund not finished: %(done)s of %(due)s refunded or on its way (%(why)s). Retry the refund; "
                    "nothing is refunded twice.") % {"done": format_money(done, currency),
                                                     "due": format_money(due, currency), "why": "; ".join(why)}
        if request.status != S.REFUNDING or user is not None:
            _record(request, to=S.REFUNDING, actor=_actor(user), user=user, message=message, data=data)
    return request


def finish_refunds(*, older_than: timedelta = timedelta(minutes=2)) -> int:
    """The periodic task's part: every return whose refund is unfinished (refunding, or received
    with refunds opened by a step that stopped before settling) and quiet for `older_than` (not
    in the middle of staff's click) has its refunds that got no answer sent again
    (`payments.services.send_awaiting_refunds`: the same keys, never asked twice at once), then is
    settled. Refunds a provider refused are left to staff ("Retry the refund" opens new ones).
    Call outside any transaction. Returns how many returns were looked at."""
    from payments.services import send_awaiting_refunds

    quiet = timezone.now() - older_than
    ids = list(ReturnRequest.objects.filter(status__in=(S.RECEIVED, S.REFUNDING), refunds__isnull=False,
                                            updated_at__lte=quiet).distinct().order_by("pk").values_list("pk", flat=True))
    if ids:
        send_awaiting_refunds(refunds=Refund.objects.filter(pk__in=ReturnRequest.refunds.through.objects.filter(
            returnrequest_id__in=ids).values("refund_id")))
    for request_id in ids:
        settle_refund(request_id=request_id)
    return len(ids)
