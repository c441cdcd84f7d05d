from django import forms
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
    UserCreationForm,
)
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from .models import User
from .tasks import email_send_task
from .validators import cn_mobile_to_e164


class MobileFieldMixin:
    def clean_mobile(self):
        mobile = self.cleaned_data.get("mobile", "").strip()
        return cn_mobile_to_e164(mobile) if mobile else ""


class RegisterForm(MobileFieldMixin, UserCreationForm):
    email = forms.EmailField(label=_("Email address"), help_text=_("For password resets and order notices."))

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username", "email", "real_name", "mobile", "company"]

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("This email address is already registered. Sign in, or reset your password."))
        return email


class SignInForm(AuthenticationForm):
    pass


class ProfileForm(MobileFieldMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = ["real_name", "email", "mobile", "company"]

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if email and User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("This email address is already used by another account."))
        return email


class PasswordResetRequestForm(PasswordResetForm):
    def send_mail(
        self, subject_template_name, email_template_name, context, from_email, to_email, html_email_template_name=None
    ):
        """Rendered here, in the user's language; sent by a worker after the request commits,
        so a slow or failing mail server never holds up (or breaks) the page."""
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        html_body = render_to_string(html_email_template_name, context) if html_email_template_name else None
        email_send_task.delay_on_commit(
            subject=subject, body=body, to=[to_email], html_body=html_body, from_email=from_email
        )


class NewPasswordForm(SetPasswordForm):
    pass


class ChangePasswordForm(PasswordChangeForm):
    pass


class ProductKeyForm(forms.Form):
    key = forms.CharField(label=_("Product key"), max_length=200)
    label = forms.CharField(label=_("Label"), max_length=64, required=False, help_text=_("E.g. which shop runs it."))
