"""Orders exported as CSV and xlsx from the order admin, for its current filter and
search; and the pure builders in orders.export."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ServiceFactory
from mall.export import BOM
from orders import export
from orders.admin import OrderAdmin
from orders.models import Order
from orders.tests.factories import order_in, submitted_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

S = Order.Status
CHANGELIST = reverse("admin:orders_order_changelist")
CSV_URL = reverse("admin:orders_order_export_csv")
XLSX_URL = reverse("admin:orders_order_export_xlsx")
HEADERS = [
    "主订单号", "下单时间", "客户", "公司", "店铺名称", "卖家NICK", "服务市场订单号", "状态", "合计", "实付款",
    "支付方式", "交易流水号", "商品名称", "数量", "小计", "服务开始时间", "服务结束时间",
]  # fmt: skip


def staff_with(*perms):
    user = UserFactory(staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


@pytest.fixture
def finance_client(client):
    """Finance: views and exports orders, reviews nothing."""
    client.force_login(staff_with("orders.view_order", "orders.export_order"))
    return client


def csv_of(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith(BOM)
    return list(csv.reader(io.StringIO(body.removeprefix(BOM))))


def xlsx_of(response) -> list[tuple]:
    workbook = load_workbook(io.BytesIO(response.content))
    return list(workbook.active.iter_rows(values_only=True))


class TestCsv:
    def test_starts_with_the_bom_and_chinese_headers_and_has_a_row_per_line(self, finance_client):
        two_lines = submitted_order(services_and_quantities=[(ServiceFactory(), 1), (ServiceFactory(), 3)])
        one_line = order_in(S.IN_TRADE)
        response = finance_client.get(CSV_URL)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert f"orders-{timezone.localdate():%Y%m%d}" in response["Content-Disposition"]
        header, *rows = csv_of(response)
        assert header == HEADERS
        assert sorted(row[0] for row in rows) == sorted([two_lines.number, two_lines.number, one_line.number])
        assert sorted(row[11] for row in rows) == sorted(
            [*two_lines.lines.values_list("serial", flat=True), one_line.lines.get().serial]
        )

    def test_values_of_a_row(self, finance_client):
        order = order_in(S.IN_TRADE, store_name="云测旗舰店")
        line = order.lines.get()
        [_header, row] = csv_of(finance_client.get(CSV_URL))
        assert row[0] == order.number
        assert row[1] == timezone.localtime(order.submitted_at).strftime("%Y-%m-%d %H:%M:%S")
        assert row[4] == "云测旗舰店"
        with translation.override("zh-hans"):  # the file is Chinese even for an English admin
            assert (row[7], row[10]) == (str(S.IN_TRADE.label), str(Order.PaymentMethod.THIRD_PARTY.label))
        assert row[7] != "In trade"
        assert (row[8], row[9], row[14]) == (str(order.total), str(order.paid_amount), str(line.subtotal))
        assert row[8].endswith(".00")
        assert (row[15], row[16]) == (line.service_start.isoformat(), line.service_end.isoformat())

    def test_exports_the_current_filter_and_search_across_all_pages(self, finance_client, monkeypatch):
        monkeypatch.setattr(OrderAdmin, "list_per_page", 2)
        waiting = [submitted_order(store_name="甲店") for _ in range(3)]
        submitted_order(store_name="乙店")
        order_in(S.REJECTED, store_name="甲店")
        response = finance_client.get(CSV_URL, {"status__exact": S.AWAITING_PAYMENT, "q": "甲店"})
        _header, *rows = csv_of(response)
        assert sorted(row[0] for row in rows) == sorted(order.number for order in waiting)

    def test_in_the_changelist_order(self, finance_client):
        first, second = submitted_order(), submitted_order()
        Order.objects.filter(pk=second.pk).update(submitted_at=first.submitted_at - timezone.timedelta(hours=1))
        _header, *rows = csv_of(finance_client.get(CSV_URL))
        assert [row[0] for row in rows] == [second.number, first.number]  # oldest waiting first

    def test_text_a_spreadsheet_would_run_as_a_formula_is_defused(self, finance_client):
        submitted_order(store_name="=HYPERLINK(\"http://x\")", seller_nick="+1")
        [_header, row] = csv_of(finance_client.get(CSV_URL))
        assert (row[4], row[5]) == ("'=HYPERLINK(\"http://x\")", "'+1")

    def test_a_bad_filter_redirects_to_the_changelist(self, finance_client):
        response = finance_client.get(CSV_URL, {"no_such_field": "1"})
        assert response.status_code == 302
        assert response.url == f"{CHANGELIST}?e=1"


class TestXlsx:
    def test_has_the_same_rows_as_the_csv_with_numbers_and_dates(self, finance_client):
        submitted_order(services_and_quantities=[(ServiceFactory(), 1), (ServiceFactory(one_off=True), 2)])
        order_in(S.IN_TRADE)
        response = finance_client.get(XLSX_URL)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        assert f"orders-{timezone.localdate():%Y%m%d}" in response["Content-Disposition"]
        header, *rows = xlsx_of(response)
        assert list(header) == HEADERS
        csv_rows = csv_of(finance_client.get(CSV_URL))[1:]
        assert [row[0] for row in rows] == [row[0] for row in csv_rows]
        assert [row[11] for row in rows] == [row[11] for row in csv_rows]
        for row, csv_row in zip(rows, csv_rows, strict=True):
            assert isinstance(row[1], datetime)
            assert row[1].strftime("%Y-%m-%d %H:%M:%S") == csv_row[1]
            assert Decimal(str(row[8])).quantize(Decimal("0.01")) == Decimal(csv_row[8])
            assert isinstance(row[13], int)
        started = [row for row in rows if row[15] is not None]
        assert started and all(isinstance(row[15], datetime) for row in started)

    def test_money_has_two_decimals_and_formulas_stay_text(self, finance_client):
        submitted_order(store_name="=1+1")
        workbook = load_workbook(io.BytesIO(finance_client.get(XLSX_URL).content))
        sheet = workbook.active
        assert sheet["I2"].number_format == export.MONEY_FORMAT
        assert (sheet["E2"].value, sheet["E2"].data_type) == ("=1+1", "s")


class TestPermission:
    @pytest.mark.parametrize("export_url", [CSV_URL, XLSX_URL])
    def test_without_export_order_is_403(self, client, export_url):
        submitted_order()
        client.force_login(staff_with("orders.view_order", "orders.review_order"))
        assert client.get(export_url).status_code == 403

    def test_the_buttons_show_only_with_export_order(self, client, finance_client):
        assert "data-export" in finance_client.get(CHANGELIST).text
        client.force_login(staff_with("orders.view_order"))
        assert "data-export" not in client.get(CHANGELIST).text

    def test_the_buttons_carry_the_current_filter(self, finance_client):
        response = finance_client.get(CHANGELIST, {"status__exact": S.REJECTED, "q": "甲"})
        assert f"{CSV_URL}?q=%E7%94%B2&amp;status__exact=rejected" in response.text


class TestBuilders:
    """orders.export works on any iterable of orders with customer and lines loaded."""

    def test_an_order_line_row_in_header_order(self):
        order = order_in(S.IN_TRADE)
        [row] = list(export.order_rows([order]))
        assert len(row) == len(export.HEADERS)
        assert row[0] == order.number
        assert row[1].tzinfo is None and row[1] == timezone.localtime(order.submitted_at).replace(tzinfo=None)
        assert isinstance(row[8], Decimal) and isinstance(row[15], date)

    def test_a_few_thousand_rows_build_without_a_query(self, django_assert_num_queries):
        order = submitted_order(services_and_quantities=[(ServiceFactory(), 1)])
        order = Order.objects.select_related("customer").prefetch_related("lines").get(pk=order.pk)
        orders = [order] * 3000
        with django_assert_num_queries(0):
            chunks = sum(1 for _chunk in export.csv_chunks(orders))
            workbook = export.xlsx_bytes(orders)
        assert chunks == 3001
        assert load_workbook(io.BytesIO(workbook)).active.max_row == 3001
