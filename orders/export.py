"""Orders as CSV and Excel (xlsx): pure functions over an iterable of orders whose
`customer` is loaded and whose `lines` are prefetched. One row per order line.

The files are Chinese whatever the reader's language (headers, statuses, payment
methods): they go to finance and to spreadsheets that look columns up by these names.
The headers are msgids resolved in LANGUAGE, so the Chinese lives in the catalogue.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from django.utils import timezone, translation
from django.utils.translation import pgettext, pgettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from .models import Order

# (header, xlsx column width); the context keeps each header's Chinese (主订单号 …) its own.
COLUMNS = (
    (pgettext_lazy("order export", "Main order number"), 24),
    (pgettext_lazy("order export", "Ordered at"), 20),
    (pgettext_lazy("order export", "Customer"), 16),
    (pgettext_lazy("order export", "Company"), 28),
    (pgettext_lazy("order export", "Store name"), 20),
    (pgettext_lazy("order export", "Seller nick"), 16),
    (pgettext_lazy("order export", "Service market order number"), 22),
    (pgettext_lazy("order export", "Status"), 14),
    (pgettext_lazy("order export", "Total"), 12),
    (pgettext_lazy("order export", "Paid"), 12),
    (pgettext_lazy("order export", "Payment method"), 14),
    (pgettext_lazy("order export", "Line serial"), 16),
    (pgettext_lazy("order export", "Service name"), 36),
    (pgettext_lazy("order export", "Quantity"), 8),
    (pgettext_lazy("order export", "Subtotal"), 12),
    (pgettext_lazy("order export", "Service start"), 14),
    (pgettext_lazy("order export", "Service end"), 14),
)
HEADERS = tuple(header for header, _width in COLUMNS)
# Columns holding money (total, paid, subtotal), by index; the rest that are not dates or numbers are text.
MONEY_INDEXES = frozenset({8, 9, 14})

LANGUAGE = "zh-hans"
BOM = "\ufeff"  # Excel opens a CSV as UTF-8 only when it starts with the byte-order mark
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
# A spreadsheet runs a cell that starts with one of these as a formula: text typed by
# customers (store name, seller nick …) is prefixed with an apostrophe in CSV.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def headers() -> list[str]:
    with translation.override(LANGUAGE):
        return [str(header) for header in HEADERS]


def order_rows(orders: Iterable) -> Iterator[tuple]:
    """One tuple of Python values (str, Decimal, int, naive local datetime, date, None)
    per order line, in HEADERS' order."""
    with translation.override(LANGUAGE):  # labels resolved here: no override spans a yield
        statuses = {value: str(label) for value, label in Order.Status.choices}
        payment_methods = {value: str(label) for value, label in Order.PaymentMethod.choices}
    for order in orders:
        customer = order.customer
        head = (
            order.number,
            timezone.localtime(order.submitted_at).replace(tzinfo=None),
            customer.real_name or customer.username,
            customer.company,
            order.store_name,
            order.seller_nick,
            order.marketplace_order_no,
            statuses.get(order.status, order.status),
            order.total,
            order.paid_amount,
            payment_methods.get(order.payment_method, order.payment_method),
        )
        lines = list(order.lines.all())
        if not lines:  # every checkout makes at least one line; never drop an order
            yield head + (None,) * 6
        for line in lines:
            yield head + (
                line.serial,
                line.service_name,
                line.quantity,
                line.subtotal,
                line.service_start,
                line.service_end,
            )


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)  # Decimal keeps its two places: 1280.00


class _Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer."""

    def write(self, value):
        return value


def csv_chunks(orders: Iterable) -> Iterator[str]:
    """The CSV file as text pieces to stream: the BOM, the header, one line per order line."""
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(headers())
    for row in order_rows(orders):
        yield writer.writerow([_csv_text(value) for value in row])


def xlsx_bytes(orders: Iterable, *, title: str | None = None) -> bytes:
    """The xlsx workbook: the same columns and rows as the CSV, money as numbers with two
    decimals, order time as a date-time, service dates as dates."""
    workbook = Workbook(write_only=True)
    if title is None:
        with translation.override(LANGUAGE):
            title = pgettext("order export sheet", "Orders")
    sheet = workbook.create_sheet(title)
    for index, (_header, width) in enumerate(COLUMNS):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    sheet.freeze_panes = "A2"
    sheet.append(headers())
    for row in order_rows(orders):
        sheet.append([_xlsx_cell(sheet, value, money=i in MONEY_INDEXES) for i, value in enumerate(row)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(sheet, value, *, money: bool):
    if value is None:
        return None
    cell = WriteOnlyCell(sheet, value=value)
    if money:
        cell.number_format = MONEY_FORMAT
    elif isinstance(value, datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        cell.number_format = DATE_FORMAT
    elif isinstance(value, str):
        cell.data_type = "s"  # openpyxl would store a leading "=" as a formula
    return cell

