import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


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
