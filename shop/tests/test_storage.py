"""shop/storage.py: remembered URLs are the storages' own, and a setting change forgets them."""
import json

import pytest
from django.core.files.storage import FileSystemStorage
from django.test import override_settings

from shop.storage import MediaStorage, StaticStorage


def test_media_urls_are_the_file_system_storages_and_follow_media_url(settings):
    storage, plain = MediaStorage(), FileSystemStorage()
    names = ["products/7/abc.webp", "products/7/caf\u00e9 cr\u00e8me.png", "a b/c?d#e.jpg"]

    assert [storage.url(name) for name in names] == [plain.url(name) for name in names]
    assert storage.url(names[0]) == "/media/products/7/abc.webp"  # remembered: the same answer

    with override_settings(MEDIA_URL="https://cdn.example.com/m/"):
        assert storage.url(names[0]) == "https://cdn.example.com/m/products/7/abc.webp"
    assert storage.url(names[0]) == "/media/products/7/abc.webp"


@pytest.fixture
def manifest_storage(tmp_path):
    (tmp_path / "staticfiles.json").write_text(json.dumps(
        {"version": "1.1", "paths": {"css/shop.css": "css/shop.0123abcd.css"}, "hash": "x"}
    ))
    with override_settings(DEBUG=False, STATIC_ROOT=str(tmp_path), STATIC_URL="/static/"):
        yield StaticStorage(location=str(tmp_path))


def test_static_urls_are_the_manifests_and_a_missing_file_still_raises(manifest_storage):
    assert manifest_storage.url("css/shop.css") == "/static/css/shop.0123abcd.css"
    assert manifest_storage.url("css/shop.css") == "/static/css/shop.0123abcd.css"
    for _ in range(2):  # never remembered as anything
        with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
            manifest_storage.url("css/missing.css")

    with override_settings(DEBUG=True):  # DEBUG serves the names as they are
        assert manifest_storage.url("css/shop.css") == "/static/css/shop.css"
    assert manifest_storage.url("css/shop.css") == "/static/css/shop.0123abcd.css"
