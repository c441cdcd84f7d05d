"""My Orders and the customer's actions on an order, driven through their URLs.

The UI is still being translated, so assertions check structure, data, status codes
and the database, never the project's Chinese text.
"""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib import messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertRedirects, assertTemplateUsed

from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from invoicing.services import documents_generate
from orders.models import Order, OrderEvent
from orders.tests.factories import DETAILS, order_in, submitted_order

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
SHANGHAI = ZoneInfo("Asia/Shanghai")
S = Order.Status


@pytest.fixture
def customer():
    return UserFactory(real_name="赵六")


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer, backend=MODEL_BACKEND)
    return client


def url(name, order):
    return reverse(f"orders:{name}", args=[order.number])


def listed(response) -> list[str]:
    """Main order numbers in the order the page lists them."""
    return re.findall(r'<tbody class="border" data-order="([^"]+)"', response.text)


def message_levels(response) -> list[int]:
    return [message.level for message in messages.get_messages(response.wsgi_request)]


def events(order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).values_list("action", flat=True))


def edit_data(order, **overrides):
    data = {name: getattr(order, name) for name in DETAILS}
    data["invoice_profile"] = ""
    data.update(overrides)
    return data


def set_submitted_at(order, local: datetime):
    Order.objects.filter(pk=order.pk).update(submitted_at=local.replace(tzinfo=SHANGHAI))


# --- My Orders: tabs and counts ---------------------------------------------------------


class TestTabs:
    @pytest.fixture
    def orders(self, customer):
        statuses = (S.AWAITING_PAYMENT, S.REJECTED, S.IN_TRADE, S.SUCCESS, S.FAILED)
        return {status: order_in(status, customer=customer) for status in statuses}

    def test_default_tab_lists_every_order_newest_first(self, signed_in, orders):
        response = signed_in.get(reverse("orders:list"))

        assert response.status_code == 200
        assertTemplateUsed(response, "orders/order_list.html")
        newest_first = sorted(orders.values(), key=lambda o: (o.submitted_at, o.pk), reverse=True)
        assert listed(response) == [o.number for o in newest_first]

    def test_tab_counts(self, signed_in, orders):
        response = signed_in.get(reverse("orders:list"))

        counts = {tab.key: tab.count for tab in response.context["tabs"]}
        assert counts == {"": 5, "awaiting": 2, "in_trade": 1, "success": 1, "failed": 1, "refunding": 0}
        assert re.findall(r'data-testid="tab-count">(\d+)<', response.text) == ["5", "2", "1", "1", "1", "0"]

    @pytest.mark.parametrize(
        "tab, statuses",
        [
            ("awaiting", {S.AWAITING_PAYMENT, S.REJECTED}),
            ("in_trade", {S.IN_TRADE}),
            ("success", {S.SUCCESS}),
            ("failed", {S.FAILED}),
        ],
    )
    def test_each_tab_lists_its_statuses(self, signed_in, orders, tab, statuses):
        response = signed_in.get(reverse("orders:list"), {"tab": tab})

        assert set(listed(response)) == {orders[status].number for status in statuses}
        assert [t.key for t in response.context["tabs"] if t.active] == [tab]

    @pytest.mark.parametrize(
        "query, tab, statuses",
        [
            ("?tab=success", "success", {S.SUCCESS}),
            ("?status=success", "success", {S.SUCCESS}),
            ("?status=in_trade", "in_trade", {S.IN_TRADE}),
            ("?status=rejected", "awaiting", {S.AWAITING_PAYMENT, S.REJECTED}),
            ("?status=failed", "failed", {S.FAILED}),
            ("?status=awaiting", "awaiting", {S.AWAITING_PAYMENT, S.REJECTED}),
        ],
    )
    def test_a_bookmarked_tab_url_opens_that_tab_selected_with_its_rows(self, signed_in, orders, query, tab, statuses):
        response = signed_in.get(reverse("orders:list") + query)

        assert set(listed(response)) == {orders[status].number for status in statuses}
        assert [t.key for t in response.context["tabs"] if t.active] == [tab]
        active = re.findall(r'class="nav-link active" aria-current="page"\s+href="([^"]+)" data-tab="([a-z_]+)"', response.text)
        assert active == [(f"{reverse('orders:list')}?tab={tab}", tab)]
        # The search keeps the tab, so searching within it stays in it.
        assert f'name="tab" value="{tab}"' in response.text

    def test_a_tab_link_is_a_plain_link_to_its_url(self, signed_in, orders):
        response = signed_in.get(reverse("orders:list"))

        links = re.findall(r'href="([^"]+)" data-tab="([a-z_]+)"', response.text)
        assert links == [(reverse("orders:list"), "all")] + [
            (f"{reverse('orders:list')}?tab={key}", key) for key in ("awaiting", "in_trade", "success", "failed", "refunding")
        ]

    def test_an_empty_tab_says_so_and_links_to_the_catalog(self, signed_in, orders):
        response = signed_in.get(reverse("orders:list"), {"tab": "refunding"})

        assert listed(response) == []
        assert 'data-testid="empty-state"' in response.text
        assert f'href="{reverse("catalog:service-list")}"' in response.text

    @pytest.mark.parametrize("param", ["tab", "status"])
    def test_an_unknown_tab_lists_every_order(self, signed_in, orders, param):
        response = signed_in.get(reverse("orders:list"), {param: "nonsense"})

        assert response.status_code == 200
        assert len(listed(response)) == 5
        assert [t.key for t in response.context["tabs"] if t.active] == [""]

    def test_no_orders_at_all_shows_the_empty_state(self, signed_in):
        response = signed_in.get(reverse("orders:list"))

        assert response.status_code == 200
        assert 'data-testid="empty-state"' in response.text


# --- My Orders: search --------------------------------------------------------------------


class TestSearch:
    def test_by_main_order_number_in_any_case(self, signed_in, customer):
        wanted, _other = submitted_order(customer=customer), submitted_order(customer=customer)

        response = signed_in.get(reverse("orders:list"), {"number": f"  {wanted.number.lower()} "})

        assert listed(response) == [wanted.number]

    def test_by_line_serial(self, signed_in, customer):
        two_lines = [(ServiceFactory(), 1), (ServiceFactory(), 2)]
        wanted = submitted_order(customer=customer, services_and_quantities=two_lines)
        submitted_order(customer=customer)
        second_serial = wanted.lines.order_by("id")[1].serial

        response = signed_in.get(reverse("orders:list"), {"number": second_serial})

        assert listed(response) == [wanted.number]

    def test_by_number_within_the_current_tab(self, signed_in, customer):
        order = order_in(S.IN_TRADE, customer=customer)

        in_trade = signed_in.get(reverse("orders:list"), {"tab": "in_trade", "number": order.number})
        awaiting = signed_in.get(reverse("orders:list"), {"tab": "awaiting", "number": order.number})

        assert listed(in_trade) == [order.number]
        assert listed(awaiting) == []

    def test_an_unknown_number_finds_nothing_and_says_so(self, signed_in, customer):
        submitted_order(customer=customer)

        response = signed_in.get(reverse("orders:list"), {"number": "BS-ZX000000000000000000"})

        assert listed(response) == []
        assert response.context["searching"] is True
        assert 'data-testid="empty-state"' in response.text

    def test_by_date_range_inclusive_in_local_time(self, signed_in, customer):
        before = submitted_order(customer=customer)
        first_day = submitted_order(customer=customer)
        last_day_late = submitted_order(customer=customer)
        after = submitted_order(customer=customer)
        set_submitted_at(before, datetime(2026, 2, 28, 23, 59, 59))
        set_submitted_at(first_day, datetime(2026, 3, 1, 0, 0, 0))
        # 23:30 in Shanghai is 15:30 UTC the same day; 00:30 the next day is still the 5th in UTC.
        set_submitted_at(last_day_late, datetime(2026, 3, 5, 23, 30))
        set_submitted_at(after, datetime(2026, 3, 6, 0, 30))

        response = signed_in.get(reverse("orders:list"), {"start": "2026-03-01", "end": "2026-03-05"})

        assert response.status_code == 200
        assert listed(response) == [last_day_late.number, first_day.number]

    def test_one_sided_date_ranges(self, signed_in, customer):
        old, new = submitted_order(customer=customer), submitted_order(customer=customer)
        set_submitted_at(old, datetime(2025, 1, 10, 9, 0))
        set_submitted_at(new, datetime(2026, 1, 10, 9, 0))

        assert listed(signed_in.get(reverse("orders:list"), {"start": "2026-01-10"})) == [new.number]
        assert listed(signed_in.get(reverse("orders:list"), {"end": "2025-01-10"})) == [old.number]

    @pytest.mark.parametrize(
        "params, expected",
        [({"start": "0001-01-01", "end": "9999-12-31"}, 1), ({"start": "9999-12-31"}, 0), ({"end": "0001-01-01"}, 0)],
    )
    def test_the_extreme_dates_filter_without_overflowing(self, signed_in, customer, params, expected):
        submitted_order(customer=customer)

        response = signed_in.get(reverse("orders:list"), params)

        assert response.status_code == 200
        assert len(listed(response)) == expected

    def test_end_before_start_is_an_error_not_a_filter(self, signed_in, customer):
        orders = [submitted_order(customer=customer) for _ in range(2)]

        response = signed_in.get(reverse("orders:list"), {"start": "2026-03-05", "end": "2026-03-01"})

        assert response.status_code == 200
        assert "end" in response.context["form"].errors
        assert messages.ERROR in message_levels(response)
        assert "is-invalid" in response.text
        assert set(listed(response)) == {o.number for o in orders}

    @pytest.mark.parametrize(
        "params, field",
        [
            ({"start": "2026-13-45"}, "start"),
            ({"end": "yesterday"}, "end"),
            ({"start": "20260301", "end": "2026-03-01"}, "start"),
            ({"start": "0000-00-00"}, "start"),
            ({"number": "X" * 200}, "number"),
        ],
    )
    def test_malformed_search_terms_show_an_error_never_a_500(self, signed_in, customer, params, field):
        order = submitted_order(customer=customer)

        response = signed_in.get(reverse("orders:list"), params)

        assert response.status_code == 200
        assert field in response.context["form"].errors
        assert messages.ERROR in message_levels(response)
        assert listed(response) == [order.number]

    def test_the_form_keeps_what_was_typed_and_the_tab(self, signed_in, customer):
        response = signed_in.get(reverse("orders:list"), {"tab": "success", "number": "BS-ZX1", "start": "2026-03-01"})

        assert 'name="tab" value="success"' in response.text
        assert 'value="BS-ZX1"' in response.text
        assert 'value="2026-03-01"' in response.text


# --- My Orders: pagination and query count -------------------------------------------------


class TestPagination:
    def test_ten_orders_a_page(self, signed_in, customer):
        orders = [submitted_order(customer=customer) for _ in range(12)]
        newest_first = [o.number for o in reversed(orders)]

        first = signed_in.get(reverse("orders:list"))
        second = signed_in.get(reverse("orders:list"), {"page": 2})

        assert listed(first) == newest_first[:10]
        assert listed(second) == newest_first[10:]
        assert 'href="?page=2"' in first.text

    def test_page_links_keep_the_filters(self, signed_in, customer):
        for _ in range(11):
            submitted_order(customer=customer)
        order_in(S.IN_TRADE, customer=customer)

        filters = {"tab": "awaiting", "start": "2000-01-01", "end": "2099-12-31"}
        response = signed_in.get(reverse("orders:list"), filters)

        assert len(listed(response)) == 10
        assert 'href="?tab=awaiting&amp;start=2000-01-01&amp;end=2099-12-31&amp;page=2"' in response.text
        page2 = signed_in.get(reverse("orders:list"), {**filters, "page": 2})
        assert len(listed(page2)) == 1

    @pytest.mark.parametrize("page", ["999", "abc", "-1"])
    def test_a_page_out_of_range_shows_a_page(self, signed_in, customer, page):
        submitted_order(customer=customer)

        response = signed_in.get(reverse("orders:list"), {"page": page})

        assert response.status_code == 200
        assert len(listed(response)) == 1

    def test_query_count_does_not_grow_with_the_orders(self, client):
        def queries_for(count):
            customer = UserFactory()
            for i in range(count):
                order = order_in([S.AWAITING_PAYMENT, S.REJECTED, S.IN_TRADE][i % 3], customer=customer,
                                 services_and_quantities=[(ServiceFactory(), 1), (ServiceFactory(), 2)])
                assert order.lines.count() == 2
            client.force_login(customer, backend=MODEL_BACKEND)
            with CaptureQueriesContext(connection) as context:
                response = client.get(reverse("orders:list"))
            assert len(listed(response)) == min(count, 10)
            return len(context.captured_queries)

        assert queries_for(3) == queries_for(15)


# --- My Orders: one block per main order ------------------------------------------------------


class TestOrderBlock:
    def block(self, response, order) -> str:
        pattern = rf'<tbody class="border" data-order="{re.escape(order.number)}">(.*?)</tbody>'
        match = re.search(pattern, response.text, re.S)
        assert match, order.number
        return match.group(1)

    def test_header_row_and_line_rows(self, signed_in, customer):
        service_a, service_b = ServiceFactory(), ServiceFactory()
        order = submitted_order(customer=customer, services_and_quantities=[(service_a, 1), (service_b, 3)])
        set_submitted_at(order, datetime(2021, 5, 12, 12, 0, 46))
        lines = list(order.lines.order_by("id"))

        block = self.block(signed_in.get(reverse("orders:list")), order)

        assert "2021-05-12 12:00:46" in block
        assert f'href="{url("detail", order)}">{order.number}</a>' in block
        for line in lines:
            assert f'<td class="font-monospace">{line.serial}</td>' in block
            service_url = reverse("catalog:service-detail", args=[line.service_id])
            assert f'href="{service_url}">{line.service_name}</a>' in block
        assert "¥2000.00" in block and "¥6000.00" in block
        # 实付款 and the order-wide cells sit on the first row only, spanning both lines.
        assert block.count("¥0.00") == 1
        assert block.count('rowspan="2"') == 5
        assert block.count("—") == 4  # no service period before approval
        assert '<td rowspan="2" data-testid="recipient">王***</td>' in block

    def test_no_contract_no_contract_link_or_seal_number(self, signed_in, customer, settings):
        order = order_in(S.SUCCESS, customer=customer)

        block = self.block(signed_in.get(reverse("orders:list")), order)

        assert 'data-testid="contract-link"' not in block
        assert settings.SELLER["seal_filing_number"] not in block

    def test_a_contract_shows_its_download_link_and_seal_filing_number(self, signed_in, customer, settings):
        settings.SELLER = {**settings.SELLER, "seal_filing_number": "SEAL-2026-0042"}
        order = order_in(S.SUCCESS, customer=customer)
        documents_generate(order_id=order.pk)

        block = self.block(signed_in.get(reverse("orders:list")), order)

        assert f'href="/account/orders/{order.number}/contract.pdf" data-testid="contract-link"' in block
        assert "SEAL-2026-0042" in block

    def test_in_trade_shows_service_period_and_paid_amount(self, signed_in, customer):
        order = order_in(S.IN_TRADE, customer=customer)
        line = order.lines.get()

        block = self.block(signed_in.get(reverse("orders:list")), order)

        assert line.service_start and line.service_end
        assert f"{line.service_start:%Y-%m-%d}" in block and f"{line.service_end:%Y-%m-%d}" in block
        assert f"¥{order.paid_amount:.2f}" in block and order.paid_amount > 0

    def test_recipient_falls_back_to_the_customers_real_name(self, signed_in, customer):
        order = submitted_order(customer=customer)
        Order.objects.filter(pk=order.pk).update(reminder_name="")

        block = self.block(signed_in.get(reverse("orders:list")), order)

        assert 'data-testid="recipient">赵***</td>' in block

    def test_status_badge_and_rejection_reason(self, signed_in, customer):
        rejected = order_in(S.REJECTED, customer=customer)
        awaiting = submitted_order(customer=customer)
        response = signed_in.get(reverse("orders:list"))

        rejected_block, awaiting_block = self.block(response, rejected), self.block(response, awaiting)

        assert 'data-status="rejected"' in rejected_block
        assert rejected.rejection_reason in rejected_block and 'data-testid="rejection-reason"' in rejected_block
        assert 'data-status="awaiting_payment"' in awaiting_block
        assert 'data-testid="rejection-reason"' not in awaiting_block

    @pytest.mark.parametrize(
        "status, allowed",
        [
            (S.AWAITING_PAYMENT, {"detail", "edit", "cancel"}),
            (S.REJECTED, {"detail", "edit", "cancel"}),
            (S.IN_TRADE, {"detail", "confirm"}),
            (S.SUCCESS, {"detail"}),
            (S.FAILED, {"detail"}),
        ],
    )
    def test_actions_are_exactly_those_the_state_allows(self, signed_in, customer, status, allowed):
        order = order_in(status, customer=customer)

        block = self.block(signed_in.get(reverse("orders:list")), order)

        shown = {name for name in ("detail", "edit", "cancel") if f'href="{url(name, order)}"' in block}
        if f'action="{url("confirm", order)}"' in block:
            shown.add("confirm")
        assert shown == allowed
        if "confirm" in allowed:
            action = re.escape(url("confirm", order))
            assert re.search(rf'<form method="post" action="{action}">\s*<input type="hidden" name="csrfmiddlewaretoken"', block)


# --- Order detail ------------------------------------------------------------------------------


class TestDetail:
    def test_shows_everything_the_customer_entered(self, signed_in, customer):
        profile = InvoiceProfileFactory(user=customer, special=True, title="上海云测贸易有限公司")
        order = submitted_order(customer=customer, invoice_profile=profile, remarks="请尽快审核")

        response = signed_in.get(url("detail", order))

        assert response.status_code == 200
        assertTemplateUsed(response, "orders/order_detail.html")
        text = response.text
        for name in DETAILS:
            value = getattr(order, name)
            if value:
                assert value in text, name
        assert "请尽快审核" in text
        for value in (order.invoice_title, order.invoice_taxpayer_id, order.invoice_bank, order.invoice_account):
            assert value in text
        line = order.lines.get()
        assert line.serial in text and line.service_name in text
        assert order.agreement_version in text
        totals = re.search(r'data-testid="order-totals">(.*?)</dl>', text, re.S).group(1)
        assert re.findall(r"¥([\d.]+)", totals) == ["2000.00", "0.00", "2000.00", "0.00"]

    def test_rejected_order_shows_the_reason(self, signed_in, customer):
        order = order_in(S.REJECTED, customer=customer)

        response = signed_in.get(url("detail", order))

        assert 'data-testid="rejection"' in response.text
        assert order.rejection_reason in response.text

    def test_timeline_has_a_row_per_event_with_its_note(self, signed_in, customer):
        order = order_in(S.REJECTED, customer=customer)

        response = signed_in.get(url("detail", order))

        timeline = response.context["timeline"]
        assert len(timeline) == 2 == OrderEvent.objects.filter(order=order).count()
        submit, reject = timeline
        assert (submit.from_status, submit.by) == ("", str(OrderEvent.ActorKind.CUSTOMER.label))
        assert reject.by == str(OrderEvent.ActorKind.STAFF.label)
        assert reject.note == order.rejection_reason
        assert reject.from_status == str(S.AWAITING_PAYMENT.label) and reject.to_status == str(S.REJECTED.label)
        body = re.search(r'data-testid="order-timeline">.*?<tbody>(.*?)</tbody>', response.text, re.S).group(1)
        assert body.count("<tr>") == 2
        assert order.rejection_reason in body

    @pytest.mark.parametrize(
        "status, allowed",
        [
            (S.AWAITING_PAYMENT, {"edit", "cancel"}),
            (S.REJECTED, {"edit", "cancel"}),
            (S.IN_TRADE, {"confirm"}),
            (S.SUCCESS, set()),
            (S.FAILED, set()),
        ],
    )
    def test_action_buttons_follow_the_state(self, signed_in, customer, status, allowed):
        order = order_in(status, customer=customer)

        text = signed_in.get(url("detail", order)).text

        shown = {name for name in ("edit", "cancel") if f'href="{url(name, order)}"' in text}
        if f'action="{url("confirm", order)}"' in text:
            shown.add("confirm")
        assert shown == allowed

    def test_query_count_does_not_grow_with_lines_or_events(self, client):
        def queries_for(lines, status):
            customer = UserFactory()
            items = [(ServiceFactory(), 1) for _ in range(lines)]
            order = order_in(status, customer=customer, services_and_quantities=items)
            client.force_login(customer, backend=MODEL_BACKEND)
            with CaptureQueriesContext(connection) as context:
                assert client.get(url("detail", order)).status_code == 200
            return len(context.captured_queries)

        assert queries_for(1, S.AWAITING_PAYMENT) == queries_for(4, S.AWAITING_PAYMENT)
        # A confirmed order adds its invoices and contract: a constant two queries.
        assert queries_for(1, S.SUCCESS) == queries_for(4, S.SUCCESS)

    @pytest.mark.parametrize("language", ["zh-hans", "en"])
    @pytest.mark.parametrize("name", ["detail", "edit", "cancel"])
    def test_pages_render_in_both_languages(self, signed_in, customer, name, language):
        order = submitted_order(customer=customer)
        if language != "zh-hans":
            signed_in.cookies["django_language"] = language

        response = signed_in.get(url(name, order))

        assert response.status_code == 200
        assert f'<html lang="{language}">' in response.text


# --- 修改信息 --------------------------------------------------------------------------------------


class TestEdit:
    def test_form_is_prefilled_from_the_order(self, signed_in, customer):
        order = submitted_order(customer=customer, store_name="老店名")

        response = signed_in.get(url("edit", order))

        assert response.status_code == 200
        assertTemplateUsed(response, "orders/order_edit.html")
        form = response.context["form"]
        assert form["store_name"].value() == "老店名"
        assert form["reminder_mobile"].value() == order.reminder_mobile
        assert 'value="老店名"' in response.text
        assert 'data-testid="resubmit-note"' not in response.text

    def test_the_invoice_profile_choices_are_the_customers_own(self, signed_in, customer):
        mine = InvoiceProfileFactory(user=customer)
        InvoiceProfileFactory()
        order = submitted_order(customer=customer, invoice_profile=mine)

        response = signed_in.get(url("edit", order))

        assert list(response.context["form"].fields["invoice_profile"].queryset) == [mine]

    def test_saving_changes_the_order_and_writes_an_event(self, signed_in, customer):
        order = submitted_order(customer=customer)

        response = signed_in.post(
            url("edit", order),
            edit_data(order, store_name="新店名", reminder_mobile="139 0013 9000", reminder_cc_email="cc@example.com"),
        )

        assertRedirects(response, url("detail", order), fetch_redirect_response=False)
        assert messages.SUCCESS in message_levels(response)
        order.refresh_from_db()
        assert order.store_name == "新店名"
        assert order.reminder_mobile == "+8613900139000"
        assert order.reminder_cc_email == "cc@example.com"
        assert order.status == S.AWAITING_PAYMENT
        assert events(order) == ["submit", "edit"]

    def test_choosing_another_invoice_profile_replaces_the_snapshot(self, signed_in, customer):
        order = submitted_order(customer=customer)
        other = InvoiceProfileFactory(user=customer, title="新抬头有限公司", special=True)

        signed_in.post(url("edit", order), edit_data(order, invoice_profile=other.pk))

        order.refresh_from_db()
        assert (order.invoice_title, order.invoice_kind) == ("新抬头有限公司", "special")

    def test_keeping_the_invoice_details_leaves_the_snapshot(self, signed_in, customer):
        order = submitted_order(customer=customer)
        title = order.invoice_title

        signed_in.post(url("edit", order), edit_data(order, store_name="新店名"))

        order.refresh_from_db()
        assert order.invoice_title == title

    def test_another_customers_invoice_profile_is_refused(self, signed_in, customer):
        order = submitted_order(customer=customer)
        theirs = InvoiceProfileFactory(title="别人的公司")

        response = signed_in.post(url("edit", order), edit_data(order, invoice_profile=theirs.pk, store_name="新店名"))

        assert response.status_code == 200
        assert "invoice_profile" in response.context["form"].errors
        order.refresh_from_db()
        assert (order.invoice_title, order.store_name) != ("别人的公司", "新店名")
        assert events(order) == ["submit"]

    @pytest.mark.parametrize(
        "field, value",
        [
            ("reminder_mobile", "12345"),
            ("reminder_mobile", "021-64000000"),
            ("reminder_email", "not-an-email"),
            ("reminder_cc_email", "also@not@email"),
            ("store_name", ""),
            ("contract_customer_name", "   "),
            ("marketplace_order_no", ""),
            ("seller_nick", ""),
            ("service_engineer", ""),
            ("reminder_name", ""),
            ("reminder_email", ""),
            ("remarks", "备" * 501),
        ],
    )
    def test_bad_input_rerenders_with_the_error_and_changes_nothing(self, signed_in, customer, field, value):
        order = submitted_order(customer=customer)
        before = Order.objects.values().get(pk=order.pk)

        response = signed_in.post(url("edit", order), edit_data(order, **{"remarks": "changed", field: value}))

        assert response.status_code == 200
        assert list(response.context["form"].errors) == [field]
        assert Order.objects.values().get(pk=order.pk) == before
        assert events(order) == ["submit"]

    def test_optional_fields_may_be_empty(self, signed_in, customer):
        order = submitted_order(customer=customer, reminder_cc_email="cc@example.com", remarks="x")

        signed_in.post(url("edit", order), edit_data(order, reminder_cc_email="", remarks=""))

        order.refresh_from_db()
        assert (order.reminder_cc_email, order.remarks) == ("", "")

    def test_a_rejected_order_says_saving_resubmits_it(self, signed_in, customer):
        order = order_in(S.REJECTED, customer=customer)

        response = signed_in.get(url("edit", order))

        assert 'data-testid="resubmit-note"' in response.text
        assert order.rejection_reason in response.text

    def test_saving_a_rejected_order_resubmits_it(self, signed_in, customer):
        order = order_in(S.REJECTED, customer=customer)

        response = signed_in.post(url("edit", order), edit_data(order, store_name="与平台一致的店名"))

        assertRedirects(response, url("detail", order), fetch_redirect_response=False)
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT
        assert order.store_name == "与平台一致的店名"
        assert events(order) == ["submit", "reject", "edit", "resubmit"]

    @pytest.mark.parametrize("status", [S.IN_TRADE, S.SUCCESS, S.FAILED])
    @pytest.mark.parametrize("method", ["get", "post"])
    def test_not_editable_redirects_to_detail_and_changes_nothing(self, signed_in, customer, status, method):
        order = order_in(status, customer=customer)
        before, before_events = Order.objects.values().get(pk=order.pk), events(order)

        response = getattr(signed_in, method)(url("edit", order), edit_data(order, store_name="新店名"))

        assertRedirects(response, url("detail", order), fetch_redirect_response=False)
        assert messages.WARNING in message_levels(response)
        assert Order.objects.values().get(pk=order.pk) == before
        assert events(order) == before_events


# --- 取消订单 ---------------------------------------------------------------------------------------


class TestCancel:
    def test_get_asks_for_confirmation_and_changes_nothing(self, signed_in, customer):
        order = submitted_order(customer=customer)

        response = signed_in.get(url("cancel", order))

        assert response.status_code == 200
        assertTemplateUsed(response, "orders/order_cancel.html")
        assert f'<form method="post" action="{url("cancel", order)}"' in response.text
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT
        assert events(order) == ["submit"]

    @pytest.mark.parametrize("status", [S.AWAITING_PAYMENT, S.REJECTED])
    def test_post_cancels(self, signed_in, customer, status):
        order = order_in(status, customer=customer)

        response = signed_in.post(url("cancel", order))

        assertRedirects(response, url("detail", order), fetch_redirect_response=False)
        assert messages.SUCCESS in message_levels(response)
        order.refresh_from_db()
        assert order.status == S.FAILED and order.failed_at
        assert events(order)[-1] == "cancel"

    def test_a_cancelled_order_is_under_trade_failed(self, signed_in, customer):
        order = submitted_order(customer=customer)

        signed_in.post(url("cancel", order))

        assert listed(signed_in.get(reverse("orders:list"), {"tab": "failed"})) == [order.number]

    def test_cancel_twice_writes_one_event(self, signed_in, customer):
        order = submitted_order(customer=customer)

        signed_in.post(url("cancel", order))
        response = signed_in.post(url("cancel", order))

        assertRedirects(response, url("detail", order), fetch_redirect_response=False)
        assert events(order) == ["submit", "cancel"]

    @pytest.mark.parametrize("status", [S.IN_TRADE, S.SUCCESS])
    def test_refused_when_the_state_does_not_allow_it(self, signed_in, customer, status):
        order = order_in(status, customer=customer)
        before_events = events(order)

        get = signed_in.get(url("cancel", order))
        post = signed_in.post(url("cancel", order))

        assertRedirects(get, url("detail", order), fetch_redirect_response=False)
        assertRedirects(post, url("detail", order), fetch_redirect_response=False)
        assert messages.ERROR in message_levels(post)
        order.refresh_from_db()
        assert order.status == status
        assert events(order) == before_events


# --- 确认收货 ---------------------------------------------------------------------------------------


class TestConfirm:
    def test_post_confirms_receipt(self, signed_in, customer):
        order = order_in(S.IN_TRADE, customer=customer)

        response = signed_in.post(url("confirm", order))

        assertRedirects(response, url("detail", order), fetch_redirect_response=False)
        assert messages.SUCCESS in message_levels(response)
        order.refresh_from_db()
        assert order.status == S.SUCCESS and order.completed_at
        assert events(order)[-1] == "confirm_receipt"

    def test_confirm_twice_writes_one_event(self, signed_in, customer):
        order = order_in(S.IN_TRADE, customer=customer)

        first = signed_in.post(url("confirm", order))
        second = signed_in.post(url("confirm", order))

        assert first.status_code == second.status_code == 302
        assert messages.ERROR not in message_levels(second)
        assert events(order).count("confirm_receipt") == 1

    def test_get_is_not_allowed_and_changes_nothing(self, signed_in, customer):
        order = order_in(S.IN_TRADE, customer=customer)

        response = signed_in.get(url("confirm", order))

        assert response.status_code == 405
        order.refresh_from_db()
        assert order.status == S.IN_TRADE

    @pytest.mark.parametrize("status", [S.AWAITING_PAYMENT, S.REJECTED, S.FAILED])
    def test_refused_before_approval(self, signed_in, customer, status):
        order = order_in(status, customer=customer)
        before_events = events(order)

        response = signed_in.post(url("confirm", order))

        assertRedirects(response, url("detail", order), fetch_redirect_response=False)
        assert messages.ERROR in message_levels(response)
        order.refresh_from_db()
        assert order.status == status
        assert events(order) == before_events


def test_timeline_names_the_edited_fields_in_the_readers_language(client):
    from orders import services as order_services

    order = submitted_order()
    order_services.order_edit(order=order, actor=order.customer, details={"store_name": "新店名"})
    client.force_login(order.customer, backend="django.contrib.auth.backends.ModelBackend")
    client.cookies["django_language"] = "en"
    response = client.get(order.get_absolute_url())
    assert "Changed: store name" in response.text
