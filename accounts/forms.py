from axes.utils import reset as axes_reset
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

from mall.celery import enqueue_on_commit
from mall.tasks import email_send_task

from .models import Address, InvoiceProfile, User
from .services import ADDRESS_FIELDS, INVOICE_PROFILE_FIELDS
from .validators import (
    cn_mobile_to_e164,
    invoice_profile_errors,
    uscc_normalize,
    validate_postal_code,
    validate_uscc,
)


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
    # Password resets and order notices go to it: it cannot be blanked.
    email = forms.EmailField(label=_("Email address"))

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
        enqueue_on_commit(
            email_send_task, subject=subject, body=body, to=[to_email], html_body=html_body, from_email=from_email
        )


class NewPasswordForm(SetPasswordForm):
    def save(self, commit=True):
        """A new password chosen through the emailed link also lifts a sign-in lock-out:
        the lock-out page sends locked customers here."""
        user = super().save(commit=commit)
        axes_reset(username=user.get_username())
        return user


class ChangePasswordForm(PasswordChangeForm):
    pass


class ProductKeyForm(forms.Form):
    key = forms.CharField(label=_("Product key"), max_length=200)
    label = forms.CharField(label=_("Label"), max_length=64, required=False, help_text=_("E.g. which shop runs it."))


class InvoiceProfileForm(forms.ModelForm):
    """发票信息: one invoice profile, checked for its kind.

    Self-contained so checkout can show it beside its own form (give it a `prefix`).
    `cleaned_data` is ready for `services.invoice_profile_create(user=…, data=…)` or
    `services.invoice_profile_update(profile=…, data=…)`: taxpayer id normalised,
    contact phone in E.164.
    """

    # Wider than the column: spaces typed inside a code or a number are removed in clean_*.
    taxpayer_id = forms.CharField(
        label=_("Taxpayer id"),
        max_length=40,
        required=False,
        help_text=_("Unified social credit code, 18 characters, e.g. 91310000134511148L. Needed for a company."),
    )
    contact_phone = forms.CharField(
        label=_("Contact phone"), max_length=32, required=False, help_text=_("A mainland China mobile number.")
    )

    class Meta:
        model = InvoiceProfile
        fields = INVOICE_PROFILE_FIELDS  # what the services set: one list
        widgets = {"kind": forms.RadioSelect, "title_type": forms.RadioSelect}
        help_texts = {
            "kind": _("A special VAT invoice needs every registration detail below."),
            "title": _("The company name, or the person's name, exactly as on the invoice."),
            "address": _("Needed for a special VAT invoice."),
            "phone": _("Needed for a special VAT invoice."),
            "bank": _("Needed for a special VAT invoice."),
            "account": _("Needed for a special VAT invoice."),
        }

    def clean_taxpayer_id(self):
        value = uscc_normalize(self.cleaned_data.get("taxpayer_id", ""))
        if value:
            validate_uscc(value)
        return value

    def clean_contact_phone(self):
        value = self.cleaned_data.get("contact_phone", "").strip()
        return cn_mobile_to_e164(value) if value else ""

    def clean(self):
        cleaned_data = super().clean()
        for field, message in invoice_profile_errors(cleaned_data).items():
            if field not in self.errors:  # its own error already says what is wrong
                self.add_error(field, message)
        return cleaned_data


class AddressForm(forms.ModelForm):
    """收货地址. `cleaned_data` is ready for `services.address_create/address_update`."""

    mobile = forms.CharField(label=_("Mobile"), max_length=32, help_text=_("A mainland China mobile number."))
    postal_code = forms.CharField(label=_("Postal code"), max_length=12, required=False, help_text=_("6 digits."))

    class Meta:
        model = Address
        fields = ADDRESS_FIELDS
        help_texts = {"region": _("Province, city and district, e.g. 上海市 闵行区.")}

    def clean_mobile(self):
        return cn_mobile_to_e164(self.cleaned_data["mobile"].strip())

    def clean_postal_code(self):
        value = "".join(self.cleaned_data.get("postal_code", "").split())
        if value:
            validate_postal_code(value)
        return value
