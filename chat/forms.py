from django import forms
from django.utils.translation import gettext_lazy as _

from .models import MESSAGE_MAX_LENGTH


class AttachmentField(forms.FileField):
    """An optional image or PDF, checked from its content (`attachments.check_upload`); cleans to
    the checked file (what to store) or None."""

    def __init__(self, **kwargs):
        from .attachments import ACCEPT

        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Attach an image or PDF (optional)"))
        kwargs.setdefault("widget", forms.FileInput(attrs={"accept": ACCEPT}))
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        from .attachments import check_upload
        from .exceptions import MessageRejected

        upload = super().clean(data, initial)
        if not upload:
            return None
        try:
            return check_upload(upload)
        except MessageRejected as error:
            raise forms.ValidationError(str(error), code="attachment") from None


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Your email"), help_text=_("We answer here by email."))
    message = forms.CharField(label=_("Message"), max_length=MESSAGE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 6}))
    attachment = AttachmentField()


class ReplyForm(forms.Form):
    message = forms.CharField(label=_("Your answer"), max_length=MESSAGE_MAX_LENGTH, required=False,
                              widget=forms.Textarea(attrs={"rows": 4}))
    attachment = AttachmentField()

    def clean(self):
        data = super().clean()
        if not (data.get("message") or "").strip() and not data.get("attachment") and not self.errors:
            self.add_error("message", _("Write a message first."))
        return data


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(label=_("Rating"), coerce=int, choices=[(i, str(i)) for i in range(1, 6)],
                                    widget=forms.RadioSelect)
    comment = forms.CharField(label=_("Comment (optional)"), max_length=500, required=False)


class PresenceForm(forms.Form):
    """The inbox's Online/Away switch."""

    AWAY_FOR = [("", _("until I switch back")), ("15", _("15 minutes")), ("30", _("30 minutes")),
                ("60", _("1 hour")), ("120", _("2 hours"))]

    status = forms.ChoiceField(label=_("I am"), choices=[("online", _("Online")), ("away", _("Away"))])
    away_for = forms.TypedChoiceField(label=_("if away, for"), choices=AWAY_FOR, coerce=int, empty_value=None,
                                      required=False)
