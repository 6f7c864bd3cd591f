"""The counter's back office, submitted as a browser does (django-webtest)."""
import pytest
from django.urls import reverse

from catalog.models import Location
from catalog.tests import factories as f
from pos.models import Register


@pytest.mark.django_db
def test_a_register_is_added_through_the_admin_form(admin_app):
    shop = f.LocationFactory(code="shop-leeds", name="Leeds", kind=Location.Kind.SHOP)
    page = admin_app.get(reverse("admin:pos_register_add"))
    form = page.forms["register_form"]
    form["name"] = "Till 1"
    form["location"] = str(shop.pk)
    form.submit("_save").follow()
    assert Register.objects.get().location == shop


def test_sessions_and_sales_are_read_only(counter, admin_app):
    page = admin_app.get(reverse("admin:pos_registersession_change", args=[counter.session.pk]))
    assert "Opening float" in page.text and "100.00" in page.text
    assert "_save" not in page.text
    admin_app.get(reverse("admin:pos_registersession_add"), status=403)
