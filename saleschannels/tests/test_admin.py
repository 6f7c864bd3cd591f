"""The sales channel back office, driven as a browser submits it."""
import pytest

from catalog.models import Product
from saleschannels.models import Publication

pytestmark = pytest.mark.django_db


def test_staff_make_a_product_shops_only_from_the_admin_and_the_storefront_follows(admin_app, client,
                                                                                  storefront_catalog,
                                                                                  django_capture_on_commit_callbacks):
    catalog = storefront_catalog
    assert b"Camp Lamp" in client.get("/c/gear/").content  # cached before the change
    page = admin_app.get("/admin/saleschannels/publication/add/")
    form = page.forms["publication_form"]
    assert [value for value, *_rest in form["sold_in"].options] == ["online", "shops"]
    form["product"].force_value(str(catalog.lamp.pk))
    form["sold_in"] = "shops"
    with django_capture_on_commit_callbacks(execute=True):
        form.submit("_save").follow()

    assert Publication.objects.get(product=catalog.lamp).sold_in == "shops"
    assert b"Camp Lamp" not in client.get("/c/gear/").content

    # "Sell online and in shops" gives it back to the web store
    changelist = admin_app.get("/admin/saleschannels/publication/")
    form = changelist.forms["changelist-form"]
    form["action"] = "sell_everywhere"
    form.get("_selected_action", index=0).checked = True
    with django_capture_on_commit_callbacks(execute=True):
        form.submit().follow()
    assert not Publication.objects.exists()
    assert catalog.lamp in Product.objects.published()
    assert b"Camp Lamp" in client.get("/c/gear/").content


@pytest.mark.parametrize("url", ["/admin/saleschannels/channel/", "/admin/saleschannels/publication/",
                                 "/admin/saleschannels/pricelist/"])
def test_channel_admin_lists_stay_within_their_query_budget(admin_client, storefront_catalog, url,
                                                           django_assert_max_num_queries):
    from saleschannels import services
    services.set_sold_in(product_ids=[storefront_catalog.lamp.pk, storefront_catalog.tee.pk], sold_in="online")
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)
    assert response.status_code == 200
