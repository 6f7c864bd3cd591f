"""Every back-office page on the demo store, opened and saved the way staff use them.

For every ModelAdmin on `admin.site` (read from its registry, so a new one is swept without
touching this file), as the demo's superuser (`ensure_staff`'s account) through django-webtest:
the list opens, searched and with each filter's first choice; the add page opens; demo objects'
change pages open (several per model: one per combination of its status fields, preferring
objects with rows in every inline, e.g. a product with pictures) and their forms, submitted
unchanged exactly as a browser posts them (inlines, file inputs, hidden management forms),
save without an error; every link of the model's own admin pages (object tools, custom views)
opens; every list action run on a demo object answers a page or a redirect to one. Then each
staff group's member: the index lists exactly the lists they may see, those open (with a demo
object's page), the others are refused.

Models the demo seeds no object of are listed in `NO_DEMO_OBJECTS` with the reason; their list
and add pages are still swept.
"""
from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef
from django.forms.models import _get_foreign_key
from django.test import RequestFactory
from django.urls import reverse

pytestmark = pytest.mark.django_db

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
LABELS = [model._meta.label for model, _model_admin in REGISTRY]
# Several objects of a model with status fields, one per combination; no more than this.
OBJECTS_PER_MODEL = 8

# Registered models `make demo` creates no object of (so no change page to open), and why.
NO_DEMO_OBJECTS: dict[str, str] = {
    "payments.WebhookEvent": "Stripe's deliveries; the demo store pays with the demo provider, which sends none",
    "promotions.Redemption": "written when checkout places an order with a promotion; the demo's orders are history "
                             "written without checkout, and staff orders take no promotion",
}


def label_of(model) -> str:
    return model._meta.label


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def model_admin_of(label: str):
    return next(model_admin for model, model_admin in REGISTRY if label_of(model) == label)


def own_pages(model) -> set[str]:
    """The paths of the model's one-row pages its list may send to: its add page, its first row."""
    return {admin_url(model, "add"), *(admin_url(model, "change", pk) for pk in
                                         model._default_manager.order_by("pk").values_list("pk", flat=True)[:1])}


def as_request(user, path: str = "/admin/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


@pytest.fixture
def superuser(demo_store):
    """The back-office account `ensure_staff` created for the demo."""
    return get_user_model().objects.get(username="admin", is_superuser=True)


@pytest.fixture
def staff_app(django_app, superuser):
    django_app.set_user(superuser)
    return django_app


def demo_objects(model_admin, request) -> list:
    """Up to OBJECTS_PER_MODEL demo objects of the admin's list: one per combination of the model's
    status fields (an order paid and shipped, one refunded, one cancelled ...), each preferring
    objects with rows in every inline (a product with variants and pictures)."""
    queryset = model_admin.get_queryset(request).order_by("pk")
    for inline in model_admin.inlines:
        if not issubclass(inline, InlineModelAdmin) or not hasattr(inline.model, "_meta"):
            continue
        try:
            fk = _get_foreign_key(model_admin.model, inline.model, fk_name=inline.fk_name)
        except ValueError:  # a generic inline
            continue
        with_rows = queryset.filter(Exists(inline.model._default_manager.filter(**{fk.name: OuterRef("pk")})))
        if with_rows.exists():
            queryset = with_rows
    statuses = [field.name for field in model_admin.model._meta.concrete_fields
                if field.choices and (field.name == "status" or field.name.endswith("_status"))]
    if not statuses:
        return list(queryset[:1])
    firsts = {}
    for row in queryset.values("pk", *statuses):
        firsts.setdefault(tuple(row[name] for name in statuses), row["pk"])
    return list(queryset.filter(pk__in=sorted(firsts.values())[:OBJECTS_PER_MODEL]))


def object_pages(app, model_admin, user) -> list[tuple[str, str, object]] | None:
    """(what, change page URL, object) of the demo objects to open; None for a model on NO_DEMO_OBJECTS.

    A one-row model (settings) is opened as staff reach it: its list sends to its row's page, or to
    the add form that makes the row (object None then)."""
    model = model_admin.model
    label = label_of(model)
    objects = demo_objects(model_admin, as_request(user))
    entry = None if objects else app.get(admin_url(model, "changelist"))
    if entry is not None and entry.status_code == 302:
        return [(f"{label}'s one row", urlsplit(entry.location).path, None)]
    if label in NO_DEMO_OBJECTS:
        assert objects == [], f"{label} has demo objects now: take it off NO_DEMO_OBJECTS"
        return None
    assert objects, f"the demo store has no {label} to open: seed one, or list it in NO_DEMO_OBJECTS with why"
    return [(f"{label} {obj.pk} ({obj})", admin_url(model, "change", obj.pk), obj) for obj in objects]


def errors_on(page) -> str:
    """The error messages a page shows, as one line."""
    found = [" ".join(node.get_text(" ", strip=True).split())
             for node in page.html.select(".errornote, .errorlist, .messagelist .error")]
    return "; ".join(found) or f"status {page.status_code}, no error shown"


def own_links(page, prefix: str) -> list[str]:
    """The links of `page` (object tools included) to other pages under the model's admin `prefix`."""
    found = []
    for anchor in page.html.select("#content a[href]"):
        url = urljoin(page.request.path, anchor["href"])
        parts = urlsplit(url)
        if parts.path.startswith(prefix) and url != page.request.url and url not in found and "://" not in anchor["href"]:
            found.append(url)
    return found


def filter_choices(page) -> list[str]:
    """Each list filter's first choice that is not the one shown (usually the first after "All")."""
    choices = []
    for block in page.html.select("#changelist-filter details, #changelist-filter ul"):
        if block.name == "ul" and block.find_parent("details"):
            continue
        for item in block.select("li"):
            anchor = item.find("a", href=True)
            if anchor and "selected" not in (item.get("class") or []):
                choices.append(urljoin(page.request.path, anchor["href"]))
                break
    return choices


def follow(response, *, hops: int = 3):
    """Where a redirect leads, through a one-row model's list to its row (a few hops at most)."""
    while response.status_code in (301, 302) and hops:
        response, hops = response.follow(expect_errors=True), hops - 1
    return response


def check(failures: list[str], what: str, response, *, status: int | tuple = 200) -> None:
    wanted = status if isinstance(status, tuple) else (status,)
    if response.status_code not in wanted:
        failures.append(f"{what}: {response.status_code}, wanted {wanted}")


# --- As the superuser -----------------------------------------------------------------------------


@pytest.mark.parametrize("label", LABELS)
def test_the_list_opens_searched_and_filtered(staff_app, label):
    model_admin = model_admin_of(label)
    model = model_admin.model
    failures: list[str] = []

    page = staff_app.get(admin_url(model, "changelist"))
    if page.status_code == 302:  # a one-row model's list opens its row (or the form that makes it)
        assert urlsplit(page.location).path in own_pages(model), f"{label}'s list sends to {page.location}"
        assert follow(page).status_code == 200
        return
    if model_admin.search_fields:
        check(failures, "searched for 'a'", staff_app.get(admin_url(model, "changelist"), {"q": "a"}))
    choices = filter_choices(page)
    for url in choices:
        check(failures, url, staff_app.get(url, expect_errors=True))
    for anchor in page.html.select(".object-tools a[href]"):
        url = urljoin(page.request.path, anchor["href"])
        check(failures, f"object tool {url}", staff_app.get(url, expect_errors=True))

    assert page.status_code == 200
    assert failures == []


@pytest.mark.parametrize("label", LABELS)
def test_the_add_page_opens(staff_app, superuser, label):
    model_admin = model_admin_of(label)
    if not model_admin.has_add_permission(as_request(superuser)):
        assert staff_app.get(admin_url(model_admin.model, "add"), expect_errors=True).status_code == 403
        return

    page = staff_app.get(admin_url(model_admin.model, "add"))

    assert page.status_code == 200
    assert page.html.select_one(f"form#{model_admin.model._meta.model_name}_form") is not None


@pytest.mark.parametrize("label", LABELS)
def test_demo_objects_open_save_unchanged_and_their_links_open(staff_app, superuser, label):
    """Each demo object's page opens; every page of the model's own it links to (object tools and
    custom views: refund, ship, history, stock ...) opens; its form, submitted as the page shows it,
    saves."""
    model_admin = model_admin_of(label)
    model = model_admin.model
    pages = object_pages(staff_app, model_admin, superuser)
    if pages is None:
        return
    prefix = admin_url(model, "changelist")
    failures: list[str] = []

    for what, url, obj in pages:
        page = staff_app.get(url)
        for link in own_links(page, prefix):
            if urlsplit(link).path not in (prefix, page.request.path):
                check(failures, f"{what}: {link}", staff_app.get(link, expect_errors=True))
        form = page.forms.get(f"{model._meta.model_name}_form")
        if obj is not None and not model_admin.has_change_permission(as_request(superuser), obj):
            continue  # a record to read: its page shows no form to save
        if form is None and type(model_admin).change_view is not admin.ModelAdmin.change_view:
            continue  # a page of its own (the chat's conversation): its buttons are its own tests'
        if form is None:
            failures.append(f"{what}: no form to save")
            continue
        response = form.submit("_save" if "_save" in form.fields else None, expect_errors=True)
        if response.status_code != 302:
            failures.append(f"{what}: saved unchanged, got {errors_on(response)}")
        elif urlsplit(response.location).path != prefix:  # the list itself is opened by its own test
            check(failures, f"{what}: after saving", follow(response))

    assert failures == []


@pytest.mark.parametrize("label", LABELS)
def test_every_list_action_on_a_demo_object_answers(staff_app, superuser, label):
    """Each action of the list, run on its first row as a person ticks it and presses Go: a page
    (a confirmation, a form, a file) or a redirect to one, never an error."""
    model_admin = model_admin_of(label)
    model = model_admin.model
    page = staff_app.get(admin_url(model, "changelist"))
    form = page.forms.get("changelist-form")
    if form is None or "action" not in form.fields or "_selected_action" not in form.fields:
        assert not demo_objects(model_admin, as_request(superuser)) or not model_admin.get_actions(
            as_request(superuser)), f"{label}: actions but no list to run them on"
        return
    actions = [value for value, _selected, _text in form["action"].options if value]
    failures: list[str] = []

    for index, box in enumerate(form.fields["_selected_action"]):
        box.checked = index == 0
    for action in actions:  # the same list page each time, as after pressing Back
        form["action"] = action
        response = form.submit("index", expect_errors=True)
        check(failures, f"action {action}", response, status=(200, 302))
        if response.status_code == 302 and urlsplit(response.location).path != urlsplit(page.request.url).path:
            check(failures, f"action {action}, where it led", follow(response))

    assert failures == []


# --- As each staff group's member -------------------------------------------------------------------


def staff_member(group: Group):
    user = get_user_model().objects.create_user(
        username=f"demo-{group.pk}", email=f"demo-{group.pk}@example.com", password=None, is_staff=True)
    user.groups.add(group)
    return get_user_model().objects.get(pk=user.pk)  # no cached permissions


GROUPS = ["Catalog managers", "Order managers", "Support", "Support managers", "Customer managers", "Reports",
          "Shop staff"]


def test_the_sweep_knows_every_staff_group(demo_store):
    assert sorted(Group.objects.values_list("name", flat=True)) == sorted(GROUPS)


@pytest.mark.parametrize("group_name", GROUPS)
def test_a_staff_member_sees_and_opens_what_their_group_may(django_app, demo_store, group_name):
    member = staff_member(Group.objects.get(name=group_name))
    request = as_request(member)
    django_app.set_user(member)
    may_see = {admin_url(model, "changelist") for model, model_admin in REGISTRY
               if model_admin.has_view_or_change_permission(request)}
    # As the index builds its list: a model admin may keep itself off it (one edited only inline).
    on_index = {admin_url(model, "changelist") for model, model_admin in REGISTRY
                if True in model_admin.get_model_perms(request).values()}
    failures: list[str] = []

    index = django_app.get("/admin/")
    listed = {anchor["href"] for anchor in index.html.select("#content-main a[href]")
              if anchor["href"] in {admin_url(model, "changelist") for model, _ in REGISTRY}}
    for model, model_admin in REGISTRY:
        url = admin_url(model, "changelist")
        if url in may_see:
            check(failures, f"{label_of(model)} list", follow(django_app.get(url, expect_errors=True)))
            obj = next(iter(demo_objects(model_admin, request)), None)
            if obj is not None:
                check(failures, f"{label_of(model)} {obj.pk}", django_app.get(admin_url(model, "change", obj.pk),
                                                                              expect_errors=True))
        else:
            check(failures, f"{label_of(model)} list", django_app.get(url, expect_errors=True), status=403)

    assert listed == on_index & may_see
    assert may_see, f"{group_name} may see nothing in the back office"
    assert failures == []
