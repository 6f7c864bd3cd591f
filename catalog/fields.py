"""The product image field: uploads validated once, stored under a name made from their content.

- A new upload is checked by `ImageUploadField` (the form field) with the store's own messages,
  before anything else opens it. Django's `forms.ImageField` would run its own Pillow check first
  and answer a decompression bomb with its generic "corrupted image"; the client's file extension
  is not checked at all, because it is not used.
- The stored name is `<sha256 of the bytes, 16 hex>.<extension of the detected format>` (in the
  directory `upload_to` gives), so a GIF called "price-list.pdf" is stored and served as a GIF,
  and a changed picture always gets a new URL that can be cached for ever. A file with the same
  bytes already stored there is reused, not copied: stored images, like renditions, are never
  deleted by the store, since another row may point at the same file.
- Saving a row whose image did not change leaves the stored file alone: it is neither validated
  nor opened (Django would re-read it from storage to refresh the width and height).
"""
from __future__ import annotations

import hashlib
import posixpath

from django import forms
from django.db import models
from django.db.models.fields.files import FieldFile, ImageFieldFile, ImageFileDescriptor

from .validators import IMAGE_FORMATS, SNIFF_BYTES, inspect_image_upload, not_an_image, sniff_image_format

HASH_LENGTH = 16


def content_name(content, *, image_format: str | None = None) -> str:
    """`<sha256 hex[:16]>.<ext>` for a file's bytes; the format is read from its signature unless given.

    Raises ValidationError when the bytes do not begin like an accepted image. (Uploads through a
    form were already fully checked by `inspect_image_upload`; a script saving a file directly gets
    at least the right name, and no other kind of file is stored.)
    """
    digest = hashlib.sha256()
    head = b""
    for chunk in content.chunks():
        if len(head) < SNIFF_BYTES:
            head += chunk[:SNIFF_BYTES]
        digest.update(chunk)
    content.seek(0)
    image_format = image_format or sniff_image_format(head[:SNIFF_BYTES])
    if image_format not in IMAGE_FORMATS:
        raise not_an_image()
    extension, _content_type = IMAGE_FORMATS[image_format]
    return f"{digest.hexdigest()[:HASH_LENGTH]}.{extension}"


class ContentNamedImageFieldFile(ImageFieldFile):
    def save(self, name, content, save=True):
        # Whatever the uploader called it, and whatever saves it (a form, a script, a test), the
        # name comes from the bytes: detected format, content hash.
        name = self.field.generate_filename(
            self.instance, content_name(content, image_format=getattr(content, "image_format", None))
        )
        if self.storage.exists(name):
            # The same bytes are already stored under this name: point at them.
            self.name = name
            self._set_instance_attribute(self.name, content)
            self._committed = True
            if save:
                self.instance.save()
            return
        super().save(posixpath.basename(name), content, save)

    save.alters_data = True


class ImageUploadField(forms.ImageField):
    """A JPEG, PNG, WebP or GIF upload, checked by `inspect_image_upload` alone.

    Runs only on a new upload: a form left with its current image returns that image without
    calling `to_python` or the validators.
    """

    default_validators = []  # the client's extension does not matter: the stored name is ours

    def to_python(self, data):
        upload = forms.FileField.to_python(self, data)
        if upload is None:
            return None
        image_format = inspect_image_upload(upload)
        upload.image_format = image_format
        upload.content_type = IMAGE_FORMATS[image_format][1]
        return upload

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        if isinstance(widget, forms.FileInput):
            attrs["accept"] = ",".join(content_type for _extension, content_type in IMAGE_FORMATS.values())
        return attrs


class KeepStoredFileDescriptor(ImageFileDescriptor):
    """Assigning a row the stored file it already has does not re-read that file.

    Django assigns every field again while validating a model (`clean_fields`) and while saving a
    form (`save_form_data`); for an ImageField each assignment re-opens the stored file to measure
    it, so saving an unchanged product read every picture back from storage (and a validator that
    then read the closed file raised "I/O operation on closed file"). The width and height stored
    with the row stay right until the file changes.
    """

    def __set__(self, instance, value):
        previous = instance.__dict__.get(self.field.attname)
        previous_name = getattr(previous, "name", previous)
        new_name = getattr(value, "name", value)
        unchanged = (
            previous is not None and previous_name and new_name == previous_name
            and (isinstance(value, str) or (isinstance(value, FieldFile) and value._committed))
            and all(getattr(instance, f) for f in (self.field.width_field, self.field.height_field) if f)
        )
        if unchanged:
            instance.__dict__[self.field.attname] = value
            return
        super().__set__(instance, value)


class ProductImageField(models.ImageField):
    """An ImageField whose files are named by content, validated only when uploaded, and never
    re-read when a row is saved with the file it has."""

    attr_class = ContentNamedImageFieldFile
    descriptor_class = KeepStoredFileDescriptor

    def formfield(self, **kwargs):
        # No max_length: it limits the uploader's file name, which is never stored.
        return super().formfield(**{"form_class": ImageUploadField, **kwargs, "max_length": None})
