"""Settings for the store: the one place that reads the environment.

Every variable is listed with its default in `.env.example`. The defaults run the store on one
machine with nothing installed (SQLite, local-memory cache, Celery eager, console email);
`DATABASE_URL`, `REDIS_URL` and `EMAIL_URL` switch to real services.
"""
import os
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A developer's own `.env` (never committed) is read if present; the process environment wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# `.env.example` leaves these empty to mean "the default"; django-environ would read "" instead
# (an empty key in debug mode, eager mode off without a broker, email links without a host), so a
# copy of it must not differ.
for _name in ("SECRET_KEY", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "SITE_URL", "PORT"):
    if os.environ.get(_name) == "":
        del os.environ[_name]

DEBUG = env.bool("DJANGO_DEBUG", default=True)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-local-development-only-key-0123456789")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
else:
    # Production refuses to start with a guessable key or an open host list.
    SECRET_KEY = env.str("SECRET_KEY", default="")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random value of at least 50 characters when DJANGO_DEBUG=false."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_DEBUG=false.")

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    # The project itself: its deploy checks (shop/checks.py) and `{% load site %}`; no models.
    "shop.apps.ShopConfig",
    "import_export",
    "nested_admin",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "catalog",
    "customers",
    "orders",
    "carts",
    "notifications",
    "payments",
    "checkout",
    "marketing",
    "analytics",
    "chat",
    "saleschannels",
    "inventory",
    "giftcards",
    "promotions",
    "returns",
    "pos",
    "pickup",
    "stafforders",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "shop.csp.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Counts storefront page views (cached ones too) into the analytics buffer: no SQL.
    "analytics.middleware.AnalyticsMiddleware",
]

# The benchmark swaps in a urlconf that adds a bare view to compare against (bench/urls.py).
ROOT_URLCONF = env.str("ROOT_URLCONF", default="shop.urls")
WSGI_APPLICATION = "shop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "catalog.context_processors.storefront",
                "catalog.cache.shared_page",
                "carts.context_processors.mini_cart",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run while a writer commits; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue instead of failing with "database is locked" halfway through a transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery ---------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # A Redis that stops answering fails requests (and /healthz) within seconds instead of holding
    # every gunicorn worker until its timeout.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2}}}
else:
    # CACHE_URL lets a multi-process server without Redis share a cache (e.g. filecache:///path);
    # the local-memory default is private to one process, which is right for `make run`.
    CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://shop")}
    # Django's caches keep 300 entries unless told: far fewer than a store's pages, so every new
    # page would evict others (the file cache culls a third at once). Room for a whole catalog's
    # pages and fragments unless CACHE_URL says otherwise (?max_entries=).
    CACHES["default"].setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", env.int("CACHE_MAX_ENTRIES", default=50_000))

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
# Without a broker, tasks run in the store's own process, so everything works with nothing installed.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# A web process never runs or publishes a task inside a request: it hands it to its background
# thread, which runs it after the response (no broker) or publishes it (broker), and, without a
# broker, runs the beat schedule below itself (shop/background.py). Tests turn it off, so that
# tasks run where they are enqueued.
BACKGROUND_THREAD = env.bool("BACKGROUND_THREAD", default=True)
# A broker that is down or hangs fails a publish within seconds instead of holding the caller:
# the outbox row written with the change is what counts, and its retry loop sends it later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 3}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Unpaid orders release their stock when the reservation runs out.
    "expire-unpaid-orders": {"task": "orders.tasks.expire_unpaid_orders_task", "schedule": 60.0},
    # Shipped orders whose return window is over, with no open return and no pending refund,
    # become completed (orders/services/completion.py); hourly, so the store's midnight is caught
    # whatever its time zone.
    "complete-orders": {"task": "orders.tasks.complete_orders_task", "schedule": crontab(minute=29)},
    # Emails whose retry time has come (a failed attempt, or a task lost with a broker that was down).
    "send-due-emails": {"task": "notifications.tasks.send_due_emails_task", "schedule": 60.0},
    # Product pages whose sale label a promotion starting or ending has just changed.
    "bump-promotion-labels": {"task": "promotions.tasks.bump_due_labels_task", "schedule": 60.0},
    # Compacting the search index keeps lookups fast after a day of catalog edits.
    "optimize-search-index": {
        "task": "catalog.tasks.optimize_search_index_task",
        "schedule": crontab(hour=3, minute=17),
    },
    # Gift cards whose delivery date has come (and any whose immediate delivery was lost).
    "deliver-due-gift-cards": {"task": "giftcards.tasks.deliver_due_gift_cards_task", "schedule": 60.0},
    # Storefront events buffered in the cache, written in batches (analytics/recorder.py).
    "flush-analytics-events": {"task": "analytics.tasks.flush_events_task", "schedule": 60.0},
    # Yesterday's figures (late events and refunds land there) and any day never rolled up; hourly,
    # so the store's midnight is caught whatever its time zone.
    "rollup-analytics": {"task": "analytics.tasks.rollup_recent_days_task", "schedule": crontab(minute=23)},
    "purge-analytics-events": {"task": "analytics.tasks.purge_events_task", "schedule": crontab(hour=4, minute=7)},
    # Click and collect: a reminder, then a cancellation with refund and restock, for pick-ups
    # nobody collected (pickup/services.py; both idempotent).
    "remind-uncollected-pickups": {"task": "pickup.tasks.remind_uncollected_task", "schedule": crontab(minute=11)},
    "cancel-uncollected-pickups": {"task": "pickup.tasks.cancel_uncollected_task", "schedule": crontab(minute=13)},
    # Refunds of returns whose provider did not answer: asked again with the same idempotency key
    # (never refunded twice), then the return is settled (returns/services.py `finish_refunds`).
    "finish-return-refunds": {"task": "returns.tasks.finish_refunds_task", "schedule": 300.0},
    # Every customer's order figures, then the RFM scores and built-in segments.
    "score-customers": {
        "task": "customers.tasks.score_customers_task",
        "schedule": crontab(hour=2, minute=41),
    },
}

# --- Email --------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Seconds an SMTP connection may wait for the server at each step; without it a server that
# accepts and never answers holds the sender (a worker, or a request sending an account email) forever.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Shop <shop@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Who gets stock alerts; empty means every active superuser with an email address.
STAFF_ALERT_EMAILS = env.list("STAFF_ALERT_EMAILS", default=[])

# --- Auth ---------------------------------------------------------------------------------------
# Everybody signs in through django-allauth: shoppers (sign-up, verification, sign-in, reset,
# email change) and staff, whose /admin/login/ sends them to the same page (customers/views/
# signin.py), so one flow carries the limits on guessing and the second factor. Staff sign in
# with their email address like everyone else (`manage.py ensure_staff` prints it).
AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]
# Argon2 for every new or changed password; older hashes still verify and are upgraded on sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "customers:account"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Nobody signs in before proving the address is theirs: guest orders attach only to a verified email.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CHANGE_EMAIL = True
# None: the sign-in form asks "remember me".
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_ADAPTER = "customers.adapter.AccountAdapter"
# Sign-up adds the optional, unticked "Email me offers and news" box (customers/forms.py).
ACCOUNT_FORMS = {"signup": "customers.forms.SignupForm"}
# A password or email change is mailed to the account (the old address, for an email change).
ACCOUNT_EMAIL_NOTIFICATIONS = True
# Limits on guessing, counted in the cache (so every worker must share it: Redis, or CACHE_URL).
# Rates are "<count>/<period>/<per>", several joined by commas. customers/signin.py explains them.
ACCOUNT_RATE_LIMITS = {
    # Failed sign-ins per account, or per browser the account signed in on before (so a stranger
    # using the account's budget up does not lock its owner out); wrong authenticator codes too.
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="5/5m/key"),
    # Failed sign-ins from one address, whichever accounts they name.
    "login_failed_ip": env.str("LOGIN_FAILED_IP_RATE_LIMIT", default="10/m/ip,100/h/ip"),
    # Password reset emails per address and per account (the emailed link itself is unguessable).
    "reset_password": env.str("PASSWORD_RESET_RATE_LIMIT", default="20/m/ip,5/m/key,10/h/key"),
    # The current password on "Change password", per signed-in user.
    "change_password": "5/m/user,20/h/user",
}
# How long a browser stays a known device of an account it signed in on (customers/signin.py).
SIGNIN_DEVICE_COOKIE_AGE = 60 * 60 * 24 * 365
# Behind a load balancer or reverse proxy every request comes from its address, so the per-IP
# limit above (and the IP on a failed sign-in) would count all shoppers as one: set this to the
# number of proxies you run in front of the store, which append to X-Forwarded-For. 0 (the
# default) ignores the header, which anyone can send.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Adding, removing or switching an email address asks for the password again (within the
# timeout after signing in or re-entering it): whoever holds the address can reset the password
# and takes the account's orders with it. Deleting the account and downloading its data ask too
# (customers/views/privacy.py).
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
# Two-factor sign-in (allauth.mfa): an authenticator app (TOTP) with recovery codes, offered to
# staff on their account page and required of superusers when DEBUG is off (customers/signin.py).
MFA_ADAPTER = "customers.adapter.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# A code from the previous or next 30 seconds is accepted too: phones' clocks drift.
MFA_TOTP_TOLERANCE = 1
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Store --------------------------------------------------------------------------------------
STORE_NAME = env.str("STORE_NAME", default="Northwind Supply")
# The public address of the store: every absolute link that leaves a page (emails, Stripe's
# return address, canonical links, sitemaps) starts with it (shop/site.py). In debug mode it
# follows PORT, so `PORT=8311 make run` mails links to port 8311; production has no default:
# `check --deploy` fails until it is set to the https address shoppers use (shop/checks.py).
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}" if DEBUG else "")
STORE_CURRENCY = env.str("STORE_CURRENCY", default="USD")
# The locale whose conventions format prices (grouping, symbol position).
STORE_LOCALE = env.str("STORE_LOCALE", default="en_US")
# A variant with this many units or fewer available shows "only N left".
STORE_LOW_STOCK_THRESHOLD = env.int("STORE_LOW_STOCK_THRESHOLD", default=5)
# Whether catalog prices include tax (shown and charged as they are) or tax is added at checkout.
STORE_PRICES_INCLUDE_TAX = env.bool("STORE_PRICES_INCLUDE_TAX", default=True)
# How long an unpaid order holds its stock.
ORDER_RESERVATION_MINUTES = env.int("ORDER_RESERVATION_MINUTES", default=30)
# Click and collect (pickup/): a reminder this many days after "ready for pickup", a cancellation
# (refund, units back in stock) after this many, and wrong pick-up codes allowed per order.
PICKUP_REMINDER_DAYS = env.int("PICKUP_REMINDER_DAYS", default=3)
PICKUP_CANCEL_AFTER_DAYS = env.int("PICKUP_CANCEL_AFTER_DAYS", default=10)
PICKUP_CODE_ATTEMPTS = env.int("PICKUP_CODE_ATTEMPTS", default=5)
# Orders staff take (phone, email, B2B): how long one sent a payment link holds its stock.
STAFF_ORDER_PAYMENT_DAYS = env.int("STAFF_ORDER_PAYMENT_DAYS", default=7)
# How long a rendered storefront page may be reused; any catalog change invalidates it sooner.
STOREFRONT_CACHE_SECONDS = env.int("STOREFRONT_CACHE_SECONDS", default=600)

# --- Chat (chat/) ---------------------------------------------------------------------------------
# Live events between processes go through Redis pub/sub; empty: within the one process (runserver).
CHAT_BROKER_URL = env.str("CHAT_BROKER_URL", default=REDIS_URL)
# A live stream ends after this long and the browser reconnects (with the last message id it has),
# so a sync worker thread is never held for longer.
CHAT_STREAM_SECONDS = env.int("CHAT_STREAM_SECONDS", default=25)
# When people answer, in TIME_ZONE: "days hours", e.g. "mon-fri 09:00-17:00"; empty: always.
# This and CHAT_AGENT_LIMIT are defaults: once Support managers save the chat settings in the
# back office (chat.ChatSettings), those apply.
CHAT_OPENING_HOURS = env.str("CHAT_OPENING_HOURS", default="mon-fri 09:00-17:00")
# Open conversations an agent is given at most by the round robin.
CHAT_AGENT_LIMIT = env.int("CHAT_AGENT_LIMIT", default=5)
# Messages a visitor may send: per minute and per hour.
CHAT_RATE_PER_MINUTE = env.int("CHAT_RATE_PER_MINUTE", default=12)
CHAT_RATE_PER_HOUR = env.int("CHAT_RATE_PER_HOUR", default=120)
# An optional language model that phrases the assistant's answers and picks its tools: an
# OpenAI-compatible chat completions endpoint (the full URL, e.g. http://127.0.0.1:8080/v1/chat/completions),
# its key and model name. Empty: the built-in responder alone. Everything the model does, calls to
# it included, must finish within CHAT_LLM_TIMEOUT seconds, or the built-in responder answers.
CHAT_LLM_URL = env.str("CHAT_LLM_URL", default="")
CHAT_LLM_API_KEY = env.str("CHAT_LLM_API_KEY", default="")
CHAT_LLM_MODEL = env.str("CHAT_LLM_MODEL", default="")
CHAT_LLM_TIMEOUT = env.float("CHAT_LLM_TIMEOUT", default=2.0)
# WhatsApp Business Cloud API and Messenger (chat/messaging/). Without a verify token and an app
# secret a platform's webhook answers 404; without its access token replies are not sent.
WHATSAPP_VERIFY_TOKEN = env.str("WHATSAPP_VERIFY_TOKEN", default="")
WHATSAPP_APP_SECRET = env.str("WHATSAPP_APP_SECRET", default="")
WHATSAPP_TOKEN = env.str("WHATSAPP_TOKEN", default="")
WHATSAPP_PHONE_NUMBER_ID = env.str("WHATSAPP_PHONE_NUMBER_ID", default="")
# The approved template sent outside the 24-hour window (name and language code as approved).
WHATSAPP_TEMPLATE_NAME = env.str("WHATSAPP_TEMPLATE_NAME", default="")
WHATSAPP_TEMPLATE_LANGUAGE = env.str("WHATSAPP_TEMPLATE_LANGUAGE", default="en_US")
# The template's body parameters ({{1}}, {{2}}, ...) in order, separated by "|"; each may use
# {first_name}, {store_name} and {agent_name}, filled in for the conversation when it is sent.
WHATSAPP_TEMPLATE_PARAMETERS = [p for p in env.str("WHATSAPP_TEMPLATE_PARAMETERS", default="").split("|") if p]
MESSENGER_VERIFY_TOKEN = env.str("MESSENGER_VERIFY_TOKEN", default="")
MESSENGER_APP_SECRET = env.str("MESSENGER_APP_SECRET", default="")
MESSENGER_PAGE_TOKEN = env.str("MESSENGER_PAGE_TOKEN", default="")
# The page may answer with the HUMAN_AGENT message tag (Meta's "Human Agent" permission): staff
# replies then reach the customer up to 7 days after their last message instead of 24 hours.
MESSENGER_HUMAN_AGENT = env.bool("MESSENGER_HUMAN_AGENT", default=True)
GRAPH_API_URL = env.str("GRAPH_API_URL", default="https://graph.facebook.com/v21.0")
# Files sent in chat (images and PDFs): where they are kept (private: never below MEDIA_ROOT, served
# only to the conversation's participants and staff) and the largest accepted.
CHAT_ATTACHMENT_ROOT = Path(env.str("CHAT_ATTACHMENT_ROOT", default=str(VAR_DIR / "private" / "chat")))
CHAT_ATTACHMENT_MAX_BYTES = env.int("CHAT_ATTACHMENT_MAX_BYTES", default=5 * 1024 * 1024)
# Shoppers' replies to chat emails: the emails carry Reply-To reply+<id>-<signature>@CHAT_REPLY_DOMAIN,
# and a Mailgun route for that domain posts each reply to /chat/webhooks/email/, signed with the
# webhook signing key. Either empty: replies go by the link in the email only.
CHAT_REPLY_DOMAIN = env.str("CHAT_REPLY_DOMAIN", default="")
MAILGUN_WEBHOOK_SIGNING_KEY = env.str("MAILGUN_WEBHOOK_SIGNING_KEY", default="")
# Seconds a call to the Graph API may take (connect and read) before it is retried later.
MESSAGING_HTTP_TIMEOUT = env.float("MESSAGING_HTTP_TIMEOUT", default=10.0)
# How long raw storefront events are kept (13 months); the daily figures stay.
ANALYTICS_EVENT_RETENTION_DAYS = env.int("ANALYTICS_EVENT_RETENTION_DAYS", default=396)
# Each process hands its events to the shared buffer in lists of this many, or after this long.
ANALYTICS_BUFFER_EVENTS = env.int("ANALYTICS_BUFFER_EVENTS", default=50)
ANALYTICS_BUFFER_SECONDS = env.float("ANALYTICS_BUFFER_SECONDS", default=2.0)
# The marketing report gives an order to the last verified campaign click this many days before it.
ANALYTICS_ATTRIBUTION_WINDOW_DAYS = env.int("ANALYTICS_ATTRIBUTION_WINDOW_DAYS", default=7)
# The most units of one variant a cart line may hold (stock permitting).
CART_MAX_LINE_QUANTITY = env.int("CART_MAX_LINE_QUANTITY", default=20)

# --- Payments -----------------------------------------------------------------------------------
# Stripe takes the payments when STRIPE_SECRET_KEY is set; otherwise the demo provider does (an
# on-site form with test cards, no money moves). The webhook secret verifies Stripe's events at
# /payments/stripe/webhook/; the publishable key is only needed by pages that load Stripe.js.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")

# --- Static and media ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns at start-up about a missing folder
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True)
# Shoppers' return photos (returns/storage.py): outside MEDIA_ROOT, so no URL serves them; the
# returns views check who asks before reading one.
RETURN_PHOTOS_ROOT = Path(env.str("RETURN_PHOTOS_ROOT", default=str(VAR_DIR / "private" / "return-photos")))

# Both remember each file's URL once worked out (shop/storage.py): a cold page asks for dozens.
STORAGES = {
    "default": {"BACKEND": "shop.storage.MediaStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "shop.storage.StaticStorage"
        )
    },
}
# Uploaded images: bigger files or more pixels than this are refused (decompression bombs).
IMAGE_MAX_UPLOAD_BYTES = env.int("IMAGE_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)
IMAGE_RENDITION_WIDTHS = (320, 640, 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Security -----------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp; shop/csp.py adds the back office's inline styles and its one
# inline handler). No inline script or style on the storefront, and no nonces: its pages are
# cached whole and shared. Stripe Checkout is a redirect after a form post, which form-action
# governs. Media served from another origin (a CDN, object storage) must be listed in CSP_IMG_HOSTS.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *env.list("CSP_IMG_HOSTS", default=[])],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'", "https://checkout.stripe.com"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
    },
}
# Browser features the store never uses, turned off for its pages and anything they embed.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "browsing-topics", "camera",
        "display-capture", "encrypted-media", "fullscreen", "geolocation", "gyroscope", "hid", "idle-detection",
        "local-fonts", "magnetometer", "microphone", "midi", "otp-credentials", "payment", "picture-in-picture",
        "publickey-credentials-create", "publickey-credentials-get", "screen-wake-lock", "serial", "usb",
        "window-management", "xr-spatial-tracking",
    )
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# `check --deploy` findings an operator has decided to live with, e.g. shop.E007 for a public
# demo that takes no money (shop/checks.py lists them and why each matters).
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
