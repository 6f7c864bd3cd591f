"""Upload validation for product images: real image types within size and pixel limits."""
import warnings

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


def validate_image_upload(file) -> None:
    """Refuse anything that is not a JPEG, PNG, WebP or GIF within the configured limits.

    The header is read to learn the pixel size before any pixel is decoded, so a decompression
    bomb (a small file that expands to gigabytes) is refused without being expanded.
    """
    size = getattr(file, "size", None)
    if size is not None and size > settings.IMAGE_MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("The image is %(size)s; the largest allowed is %(limit)s.")
            % {"size": filesizeformat(size), "limit": filesizeformat(settings.IMAGE_MAX_UPLOAD_BYTES)},
            code="file_too_large",
        )
    position = file.tell() if hasattr(file, "tell") else None
    try:
        file.seek(0)
        with warnings.catch_warnings():
            # Pillow warns (rather than raises) for images just above its own limit: treat as error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                image_format = image.format
                width, height = image.size
                if image_format in ALLOWED_FORMATS and width * height <= settings.IMAGE_MAX_PIXELS:
                    image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(
            _("The image has too many pixels to process safely; the most allowed is %(limit)s megapixels.")
            % {"limit": settings.IMAGE_MAX_PIXELS // 1_000_000},
            code="too_many_pixels",
        )
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(
            _("The file is not a valid image. Upload a JPEG, PNG, WebP or GIF file."), code="invalid_image"
        )
    finally:
        if position is not None:
            file.seek(position)
    if image_format not in ALLOWED_FORMATS:
        raise ValidationError(
            _("%(format)s images are not accepted. Upload a JPEG, PNG, WebP or GIF file.") % {"format": image_format},
            code="unsupported_format",
        )
    if width * height > settings.IMAGE_MAX_PIXELS:
        raise ValidationError(
            _("The image is %(width)s×%(height)s pixels; the most allowed is %(limit)s megapixels.")
            % {"width": width, "height": height, "limit": settings.IMAGE_MAX_PIXELS // 1_000_000},
            code="too_many_pixels",
        )
