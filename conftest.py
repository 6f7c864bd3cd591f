"""Suite-wide test set-up: which tests need which server, and what happens when one is missing.

- On SQLite, tests marked `postgres` do not apply and are deselected (the summary says so).
- Without REDIS_URL, tests marked `redis` are deselected the same way.
- When a server *is* configured but cannot be reached, or Chromium is missing, the test is
  skipped with the reason locally and fails under CI=true, where everything must be present.
- A transactional test empties every table when it ends, taking the rows the data migrations
  made (staff groups and their permissions, built-in segments, the default shipping); they are
  put back at once with the migrations' own functions, so no later test depends on the order.
- Passwords are hashed with MD5 in tests: the store's Argon2 (settings.PASSWORD_HASHERS) takes
  ~0.3 s of CPU and 100 MB per hash on a 2-core machine, and the suite makes and checks hundreds
  (factories, sign-in flows), which put a CI pass over its 9 minutes. The store's hashers still
  verify, and the tests about hashing itself ask for them (`store_password_hashers`).
"""
from __future__ import annotations

import importlib
import os

import pytest

ON_CI = os.environ.get("CI", "").lower() == "true"


def _database_vendor() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return "postgresql" if url.startswith(("postgres://", "postgresql://", "pgsql://")) else "sqlite"


_deselected: dict[str, int] = {}
FAST_PASSWORD_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"
STORE_PASSWORD_HASHERS: list[str] = []


def pytest_configure(config):
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    STORE_PASSWORD_HASHERS[:] = [name for name in settings.PASSWORD_HASHERS if name != FAST_PASSWORD_HASHER]
    settings.PASSWORD_HASHERS = [FAST_PASSWORD_HASHER, *STORE_PASSWORD_HASHERS]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()


@pytest.fixture
def store_password_hashers(settings):
    """The store's own password hashers (Argon2 first), for tests about hashing itself."""
    settings.PASSWORD_HASHERS = list(STORE_PASSWORD_HASHERS)


# How much longer than an ordinary test a browser test or a file of migration tests takes (seconds
# against ~0.2): what `_longest_files_first` weighs files by. (Most migration tests now migrate a
# small empty database, `unmigrated_database`; returns' still round-trips the test database.)
BROWSER_TEST_WEIGHT = 20
MIGRATION_FILE_WEIGHT = 20


def _longest_files_first(items) -> None:
    """Order the test files longest first, keeping each file's own order (stable sort).

    pytest-xdist (`--dist loadfile --no-loadscope-reorder`, the Makefile) hands out files in this
    order, so a file of browser tests or another long file starts early instead of
    running alone at the end while the other worker idles: CI's passes ended with one worker busy
    for a minute or two, on a 9-minute budget. A file's weight is its number of tests, a browser
    test counting BROWSER_TEST_WEIGHT, plus MIGRATION_FILE_WEIGHT for a file of migration tests.
    """
    weights: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        weight = BROWSER_TEST_WEIGHT if item.get_closest_marker("browser") else 1
        if path not in weights and path.endswith("test_migrations.py"):
            weight += MIGRATION_FILE_WEIGHT
        weights[path] = weights.get(path, 0) + weight
    first_seen = {}
    for index, item in enumerate(items):
        first_seen.setdefault(item.nodeid.split("::", 1)[0], index)
    items.sort(key=lambda item: (-weights[item.nodeid.split("::", 1)[0]], first_seen[item.nodeid.split("::", 1)[0]]))


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        reason = None
        if item.get_closest_marker("postgres") and _database_vendor() != "postgresql":
            reason = "need PostgreSQL (set DATABASE_URL; `make test-services` runs them)"
        elif item.get_closest_marker("redis") and not os.environ.get("REDIS_URL"):
            reason = "need Redis (set REDIS_URL; `make test-services` runs them)"
        if reason:
            drop.append(item)
            _deselected[reason] = _deselected.get(reason, 0) + 1
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    _longest_files_first(items)
    down = _unreachable_services()
    if down and ON_CI:
        pytest.exit(f"{down} (CI=true: every configured service must be available)", returncode=1)
    if down:
        # Every test reaches the database or the cache (the autouse fixtures clear it), so none
        # can run; skipping says why instead of failing hundreds of times with the same error.
        marker = pytest.mark.skip(reason=down)
        for item in items:
            item.add_marker(marker)


def _unreachable_services() -> str:
    """A sentence naming the configured servers that do not answer, or "" when all do."""
    problems = []
    if _database_vendor() == "postgresql":
        import environ
        import psycopg

        config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
        try:
            psycopg.connect(
                dbname="postgres", user=config.get("USER") or None, password=config.get("PASSWORD") or None,
                host=config.get("HOST") or None, port=config.get("PORT") or None, connect_timeout=3,
            ).close()
        except psycopg.OperationalError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(f"PostgreSQL from DATABASE_URL is not reachable ({first_line})")
    if os.environ.get("REDIS_URL"):
        import redis

        try:
            redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
        except redis.RedisError as exc:
            problems.append(f"Redis from REDIS_URL is not reachable ({exc})")
    return "; ".join(problems)


# The data migrations' forward functions, in migration order; each is safe on an empty database.
SEEDED_BY_MIGRATIONS = [
    ("customers.migrations.0001_staff_groups", "create_groups"),
    ("customers.migrations.0004_segments", "create_segments"),
    ("customers.migrations.0005_crm", "grant"),
    ("orders.migrations.0003_staff_permissions", "grant"),
    ("payments.migrations.0002_staff_permissions", "grant"),
    ("checkout.migrations.0002_default_shipping", "create_defaults"),
    ("analytics.migrations.0001_events_daily_figures_reports_group", "create_reports_group"),
    ("chat.migrations.0002_support_permissions", "grant"),
    ("chat.migrations.0003_proactive_triggers", "grant"),
    ("chat.migrations.0006_chat_settings", "grant"),
    ("saleschannels.migrations.0001_initial", "create_channels"),
    ("giftcards.migrations.0002_staff_permissions", "grant"),
    ("returns.migrations.0002_staff_permissions", "grant"),
    ("pos.migrations.0002_shop_staff_group", "grant"),
    ("giftcards.migrations.0003_card_events", "grant"),
    ("pickup.migrations.0002_staff_permissions", "grant"),
    ("stafforders.migrations.0002_staff_permissions", "grant"),
]


def restore_migration_data() -> None:
    from django.apps import apps
    from django.db import connection

    class SchemaEditor:
        """Just enough of a schema editor to call a data migration's function directly."""

    SchemaEditor.connection = connection
    for module, function in SEEDED_BY_MIGRATIONS:
        getattr(importlib.import_module(module), function)(apps, SchemaEditor())


def empty_the_database() -> None:
    """Every table emptied and the migrations' rows put back: the teardown of a module fixture
    that committed data (a demo store), so that nothing it wrote reaches the next module."""
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    restore_migration_data()


class _EverythingTo:
    """A database router that sends every read and write to one database."""

    def __init__(self, alias: str):
        self.alias = alias

    def db_for_read(self, model, **hints):
        return self.alias

    db_for_write = db_for_read


@pytest.fixture
def unmigrated_database(db, tmp_path):
    """A second database beside the test database, empty, with no migration applied, and where
    every model (the migrations' historical models too) reads and writes while the test runs.

    For migration tests: migrating it to the state before a migration applies only what that
    state depends on (2 of the 116 migrations for catalog 0002, 23 for orders 0005). Done on the
    test database, the same test unapplied every later migration and applied them all again, and
    took ~25 s of a 2-core CI pass (each time, on both backends)."""
    from django.db import connections
    from django.test import override_settings

    alias = "unmigrated"
    default = connections["default"]
    settings_dict = {**default.settings_dict}
    if default.vendor == "postgresql":
        # The test database's name carries pytest-xdist's worker suffix, so each worker has its
        # own; CI's clean-up of leftover test databases (test_<name>%) covers it too.
        settings_dict["NAME"] = name = f"{default.settings_dict['NAME']}_unmigrated"
        with default._nodb_cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    else:
        settings_dict["NAME"] = str(tmp_path / "unmigrated.sqlite3")
    connections.settings[alias] = settings_dict
    try:
        # Connected here: the running test case refuses to open connections to databases it was
        # not told of (this one did not exist yet), but uses one that is open.
        connections[alias].connect()
        with override_settings(DATABASE_ROUTERS=[_EverythingTo(alias)]):
            yield connections[alias]
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]
        if default.vendor == "postgresql":
            with default._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{settings_dict["NAME"]}" WITH (FORCE)')


def _empties_tables(item) -> bool:
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    # After every fixture's teardown, so after pytest-django's flush; after the last test the
    # test database is gone too, and nothing needs the rows.
    if nextitem is not None and _empties_tables(item):
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            restore_migration_data()
    return result


def _needs_database(item) -> bool:
    # What pytest-django looks at to decide which test databases to create.
    return "_django_db_helper" in getattr(item, "fixturenames", ()) or item.get_closest_marker("django_db") is not None


@pytest.fixture(scope="session", autouse=True)
def _migration_data(request, django_db_setup, django_db_blocker):
    # With --reuse-db an earlier run may have ended on a flush.
    from django.contrib.auth.models import Group

    if not any(_needs_database(item) for item in request.session.items):
        # No test database was created, so the connection still names the configured database
        # (the developer's own): never read or write it.
        yield
        return
    with django_db_blocker.unblock():
        if not Group.objects.filter(name="Support").exists():
            restore_migration_data()
    yield
    # Before pytest-django drops the test database: a connection some thread kept (CONN_MAX_AGE)
    # would make PostgreSQL refuse the DROP and leave the database behind for the next run.
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE datname = current_database() AND pid <> pg_backend_pid()")


def pytest_sessionfinish(session):
    # Under pytest-xdist the workers collect; each hands its counts to the controller, which reports.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["deselected"] = dict(_deselected)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    # Every worker collects the whole suite, so each reports the same counts: keep one.
    for reason, count in getattr(node, "workeroutput", {}).get("deselected", {}).items():
        _deselected[reason] = max(_deselected.get(reason, 0), count)


def pytest_terminal_summary(terminalreporter):
    for reason, count in _deselected.items():
        terminalreporter.write_line(f"deselected {count} test(s) that {reason}")


def run_together(work, count: int, *, timeout: float = 60) -> list:
    """Run `work(i)` in `count` threads released at once by a barrier; return each result or the
    exception it raised. Each thread closes its own database connections; a thread still alive
    after `timeout` fails the test (a deadlock or a lost wake-up)."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[i] = work(i)
        except Exception as exc:  # the outcome under test, e.g. OutOfStock
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung: deadlock or lost wake-up"
    return results


def missing_service(reason: str) -> None:
    """A server the test needs is not there: fail on CI, skip with the reason elsewhere."""
    if ON_CI:
        pytest.fail(f"{reason} (CI=true: every service must be available)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def stock_ledger_checked(db):
    """After the test, the stock movement ledger must add up to every stock level (inventory).

    Test modules that change stock use it for every test (`pytestmark`); runs before the database
    is emptied, so transactional tests are checked too.
    """
    yield
    from inventory.selectors import ledger_discrepancies

    wrong = ledger_discrepancies()
    assert not wrong, "the stock ledger does not add up: " + "; ".join(map(str, wrong))


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    """Uploaded files go to a throw-away folder, never into var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RETURN_PHOTOS_ROOT = tmp_path / "return-photos"


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Tasks run inline in tests even when REDIS_URL names a broker: no test waits on a worker,
    nor on the web process's background thread (shop/background.py; its own tests turn it on).

    (The Celery app reads Django's settings live, so this reaches `app.conf` too.)
    """
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.BACKGROUND_THREAD = False


@pytest.fixture(scope="session", autouse=True)
def _no_background_thread_between_tests():
    """BACKGROUND_THREAD off for the whole run, not only inside each test (`_eager_celery`).

    A test's `settings` changes are undone after it, so module-scoped fixtures and the set-up
    between tests saw the store's default (on). Once a test had made a request, the process
    counted as a web process (shop/background.py), so a task enqueued there started the
    background thread with the whole beat schedule: catalog's `seeded_demo_module`, whose
    teardown deletes the demo products (the listing index's rebuild task, after commit). Nothing
    stopped it, and its jobs ran on in later tests and after the test database was gone (CI: "no
    such table: promotions_promotion" from `bump-promotion-labels`).
    """
    from django.conf import settings

    previous = settings.BACKGROUND_THREAD
    settings.BACKGROUND_THREAD = False
    yield
    settings.BACKGROUND_THREAD = previous


def stop_background_threads(timeout: float = 30.0) -> None:
    """Drain and stop this process's background runner if one was started, then fail if any
    runner's thread is still alive (one a test made with `Runner(...).start()` and did not stop,
    or one whose jobs did not finish within `timeout`)."""
    import threading

    from shop import background

    background.shutdown(timeout=timeout)
    alive = [thread for thread in threading.enumerate() if thread.name == background.THREAD_NAME and thread.is_alive()]
    if alive:
        pytest.fail(f"{len(alive)} background runner thread(s) ({background.THREAD_NAME}) still running after the "
                    "test: stop what the test started (`runner.stop()`, `background.shutdown()`)", pytrace=False)


@pytest.fixture(autouse=True)
def _background_thread_stopped():
    """No test leaves the web process's background thread running: after each test (before its
    database goes) the process's runner is drained and stopped, and one that cannot be is an error."""
    yield
    stop_background_threads()


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    from analytics import recorder

    recorder._pending.clear()  # events a previous test left in this process's analytics batch
    cache.clear()
    yield
    cache.clear()


def html_tags(content: bytes | str, tag_name: str, /, **attrs: str) -> list[dict[str, str | None]]:
    """The attributes of every `<tag_name>` element whose attributes include `attrs`.

    Tests assert on stable things (ids, names, links, data), never on CSS classes or layout, so
    they hold while the templates are redesigned. Use `class_` for `class`.
    """
    from html.parser import HTMLParser

    wanted = {key.rstrip("_").replace("_", "-"): value for key, value in attrs.items()}
    found: list[dict[str, str | None]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attributes):
            if tag == tag_name:
                element = dict(attributes)
                if all(element.get(key) == value for key, value in wanted.items()):
                    found.append(element)

        handle_startendtag = handle_starttag

    collector = Collector(convert_charrefs=True)
    collector.feed(content.decode() if isinstance(content, bytes) else content)
    collector.close()
    return found


def image_bytes(
    fmt: str = "PNG", *, size: tuple[int, int] = (16, 12), mode: str = "RGB", colour=(180, 90, 40)
) -> bytes:
    """A real image file's bytes in any format Pillow writes (mode "1" is black: tiny even when huge)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, 0 if mode == "1" else colour).save(buffer, format=fmt)
    return buffer.getvalue()


def png_file(name: str = "photo.png", *, size: tuple[int, int] = (16, 12), colour=(180, 90, 40)):
    """A small, real PNG as an uploadable file (Pillow draws it; nothing is read from disk)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, image_bytes("PNG", size=size, colour=colour), content_type="image/png")


@pytest.fixture
def storefront_catalog(db):
    """A small, fully known catalog for storefront tests (every count below is relied on).

    Tree: clothing > jackets > rain, clothing > shirts, gear, and an inactive `archive`.
    Options colour (red, blue; pictures follow it) and size (s, m, l); attribute material (wool,
    cotton); brands northwind and summit; a warehouse and a `downtown` shop where customers may pick up.

    | product         | category               | brand     | variants (colour/size price stock)   |
    | Storm Shell     | clothing/jackets/rain  | northwind | red/s 120 wh10, red/m 120 none,      |
    |  (featured)     |                        |           | blue/s 130 downtown 3; no blue/m     |
    | Harbour Parka   | clothing/jackets       | summit    | blue/l 200 (was 250) wh 2            |
    | Trail Tee       | clothing/shirts        | northwind | red/m 20, wh 0 (out of stock)        |
    | Camp Lamp (ft.) | gear                   | summit    | one default variant 35, wh 8         |
    | Secret Proto.   | clothing/jackets       | draft, never shown                       |
    | Attic Coat      | archive (inactive)     | never shown                              |
    Storm Shell's pictures: front.png, back.png (the whole product), blue.png (Colour: Blue).
    Units sold: tee 100, shell 50, parka 5, lamp 0. Newest first: tee, parka, shell, lamp.
    """
    import datetime
    from decimal import Decimal
    from types import SimpleNamespace

    from django.utils import timezone

    from catalog.models import Location, Product, ProductImage
    from catalog.tests import factories as f

    clothing = f.CategoryFactory(name="Clothing", slug="clothing", position=0)
    jackets = f.CategoryFactory(name="Jackets", slug="jackets", parent=clothing, position=0)
    rain = f.CategoryFactory(name="Rain", slug="rain", parent=jackets)
    shirts = f.CategoryFactory(name="Shirts", slug="shirts", parent=clothing, position=1)
    gear = f.CategoryFactory(name="Gear", slug="gear", position=1)
    archive = f.CategoryFactory(name="Archive", slug="archive", position=2, is_active=False)

    northwind = f.BrandFactory(name="Northwind", slug="northwind")
    summit = f.BrandFactory(name="Summit", slug="summit")
    colour = f.OptionFactory(name="Colour", slug="colour", position=0, changes_look=True)
    size = f.OptionFactory(name="Size", slug="size", position=1)
    red = f.OptionValueFactory(option=colour, value="Red", slug="red", swatch="#b22222", position=0)
    blue = f.OptionValueFactory(option=colour, value="Blue", slug="blue", swatch="#1f4e79", position=1)
    s = f.OptionValueFactory(option=size, value="S", slug="s", position=0)
    m = f.OptionValueFactory(option=size, value="M", slug="m", position=1)
    l_ = f.OptionValueFactory(option=size, value="L", slug="l", position=2)
    material = f.AttributeFactory(name="Material", slug="material")
    wool = f.AttributeValueFactory(attribute=material, value="Wool", slug="wool")
    cotton = f.AttributeValueFactory(attribute=material, value="Cotton", slug="cotton")

    warehouse = f.LocationFactory(code="warehouse", name="Warehouse", position=0)
    downtown = f.LocationFactory(
        code="downtown", name="Downtown shop", kind=Location.Kind.SHOP, pickup_allowed=True, position=1
    )

    def variant(product, sku, price, values, stock=None, **fields):
        v = f.VariantFactory(product=product, sku=sku, price=Decimal(price), option_values=values, **fields)
        for location, on_hand in (stock or {}).items():
            f.StockLevelFactory(variant=v, location=location, on_hand=on_hand)
        return v

    shell = f.ProductFactory(
        title="Storm Shell", slug="storm-shell", category=rain, brand=northwind, is_featured=True,
        description="<p>A <strong>waterproof</strong> shell for wet days.</p>",
        seo_description="A waterproof shell jacket for wet days.",
    )
    shell.attribute_values.add(wool)
    shell_red_s = variant(shell, "SHELL-RED-S", "120.00", [red, s], {warehouse: 10}, barcode="4006381333931")
    shell_red_m = variant(shell, "SHELL-RED-M", "120.00", [red, m])
    shell_blue_s = variant(shell, "SHELL-BLUE-S", "130.00", [blue, s], {downtown: 3})
    for position, (name, look) in enumerate([("front.png", None), ("back.png", None), ("blue.png", blue)]):
        ProductImage.objects.create(
            product=shell, option_value=look, image=png_file(name), alt_text=f"Storm Shell {name[:-4]}",
            position=position,
        )

    parka = f.ProductFactory(title="Harbour Parka", slug="harbour-parka", category=jackets, brand=summit)
    parka.attribute_values.add(wool)
    variant(parka, "PARKA-BLUE-L", "200.00", [blue, l_], {warehouse: 2}, compare_at_price=Decimal("250.00"))

    tee = f.ProductFactory(title="Trail Tee", slug="trail-tee", category=shirts, brand=northwind)
    tee.attribute_values.add(cotton)
    variant(tee, "TEE-RED-M", "20.00", [red, m], {warehouse: 0})

    lamp = f.ProductFactory(title="Camp Lamp", slug="camp-lamp", category=gear, brand=summit, is_featured=True)
    variant(lamp, "LAMP-1", "35.00", [], {warehouse: 8})

    draft = f.ProductFactory(
        title="Secret Prototype", slug="secret-prototype", category=jackets, brand=northwind,
        status=Product.Status.DRAFT, is_featured=True,
    )
    variant(draft, "PROTO-1", "99.00", [red, s], {warehouse: 5})
    attic = f.ProductFactory(title="Attic Coat", slug="attic-coat", category=archive, brand=summit)
    variant(attic, "ATTIC-1", "80.00", [], {warehouse: 5})

    now = timezone.now()
    for days_old, product in enumerate([tee, parka, shell, lamp, draft, attic]):
        Product.objects.filter(pk=product.pk).update(created_at=now - datetime.timedelta(days=days_old))
    for product, sold in ((tee, 100), (shell, 50), (parka, 5)):
        Product.objects.filter(pk=product.pk).update(units_sold=sold)
    # Those updates bypass the signals that keep the listing index true, as a raw load would.
    from catalog.listing_index import invalidate_categories

    invalidate_categories()

    return SimpleNamespace(
        clothing=clothing, jackets=jackets, rain=rain, shirts=shirts, gear=gear, archive=archive,
        northwind=northwind, summit=summit, colour=colour, size=size, red=red, blue=blue, s=s, m=m, l=l_,
        material=material, wool=wool, cotton=cotton, warehouse=warehouse, downtown=downtown,
        shell=shell, shell_red_s=shell_red_s, shell_red_m=shell_red_m, shell_blue_s=shell_blue_s,
        parka=parka, tee=tee, lamp=lamp, draft=draft, attic=attic,
    )


# --- Real browser -------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, never a downloaded one; without the background-networking flags it keeps
# trying to reach Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture
def new_page(monkeypatch, live_server):
    """A factory of Chromium tabs on the live server: `new_page(java_script_enabled=False)`.

    Each tab has its own context (cookies), a 15 s default wait for Playwright's auto-waiting
    `expect`, and a listener that fails the test on any JavaScript error.
    """
    import shutil

    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        missing_service(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - requirements-dev.txt pins it
        missing_service("Playwright is not installed (pip install -r requirements-dev.txt)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the live
    # server's set-up and teardown here are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    errors: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def make(**context_options):
            options = {"base_url": live_server.url, "viewport": {"width": 1280, "height": 900}, **context_options}
            context = chromium.new_context(**options)
            context.set_default_timeout(15_000)
            tab = context.new_page()
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            return tab

        try:
            yield make
        finally:
            chromium.close()
            _finish_live_server_requests()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def _finish_live_server_requests(timeout: float = 30.0) -> None:
    """Wait for the live server's request threads still running (a chat stream ends at its next
    heartbeat once its browser is gone; a request the closing browser left in flight finishes).

    On SQLite the live server shares the test's in-memory connection with its threads, so a
    request outliving its test would use that connection while the next test sets up or flushes
    it (seen as "on_commit() cannot be used in manual transaction management" several tests
    later). Joining the threads is the synchronisation; the timeout only bounds a stuck one.
    """
    import threading
    import time

    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name.endswith("(process_request_thread)"):
            thread.join(max(deadline - time.monotonic(), 0))


@pytest.fixture
def page(new_page):
    """One Chromium tab on the live server, JavaScript on."""
    return new_page()


def staff_account(django_user_model, *, username: str = "staff", password: str = "pw-staff-12345") -> dict:
    """A superuser with a verified email and an authenticator app, ready for `sign_in_to_admin`.

    Made apart when the test's thread must not write later (on SQLite the live server's threads
    share the test's connection: a write while they answer a request fails "table is locked")."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    email = f"{username}@example.com"
    user = django_user_model.objects.create_superuser(username=username, email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return {"email": email, "password": password, "secret": secret}


def sign_in_to_admin(new_page, django_user_model, *, username: str = "staff", password: str = "pw-staff-12345",
                     account: dict | None = None):
    """A new Chromium tab signed in to the back office as a new superuser (or `account`, from
    `staff_account`), as staff sign in: the admin sends them to the store's sign-in page (email
    and password), then a code from their authenticator app, which superusers need in
    production mode (tests run with DEBUG off)."""
    from playwright.sync_api import expect

    from customers.tests.helpers import totp_code

    if account is None:
        account = staff_account(django_user_model, username=username, password=password)
    email, password, secret = account["email"], account["password"], account["secret"]
    admin = new_page()
    admin.goto("/admin/login/")
    admin.locator("#id_login").fill(email)
    admin.locator("#id_password").fill(password)
    admin.get_by_role("button", name="Sign in").click()
    admin.locator("#id_code").fill(totp_code(secret))
    admin.get_by_role("button", name="Sign in").click()
    expect(admin.locator("#user-tools")).to_be_visible()
    return admin


# --- Admin forms, submitted as a browser submits them -------------------------------------------


@pytest.fixture
def admin_app(django_app, django_user_model):
    """A WebTest browser (django-webtest) signed in to the back office as a superuser.

    `page = admin_app.get(url)` parses the page as a browser does; `form = page.forms["product_form"]`
    holds every field as rendered (selected options, checked boxes, textarea text, hidden management
    forms and the CSRF token). Change what a person would (`form["title"] = "New"`, `form[name] =
    Upload(...)`, `form[f"{prefix}-DELETE"].checked = True`) and `form.submit("_save")` posts exactly
    what a browser would, multipart included, with CSRF checked. `add_inline_form` stands in for the
    JavaScript "Add another" link. Server errors raise in the test (DEBUG_PROPAGATE_EXCEPTIONS).
    """
    user = django_user_model.objects.create_superuser("webtest-admin", "webtest-admin@example.com", None)
    django_app.set_user(user)
    return django_app


def add_inline_form(form, prefix: str) -> int:
    """Do what the admin's "Add another" link does in a browser; return the new row's index.

    The inline's empty form (fields named `<prefix>-__prefix__-…`, rendered inside the form for
    the JavaScript to copy) is copied with the next index, as rendered (hidden parent ids, default
    values, select options), and `<prefix>-TOTAL_FORMS` goes up by one. Works for nested inlines
    too (`prefix="variants-0-stock_levels"`).
    """
    import copy

    total = form[f"{prefix}-TOTAL_FORMS"]
    index = int(total.value)
    template = f"{prefix}-__prefix__-"
    copies = [(name, field) for name, field in form.field_order if name and name.startswith(template)]
    assert copies, f"no empty form named {template}… on the page: is {prefix!r} an inline's prefix?"
    for name, field in copies:
        clone = copy.copy(field)
        clone.name = f"{prefix}-{index}-{name[len(template):]}"
        if hasattr(field, "options"):
            clone.options = list(field.options)
        form.fields.setdefault(clone.name, []).append(clone)
        form.field_order.append((clone.name, clone))
    total.force_value(str(index + 1))
    return index


# --- The demo catalog ---------------------------------------------------------------------------

_DEMO_PICTURES: dict[str, bytes] = {}


@pytest.fixture
def demo_catalog(db, settings):
    """`demo_catalog(products=N)` seeds demo products 0..N-1 (`catalog.demo.seed`): categories,
    brands, options, the three locations, variants with stock (some reserved) and pictures stored
    in this test's MEDIA_ROOT through the real FileSystemStorage, with their renditions.

    Drawing the pictures is the slow part, so the files one test drew are kept in memory and
    written into the next test's MEDIA_ROOT before it seeds (the seeder then reuses them).
    Returns the seeder's report.
    """
    from pathlib import Path

    from catalog.demo.seed import seed_demo_catalog

    root = Path(settings.MEDIA_ROOT)

    def seed(*, products: int = 6):
        for name, content in _DEMO_PICTURES.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        report = seed_demo_catalog(products=products)
        for path in root.rglob("*"):
            name = path.relative_to(root).as_posix()
            if path.is_file() and name.startswith(("products/demo/", "renditions/")) and name not in _DEMO_PICTURES:
                _DEMO_PICTURES[name] = path.read_bytes()
        return report

    return seed
