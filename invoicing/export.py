"""Invoices waiting to be issued as CSV and Excel (xlsx), in the columns a tax system's
bulk import (批量开票) asks for: one row per invoice line, the lines of one invoice
sharing its reference. Pure functions over an iterable of invoices whose `order` and
`original` are loaded and whose `lines` are prefetched. A red-letter invoice's rows carry
negative amounts, the number of the invoice it reverses and the reason code.

Headers and labels are written in Chinese whatever the reader's language: the file
goes to the tax system, which looks columns up by their Chinese names.
"""

from collections.abc import Iterable, Iterator

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from accounts.models import InvoiceProfile
from mall import export
from mall.export import LANGUAGE, MONEY_FORMAT

from .models import Invoice

# (header, xlsx column width). The first column groups the lines of one invoice.
COLUMNS = (
    (_("Invoice reference"), 12),
    (_("Invoice type"), 16),
    (_("Buyer name"), 30),
    (_("Buyer taxpayer id"), 22),
    (_("Buyer address and phone"), 36),
    (_("Buyer bank and account"), 36),
    (_("Buyer email"), 24),
    (_("Item name"), 40),
    (_("Tax classification code"), 22),
    (_("Unit"), 6),
    (_("Quantity"), 8),
    (_("Unit price excluding tax"), 18),
    (_("Amount excluding tax"), 14),
    (_("Tax rate"), 8),
    (_("Tax amount"), 12),
    (_("Total including tax"), 14),
    (_("Remarks"), 26),
    # A red-letter invoice (negative amounts) reverses an issued one: the tax system needs
    # the blue invoice's number and the reason code.
    (_("Invoice purpose"), 10),
    (_("Original invoice number"), 24),
    (_("Red-letter reason"), 12),
)
HEADERS = tuple(header for header, _width in COLUMNS)
# Number formats of the xlsx columns that are not text, by column index.
UNIT_PRICE_INDEX, AMOUNT_INDEX, RATE_INDEX, TAX_INDEX, TOTAL_INDEX = 11, 12, 13, 14, 15
NUMBER_FORMATS = {
    UNIT_PRICE_INDEX: "0.00000000",  # tax systems take unit prices to 8 places
    AMOUNT_INDEX: MONEY_FORMAT,
    RATE_INDEX: "0%",
    TAX_INDEX: MONEY_FORMAT,
    TOTAL_INDEX: MONEY_FORMAT,
}


def headers() -> list[str]:
    with translation.override(LANGUAGE):
        return [str(header) for header in HEADERS]


def invoice_rows(invoices: Iterable) -> Iterator[tuple]:
    """One tuple of Python values (str, int, Decimal) per invoice line, in HEADERS' order.
    The remark is the main order number, which finance searches the shop by."""
    with translation.override(LANGUAGE):  # labels resolved here: no override spans a yield
        kinds = {value: str(label) for value, label in InvoiceProfile.Kind.choices}
        purposes = {value: str(label) for value, label in Invoice.Purpose.choices}
        red_reasons = {value: str(label) for value, label in Invoice.RedReason.choices}
    for invoice in invoices:
        head = (
            invoice.pk,
            kinds.get(invoice.kind, invoice.kind),
            invoice.buyer_title,
            invoice.buyer_taxpayer_id,
            _joined(invoice.buyer_address, invoice.buyer_phone),
            _joined(invoice.buyer_bank, invoice.buyer_account),
            invoice.buyer_email,
        )
        tail = (
            purposes.get(invoice.purpose, invoice.purpose),
            (invoice.original.number or "") if invoice.original_id else "",
            red_reasons.get(invoice.red_reason, invoice.red_reason),
        )
        for line in invoice.lines.all():
            yield head + (
                line.item_name,
                line.tax_code,
                line.unit,
                line.quantity,
                line.unit_price,
                line.amount,
                line.tax_rate,
                line.tax,
                line.total,
                invoice.order.number,
            ) + tail


def _joined(*parts) -> str:
    return " ".join(part for part in parts if part)


def csv_chunks(invoices: Iterable) -> Iterator[str]:
    """The CSV file as text pieces to stream: the BOM (so Excel reads UTF-8), the header,
    one line per invoice line."""
    return export.csv_chunks(headers(), invoice_rows(invoices))


def xlsx_bytes(invoices: Iterable, *, title: str | None = None) -> bytes:
    """The xlsx workbook: the CSV's columns and rows, amounts as numbers with two
    decimals, the unit price with eight, the tax rate as a percentage."""
    if title is None:
        with translation.override(LANGUAGE):
            title = pgettext("invoice export sheet", "Pending invoices")
    return export.xlsx_bytes(
        title=title,
        widths=[width for _header, width in COLUMNS],
        headers=headers(),
        rows=invoice_rows(invoices),
        number_formats=NUMBER_FORMATS,
    )
