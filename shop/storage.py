"""File storages whose URLs are worked out once per name (issue 9, "a cold page is cheap").

A storefront page asks for many file URLs: ~20 `{% static %}` in the layout, and two or three
picture renditions per product card or gallery image. Each is a pure function of the name and the
settings (the manifest's hashed name, `urljoin` onto STATIC_URL or MEDIA_URL), yet cost 5-10 µs
each, about a tenth of a cold product page. These remember the answer per process; a setting
change (tests' `override_settings`) forgets them, as the storages forget their own cached settings.
"""
from __future__ import annotations

from django.core.files.storage import FileSystemStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Far more names than a catalog has pictures for many pages; past it, start again rather than grow.
MAX_REMEMBERED = 50_000


class _RemembersUrls:
    _urls: dict

    def _clear_cached_properties(self, setting, **kwargs):
        self._urls = {}
        super()._clear_cached_properties(setting, **kwargs)

    def _remember(self, key, url: str) -> str:
        urls = self.__dict__.setdefault("_urls", {})
        if len(urls) >= MAX_REMEMBERED:
            urls.clear()
        urls[key] = url
        return url


class MediaStorage(_RemembersUrls, FileSystemStorage):
    """Uploaded files (product pictures and their renditions): `FileSystemStorage`, URLs remembered."""

    def url(self, name):
        found = self.__dict__.get("_urls", {}).get(name)
        return found if found is not None else self._remember(name, super().url(name))


class StaticStorage(_RemembersUrls, CompressedManifestStaticFilesStorage):
    """Static files with hashed names (DEBUG off): WhiteNoise's storage, URLs remembered.

    Only a name found in the manifest is remembered (a missing one raises, as before); the
    manifest is read once per process, as Django's storage does.
    """

    def url(self, name, force=False):
        key = (name, force)
        found = self.__dict__.get("_urls", {}).get(key)
        return found if found is not None else self._remember(key, super().url(name, force))
