"""Uploads: only JPEG, PNG, WebP and GIF, stored under the detected format and a content hash,
refused with the store's own messages. Driven through the product page as staff upload, plus the
paths that save a file without a form."""
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from webtest import Upload

from catalog.models import ProductImage
from catalog.tests.factories import product_with_stock
from conftest import add_inline_form, image_bytes

pytestmark = pytest.mark.django_db


def encoded(fmt: str, size=(60, 40), mode="RGB", colour=(200, 30, 30)) -> bytes:
    return image_bytes(fmt, size=size, mode=mode, colour=colour)


@pytest.fixture(scope="module")
def huge_png() -> bytes:
    """A real, valid 20000×20000 PNG (400 megapixels) in about 50 KB."""
    return encoded("PNG", size=(20000, 20000), mode="1")


def media_files(settings) -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def upload_on_product_page(admin_app, product, name: str, content: bytes, content_type="application/octet-stream"):
    page = admin_app.get(reverse("admin:catalog_product_change", args=[product.pk]))
    form = page.forms["product_form"]
    row = add_inline_form(form, "images")
    form[f"images-{row}-image"] = Upload(name, content, content_type)
    form[f"images-{row}-alt_text"] = "Uploaded"
    return form.submit("_save")


@pytest.mark.parametrize("name", ["price-list.pdf", "drawing.eps", "no-extension", "photo.jpg", "a" * 150 + ".gif"])
def test_a_gif_is_stored_and_served_as_a_gif_whatever_it_is_called(admin_app, client, name):
    product = product_with_stock()
    gif = encoded("GIF")

    response = upload_on_product_page(admin_app, product, name, gif, "application/pdf")

    assert response.status_code == 302
    image = product.images.get()
    stored = image.image.name
    assert Path(stored).suffix == ".gif" and Path(stored).parent.as_posix() == f"products/{product.pk}"
    served = client.get(image.image.url)
    assert served["Content-Type"] == "image/gif"
    assert b"".join(served.streaming_content) == gif


@pytest.mark.parametrize(("fmt", "extension"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif")])
def test_each_accepted_format_keeps_its_own_extension(admin_app, fmt, extension):
    product = product_with_stock()

    response = upload_on_product_page(admin_app, product, "upload.bin", encoded(fmt))

    assert response.status_code == 302
    assert product.images.get().image.name.endswith(f".{extension}")


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO", "PPM"])
def test_other_image_formats_are_refused_with_the_stores_message(admin_app, settings, fmt):
    product = product_with_stock()
    before = media_files(settings)

    response = upload_on_product_page(admin_app, product, f"photo.{fmt.lower()}", encoded(fmt, size=(32, 32)))

    assert response.status_code == 200
    assert "The file is not a JPEG, PNG, WebP or GIF image." in response.text
    assert not product.images.exists()
    assert media_files(settings) == before


def test_a_file_that_is_no_image_is_refused(admin_app):
    product = product_with_stock()

    response = upload_on_product_page(admin_app, product, "photo.png", b"<html><script>alert(1)</script></html>")

    assert response.status_code == 200
    assert "The file is not a JPEG, PNG, WebP or GIF image." in response.text
    assert not product.images.exists()


def test_an_image_too_large_to_decode_gets_the_stores_message_not_djangos(admin_app, huge_png):
    # 400 megapixels: Pillow itself refuses to open it (over twice its own limit), which Django's
    # ImageField reported as "either not an image or a corrupted image".
    product = product_with_stock()

    response = upload_on_product_page(admin_app, product, "poster.png", huge_png, "image/png")

    assert response.status_code == 200
    assert "The image has too many pixels to process safely; the most allowed is 40 megapixels." in response.text
    assert "corrupted image" not in response.text
    assert not product.images.exists()


def test_an_image_over_the_stores_pixel_limit_says_its_size(admin_app):
    product = product_with_stock()

    response = upload_on_product_page(admin_app, product, "big.png", encoded("PNG", size=(8000, 6000), mode="1"))

    assert response.status_code == 200
    assert "The image is 8000×6000 pixels; the most allowed is 40 megapixels." in response.text


def test_a_file_over_the_byte_limit_says_so(admin_app, settings):
    settings.IMAGE_MAX_UPLOAD_BYTES = 100
    product = product_with_stock()
    content = encoded("PNG", size=(300, 300), mode="RGB")
    assert len(content) > 100

    response = upload_on_product_page(admin_app, product, "photo.png", content)

    assert response.status_code == 200
    assert "the largest allowed is 100\xa0bytes." in response.text
    assert not product.images.exists()


def test_the_file_input_offers_only_the_accepted_types(admin_app):
    product = product_with_stock()

    page = admin_app.get(reverse("admin:catalog_product_change", args=[product.pk]))

    field = page.forms["product_form"].fields["images-__prefix__-image"][0]
    assert field.attrs["accept"] == "image/jpeg,image/png,image/webp,image/gif"


# --- Names from content -------------------------------------------------------------------------


def test_the_stored_name_is_the_content_hash_so_a_changed_picture_gets_a_new_url():
    product = product_with_stock()
    red, blue = encoded("PNG", colour=(200, 0, 0)), encoded("PNG", colour=(0, 0, 200))
    image = ProductImage.objects.create(product=product, image=SimpleUploadedFile("front.png", red))
    first = image.image.name

    image.image.save("front.png", ContentFile(blue))

    assert first != image.image.name
    assert Path(first).stem != Path(image.image.name).stem
    assert len(Path(first).stem) == 16 and all(c in "0123456789abcdef" for c in Path(first).stem)


def test_the_same_bytes_are_stored_once(settings):
    product = product_with_stock()
    content = encoded("JPEG")

    first = ProductImage.objects.create(product=product, image=SimpleUploadedFile("a.jpg", content))
    second = ProductImage.objects.create(product=product, image=SimpleUploadedFile("b.jpeg", content))

    assert first.image.name == second.image.name
    assert len([name for name in media_files(settings) if name.startswith(f"products/{product.pk}/")]) == 1
    assert (second.width, second.height) == (60, 40)


def test_saving_a_file_without_a_form_names_it_by_its_format_and_refuses_what_is_no_image(settings):
    product = product_with_stock()

    gif = ProductImage.objects.create(product=product, image=SimpleUploadedFile("list.pdf", encoded("GIF")))
    with pytest.raises(ValidationError):
        ProductImage.objects.create(product=product, image=SimpleUploadedFile("list.pdf", b"%PDF-1.7 not an image"))

    assert gif.image.name.endswith(".gif")
    assert not [name for name in media_files(settings) if name.endswith(".pdf")]
