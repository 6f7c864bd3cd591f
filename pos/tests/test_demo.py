import pytest
from django.core.management import call_command

from catalog.models import Location
from catalog.tests import factories as f
from pos.models import Register
from saleschannels.selectors import counter_channel


@pytest.mark.django_db
def test_seed_demo_registers_gives_every_shop_one_till_once():
    shop = f.LocationFactory(code="shop-york", name="York", kind=Location.Kind.SHOP)
    f.LocationFactory(code="warehouse", kind=Location.Kind.WAREHOUSE)

    call_command("seed_demo_registers")
    call_command("seed_demo_registers")

    assert list(Register.objects.values_list("location_id", "name")) == [(shop.pk, "Till 1")]
    assert counter_channel(location_id=shop.pk) is not None
