"""数电发票 (fully digital e-invoice) numbers: 20 digits. Digits 1-2 are the year of
issue, 3-4 the province-level tax office, 5 the issuing channel, 6-20 a sequence."""

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

INVOICE_NUMBER_RE = re.compile(r"^[0-9]{20}$")
# GB/T 2260 province-level codes: the tax office of a fully digital invoice.
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65".split()
)


def invoice_number_normalize(value: str) -> str:
    return "".join((value or "").split())


def validate_invoice_number(value: str, *, issued_on: date | None = None) -> str:
    """The number without spaces if it is a valid 数电发票 number (issued in the year of
    `issued_on`, when given); ValidationError with a message for the user otherwise."""
    number = invoice_number_normalize(value)
    if not INVOICE_NUMBER_RE.match(number):
        raise ValidationError(_("A fully digital invoice number has exactly 20 digits."), code="invoice_number_format")
    if number[2:4] not in PROVINCE_CODES:
        raise ValidationError(
            _("Digits 3-4 of an invoice number are the province of the tax office; %(code)s is not one.")
            % {"code": number[2:4]},
            code="invoice_number_province",
        )
    if issued_on is not None and number[:2] != f"{issued_on.year % 100:02d}":
        raise ValidationError(
            _("The invoice number starts with the year of issue: %(year)s for an invoice issued in %(full_year)s.")
            % {"year": f"{issued_on.year % 100:02d}", "full_year": issued_on.year},
            code="invoice_number_year",
        )
    return number
