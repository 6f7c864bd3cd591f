"""Upload validation for product images: real image types within size and pixel limits.

Validation belongs to a file just received, never to one already stored: the form field
(`catalog.fields.ImageUploadField`) calls `inspect_image_upload` on each new upload, and the model
field names the stored file after the format found here. Saving a row whose image did not change
neither validates nor opens its stored file.
"""
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

# The formats accepted, each with the extension and content type its files are stored and served
# under (whatever the uploaded file was called).
IMAGE_FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
ALLOWED_FORMATS = set(IMAGE_FORMATS)


def not_an_image() -> ValidationError:
    return ValidationError(
        _("The file is not a JPEG, PNG, WebP or GIF image. Upload an image in one of those formats."),
        code="invalid_image",
    )


def _too_many_pixels(width: int | None = None, height: int | None = None) -> ValidationError:
    limit = settings.IMAGE_MAX_PIXELS // 1_000_000
    if width is None:
        # Pillow refused to read even the header (far beyond its own limit): no size to quote.
        return ValidationError(
            _("The image has too many pixels to process safely; the most allowed is %(limit)s megapixels.")
            % {"limit": limit},
            code="too_many_pixels",
        )
    return ValidationError(
        _("The image is %(width)s×%(height)s pixels; the most allowed is %(limit)s megapixels.")
        % {"width": width, "height": height, "limit": limit},
        code="too_many_pixels",
    )


def inspect_image_upload(file) -> str:
    """Return the format ("JPEG", "PNG", "WEBP" or "GIF") of a newly uploaded file, or refuse it.

    `file` is an upload (an UploadedFile or any seekable file object), never a stored FieldFile.
    Only the decoders of the four formats are tried, and the header is read for the pixel size
    before any pixel is decoded, so a decompression bomb (a small file that expands to gigabytes)
    is refused without being expanded. Raises ValidationError with the store's own message: too
    large a file, too many pixels, or not one of the four formats. The file is left at position 0.
    """
    size = getattr(file, "size", None)
    if size is not None and size > settings.IMAGE_MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("The image is %(size)s; the largest allowed is %(limit)s.")
            % {"size": filesizeformat(size), "limit": filesizeformat(settings.IMAGE_MAX_UPLOAD_BYTES)},
            code="file_too_large",
        )
    file.seek(0)
    try:
        with warnings.catch_warnings():
            # Pillow warns (rather than raises) for images just above its own limit: treat as error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file, formats=sorted(ALLOWED_FORMATS)) as image:
                image_format = image.format
                width, height = image.size
                if width * height > settings.IMAGE_MAX_PIXELS:
                    raise _too_many_pixels(width, height)
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise not_an_image() from None
    finally:
        file.seek(0)
    if image_format not in ALLOWED_FORMATS:  # pragma: no cover - Pillow was told to try only these
        raise not_an_image()
    return image_format


# How each accepted format's files begin (RIFF....WEBP is checked in full below).
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
SNIFF_BYTES = 12


def sniff_image_format(head: bytes) -> str | None:
    """The accepted format a file's first `SNIFF_BYTES` bytes announce, or None.

    Only the signature: it says what a file claims to be (enough to name or serve it under the
    right type), not that it decodes; uploads get the full check of `inspect_image_upload`.
    """
    for signature, image_format in _SIGNATURES:
        if head.startswith(signature):
            return image_format
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def validate_image_upload(file) -> None:
    """`inspect_image_upload` as a validator (migration 0001 names it; new code calls the former)."""
    inspect_image_upload(file)
