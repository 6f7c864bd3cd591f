"""What every return step shares: recording a move (the return's history and the order's note)
and taking the return's row lock with its status checked."""
from __future__ import annotations

import logging

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.translation import gettext as _

from orders.models import OrderEvent

from ..exceptions import ReturnError
from ..models import ReturnEvent, ReturnRequest

S = ReturnRequest.Status
logger = logging.getLogger(__name__)
ACTOR_TO_ORDER = {ReturnEvent.Actor.CUSTOMER: OrderEvent.Actor.CUSTOMER,
                  ReturnEvent.Actor.STAFF: OrderEvent.Actor.STAFF,
                  ReturnEvent.Actor.SYSTEM: OrderEvent.Actor.SYSTEM}


def _actor(user: AbstractBaseUser | None) -> str:
    return ReturnEvent.Actor.STAFF if user is not None else ReturnEvent.Actor.SYSTEM


def _user(user: AbstractBaseUser | None):
    return user if user is not None and user.is_authenticated else None


def _record(request: ReturnRequest, *, to: str, actor: str, user: AbstractBaseUser | None, message: str,
            data: dict | None = None, before: str | None = None) -> ReturnEvent:
    """Move `request` to `to` (saved) and record it twice: the return's own history and the order's.
    `before`: the status it had ("" for a new request); by default its current one."""
    before = request.status if before is None else before
    request.status = to
    request.save()
    event = ReturnEvent.objects.create(request=request, from_status=before, to_status=to, actor=actor,
                                       user=_user(user), message=message, data=data or {})
    OrderEvent.objects.create(
        order_id=request.order_id, kind=OrderEvent.Kind.NOTE, actor=ACTOR_TO_ORDER[actor], user=_user(user),
        message=_("Return R%(pk)s: %(status)s.") % {"pk": request.pk, "status": S(to).label}
        + (f" {message}" if message else ""),
        data={"return": request.pk, "return_status": to},
    )
    return event


def _locked(request_id: int, *allowed: str, doing: str) -> ReturnRequest:
    request = ReturnRequest.objects.select_for_update().get(pk=request_id)
    if request.status not in allowed:
        raise ReturnError(_("Return R%(pk)s is %(status)s, so it cannot be %(doing)s. Nothing was changed.")
                          % {"pk": request.pk, "status": request.get_status_display().lower(), "doing": doing})
    return request
