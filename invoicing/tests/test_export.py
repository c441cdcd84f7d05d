"""Export of the invoices waiting to be issued, for the tax system's bulk import: the
files read back (csv module, openpyxl) with their columns and amounts, through the
admin as finance; and who may export."""

import csv
import io
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from accounts.roles import GROUP_REVIEWERS
from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from invoicing import export, services
from invoicing.models import Invoice
from orders.models import Order
from orders.tests.factories import order_in

# In English: the files are the same whatever the reader's language.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

CSV_URL = reverse("admin:invoicing_invoice_export_csv")
XLSX_URL = reverse("admin:invoicing_invoice_export_xlsx")
TAXPAYER_ID = "91310000134511148L"


@pytest.fixture
def two_line_invoice():
    """2 × ¥2000.00 at 6% and 1 × ¥1000.00 at 3%, a special VAT invoice."""
    customer = UserFactory(email="buyer@example.com")
    profile = InvoiceProfileFactory(
        user=customer,
        special=True,
        title="上海云测贸易有限公司",
        taxpayer_id=TAXPAYER_ID,
        address="上海市闵行区号景路206弄",
        phone="021-64000000",
        bank="招商银行上海分行",
        account="121900000000001",
    )
    order = order_in(
        Order.Status.SUCCESS,
        customer=customer,
        invoice_profile=profile,
        services_and_quantities=[
            (ServiceFactory(name="E3-京东开放平台对接服务", standard_price=Decimal("2000.00")), 2),
            (ServiceFactory(name="E3-天猫订单同步", standard_price=Decimal("1000.00"), tax_rate=Decimal("0.03")), 1),
        ],
    )
    services.documents_generate(order_id=order.pk)
    return order.invoices.get()


def purpose_label(purpose) -> str:
    """The export's label of an invoice purpose (the files are in Chinese)."""
    with translation.override(export.LANGUAGE):
        return str(Invoice.Purpose(purpose).label)


def expected_rows(invoice):
    """What the import needs, per line: Python values as read back from the CSV."""
    head = [
        str(invoice.pk),
        "增值税专用发票",
        "上海云测贸易有限公司",
        TAXPAYER_ID,
        "上海市闵行区号景路206弄 021-64000000",
        "招商银行上海分行 121900000000001",
        "buyer@example.com",
    ]
    tail = [purpose_label(Invoice.Purpose.ORIGINAL), "", ""]  # purpose; no original number, no red-letter reason
    return [
        head + ["*软件服务*E3-京东开放平台对接服务", settings.INVOICE_TAX_CODE, "次", "2", "1886.79000000", "3773.58", "0.060", "226.42", "4000.00", invoice.order.number] + tail,
        head + ["*软件服务*E3-天猫订单同步", settings.INVOICE_TAX_CODE, "次", "1", "970.87000000", "970.87", "0.030", "29.13", "1000.00", invoice.order.number] + tail,
    ]


def read_csv(response) -> list[list[str]]:
    data = b"".join(response.streaming_content)
    assert data.startswith("\ufeff".encode())  # the BOM: Excel then reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


class TestCsv:
    def test_one_row_per_line_with_the_columns_and_amounts_of_the_import(self, finance_client, two_line_invoice):
        response = finance_client.get(CSV_URL)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith('attachment; filename="invoices-pending-')
        header, *rows = read_csv(response)
        assert header == export.headers()
        assert len(header) == 20
        assert rows == expected_rows(two_line_invoice)
        # The lines add up to the invoice.
        assert sum(Decimal(row[15]) for row in rows) == two_line_invoice.total == Decimal("5000.00")
        assert sum(Decimal(row[14]) for row in rows) == two_line_invoice.tax

    def test_only_pending_invoices_oldest_first(self, finance_client, two_line_invoice):
        newer = order_in(Order.Status.SUCCESS)
        services.documents_generate(order_id=newer.pk)
        issued = order_in(Order.Status.SUCCESS)
        services.documents_generate(order_id=issued.pk)
        services.invoice_issue(
            invoice=issued.invoices.get(),
            actor=UserFactory(staff=True),
            number=f"{timezone.localdate().year % 100:02d}312000000000000042",
            issued_on=timezone.localdate(),
        )
        _header, *rows = read_csv(finance_client.get(CSV_URL))
        assert [row[16] for row in rows] == [two_line_invoice.order.number] * 2 + [newer.number]

    def test_text_a_spreadsheet_would_run_as_a_formula_is_quoted(self, finance_client, two_line_invoice):
        Invoice.objects.filter(pk=two_line_invoice.pk).update(buyer_title="=HYPERLINK(\"http://x\")")
        _header, *rows = read_csv(finance_client.get(CSV_URL))
        assert rows[0][2] == "'=HYPERLINK(\"http://x\")"

    def test_an_empty_queue_is_the_header_alone(self, finance_client):
        assert read_csv(finance_client.get(CSV_URL)) == [export.headers()]


class TestXlsx:
    def test_same_columns_amounts_as_numbers(self, finance_client, two_line_invoice):
        response = finance_client.get(XLSX_URL)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        sheet = load_workbook(io.BytesIO(response.content)).active
        header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert header == export.headers()
        number = two_line_invoice.order.number
        head = [
            two_line_invoice.pk,
            "增值税专用发票",
            "上海云测贸易有限公司",
            TAXPAYER_ID,
            "上海市闵行区号景路206弄 021-64000000",
            "招商银行上海分行 121900000000001",
            "buyer@example.com",
        ]
        code = settings.INVOICE_TAX_CODE
        tail = [purpose_label(Invoice.Purpose.ORIGINAL), None, None]  # empty cells read back as None
        assert rows == [
            head + ["*软件服务*E3-京东开放平台对接服务", code, "次", 2, 1886.79, 3773.58, 0.06, 226.42, 4000, number] + tail,
            head + ["*软件服务*E3-天猫订单同步", code, "次", 1, 970.87, 970.87, 0.03, 29.13, 1000, number] + tail,
        ]
        cells = list(sheet.iter_rows(min_row=2, max_row=2))[0]
        assert [cells[i].number_format for i in (11, 12, 13, 14, 15)] == ["0.00000000", "#,##0.00", "0%", "#,##0.00", "#,##0.00"]
        assert cells[8].data_type == "s"  # the tax code stays text: 19 digits would lose precision as a number

    def test_a_formula_typed_by_a_customer_stays_text(self, finance_client, two_line_invoice):
        Invoice.objects.filter(pk=two_line_invoice.pk).update(buyer_title="=1+1")
        sheet = load_workbook(io.BytesIO(finance_client.get(XLSX_URL).content)).active
        cell = sheet.cell(row=2, column=3)
        assert (cell.value, cell.data_type) == ("=1+1", "s")


class TestPermission:
    @pytest.mark.parametrize("export_url", [CSV_URL, XLSX_URL])
    def test_a_reviewer_cannot_export(self, client, export_url):
        client.force_login(UserFactory(staff=True, groups=[GROUP_REVIEWERS]))
        assert client.get(export_url).status_code == 403

    def test_the_buttons_are_shown_to_finance_only(self, finance_client, client):
        assert CSV_URL in finance_client.get(reverse("admin:invoicing_invoice_changelist")).text
        viewer = UserFactory(staff=True)
        from django.contrib.auth.models import Permission

        viewer.user_permissions.add(Permission.objects.get(content_type__app_label="invoicing", codename="view_invoice"))
        client.force_login(viewer)
        response = client.get(reverse("admin:invoicing_invoice_changelist"))
        assert response.status_code == 200
        assert CSV_URL not in response.text
        assert client.get(CSV_URL).status_code == 403
