"""Spreadsheet files for finance and the staff (the order and invoice exports): CSV
streamed as text pieces that Excel opens as UTF-8, and cells of a write-only xlsx sheet.
Each export module (orders/export.py, invoicing/export.py) owns its columns and rows;
what a cell becomes lives here.

The files are Chinese whatever the reader's language: they go to spreadsheets and tax
systems that look columns up by their Chinese names, so headers and labels are
resolved in LANGUAGE.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

LANGUAGE = "zh-hans"
BOM = "\ufeff"  # Excel opens a CSV as UTF-8 only when it starts with the byte-order mark
MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
# A spreadsheet runs a cell that starts with one of these as a formula: text typed by
# customers (store name, seller nick …) is prefixed with an apostrophe in CSV.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value) -> str:
    """A value as CSV text: dates ISO, date-times to the second, Decimal with its places
    (1280.00), text that a spreadsheet would run as a formula quoted with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)


class Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer."""

    def write(self, value):
        return value


def csv_chunks(headers: list[str], rows: Iterable[tuple]) -> Iterator[str]:
    """A CSV file as text pieces to stream: the BOM, the header, one line per row."""
    writer = csv.writer(Echo())
    yield BOM + writer.writerow(headers)
    for row in rows:
        yield writer.writerow([csv_text(value) for value in row])


def xlsx_bytes(
    *,
    title: str,
    widths: Sequence[int],
    headers: list[str],
    rows: Iterable[tuple],
    number_formats: Mapping[int, str] | None = None,
) -> bytes:
    """A one-sheet xlsx workbook, written row by row (write-only: memory stays flat
    however many rows): the header row frozen, columns `widths` wide, each row's values
    as xlsx_cell makes them, and the columns of `number_formats` (by index) in that
    format (e.g. MONEY_FORMAT)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    sheet.freeze_panes = "A2"
    sheet.append(headers)
    for row in rows:
        cells = [xlsx_cell(sheet, value) for value in row]
        for index, number_format in (number_formats or {}).items():
            if cells[index] is not None:
                cells[index].number_format = number_format
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_cell(sheet, value):
    """A cell of a write-only sheet: date-times and dates formatted as such, text always
    text (openpyxl would store a leading "=" as a formula); None stays an empty cell."""
    if value is None:
        return None
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        cell.number_format = DATE_FORMAT
    elif isinstance(value, str):
        cell.data_type = "s"
    return cell
