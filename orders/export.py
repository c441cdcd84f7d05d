"""Orders as CSV and Excel (xlsx): pure functions over an iterable of orders whose
`customer` is loaded and whose `lines` are prefetched. One row per order line.

The files are Chinese whatever the reader's language (headers, statuses, payment
methods): they go to finance and to spreadsheets that look columns up by these names.
The headers are msgids resolved in LANGUAGE, so the Chinese lives in the catalogue.
How values become CSV text and xlsx cells: mall/export.py.
"""

from collections.abc import Iterable, Iterator

from django.utils import timezone, translation
from django.utils.translation import pgettext, pgettext_lazy

from mall import export
from mall.export import LANGUAGE, MONEY_FORMAT

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


def csv_chunks(orders: Iterable) -> Iterator[str]:
    """The CSV file as text pieces to stream: the BOM, the header, one line per order line."""
    return export.csv_chunks(headers(), order_rows(orders))


def xlsx_bytes(orders: Iterable, *, title: str | None = None) -> bytes:
    """The xlsx workbook: the same columns and rows as the CSV, money as numbers with two
    decimals, order time as a date-time, service dates as dates."""
    if title is None:
        with translation.override(LANGUAGE):
            title = pgettext("order export sheet", "Orders")
    return export.xlsx_bytes(
        title=title,
        widths=[width for _header, width in COLUMNS],
        headers=headers(),
        rows=order_rows(orders),
        number_formats=dict.fromkeys(MONEY_INDEXES, MONEY_FORMAT),
    )
