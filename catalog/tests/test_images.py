"""WebP renditions: widths, no upscaling, orientation, transparency, idempotency, the task."""
import io
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog import images
from catalog.models import ProductImage
from catalog.tasks import build_image_renditions_task
from catalog.tests.factories import product_with_stock

pytestmark = pytest.mark.django_db


def _picture(size=(1500, 1000), *, fmt="JPEG", mode="RGB", colour=(30, 90, 150), exif_orientation=None) -> bytes:
    image = Image.new(mode, size, colour)
    buffer = io.BytesIO()
    kwargs = {}
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _product_image(content: bytes, name: str = "photo.jpg") -> ProductImage:
    product = product_with_stock()
    return ProductImage.objects.create(
        product=product, image=SimpleUploadedFile(name, content), alt_text="A photo"
    )


def _open(path: str) -> Image.Image:
    with default_storage.open(path, "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def _media_files(settings) -> dict[str, float]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_renditions_are_webp_at_each_configured_width(settings):
    settings.IMAGE_RENDITION_WIDTHS = (320, 640, 1024)
    image = _product_image(_picture((1500, 1000)))

    renditions = images.build_renditions(image_id=image.pk)

    assert list(renditions) == ["320", "640", "1024"]
    for width, path in renditions.items():
        assert path.endswith(f"/{width}.webp")
        rendition = _open(path)
        assert rendition.format == "WEBP"
        assert rendition.size == (int(width), round(1000 * int(width) / 1500))
    image.refresh_from_db()
    assert image.renditions == renditions


def test_a_small_original_is_never_upscaled(settings):
    settings.IMAGE_RENDITION_WIDTHS = (320, 640, 1024)
    image = _product_image(_picture((500, 300), fmt="PNG"), name="small.png")

    renditions = images.build_renditions(image_id=image.pk)

    # The widths above 500 collapse into one rendition at the original's own width.
    assert list(renditions) == ["320", "500"]
    assert _open(renditions["500"]).size == (500, 300)


def test_building_twice_writes_nothing_and_changes_nothing(settings):
    image = _product_image(_picture((1200, 800)))
    first = images.build_renditions(image_id=image.pk)
    image.refresh_from_db()
    files, updated_at = _media_files(settings), image.updated_at

    second = images.build_renditions(image_id=image.pk)

    image.refresh_from_db()
    assert second == first
    assert _media_files(settings) == files
    assert image.updated_at == updated_at


def test_exif_orientation_is_applied(settings):
    settings.IMAGE_RENDITION_WIDTHS = (320, 640)
    # Stored 600×400 but tagged "rotate 90°": shown 400 wide and 600 high.
    image = _product_image(_picture((600, 400), exif_orientation=6))

    renditions = images.build_renditions(image_id=image.pk)

    assert list(renditions) == ["320", "400"]
    assert _open(renditions["400"]).size == (400, 600)
    assert _open(renditions["320"]).size == (320, 480)


def test_transparency_is_kept():
    image = _product_image(_picture((800, 800), fmt="PNG", mode="RGBA", colour=(200, 40, 40, 0)), name="logo.png")

    renditions = images.build_renditions(image_id=image.pk)

    rendition = _open(renditions["320"])
    assert rendition.mode == "RGBA"
    assert rendition.getpixel((10, 10))[3] == 0


def test_images_sharing_a_file_share_renditions():
    first = _product_image(_picture((900, 600)))
    second = ProductImage.objects.create(product=first.product, image=first.image.name, alt_text="Same file")

    assert images.build_renditions(image_id=first.pk) == images.build_renditions(image_id=second.pk)


def test_a_replaced_file_gets_new_renditions():
    image = _product_image(_picture((900, 600), colour=(10, 10, 10)))
    old = images.build_renditions(image_id=image.pk)

    image.image.save("new.jpg", ContentFile(_picture((900, 600), colour=(250, 250, 250))))
    new = images.build_renditions(image_id=image.pk)

    assert set(new) == set(old)
    assert all(new[width] != old[width] for width in new)
    image.refresh_from_db()
    assert image.renditions == new


def test_a_file_that_is_not_an_image_is_refused_without_retrying():
    product = product_with_stock()
    name = default_storage.save("products/broken.jpg", ContentFile(b"not an image at all"))
    image = ProductImage.objects.create(product=product, image=name)

    # RenditionError is not an OSError, so the task does not retry a hopeless file.
    with pytest.raises(images.RenditionError):
        images.build_renditions(image_id=image.pk)
    assert not issubclass(images.RenditionError, OSError)


def test_too_many_pixels_is_refused(settings):
    settings.IMAGE_MAX_PIXELS = 100 * 100
    image = _product_image(_picture((300, 300)))

    with pytest.raises(images.RenditionError):
        images.build_renditions(image_id=image.pk)
    image.refresh_from_db()
    assert image.renditions == {}


def test_product_page_offers_the_renditions_in_srcset(client):
    image = _product_image(_picture((1200, 900)))
    renditions = images.build_renditions(image_id=image.pk)

    response = client.get(image.product.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 200
    assert f'{default_storage.url(renditions["320"])} 320w' in html
    assert f'{default_storage.url(renditions["640"])} 640w' in html
    assert 'loading="lazy"' in html or 'loading="eager"' in html


def test_task_for_a_deleted_image_succeeds_quietly():
    result = build_image_renditions_task.apply(kwargs={"image_id": 987654321})

    assert result.successful()


def test_task_builds_the_renditions():
    image = _product_image(_picture((700, 500)))

    result = build_image_renditions_task.apply(kwargs={"image_id": image.pk})

    assert result.successful()
    image.refresh_from_db()
    assert list(image.renditions) == ["320", "640", "700"]


def test_request_renditions_enqueues_only_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    image = _product_image(_picture((700, 500)))
    enqueued = []
    monkeypatch.setattr(build_image_renditions_task, "delay", lambda **kwargs: enqueued.append(kwargs))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        images.request_renditions(image_id=image.pk)
    assert enqueued == []

    for callback in callbacks:
        callback()
    assert enqueued == [{"image_id": image.pk}]

