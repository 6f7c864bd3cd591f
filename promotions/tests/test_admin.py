"""The back office as staff use it: a promotion saved from the form, codes generated and exported,
the dry run over real paid orders."""
import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from catalog.tests import factories as f
from orders.models import Order
from orders.tests.factories import OrderFactory, OrderLineFactory
from promotions.models import CODE_ALPHABET, Code, CodeBatch, Promotion

from .factories import PromotionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser(username="boss", email="boss@example.com", password="x")
    client.force_login(user)
    return client


def form_data(**overrides):
    data = {
        "name": "Paris sale", "trigger": "code", "is_active": "on", "starts_at_0": "2026-07-01", "starts_at_1": "09:00:00",
        "ends_at_0": "", "ends_at_1": "", "time_zone": "Europe/Paris", "priority": "100",
        "combines_with_shipping": "on", "reward": "percent_lines", "value": "15", "buy_quantity": "0",
        "get_quantity": "0", "max_applications": "", "min_subtotal": "", "min_quantity": "", "segment": "",
        "countries": "FR", "usage_limit": "", "per_customer_limit": "", "budget": "",
        "codes-TOTAL_FORMS": "1", "codes-INITIAL_FORMS": "0", "codes-MIN_NUM_FORMS": "0", "codes-MAX_NUM_FORMS": "1000",
        "codes-0-code": "paris-15", "codes-0-max_uses": "",
    }
    data.update(overrides)
    return data


def test_staff_create_a_code_promotion_scheduled_in_its_own_time_zone(staff):
    response = staff.post("/admin/promotions/promotion/add/", form_data())
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    promotion = Promotion.objects.get()
    assert promotion.starts_at == datetime(2026, 7, 1, 9, tzinfo=ZoneInfo("Europe/Paris"))
    assert list(promotion.codes.values_list("code", flat=True)) == ["PARIS15"]
    page = staff.get(f"/admin/promotions/promotion/{promotion.pk}/change/").content.decode()
    assert 'value="09:00:00"' in page  # shown again in Paris time


def test_bad_promotion_forms_say_what_is_wrong_and_save_nothing(staff):
    response = staff.post("/admin/promotions/promotion/add/", form_data(time_zone="Mars/Olympus", value="150"))
    errors = response.context["adminform"].form.errors
    assert "Unknown time zone Mars/Olympus" in str(errors["time_zone"])
    assert not Promotion.objects.exists()
    response = staff.post("/admin/promotions/promotion/add/", form_data(value="150"))
    assert "A percentage is at most 100." in str(response.context["adminform"].form.errors["value"])


def test_generating_a_batch_of_unique_codes_and_exporting_it_as_csv(staff):
    promotion = PromotionFactory(trigger=Promotion.Trigger.CODE)
    response = staff.post(f"/admin/promotions/promotion/{promotion.pk}/generate/",
                          {"count": "500", "prefix": "spring-", "length": "8"})
    batch = CodeBatch.objects.get()
    assert response["Location"] == f"/admin/promotions/codebatch/{batch.pk}/change/"
    codes = list(Code.objects.filter(batch=batch).values_list("code", "max_uses"))
    assert len(codes) == len({c for c, _m in codes}) == 500
    assert all(c.startswith("SPRING") and set(c[6:]) <= set(CODE_ALPHABET) and m == 1 for c, m in codes)
    export = staff.get(f"/admin/promotions/codebatch/{batch.pk}/export/")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0] == ["code", "promotion", "uses_allowed", "used"]
    assert sorted(r[0] for r in rows[1:]) == sorted(c for c, _m in codes)


def test_the_dry_run_counts_orders_cost_and_overlaps_over_paid_orders(staff):
    category = f.CategoryFactory(slug="shirts")
    shirt = f.VariantFactory(product=f.ProductFactory(category=category), price=Decimal("40.00"))
    for n, (total, status) in enumerate([(Decimal("80.00"), "paid"), (Decimal("40.00"), "paid"),
                                         (Decimal("120.00"), "unpaid")]):
        order = OrderFactory(payment_status=status, total=total, subtotal=total)
        OrderLineFactory(order=order, variant=shirt, unit_price=Decimal("40.00"), quantity=int(total / 40),
                         line_total=total)
    old = Order.objects.order_by("pk").first()
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=60))
    PromotionFactory(name="Always on", value=Decimal(5))
    draft = PromotionFactory(name="Draft 25%", is_active=False, reward=Promotion.Reward.PERCENT_ORDER, value=Decimal(25),
                             trigger=Promotion.Trigger.CODE)
    page = staff.get(f"/admin/promotions/promotion/{draft.pk}/dry-run/", {"days": "30"})
    result = page.context["result"]
    assert (result.orders, result.touched, result.cost) == (1, 1, Decimal("10.00"))
    assert [(o.name, o.orders) for o in result.overlaps] == [("Always on", 1)]
    result = staff.get(f"/admin/promotions/promotion/{draft.pk}/dry-run/", {"days": "90"}).context["result"]
    assert (result.orders, result.touched, result.cost) == (2, 2, Decimal("30.00"))


def test_the_promotion_form_as_a_browser_submits_it_then_saved_again_unchanged(admin_app, storefront_catalog):
    # given the add page as rendered (every field, the codes inline's management form, the token)
    form = admin_app.get("/admin/promotions/promotion/add/").forms["promotion_form"]
    form["name"] = "Lamp week"
    form["trigger"] = "code"
    form["reward"] = "percent_lines"
    form["value"] = "10"
    form["products"].force_value([str(storefront_catalog.lamp.pk)])  # the autocomplete's <select multiple>
    form["codes-0-code"] = "lamp 10"
    # when staff save it
    response = form.submit("_save")
    # then it is saved with its product and code, and the list shows it
    assert response.status_code == 302, response.html.select(".errorlist")
    promotion = Promotion.objects.get()
    assert list(promotion.products.all()) == [storefront_catalog.lamp]
    assert list(promotion.codes.values_list("code", flat=True)) == ["LAMP10"]
    # and opening it and saving it again without a change keeps it as it was
    again = admin_app.get(f"/admin/promotions/promotion/{promotion.pk}/change/").forms["promotion_form"].submit("_save")
    assert again.status_code == 302, again.html.select(".errorlist")
    promotion.refresh_from_db()
    assert (promotion.name, promotion.value, promotion.codes.count()) == ("Lamp week", Decimal("10"), 1)
