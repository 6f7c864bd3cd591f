"""Serving uploaded media from the store itself (SERVE_MEDIA=true: one machine, no web server in front).

Only images leave here, each with the content type its bytes announce (never guessed from the
name: a GIF uploaded as "list.pdf" before names were ours is still a GIF). Anything else in the
media folder is answered 404. Files whose names are content hashes (originals, `catalog.fields`;
renditions, `catalog.images`) never change, so browsers and CDNs may keep them for a year without
asking again; older names (uploads and demo pictures from before) are cached for an hour and then
revalidated with If-Modified-Since. docs/operations.md shows the same rules for nginx and object
storage.
"""
from __future__ import annotations

import posixpath
import re
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils._os import safe_join
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from django.views.static import was_modified_since

from .validators import IMAGE_FORMATS, SNIFF_BYTES, sniff_image_format

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=3600"
# `<16 hex>.<ext>` (originals) or `renditions/<16 hex>/<width>.webp`; the storage may have added
# `_<7 characters>` when two writers raced with the same bytes, which changes nothing.
_SUFFIX = r"(?:_[A-Za-z0-9]{7})?"
CONTENT_NAMED = re.compile(
    rf"(?:^|/)[0-9a-f]{{16}}{_SUFFIX}\.(?:jpg|png|webp|gif)$|^renditions/[0-9a-f]{{16}}/\d+{_SUFFIX}\.webp$"
)


def cache_control(name: str) -> str:
    """The Cache-Control a stored media file is served with."""
    return IMMUTABLE if CONTENT_NAMED.search(name) else REVALIDATE


@require_safe
def serve_media(request: HttpRequest, path: str) -> HttpResponse:
    """The file `path` under MEDIA_ROOT, if it is an image; 404 otherwise (also for `..` paths)."""
    name = posixpath.normpath(path).lstrip("/")
    try:
        full_path = Path(safe_join(settings.MEDIA_ROOT, name))
    except SuspiciousFileOperation:  # outside MEDIA_ROOT
        raise Http404("No such file") from None
    if not full_path.is_file():
        raise Http404("No such file")
    stat = full_path.stat()
    if not was_modified_since(request.META.get("HTTP_IF_MODIFIED_SINCE"), stat.st_mtime):
        response = HttpResponseNotModified()
        response.headers["Cache-Control"] = cache_control(name)
        return response
    handle = full_path.open("rb")
    image_format = sniff_image_format(handle.read(SNIFF_BYTES))
    if image_format is None:
        handle.close()
        raise Http404("No such file")
    handle.seek(0)
    response = FileResponse(handle, content_type=IMAGE_FORMATS[image_format][1])
    response.headers["Last-Modified"] = http_date(stat.st_mtime)
    response.headers["Cache-Control"] = cache_control(name)
    return response
