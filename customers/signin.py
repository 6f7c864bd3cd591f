"""What every sign-in must get past: the limits on guessing, known devices, and the second factor.

One flow signs everybody in: shoppers and staff (the admin's login page sends to it) enter their
email and password on allauth's sign-in page, then an authenticator code if they set one up.
allauth calls `AccountAdapter.pre_authenticate` before it checks a password (sign-in and
re-authentication alike), which calls `consume_password_attempt` here.

Limits (`ACCOUNT_RATE_LIMITS`, counted in Django's cache, so every worker shares the counts):

- `login_failed_ip`: failed password attempts from one address, whichever accounts they name.
- `login_failed`: failed attempts per account, typed as the email. A stranger who uses that budget
  up would lock the owner out, so attempts from a browser the account has signed in on before
  (its *device cookie*, OWASP's "Slow down online guessing attacks with device cookies") are
  counted per device instead: the owner signs in from their own browser whatever strangers do
  elsewhere, and a wrong password there only uses up that browser's budget (after which it
  counts as a stranger's). A password reset by email clears the account's count, so the owner
  also gets in from a new browser. allauth.mfa counts wrong authenticator codes under the same
  limit, per account (`mfa-auth-user-<id>`).

Each attempt is counted before the password is checked and given back if it was right, so
parallel guesses cannot slip past the limit. allauth clears `login_failed` after a password
reset or a right authenticator code; the per-address count is a separate action so neither
resets it.
"""
from __future__ import annotations

import logging
import secrets

from allauth.core.internal import ratelimit
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac

logger = logging.getLogger(__name__)

APP = "allauth.account"
DEVICE_COOKIE = "signin_device"
DEVICE_SALT = "customers.signin.device"
# A browser remembers this many accounts (a shared family computer); the oldest goes first.
DEVICE_COOKIE_ACCOUNTS = 5
ENROLMENT_SESSION_KEY = "customers.signin.second_factor_enrolment"


class TooManyAttempts(Exception):
    """A sign-in refused before its password was checked; `limit` is "address" or "account"."""

    def __init__(self, limit: str) -> None:
        super().__init__(limit)
        self.limit = limit


def normalise_login(login: str) -> str:
    return login.strip().lower()


def account_key(login: str) -> str:
    """The per-account counter's key: the email as typed, normalised. Not the request's host (as
    allauth's own key has it), so that every name the site answers to shares one budget."""
    return f"account:{normalise_login(login)}"


def consume_password_attempt(request: HttpRequest, *, login: str) -> ratelimit.RateLimitUsage:
    """Count one password attempt for `login` from this request's address and device.

    Returns the usage, to be rolled back if the password was right (allauth's adapter does);
    raises TooManyAttempts when a limit is reached. A refused attempt still counts against the
    address, so a guesser cannot keep knocking on locked accounts.
    """
    address = ratelimit.consume(request, app=APP, action="login_failed_ip")
    if address is None:
        logger.warning("Sign-in refused: too many failures from %s", ratelimit.get_ip(request))
        raise TooManyAttempts("address")
    usage = None
    device = known_device(request, login=login)
    if device:
        usage = ratelimit.consume(request, app=APP, action="login_failed", key=f"device:{device}")
    if usage is None:
        usage = ratelimit.consume(request, app=APP, action="login_failed", key=account_key(login))
    if usage is None:
        logger.warning("Sign-in refused: too many failures for one account (last from %s)", ratelimit.get_ip(request))
        raise TooManyAttempts("account")
    return ratelimit.RateLimitUsage(usage=address.usage + usage.usage)


# --- Device cookies ------------------------------------------------------------------------------

def _login_digest(login: str) -> str:
    """Names an account in the cookie without writing its email there."""
    return salted_hmac(DEVICE_SALT, normalise_login(login)).hexdigest()[:32]


def _device_entries(request: HttpRequest) -> list[list[str]]:
    value = request.COOKIES.get(DEVICE_COOKIE)
    if not value:
        return []
    try:
        entries = signing.loads(value, salt=DEVICE_SALT, max_age=settings.SIGNIN_DEVICE_COOKIE_AGE)
    except signing.BadSignature:
        return []
    if not isinstance(entries, list):
        return []
    return [entry for entry in entries if isinstance(entry, list) and len(entry) == 2]


def known_device(request: HttpRequest, *, login: str) -> str | None:
    """This browser's nonce for the account `login`, if it has signed in to it before."""
    digest = _login_digest(login)
    return next((nonce for entry_digest, nonce in _device_entries(request) if entry_digest == digest), None)


def remember_device(request: HttpRequest, response: HttpResponse, *, user: AbstractBaseUser) -> None:
    """After a complete sign-in: give this browser a new nonce for each email the account signs
    in with, so its later attempts are counted as the owner's device."""
    from allauth.account.models import EmailAddress

    emails = {normalise_login(user.email)} if user.email else set()
    emails |= {normalise_login(e) for e in EmailAddress.objects.filter(user=user).values_list("email", flat=True)}
    nonce = secrets.token_urlsafe(16)
    digests = {_login_digest(email) for email in emails}
    kept = [entry for entry in _device_entries(request) if entry[0] not in digests]
    entries = [[digest, nonce] for digest in sorted(digests)] + kept
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps(entries[: max(DEVICE_COOKIE_ACCOUNTS, len(digests))], salt=DEVICE_SALT, compress=True),
        max_age=settings.SIGNIN_DEVICE_COOKIE_AGE,
        path="/account/",  # only the sign-in and re-authentication forms need it
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


# --- Second factor -------------------------------------------------------------------------------

def second_factor_required(user: AbstractBaseUser) -> bool:
    """Superusers must sign in with an authenticator app in production (DEBUG off)."""
    return bool(user.is_superuser) and not settings.DEBUG


def has_authenticator_app(user: AbstractBaseUser) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def require_enrolment(request: HttpRequest) -> None:
    """Mark this session as signed in without the second factor it needs: the back office stays
    closed to it (`enrolment_pending`) until an authenticator app is set up."""
    request.session[ENROLMENT_SESSION_KEY] = True


def enrolment_pending(request: HttpRequest) -> bool:
    """Whether this session signed in needing an authenticator app it has not set up yet.

    Only sessions made by signing in carry the mark, so nothing else (tests' force_login, the
    shell) is affected; it goes once the app is set up.
    """
    if not request.session.get(ENROLMENT_SESSION_KEY):
        return False
    if request.user.is_authenticated and has_authenticator_app(request.user):
        del request.session[ENROLMENT_SESSION_KEY]
        return False
    return True
