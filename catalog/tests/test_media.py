"""Media served by the store itself: images only, their real content type, long cache headers for
content-hashed names, an hour and revalidation for older names."""
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.http import http_date

from catalog import images
from catalog.media import cache_control
from catalog.models import ProductImage
from catalog.tests.factories import product_with_stock
from conftest import image_bytes

pytestmark = pytest.mark.django_db

IMMUTABLE = "public, max-age=31536000, immutable"


def encoded(fmt: str, size=(700, 500)) -> bytes:
    return image_bytes(fmt, size=size, colour=(20, 140, 200))


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_an_uploaded_image_and_its_renditions_are_cached_for_a_year(client):
    content = encoded("PNG")
    image = ProductImage.objects.create(product=product_with_stock(), image=SimpleUploadedFile("x.png", content))
    renditions = images.build_renditions(image_id=image.pk)

    original = client.get(image.image.url)
    rendition = client.get(default_storage.url(renditions["320"]))

    assert (original.status_code, original["Content-Type"], original["Cache-Control"]) == (200, "image/png", IMMUTABLE)
    assert body(original) == content
    assert (rendition.status_code, rendition["Content-Type"]) == (200, "image/webp")
    assert rendition["Cache-Control"] == IMMUTABLE


def test_an_older_name_is_served_with_its_real_type_and_revalidated(client):
    # Demo pictures and uploads from before content names: the name says nothing about the bytes.
    jpeg = default_storage.save("products/demo/tent-olive.jpg", ContentFile(encoded("JPEG")))
    gif_called_pdf = default_storage.save("products/7/price-list.pdf", ContentFile(encoded("GIF")))

    as_jpeg = client.get(default_storage.url(jpeg))
    as_gif = client.get(default_storage.url(gif_called_pdf))

    assert (as_jpeg.status_code, as_jpeg["Content-Type"]) == (200, "image/jpeg")
    assert as_jpeg["Cache-Control"] == "public, max-age=3600"
    assert (as_gif.status_code, as_gif["Content-Type"]) == (200, "image/gif")
    assert as_jpeg["Last-Modified"]
    assert as_gif["X-Content-Type-Options"] == "nosniff"


def test_an_unchanged_file_answers_not_modified(client):
    name = default_storage.save("products/demo/lamp-black.jpg", ContentFile(encoded("JPEG")))
    later = http_date(default_storage.get_modified_time(name).timestamp() + 60)

    response = client.get(default_storage.url(name), HTTP_IF_MODIFIED_SINCE=later)

    assert response.status_code == 304
    assert response["Cache-Control"] == "public, max-age=3600"


@pytest.mark.parametrize("content", [
    b"<html><script>alert(document.cookie)</script></html>",
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3",
    b"",
])
def test_whatever_is_not_an_image_is_not_served(client, content):
    name = default_storage.save("products/7/page.html", ContentFile(content))

    assert client.get(default_storage.url(name)).status_code == 404


@pytest.mark.parametrize("path", [
    "/media/../shop/settings.py", "/media/%2e%2e/manage.py", "/media/products/", "/media/nothing.png",
])
def test_paths_outside_the_media_folder_or_missing_files_are_not_found(client, path):
    default_storage.save("products/kept.png", ContentFile(encoded("PNG")))

    assert client.get(path).status_code == 404


def test_only_reading_methods_are_allowed(client):
    name = default_storage.save("products/7/a.png", ContentFile(encoded("PNG")))

    assert client.head(default_storage.url(name)).status_code == 200
    assert client.post(default_storage.url(name)).status_code == 405


@pytest.mark.parametrize(("name", "expected"), [
    ("products/12/0123456789abcdef.jpg", IMMUTABLE),
    ("products/new/0123456789abcdef.webp", IMMUTABLE),
    ("renditions/0123456789abcdef/320.webp", IMMUTABLE),
    ("renditions/0123456789abcdef/320_AbC12xY.webp", IMMUTABLE),
    ("products/demo/tent-olive.jpg", "public, max-age=3600"),
    ("products/12/photo.png", "public, max-age=3600"),
    ("products/12/0123456789abcdef.pdf", "public, max-age=3600"),
    ("products/12/0123456789ABCDEF.png", "public, max-age=3600"),
])
def test_which_names_count_as_content_hashed(name, expected):
    assert cache_control(name) == expected
