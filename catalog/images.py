"""WebP renditions of product images, made once in the background and never on a request.

Renditions are content-addressed: `renditions/<sha256 of the source, 16 hex>/<width>.webp`. The
same picture always maps to the same paths, so building twice writes nothing new, images that
share a file (the demo catalog reuses a small pool) share renditions, and replacing an upload
yields new paths instead of silently serving the old picture from a browser or CDN cache.
Rendition files are never deleted here: another image may still point at them.
"""
from __future__ import annotations

import hashlib
import io
import logging
import warnings

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.db import transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from .models import ProductImage

logger = logging.getLogger(__name__)

WEBP_QUALITY = 80
# libwebp's effort, 0 (fastest) to 6 (smallest files); 4 is its own default.
WEBP_METHOD = 4
# EXIF orientations that turn the stored pixels a quarter turn: width and height swap on display.
_QUARTER_TURNS = {5, 6, 7, 8}


class RenditionError(Exception):
    """The source cannot be turned into renditions (not an image, or too many pixels).

    Deliberately not an OSError: retrying would not help.
    """


def rendition_widths(original_width: int) -> list[int]:
    """The configured widths, with any wider than the original replaced by the original's own.

    Never upscaling keeps a small picture sharp and the srcset honest about what it offers.
    """
    return sorted({min(width, original_width) for width in settings.IMAGE_RENDITION_WIDTHS})


def rendition_path(digest: str, width: int) -> str:
    return f"renditions/{digest}/{width}.webp"


def thumbnail_url(name: str, renditions: dict | None) -> str:
    """The address of a stored picture shown small (the back office's lists, chat cards): its
    smallest WebP rendition, plenty for a thumbnail where the original may be megabytes, or the
    picture itself until its renditions are made. No query."""
    if renditions:
        name = min(renditions.items(), key=lambda item: int(item[0]))[1]
    return default_storage.url(name)


def _decode(data: bytes, *, draft: tuple[int, int] | None = None) -> Image.Image:
    """Upright pixels in a mode WebP keeps: RGBA when there is any transparency, else RGB.

    `draft` (JPEG only) lets the decoder skip detail below that size.
    """
    image = Image.open(io.BytesIO(data))
    if draft:
        image.draft(None, draft)
    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    return image.convert("RGBA" if has_alpha else "RGB")


def render_renditions(
    *, source_name: str, storage: Storage | None = None, method: int = WEBP_METHOD
) -> dict[str, str]:
    """Make (or find) the WebP renditions of the stored file `source_name`.

    Returns {"320": path, ...}. Files that already exist are not written again. Reads the source
    once; decodes pixels only when a rendition is missing. `method` trades encoding time for file
    size (the demo seeder, drawing flat artwork, uses the fastest). Raises RenditionError for a
    file that is not an image or exceeds IMAGE_MAX_PIXELS; OSError from the storage propagates.
    """
    storage = storage or default_storage
    with storage.open(source_name, "rb") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()[:16]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > settings.IMAGE_MAX_PIXELS:
                    raise RenditionError(f"{source_name} has {width}×{height} pixels, more than IMAGE_MAX_PIXELS")
                try:
                    orientation = image.getexif().get(0x0112, 1)
                except Exception:  # a broken EXIF block must not stop the picture being shown
                    orientation = 1
                upright_width = height if orientation in _QUARTER_TURNS else width
                paths = {w: rendition_path(digest, w) for w in rendition_widths(upright_width)}
                missing = [w for w, path in paths.items() if not storage.exists(path)]
                is_jpeg = image.format == "JPEG"
            decoded = None
            for target in missing:
                if is_jpeg:
                    # Decode at the smallest scale (1/2, 1/4, 1/8) that still covers this width:
                    # far faster for camera-sized photos, and no visible difference after resizing.
                    wanted = (1, target) if orientation in _QUARTER_TURNS else (target, 1)
                    upright = _decode(data, draft=wanted)
                else:
                    upright = decoded = decoded or _decode(data)
                target_height = max(1, round(upright.height * target / upright.width))
                resized = (
                    upright if target == upright.width
                    else upright.resize((target, target_height), Image.Resampling.LANCZOS, reducing_gap=3.0)
                )
                buffer = io.BytesIO()
                resized.save(buffer, "WEBP", quality=WEBP_QUALITY, method=method)
                # Two workers racing on the same picture both write identical bytes; the storage
                # then picks another name for the second, which is what we record.
                paths[target] = storage.save(paths[target], ContentFile(buffer.getvalue()))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, SyntaxError) as exc:
        raise RenditionError(f"{source_name} cannot be rendered: {exc}") from exc
    return {str(w): paths[w] for w in sorted(paths)}


def build_renditions(*, image_id: int) -> dict[str, str]:
    """Make the WebP renditions of one ProductImage and record them in `renditions`.

    Idempotent: when the renditions exist and are recorded, nothing is written. The row is saved
    (update_fields) under a row lock, and only if its file is still the one rendered: an upload
    replaced meanwhile is left for its own task. Saving bumps the catalog version through the
    model signal, so cached pages pick up the new srcset.
    Raises ProductImage.DoesNotExist for a deleted image, RenditionError for a file that is not a
    usable image; OSError from the storage propagates (the task retries on it).
    """
    image = ProductImage.objects.get(pk=image_id)
    source_name = image.image.name
    renditions = render_renditions(source_name=source_name)
    if renditions == image.renditions:
        return renditions
    with transaction.atomic():
        current = ProductImage.objects.select_for_update().filter(pk=image_id).first()
        if current is None:
            raise ProductImage.DoesNotExist(f"ProductImage {image_id} was deleted while rendering")
        if current.image.name != source_name:
            logger.info("Image %s was replaced while rendering; its own task renders the new file", image_id)
            return current.renditions
        if current.renditions != renditions:
            current.renditions = renditions
            current.save(update_fields=["renditions", "updated_at"])
    return renditions


def request_renditions(*, image_id: int) -> None:
    """Enqueue `build_image_renditions_task` for the image once the current transaction commits.

    Call it after an image is created or its file replaced. Enqueueing after commit means the
    worker always finds the row. `robust` logs a failing enqueue (broker down), or a failing
    eager run, instead of turning an already committed save into an error page; the page then
    shows the original until the image is saved again.
    """
    from .tasks import build_image_renditions_task

    transaction.on_commit(lambda: build_image_renditions_task.delay(image_id=image_id), robust=True)
