import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from stdnum.cn import uscc

from .models import InvoiceProfile

# GB 32100-2015: digits and capital letters except I, O, S, V and Z.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_LENGTH = 18
POSTAL_CODE_RE = re.compile(r"^[0-9]{6}$")


def cn_mobile_to_e164(value: str) -> str:
    """A mainland Chinese mobile number in E.164 (+86…); ValidationError otherwise."""
    message = _("Enter a valid mainland China mobile number, e.g. 138 0013 8000.")
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        raise ValidationError(message, code="invalid_mobile") from None
    if (
        number.country_code != 86
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE
    ):
        raise ValidationError(message, code="invalid_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def uscc_normalize(value: str) -> str:
    """A unified social credit code as stored: no whitespace at all, upper case."""
    return "".join((value or "").split()).upper()


def validate_uscc(value: str) -> None:
    """A unified social credit code (统一社会信用代码, GB 32100-2015), checked by its check digit.

    stdnum's own `validate` wants digits in the first two positions, but the
    registration authority and entity type may be letters (Y 工会, N 农业, A 中央军委
    改革办 …), so only the region code (positions 3–8) must be digits here and the
    check digit is computed with stdnum's `calc_check_digit`.
    """
    code = uscc_normalize(value)
    if len(code) != USCC_LENGTH:
        raise ValidationError(
            _("A unified social credit code has 18 characters; this one has %(length)d."),
            code="uscc_length",
            params={"length": len(code)},
        )
    if any(char not in USCC_ALPHABET for char in code):
        raise ValidationError(
            _("A unified social credit code contains only digits and capital letters other than I, O, S, V and Z."),
            code="uscc_characters",
        )
    if not code[2:8].isdigit():
        raise ValidationError(
            _("Characters 3 to 8 of a unified social credit code are the region code and must be digits."),
            code="uscc_region",
        )
    if uscc.calc_check_digit(code[:-1]) != code[-1]:
        raise ValidationError(
            _(
                "This unified social credit code is not valid: its check digit does not match. "
                "Please check it for typing errors."
            ),
            code="uscc_check_digit",
        )


def validate_postal_code(value: str) -> None:
    if not POSTAL_CODE_RE.match(value or ""):
        raise ValidationError(_("A postal code has 6 digits, e.g. 201100."), code="invalid_postal_code")


def is_local_path(value: str) -> bool:
    """True for a path on this site ("/account/orders/1/"), never for another host or scheme."""
    return bool(value) and value.startswith("/") and url_has_allowed_host_and_scheme(value, allowed_hosts=set())


def invoice_profile_errors(data: dict) -> dict[str, str]:
    """The fields an invoice profile still needs for its kind and title type, with why.

    普通发票 needs a title, and a company title also its taxpayer id;
    增值税专用发票 is issued to companies only and needs every registration detail.
    """
    kind = data.get("kind")
    title_type = data.get("title_type")
    errors = {}
    if not data.get("title"):
        errors["title"] = _("Enter the invoice title.")
    if kind == InvoiceProfile.Kind.SPECIAL:
        if title_type != InvoiceProfile.TitleType.COMPANY:
            errors["title_type"] = _("A special VAT invoice is issued to companies only.")
        required = {
            "taxpayer_id": _("A special VAT invoice needs the taxpayer id."),
            "address": _("A special VAT invoice needs the registered address."),
            "phone": _("A special VAT invoice needs the registered phone."),
            "bank": _("A special VAT invoice needs the bank."),
            "account": _("A special VAT invoice needs the bank account."),
        }
        errors.update({name: message for name, message in required.items() if not data.get(name)})
    elif title_type == InvoiceProfile.TitleType.COMPANY and not data.get("taxpayer_id"):
        errors["taxpayer_id"] = _("An invoice to a company needs its taxpayer id.")
    return errors
