"""退款 for the customer, driven through the URLs: the 退款 link on My Orders and the
order detail, the refund form, 退款管理 and 撤销.

The UI is still being translated, so assertions check structure (data-testid), data,
status codes and the database; messages are read in English where their words matter.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertRedirects, assertTemplateUsed

from accounts.tests.factories import UserFactory
from orders.models import Order
from refunds import services
from refunds.models import RefundRequest

from .factories import refund_completed, refund_requested, refundable_order

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
LOGIN_URL = "/accounts/login/"
S = Order.Status
R = RefundRequest.Status


# --- Test data --------------------------------------------------------------------------------


def refundable(status=S.SUCCESS, **kwargs) -> Order:
    """An order approved today (¥2000.00 paid) on a refundable platform with a 7-day refund
    window unless `kwargs` say otherwise (refundable_order's); its documents are not made:
    the customer's pages do not need them."""
    return refundable_order(status, documents=False, **kwargs)


def approved_days_ago(order, days) -> Order:
    Order.objects.filter(pk=order.pk).update(approved_at=timezone.now() - timedelta(days=days))
    order.refresh_from_db()
    return order


def form_data(**overrides):
    data = {"amount": "2000.00", "reason": RefundRequest.Reason.UNWANTED, "description": "", "contact_mobile": "13800138000"}
    return {**data, **overrides}


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def request_url(order) -> str:
    return reverse("refunds:request", args=[order.number])


def detail_url(order) -> str:
    return reverse("orders:detail", args=[order.number])


def order_block(html: str, order) -> str:
    """The order's header and rows in My Orders."""
    return html.split(f'data-order="{order.number}"', 1)[1].split("</tbody>", 1)[0]


def refund_link(order) -> str:
    return f'href="{request_url(order)}" data-testid="refund-link"'


@pytest.fixture
def customer():
    return UserFactory(mobile="+8613912345678")


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer, backend=MODEL_BACKEND)
    client.cookies["django_language"] = "en"
    return client


# --- Eligibility: 退款 offered exactly when refund_problem is None --------------------------------

# Orders for which 退款 is not offered, made for `customer`.
INELIGIBLE = {
    "platform not refundable": lambda c: refundable(customer=c, platform_refundable=False),
    "no refund window": lambda c: refundable(customer=c, window_days=0),
    "window closed": lambda c: approved_days_ago(refundable(customer=c, window_days=7), 8),
    "refund open": lambda c: Order.objects.get(pk=refund_requested(refundable(customer=c)).order_id),
    "awaiting payment": lambda c: refundable(S.AWAITING_PAYMENT, customer=c),
    "rejected": lambda c: refundable(S.REJECTED, customer=c),
    "failed": lambda c: refundable(S.FAILED, customer=c),
    "refunded": lambda c: Order.objects.get(pk=refund_completed(refundable(customer=c), "2000.00").order_id),
}


class TestEligibility:
    @pytest.mark.parametrize("status", [S.IN_TRADE, S.SUCCESS])
    def test_an_eligible_order_offers_refund_in_my_orders_and_its_detail(self, signed_in, customer, status):
        order = refundable(status, customer=customer)

        listing = signed_in.get(reverse("orders:list"))
        detail = signed_in.get(detail_url(order))

        assert refund_link(order) in listing.text
        assert refund_link(order) in detail.text
        assert 'data-testid="refund-problem"' not in detail.text

    def test_the_last_day_of_the_window_still_offers_refund(self, signed_in, customer):
        order = approved_days_ago(refundable(customer=customer, window_days=7), 7)

        assert refund_link(order) in signed_in.get(detail_url(order)).text
        assert signed_in.get(request_url(order)).status_code == 200

    def test_a_partly_refunded_order_still_offers_refund_for_the_rest(self, signed_in, customer):
        order = refund_completed(refundable(customer=customer), "500.00").order
        assert order.status == S.SUCCESS

        response = signed_in.get(request_url(order))

        assert response.status_code == 200
        assert response.context["form"]["amount"].value() == "1500.00"

    @pytest.mark.parametrize("case", INELIGIBLE)
    def test_an_ineligible_order_offers_no_refund(self, signed_in, customer, case):
        order = INELIGIBLE[case](customer)

        listing = signed_in.get(reverse("orders:list"))
        detail = signed_in.get(detail_url(order))

        assert f'data-order="{order.number}"' in listing.text
        assert request_url(order) not in listing.text
        assert request_url(order) not in detail.text

    @pytest.mark.parametrize("case", INELIGIBLE)
    def test_the_form_of_an_ineligible_order_redirects_to_it_with_the_reason(self, signed_in, customer, case):
        order = INELIGIBLE[case](customer)

        response = signed_in.get(request_url(order))

        assertRedirects(response, detail_url(order), fetch_redirect_response=False)
        assert messages_of(response) == [services.refund_problem(order)]

    @pytest.mark.parametrize("case", INELIGIBLE)
    def test_a_post_for_an_ineligible_order_is_refused_and_changes_nothing(self, signed_in, customer, case):
        order = INELIGIBLE[case](customer)
        refunds_before = list(RefundRequest.objects.values_list("pk", "status"))
        amount = str(order.refundable_amount) if order.refundable_amount > 0 else "100.00"

        response = signed_in.post(request_url(order), form_data(amount=amount, reason=RefundRequest.Reason.OTHER, description="x"))

        assertRedirects(response, detail_url(order), fetch_redirect_response=False)
        assert len(messages_of(response)) == 1
        assert list(RefundRequest.objects.values_list("pk", "status")) == refunds_before
        unchanged = Order.objects.get(pk=order.pk)
        assert (unchanged.status, unchanged.refunded_amount) == (order.status, order.refunded_amount)

    @pytest.mark.parametrize(
        "case, words",
        [("platform not refundable", "platform"), ("window closed", "ended on"), ("no refund window", "cannot be refunded")],
    )
    def test_the_detail_of_an_order_in_trade_says_why_refund_is_not_offered(self, signed_in, customer, case, words):
        order = INELIGIBLE[case](customer)

        response = signed_in.get(detail_url(order))

        assert 'data-testid="refund-problem"' in response.text
        assert words in response.context["actions"].refund_problem

    @pytest.mark.parametrize(
        "case, words",
        [("platform not refundable", "platform"), ("window closed", "ended on"), ("no refund window", "cannot be refunded")],
    )
    def test_my_orders_labels_an_order_the_platform_or_window_does_not_refund(self, signed_in, customer, case, words):
        order = INELIGIBLE[case](customer)

        block = order_block(signed_in.get(reverse("orders:list")).text, order)
        detail = signed_in.get(detail_url(order)).text

        assert 'data-testid="no-refund"' in block and 'data-testid="refund-link"' not in block
        assert words in block.split('data-testid="no-refund-reason">', 1)[1].split("</div>", 1)[0]
        assert 'data-testid="no-refund"' in detail

    @pytest.mark.parametrize("case", ["awaiting payment", "rejected", "failed", "refund open", "refunded"])
    def test_no_label_where_a_refund_is_not_the_question(self, signed_in, customer, case):
        order = INELIGIBLE[case](customer)

        assert 'data-testid="no-refund"' not in order_block(signed_in.get(reverse("orders:list")).text, order)

    @pytest.mark.parametrize("status", [S.IN_TRADE, S.SUCCESS])
    def test_no_label_where_refund_is_offered(self, signed_in, customer, status):
        order = refundable(status, customer=customer)

        block = order_block(signed_in.get(reverse("orders:list")).text, order)

        assert 'data-testid="refund-link"' in block and 'data-testid="no-refund"' not in block

    def test_the_label_reads_no_refund_in_chinese_and_in_english(self, client, customer):
        order = refundable(customer=customer, platform_refundable=False)
        client.force_login(customer, backend=MODEL_BACKEND)

        chinese = order_block(client.get(reverse("orders:list")).text, order)
        client.cookies["django_language"] = "en"
        english = order_block(client.get(reverse("orders:list")).text, order)

        assert 'data-testid="no-refund">不退款</span>' in chinese
        assert 'data-testid="no-refund">No refund</span>' in english

    def test_the_closed_window_names_its_last_day(self, signed_in, customer):
        order = approved_days_ago(refundable(customer=customer, window_days=7), 8)
        last_day = (timezone.localdate() - timedelta(days=1)).isoformat()

        assert last_day in signed_in.get(detail_url(order)).text

    @pytest.mark.parametrize("case", ["awaiting payment", "failed", "refund open", "refunded"])
    def test_the_detail_of_an_order_out_of_trade_does_not_explain(self, signed_in, customer, case):
        order = INELIGIBLE[case](customer)

        assert 'data-testid="refund-problem"' not in signed_in.get(detail_url(order)).text

    def test_my_orders_query_count_does_not_grow_with_refundable_orders(self, client):
        def queries_for(count):
            customer = UserFactory()
            orders = [refundable([S.IN_TRADE, S.SUCCESS][i % 2], customer=customer) for i in range(count)]
            refund_requested(orders[-1])  # the newest: on the first page
            client.force_login(customer, backend=MODEL_BACKEND)
            with CaptureQueriesContext(connection) as context:
                response = client.get(reverse("orders:list"))
            assert response.text.count('data-testid="refund-link"') == min(count, 10) - 1
            return len(context.captured_queries)

        assert queries_for(3) == queries_for(12)


# --- The refund form ---------------------------------------------------------------------------


class TestRefundForm:
    def test_the_form_shows_the_amounts_defaults_and_reasons(self, signed_in, customer):
        order = refundable(customer=customer)

        response = signed_in.get(request_url(order))

        assert response.status_code == 200
        assertTemplateUsed(response, "refunds/refund_form.html")
        assertTemplateUsed(response, "accounts/centre_base.html")
        form = response.context["form"]
        assert form["amount"].value() == "2000.00"
        assert form["contact_mobile"].value() == "+8613912345678"
        assert 'data-testid="refund-form"' in response.text
        assert len(re.findall(r'<input type="radio"[^>]* name="reason"', response.text)) == 4
        assert "Paid ¥2000.00, already refunded ¥0.00: you can ask for at most ¥2000.00." in response.text

    def test_submit_creates_the_refund_and_moves_the_order_to_refunding(self, signed_in, customer):
        order = refundable(S.IN_TRADE, customer=customer)

        response = signed_in.post(
            request_url(order),
            form_data(amount="1,200.50", reason=RefundRequest.Reason.OTHER, description="店铺关闭", contact_mobile="139 0013 9000"),
        )

        refund = RefundRequest.objects.get(order=order)
        assertRedirects(response, f"/account/refunds/#refund-{refund.number}", fetch_redirect_response=False)
        assert (refund.status, refund.amount, refund.reason, refund.description, refund.contact_mobile) == (
            R.PENDING, Decimal("1200.50"), RefundRequest.Reason.OTHER, "店铺关闭", "+8613900139000"
        )
        assert refund.order_status_before == S.IN_TRADE
        assert Order.objects.get(pk=order.pk).status == S.REFUNDING
        assert refund.number in messages_of(response)[0]

    def test_exactly_the_remainder_is_taken(self, signed_in, customer):
        order = refund_completed(refundable(customer=customer), "500.00").order

        signed_in.post(request_url(order), form_data(amount="1500.00"))

        assert order.refunds.get(status=R.PENDING).amount == Decimal("1500.00")

    @pytest.mark.parametrize(
        "amount, words",
        [
            ("0", "more than ¥0.00"),
            ("-5", "more than ¥0.00"),
            ("0.001", "two decimal places"),
            ("2000.01", "at most ¥2000.00"),
            ("abc", "as a number"),
            ("1e3", "as a number"),
            ("9" * 60, "at most ¥2000.00"),
            ("-" + "9" * 60, "more than ¥0.00"),
            ("1" + "0" * 400 + ".001", "at most ¥2000.00"),
            ("", ""),
        ],
    )
    def test_an_amount_out_of_bounds_shows_the_form_again_and_changes_nothing(self, signed_in, customer, amount, words):
        order = refundable(customer=customer)

        response = signed_in.post(request_url(order), form_data(amount=amount))

        assert response.status_code == 200
        errors = response.context["form"].errors
        assert list(errors) == ["amount"]
        assert words in errors["amount"][0]
        assert 'class="invalid-feedback"' in response.text or "is-invalid" in response.text
        assert not RefundRequest.objects.exists()
        assert Order.objects.get(pk=order.pk).status == S.SUCCESS

    def test_other_without_a_description_shows_the_form_again(self, signed_in, customer):
        order = refundable(customer=customer)

        response = signed_in.post(request_url(order), form_data(reason=RefundRequest.Reason.OTHER, description=" "))

        assert response.status_code == 200
        assert list(response.context["form"].errors) == ["description"]
        assert not RefundRequest.objects.exists()

    def test_a_bad_mobile_shows_the_form_again(self, signed_in, customer):
        order = refundable(customer=customer)

        response = signed_in.post(request_url(order), form_data(contact_mobile="021-68888888"))

        assert response.status_code == 200
        assert list(response.context["form"].errors) == ["contact_mobile"]
        assert not RefundRequest.objects.exists()

    def test_the_same_form_sent_twice_makes_one_refund(self, signed_in, customer):
        order = refundable(customer=customer)

        first = signed_in.post(request_url(order), form_data())
        second = signed_in.post(request_url(order), form_data())

        refund = RefundRequest.objects.get()
        assert first.status_code == second.status_code == 302
        assert second["Location"] == refund.get_absolute_url()
        assert Order.objects.get(pk=order.pk).status == S.REFUNDING
        assert order.events.filter(action="request_refund").count() == 1

    def test_a_second_different_request_while_one_is_open_is_refused(self, signed_in, customer):
        order = refundable(customer=customer)
        signed_in.post(request_url(order), form_data(amount="100.00"))

        response = signed_in.post(request_url(order), form_data(amount="200.00"))

        assertRedirects(response, detail_url(order), fetch_redirect_response=False)
        assert "already under way" in messages_of(response)[-1]
        assert RefundRequest.objects.get().amount == Decimal("100.00")

    def test_a_refund_after_the_window_closed_while_the_form_was_open_is_refused(self, signed_in, customer):
        order = refundable(customer=customer)
        assert signed_in.get(request_url(order)).status_code == 200
        approved_days_ago(order, 30)

        response = signed_in.post(request_url(order), form_data())

        assertRedirects(response, detail_url(order), fetch_redirect_response=False)
        assert "ended on" in messages_of(response)[0]
        assert not RefundRequest.objects.exists()

    def test_other_methods_are_not_allowed(self, signed_in, customer):
        order = refundable(customer=customer)

        assert signed_in.put(request_url(order)).status_code == 405

    def test_head_answers_like_get(self, signed_in, customer):
        order = refundable(customer=customer)

        response = signed_in.head(request_url(order))

        assert response.status_code == 200 and response.content == b""
        assert not RefundRequest.objects.exists()


# --- 退款管理 -----------------------------------------------------------------------------------


def listed(response) -> list[str]:
    return [refund.number for refund, _progress in response.context["rows"]]


class TestRefundList:
    def test_every_refund_of_the_customer_newest_first(self, signed_in, customer):
        first = refund_requested(refundable(customer=customer))
        second = refund_requested(refundable(customer=customer))

        response = signed_in.get(reverse("refunds:list"))

        assert response.status_code == 200
        assertTemplateUsed(response, "refunds/refund_list.html")
        assert listed(response) == [second.number, first.number]
        for refund in (first, second):
            assert f'id="refund-{refund.number}"' in response.text
            assert f'href="{detail_url(refund.order)}"' in response.text
        assert 'list-group-item-action active" href="/account/refunds/"' in response.text

    def test_a_pending_refund_shows_its_amount_status_first_step_and_withdraw(self, signed_in, customer):
        refund = refund_requested(refundable(customer=customer), "123.40")

        response = signed_in.get(reverse("refunds:list"))

        assert "¥123.40" in response.text
        assert 'data-status="pending"' in response.text
        steps = response.context["rows"][0][1]
        assert [(step.key, step.state) for step in steps] == [("pending", "current"), ("approved", "todo"), ("completed", "todo")]
        assert f'action="{reverse("refunds:withdraw", args=[refund.number])}"' in response.text

    def test_a_completed_refund_shows_every_step_and_the_reference(self, signed_in, customer):
        refund = refund_completed(refundable(customer=customer), "500.00", reference="BANK-7788")

        response = signed_in.get(reverse("refunds:list"))

        steps = response.context["rows"][0][1]
        assert [(step.key, step.state) for step in steps] == [("pending", "done"), ("approved", "done"), ("completed", "current")]
        assert all(step.at for step in steps)
        assert 'data-status="completed"' in response.text
        assert "BANK-7788" in response.text
        assert reverse("refunds:withdraw", args=[refund.number]) not in response.text

    def test_a_rejected_refund_shows_the_reason(self, signed_in, customer):
        refund = refund_requested(refundable(customer=customer))
        services.refund_reject(refund=refund, actor=UserFactory(staff=True), reason="服务已开通使用")

        response = signed_in.get(reverse("refunds:list"))

        assert [step.key for step in response.context["rows"][0][1]] == ["pending", "rejected"]
        assert 'data-testid="refund-rejection-reason"' in response.text
        assert "服务已开通使用" in response.text
        assert reverse("refunds:withdraw", args=[refund.number]) not in response.text

    def test_a_withdrawn_refund_shows_its_last_step(self, signed_in, customer):
        refund = refund_requested(refundable(customer=customer))
        services.refund_withdraw(refund=refund, actor=customer)

        response = signed_in.get(reverse("refunds:list"))

        assert [step.key for step in response.context["rows"][0][1]] == ["pending", "withdrawn"]
        assert 'data-status="withdrawn"' in response.text

    def test_no_refunds_shows_the_empty_state(self, signed_in):
        response = signed_in.get(reverse("refunds:list"))

        assert 'data-testid="empty-state"' in response.text

    def test_twenty_refunds_a_page(self, signed_in, customer):
        refunds = [refund_requested(refundable(customer=customer), "10.00") for _ in range(21)]

        first = signed_in.get(reverse("refunds:list"))
        second = signed_in.get(reverse("refunds:list"), {"page": 2})

        assert len(listed(first)) == 20
        assert listed(second) == [refunds[0].number]

    def test_query_count_does_not_grow_with_the_refunds(self, client):
        def queries_for(count):
            customer = UserFactory()
            for i in range(count):
                refund = refund_requested(refundable(customer=customer))
                if i % 3 == 1:
                    services.refund_reject(refund=refund, actor=UserFactory(staff=True), reason="不符合条件")
                elif i % 3 == 2:
                    refund_completed(refundable(customer=customer))
            client.force_login(customer, backend=MODEL_BACKEND)
            with CaptureQueriesContext(connection) as context:
                response = client.get(reverse("refunds:list"))
            assert response.status_code == 200
            return len(context.captured_queries)

        assert queries_for(2) == queries_for(9)

    def test_the_order_detail_lists_its_refunds_with_progress(self, signed_in, customer):
        order = refundable(customer=customer)
        done = refund_completed(order, "300.00", reference="BANK-1")
        pending = refund_requested(order, "200.00")

        response = signed_in.get(detail_url(order))

        assert 'data-testid="order-refunds"' in response.text
        assert [refund.number for refund, _progress in response.context["refunds"]] == [pending.number, done.number]
        assert "BANK-1" in response.text and "¥300.00" in response.text and "¥200.00" in response.text

    def test_an_order_without_refunds_has_no_refunds_section(self, signed_in, customer):
        order = refundable(customer=customer)

        assert 'data-testid="order-refunds"' not in signed_in.get(detail_url(order)).text

    def test_order_detail_query_count_does_not_grow_with_refunds(self, signed_in, customer):
        def queries_for(refunds):
            order = refundable(customer=customer)
            for _ in range(refunds):
                refund_completed(order, "100.00")
            with CaptureQueriesContext(connection) as context:
                signed_in.get(detail_url(order))
            return len(context.captured_queries)

        assert queries_for(1) == queries_for(4)


# --- 撤销 --------------------------------------------------------------------------------------


def withdraw_url(refund) -> str:
    return reverse("refunds:withdraw", args=[refund.number])


class TestWithdraw:
    @pytest.mark.parametrize("status", [S.IN_TRADE, S.SUCCESS])
    def test_withdraw_returns_the_order_to_where_it_was(self, signed_in, customer, status):
        refund = refund_requested(refundable(status, customer=customer))

        response = signed_in.post(withdraw_url(refund))

        assertRedirects(response, f"/account/refunds/#refund-{refund.number}", fetch_redirect_response=False)
        refund.refresh_from_db()
        assert refund.status == R.WITHDRAWN and refund.withdrawn_at
        assert Order.objects.get(pk=refund.order_id).status == status
        assert "withdrawn" in messages_of(response)[0]

    def test_withdraw_twice_is_harmless(self, signed_in, customer):
        refund = refund_requested(refundable(customer=customer))

        signed_in.post(withdraw_url(refund))
        response = signed_in.post(withdraw_url(refund))

        assert response.status_code == 302
        assert RefundRequest.objects.get().status == R.WITHDRAWN
        assert refund.order.events.filter(action="withdraw_refund").count() == 1

    def test_after_withdrawing_the_order_offers_refund_again(self, signed_in, customer):
        refund = refund_requested(refundable(customer=customer))
        signed_in.post(withdraw_url(refund))

        assert refund_link(refund.order) in signed_in.get(detail_url(refund.order)).text

    def test_an_approved_refund_cannot_be_withdrawn(self, signed_in, customer):
        refund = services.refund_approve(refund=refund_requested(refundable(customer=customer)), actor=UserFactory(staff=True))

        response = signed_in.post(withdraw_url(refund))

        assert response.status_code == 302
        assert "can no longer be withdrawn" in messages_of(response)[0]
        assert RefundRequest.objects.get().status == R.APPROVED
        assert Order.objects.get(pk=refund.order_id).status == S.REFUNDING

    def test_withdraw_by_get_is_not_allowed(self, signed_in, customer):
        refund = refund_requested(refundable(customer=customer))

        assert signed_in.get(withdraw_url(refund)).status_code == 405
        assert RefundRequest.objects.get().status == R.PENDING

    def test_an_unknown_refund_is_404(self, signed_in):
        assert signed_in.post(reverse("refunds:withdraw", args=["TK0000-1"])).status_code == 404


# --- Authorization -----------------------------------------------------------------------------


class TestAuthorization:
    @pytest.fixture
    def other(self, client):
        other = UserFactory()
        client.force_login(other, backend=MODEL_BACKEND)
        return client

    @pytest.mark.parametrize("method", ["get", "post", "put"])
    def test_another_customers_refund_form_is_404(self, other, method):
        order = refundable()

        response = getattr(other, method)(request_url(order), form_data())

        assert response.status_code == 404
        assert not RefundRequest.objects.exists()
        assert Order.objects.get(pk=order.pk).status == S.SUCCESS

    @pytest.mark.parametrize("method", ["get", "post"])
    def test_another_customers_withdraw_is_404(self, other, method):
        refund = refund_requested(refundable())

        response = getattr(other, method)(withdraw_url(refund))

        assert response.status_code == 404
        assert RefundRequest.objects.get().status == R.PENDING

    def test_another_customers_refunds_are_not_listed(self, other):
        refund = refund_requested(refundable())

        response = other.get(reverse("refunds:list"))

        assert listed(response) == []
        assert refund.number not in response.text

    @pytest.mark.parametrize("name, args", [("refunds:list", []), ("refunds:request", ["BS-ZX1"]), ("refunds:withdraw", ["TK1-1"])])
    def test_anonymous_visitors_are_sent_to_sign_in(self, client, name, args):
        path = reverse(name, args=args)

        response = client.get(path)

        assertRedirects(response, f"{LOGIN_URL}?next={path}", fetch_redirect_response=False)

    def test_an_anonymous_post_changes_nothing(self, client):
        order = refundable()
        refund = refund_requested(refundable())

        client.post(request_url(order), form_data())
        client.post(withdraw_url(refund))

        assert list(RefundRequest.objects.values_list("pk", "status")) == [(refund.pk, R.PENDING)]
        assert Order.objects.get(pk=order.pk).status == S.SUCCESS


# --- Both languages ----------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_refund_pages_render_in_both_languages(client, customer, language):
    client.force_login(customer, backend=MODEL_BACKEND)
    client.cookies["django_language"] = language
    order = refundable(customer=customer)
    refund_completed(order, "100.00")
    rejected = refund_requested(refundable(customer=customer))
    services.refund_reject(refund=rejected, actor=UserFactory(staff=True), reason="理由")
    refund_requested(refundable(customer=customer))

    for path in (request_url(order), reverse("refunds:list"), detail_url(order), reverse("orders:list")):
        response = client.get(path)
        assert response.status_code == 200, path
        assert f'<html lang="{language}">' in response.text
