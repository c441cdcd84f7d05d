"""Forms of 咨询管理: they parse what the customer or staff type; inquiries.services
checks the rules again for any caller."""

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .services import BODY_MAX, SUBJECT_MAX


class _ThreadForm(forms.Form):
    """A message of a thread, with the id of the last message its writer saw (`after`),
    so a resent form adds nothing."""

    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)


class InquiryForm(forms.Form):
    """咨询: a subject and the question."""

    subject = forms.CharField(label=_("Subject"), max_length=SUBJECT_MAX)
    body = forms.CharField(
        label=_("Your question"),
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Formatted per request, in the visitor's language.
        self.fields["body"].help_text = gettext(
            "At most %(max)d characters. Our staff answer here and tell you in My messages."
        ) % {"max": BODY_MAX}


class InquiryReplyForm(_ThreadForm):
    body = forms.CharField(label=_("Reply"), max_length=BODY_MAX, widget=forms.Textarea(attrs={"rows": 4}))


class InquiryAnswerForm(_ThreadForm):
    """The staff answer in the admin."""

    body = forms.CharField(
        label=_("Answer"),
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        help_text=_("The customer sees it in the thread and is told by message and email."),
    )
