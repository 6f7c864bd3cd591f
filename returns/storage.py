"""Where shoppers' return photos are kept: a folder outside MEDIA_ROOT, so no URL serves them.

The folder is read from `RETURN_PHOTOS_ROOT` on every access (not once at import), so tests can
point it at a throw-away folder. Files are read back only by views that check who asks.
"""
from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


@deconstructible(path="returns.storage.PhotoStorage")
class PhotoStorage(FileSystemStorage):
    def __init__(self) -> None:
        super().__init__(base_url=None)

    @property
    def base_location(self) -> str:  # type: ignore[override]
        return str(settings.RETURN_PHOTOS_ROOT)

    @property
    def location(self) -> str:  # type: ignore[override]
        return os.path.abspath(self.base_location)

    def url(self, name):  # never a public URL
        raise ValueError("Return photos have no public URL; use the returns views.")
