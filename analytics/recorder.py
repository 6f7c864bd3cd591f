"""Record a storefront event without touching the database.

`record()` costs no SQL and, almost always, no cache round trip either: each process gathers its
events in memory and puts them in the shared cache as one numbered entry (an INCR for the number, a
SET of the list under it) every ANALYTICS_BUFFER_EVENTS events or ANALYTICS_BUFFER_SECONDS seconds,
whichever comes first (checked when an event arrives), and when the process ends. One key per
event made every request write to the cache, and with a file cache (CACHE_URL) that culled the
shared page cache. `services.flush_events`, run every minute by the beat schedule, reads the
numbered entries back in order and writes them with one `bulk_create` per batch. The buffer is the shared cache (Redis in production), so every web process and worker sees
the same one; with the local-memory default, `make run`'s single process does.

Nothing is recorded for a browser that sends "Do Not Track" (`DNT: 1`) or Global Privacy Control
(`Sec-GPC: 1`), nor for crawlers; see docs/privacy.md. A cache that is down loses the event and
never fails the request.
"""
from __future__ import annotations

import atexit
import hashlib
import logging
import re
import secrets
import threading
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from . import utm

logger = logging.getLogger(__name__)

SEQ_KEY = "analytics:seq"
EVENT_KEY = "analytics:event:{}"
SEARCH_RESULTS_KEY = "analytics:search-results:{}"
# A person erased (customers/services/privacy.erase_customer): their account, customer row and
# visitor ids, so a buffered event of theirs that reaches the flush later is dropped, not written.
FORGOTTEN_KEY = "analytics:forgotten:{}:{}"
# An event not flushed within a day is dropped by the cache rather than letting memory grow while
# the flush task is down.
EVENT_TTL = 60 * 60 * 24
VISITOR_COOKIE = "sv"
VISITOR_COOKIE_AGE = 60 * 60 * 24 * 395  # 13 months, as long as the events it links
_VISITOR_RE = re.compile(r"^[0-9a-f]{32}$")
_NEW_VISITOR = "_analytics_new_visitor"
UTM_FIELDS = utm.FIELDS

_BOT_RE = re.compile(r"bot|crawl|spider|slurp|facebookexternalhit|preview|monitor|curl|wget|python-requests",
                     re.IGNORECASE)
_TABLET_RE = re.compile(r"ipad|tablet|kindle|silk|playbook|android(?!.*mobile)", re.IGNORECASE)
_MOBILE_RE = re.compile(r"mobi|iphone|ipod|android|blackberry|opera mini|iemobile", re.IGNORECASE)


def tracking_allowed(request: HttpRequest) -> bool:
    """False for "Do Not Track", Global Privacy Control and crawlers: nothing is recorded for them."""
    headers = request.headers
    if headers.get("DNT") == "1" or headers.get("Sec-GPC") == "1":
        return False
    return not _BOT_RE.search(headers.get("User-Agent", ""))


def device_class(user_agent: str) -> str:
    """mobile, tablet or desktop from the User-Agent, by simple rules (tablets first: an iPad or an
    Android without "Mobile" is a tablet)."""
    if not user_agent:
        return ""
    if _TABLET_RE.search(user_agent):
        return "tablet"
    if _MOBILE_RE.search(user_agent):
        return "mobile"
    return "desktop"


def visitor_id(request: HttpRequest) -> str:
    """The visitor cookie's random id, or a new one (the middleware then sets the cookie)."""
    known = getattr(request, "analytics_visitor", None)
    if known:
        return known
    value = request.COOKIES.get(VISITOR_COOKIE, "")
    if not _VISITOR_RE.match(value):
        value = secrets.token_hex(16)
        setattr(request, _NEW_VISITOR, True)
    request.analytics_visitor = value
    return value


def visitor_cookie(request: HttpRequest) -> str:
    """The visitor id this browser sent, or "" (none, or not one of ours); never makes one."""
    value = request.COOKIES.get(VISITOR_COOKIE, "")
    return value if _VISITOR_RE.match(value) else ""


def is_new_visitor(request: HttpRequest) -> bool:
    return getattr(request, _NEW_VISITOR, False)


def _user_id(request: HttpRequest) -> int | None:
    # Only a user the request has already loaded: asking `request.user` here could cost the
    # session and user queries on a page that never needed them (a cached page never does).
    user = getattr(request, "_cached_user", None)
    return user.pk if user is not None and user.is_authenticated else None


def build_event(request: HttpRequest | None, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "uid": uuid.uuid4().hex, "name": name, "at": timezone.now().isoformat(), "properties": properties,
    }
    if request is not None:
        event.update(
            visitor=visitor_id(request), user=_user_id(request),
            device=device_class(request.headers.get("User-Agent", "")),
            **{field: request.GET.get(field, "")[:100] for field in UTM_FIELDS if request.GET.get(field)},
        )
        if any(event.get(field) for field in UTM_FIELDS):
            # Only a link the store signed attributes the visit to a campaign or email (utm.py).
            event["utm_verified"] = utm.verified(request.GET)
    return event


# This process's events not yet in the shared buffer, and when the oldest of them arrived.
_pending: list[dict[str, Any]] = []
_pending_since = 0.0
_pending_lock = threading.Lock()
# In a web process, hands the waiting events over once the first has waited its time (below).
_timer: threading.Timer | None = None


def _in_web_process() -> bool:
    """A process serving requests with its background thread on (shop/background.py): not a
    worker or a command (their flush or exit hands events over), nor a test."""
    from shop import background

    return background.takes_tasks()


def _hand_over_later() -> None:
    """Hand this process's events over within ANALYTICS_BUFFER_SECONDS even if no event follows.

    Otherwise a web process's last events (a cached page viewed once, then a quiet night) would
    wait in its memory for its next event or its exit, and the flush, which runs in a worker,
    would not see them: the view would count a day late, after its day was rolled up. One timer
    at a time; the caller holds _pending_lock."""
    global _timer
    if (_timer is not None and _timer.is_alive()) or not _in_web_process():
        return
    _timer = threading.Timer(settings.ANALYTICS_BUFFER_SECONDS, push_pending)
    _timer.daemon = True
    _timer.start()


def append(event: dict[str, Any]) -> None:
    """Keep `event` with this process's others; hand them to the shared buffer when there are
    enough of them or the oldest has waited long enough (in a web process, a timer sees to that
    even when no other event arrives)."""
    global _pending_since
    with _pending_lock:
        if not _pending:
            _pending_since = time.monotonic()
            _hand_over_later()
        _pending.append(event)
        if (len(_pending) < settings.ANALYTICS_BUFFER_EVENTS
                and time.monotonic() - _pending_since < settings.ANALYTICS_BUFFER_SECONDS):
            return
        batch = _pending[:]
        _pending.clear()
    _push(batch)


def push_pending() -> None:
    """Hand this process's waiting events to the shared buffer now (before a flush, at exit, or
    from the timer)."""
    global _timer
    with _pending_lock:
        if threading.current_thread() is _timer:
            _timer = None  # an event arriving while this one writes starts a timer of its own
        batch = _pending[:]
        _pending.clear()
    if batch:
        _push(batch)


atexit.register(push_pending)


def _push(batch: list[dict[str, Any]]) -> None:
    """Number `batch` with INCR and store it under its number."""
    try:
        try:
            number = cache.incr(SEQ_KEY)
        except ValueError:  # first entry, or the counter was evicted
            cache.add(SEQ_KEY, 0, timeout=None)
            number = cache.incr(SEQ_KEY)
        cache.set(EVENT_KEY.format(number), batch, EVENT_TTL)
    except Exception:  # the cache is down: the events are lost, the page is not
        logger.warning("%d analytics event(s) not recorded: cache unavailable", len(batch), exc_info=True)


def record(request: HttpRequest | None, name: str, /, **properties: Any) -> None:
    """Note that `name` happened (product_viewed, added_to_cart, order_placed...), for this
    visitor when `request` is given. No SQL; JSON-serialisable `properties` only. Nothing is
    recorded when the browser asks not to be tracked."""
    if request is not None and not tracking_allowed(request):
        return
    append(build_event(request, name, properties))


def record_on_commit(request: HttpRequest | None, name: str, /, **properties: Any) -> None:
    """`record()` once the surrounding transaction commits (for hooks inside services)."""
    if request is not None and not tracking_allowed(request):
        return
    event = build_event(request, name, properties)
    transaction.on_commit(lambda: append(event), robust=True)


# --- Erasure: events still in a buffer -----------------------------------------------------------
#
# An erasure deletes the person's events from the database, but some may still be on their way:
# in the shared buffer (written by the next flush), or in a process's own batch (`_pending`,
# handed over within ANALYTICS_BUFFER_SECONDS of its next event, or at exit). `forget` marks the
# account, the customer row and the visitor ids in the shared cache; `drop_forgotten`, run by the
# flush on every batch, drops any event carrying one of them. A mark lasts as long as the visitor
# cookie (the browser may go on sending it after the account is gone): the few marks an erasure
# makes are not personal data by themselves (a random id, a row number).


def forget(*, customer_id: int, user_ids: set[int] = frozenset(), visitor_ids: set[str] = frozenset()) -> None:
    """Mark the erased customer's account, row and visitor ids so the flush drops their buffered
    events (see above). Each mark holds the customer's id, and counts only once that customer is
    erased in the database: an erasure rolled back leaves marks that drop nothing. Raises if the
    cache is down: an erasure must not pretend it reached the buffer."""
    marks = {FORGOTTEN_KEY.format("user", pk): customer_id for pk in user_ids if pk}
    marks[FORGOTTEN_KEY.format("customer", customer_id)] = customer_id
    marks |= {FORGOTTEN_KEY.format("visitor", value): customer_id for value in visitor_ids if value}
    cache.set_many(marks, VISITOR_COOKIE_AGE)


def _marks(payload: dict[str, Any]) -> list[str]:
    """The marks that would drop this event. The visitor id counts only for an event of nobody
    signed in: a browser the erased person shared goes on counting the other person's visits."""
    properties = payload.get("properties") or {}
    user, customer = payload.get("user"), properties.get("customer_id")
    return [key for key in (
        FORGOTTEN_KEY.format("user", user) if user else None,
        FORGOTTEN_KEY.format("customer", customer) if customer else None,
        FORGOTTEN_KEY.format("visitor", payload["visitor"]) if payload.get("visitor") and not (user or customer) else None,
    ) if key]


def drop_forgotten(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`payloads` without the events of anyone erased: one cache round trip for the batch, and one
    query when a mark is found (is its customer really erased?)."""
    keys = {key for payload in payloads for key in _marks(payload)}
    if not keys:
        return payloads
    marks = cache.get_many(list(keys))
    if not marks:
        return payloads
    from customers.models import Customer

    erased = set(Customer.objects.filter(pk__in=set(marks.values()), erased_at__isnull=False)
                 .values_list("pk", flat=True))
    forgotten = {key for key, customer_id in marks.items() if customer_id in erased}
    kept = [payload for payload in payloads if not any(key in forgotten for key in _marks(payload))]
    if len(kept) < len(payloads):
        logger.info("%d buffered analytics event(s) of erased customers dropped", len(payloads) - len(kept))
    return kept


def search_results_key(query: str) -> str:
    return SEARCH_RESULTS_KEY.format(hashlib.sha256(query.strip().lower().encode()).hexdigest()[:32])


def note_search_results(request: HttpRequest, *, query: str, results: int) -> None:
    """Called by the search view when it runs: the number of results for `query`.

    The middleware puts it on this request's search event; a page served from the cache never
    runs the view, so the count is also kept in the cache, where the flush finds it for events
    that arrived without one.
    """
    request.analytics_search_results = results
    try:
        cache.set(search_results_key(query), results, EVENT_TTL)
    except Exception:
        logger.warning("Search result count not kept: cache unavailable", exc_info=True)
