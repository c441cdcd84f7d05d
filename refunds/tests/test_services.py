"""refunds.services: who may ask for a refund and when, the amount, and each step of
the refund through finance (withdraw, reject, approve, complete) with the order's
moves, its timeline, the customer's messages and emails."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone, translation

from accounts.models import Message
from accounts.tests.factories import UserFactory
from catalog.tests.factories import PlatformFactory, ServiceFactory
from invoicing.tests.conftest import configured_signing_key, signing_pair  # noqa: F401 (fixtures)
from orders import services as order_services
from orders.models import Order, OrderEvent
from orders.tests.factories import order_in, submitted_order
from refunds import services
from refunds.exceptions import RefundError
from refunds.models import RefundRequest

from .factories import MOBILE, refund_completed, refund_requested, refundable_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("configured_signing_key")]

S = Order.Status
R = RefundRequest.Status
TODAY = timezone.localdate


def state(order):
    """What a refused call must leave as it was."""
    order = Order.objects.get(pk=order.pk)
    return (
        order.status,
        order.refunded_amount,
        list(order.events.values_list("action", flat=True)),
        list(order.refunds.values_list("number", "status")),
        Message.objects.filter(user=order.customer).count(),
    )


def approved_days_ago(order, days):
    Order.objects.filter(pk=order.pk).update(approved_at=timezone.now() - timedelta(days=days))
    order.refresh_from_db()
    return order


@pytest.fixture(autouse=True)
def english():
    """Refusals are read in English here (the shop's default language is Chinese)."""
    with translation.override("en"):
        yield


@pytest.fixture
def order():
    return refundable_order(S.SUCCESS, documents=False)


# --- Eligibility ------------------------------------------------------------------------


class TestEligibility:
    @pytest.mark.parametrize("status", [S.IN_TRADE, S.SUCCESS])
    def test_an_order_in_trade_or_after_success_on_a_refundable_platform_in_its_window_is_offered(self, status):
        order = refundable_order(status, documents=False)
        assert services.refund_problem(order) is None
        assert services.refund_window_end(order) == TODAY() + timedelta(days=7)

    def assert_refused(self, order, message_part, amount="100.00"):
        before = state(order)
        problem = services.refund_problem(Order.objects.get(pk=order.pk))
        assert problem and message_part in problem
        with pytest.raises(RefundError) as refused:
            refund_requested(order, amount)
        assert refused.value.message  # a message for the customer
        assert state(order) == before
        return refused.value.message

    def test_a_platform_that_does_not_accept_refunds_is_refused(self, order):
        platform = order.lines.get().service.platform
        platform.refundable = False
        platform.save()
        message = self.assert_refused(order, "does not accept refunds")
        assert "does not accept refunds" in message

    def test_the_last_day_of_the_window_is_still_open(self, order):
        approved_days_ago(order, 7)
        assert services.refund_window_end(order) == TODAY()
        assert services.refund_problem(order) is None
        refund = refund_requested(order)
        assert refund.status == R.PENDING

    def test_a_closed_window_is_refused_with_its_end_date(self, order):
        approved_days_ago(order, 8)
        end = (TODAY() - timedelta(days=1)).isoformat()
        message = self.assert_refused(order, end)
        assert end in message

    def test_today_is_taken_from_the_caller_when_given(self, order):
        end = services.refund_window_end(order)
        assert services.refund_problem(order, today=end) is None
        assert services.refund_problem(order, today=end + timedelta(days=1))

    def test_a_service_with_no_refund_window_is_refused(self, order):
        service = order.lines.get().service
        service.refund_window_days = 0
        service.save()
        assert services.refund_window_end(order) is None
        self.assert_refused(order, "cannot be refunded")

    def test_the_longest_window_among_refundable_services_counts(self):
        short = ServiceFactory(refund_window_days=3)
        long_unrefundable = ServiceFactory(refund_window_days=30, platform=PlatformFactory(refundable=False))
        order = refundable_order(S.SUCCESS, documents=False, items=[(short, 1), (long_unrefundable, 1)])
        for line in order.lines.select_related("service__platform"):  # refundable_order set both alike
            line.service.refund_window_days = 3 if line.service == short else 30
            line.service.save()
            line.service.platform.refundable = line.service == short
            line.service.platform.save()
        assert services.refund_window_end(order) == TODAY() + timedelta(days=3)

    @pytest.mark.parametrize("refund_status", [R.PENDING, R.APPROVED])
    def test_an_open_refund_is_refused(self, order, finance, refund_status):
        refund = refund_requested(order, "100.00")
        if refund_status == R.APPROVED:
            services.refund_approve(refund=refund, actor=finance)
        message = self.assert_refused(order, "already under way", amount="200.00")
        assert "already under way" in message
        assert order.refunds.get().status == refund_status

    @pytest.mark.parametrize("status", [S.AWAITING_PAYMENT, S.REJECTED, S.FAILED])
    def test_an_order_not_in_trade_nor_successful_is_refused(self, status):
        order = order_in(status)
        self.assert_refused(order, "a refund can be asked only in trade or after a successful trade")

    def test_an_order_already_refunding_is_refused(self, order):
        refund_requested(order, "100.00")
        assert Order.objects.get(pk=order.pk).status == S.REFUNDING
        self.assert_refused(order, "already under way", amount="50.00")

    def test_a_refunded_order_is_refused(self, order):
        refund_completed(order, "2000.00")
        assert Order.objects.get(pk=order.pk).status == S.REFUNDED
        self.assert_refused(order, "a refund can be asked only in trade")

    def test_an_order_with_nothing_paid_has_nothing_to_refund(self):
        order = submitted_order(services_and_quantities=[(ServiceFactory(refund_window_days=7), 1)])
        order = order_services.order_approve(order=order, actor=UserFactory(staff=True), paid_amount=Decimal("0"))
        assert order.lines.get().service.platform.refundable
        message = self.assert_refused(order, "has been refunded", amount="0.01")
        assert "has been refunded" in message

    def test_another_customer_is_refused(self, order):
        before = state(order)
        with pytest.raises(RefundError, match="Only the customer who placed the order"):
            services.refund_request(
                order=order, actor=UserFactory(), amount="100.00", reason="unwanted", contact_mobile=MOBILE
            )
        assert state(order) == before

    @pytest.mark.parametrize(
        "field, value, message",
        [
            ("reason", "bored", "Choose a reason"),
            ("reason", "", "Choose a reason"),
            ("contact_mobile", "12345", "mobile"),
            ("contact_mobile", "", "mobile"),
            ("description", "字" * 501, "at most 500 characters"),
        ],
    )
    def test_a_bad_form_is_refused(self, order, field, value, message):
        before = state(order)
        data = {"amount": "100.00", "reason": "unwanted", "description": "", "contact_mobile": MOBILE, field: value}
        with pytest.raises(RefundError, match=message):
            services.refund_request(order=order, actor=order.customer, **data)
        assert state(order) == before

    def test_a_description_of_500_characters_and_a_spaced_mobile_are_taken(self, order):
        refund = refund_requested(order, description=" " + "字" * 500 + " ")
        assert refund.description == "字" * 500
        assert refund.contact_mobile == "+8613800138000"


# --- The amount ---------------------------------------------------------------------------


class TestAmount:
    """The order paid ¥2000.00; ¥500.00 of it was refunded: ¥1500.00 is left."""

    @pytest.fixture
    def order(self):
        order = refundable_order(S.SUCCESS, documents=False)
        refund_completed(order, "500.00")
        order.refresh_from_db()
        assert (order.status, order.refundable_amount) == (S.SUCCESS, Decimal("1500.00"))
        return order

    @pytest.mark.parametrize(
        "value, message",
        [
            ("0", "more than ¥0.00"),
            ("0.00", "more than ¥0.00"),
            ("-1", "more than ¥0.00"),
            ("-0.01", "more than ¥0.00"),
            ("0.001", "two decimal places"),
            ("0.005", "two decimal places"),  # not rounded up to 0.01
            ("1499.995", "two decimal places"),
            ("1500.005", "at most ¥1500.00"),
            ("-0.001", "more than ¥0.00"),
            ("1500.01", "at most ¥1500.00 (paid ¥2000.00, already refunded ¥500.00)"),
            ("2000.00", "at most ¥1500.00"),
            ("NaN", "as a number"),
            ("sNaN", "as a number"),
            ("Infinity", "as a number"),
            ("-Infinity", "as a number"),
            ("abc", "as a number"),
            ("", "as a number"),
            (None, "as a number"),
            ("1e30", "at most ¥1500.00"),  # beyond the decimal context: no InvalidOperation
            ("9" * 40, "at most ¥1500.00"),
            ("-1e30", "more than ¥0.00"),
        ],
    )
    def test_a_bad_amount_is_refused_with_a_message(self, order, value, message):
        with pytest.raises(RefundError) as refused:
            services.amount_clean(value, order=order)
        assert message in refused.value.message

        before = state(order)
        with pytest.raises(RefundError):
            refund_requested(order, value)
        assert state(order) == before

    @pytest.mark.parametrize(
        "value, expected",
        [
            ("0.01", "0.01"),
            ("0.010", "0.01"),
            ("1e2", "100.00"),  # what Decimal (and Django's DecimalField) read
            ("100", "100.00"),
            (" ¥1,000.5 ", "1000.50"),
            (Decimal("99.9"), "99.90"),
            (100, "100.00"),
            ("1500.00", "1500.00"),  # exactly what is left
            ("1500", "1500.00"),
        ],
    )
    def test_a_good_amount_becomes_cny_with_two_places(self, order, value, expected):
        amount = services.amount_clean(value, order=order)
        assert isinstance(amount, Decimal)
        assert str(amount) == expected  # two places, not 1E+2 nor 0.010
        refund = refund_requested(order, value)
        refund.refresh_from_db()
        assert str(refund.amount) == expected

    def test_exactly_the_remainder_refunds_the_order_in_full(self, order):
        refund_completed(order, "1500.00", reference="REF-2")
        order.refresh_from_db()
        assert (order.status, order.refunded_amount, order.refundable_amount) == (
            S.REFUNDED,
            Decimal("2000.00"),
            Decimal("0.00"),
        )

    def test_the_smallest_refund_is_one_fen(self, order):
        refund_completed(order, "0.01", reference="REF-2")
        order.refresh_from_db()
        assert (order.status, order.refunded_amount) == (S.SUCCESS, Decimal("500.01"))


# --- The steps ---------------------------------------------------------------------------


def events(order, *actions):
    return list(
        OrderEvent.objects.filter(order=order, action__in=actions).values_list(
            "action", "from_status", "to_status", "actor_kind"
        )
    )


def last_message(order):
    return Message.objects.filter(user=order.customer).latest("id")


class TestRequest:
    @pytest.mark.parametrize("status", [S.IN_TRADE, S.SUCCESS])
    def test_a_request_moves_the_order_to_refunding_and_waits_for_finance(
        self, status, django_capture_on_commit_callbacks
    ):
        order = refundable_order(status, documents=False)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            refund = services.refund_request(
                order=order,
                actor=order.customer,
                amount="300",
                reason=RefundRequest.Reason.DUPLICATE,
                description=" 买重了 ",
                contact_mobile=MOBILE,
            )
        refund.refresh_from_db()
        order.refresh_from_db()
        assert order.status == S.REFUNDING and order.refunded_amount == Decimal("0.00")
        assert (refund.status, refund.amount, refund.reason, refund.description, refund.order_status_before) == (
            R.PENDING,
            Decimal("300.00"),
            "duplicate",
            "买重了",
            status,
        )
        assert refund.number.startswith("TK") and refund.number.endswith("-1")
        assert events(order, "request_refund") == [("request_refund", status, S.REFUNDING, "customer")]
        assert refund.number in OrderEvent.objects.get(order=order, action="request_refund").note
        message = last_message(order)
        assert refund.number in message.title and "300.00" in message.body
        assert [m.to for m in mail.outbox] == [[order.customer.email]]
        assert refund.number in mail.outbox[0].subject

    def test_the_same_request_sent_twice_makes_one_refund_and_one_event(self, order):
        first = refund_requested(order, "300")
        second = refund_requested(order, "300.00")
        assert first.pk == second.pk
        assert order.refunds.count() == 1
        assert len(events(order, "request_refund")) == 1

    def test_a_second_request_with_another_amount_is_refused(self, order):
        refund_requested(order, "300.00")
        before = state(order)
        with pytest.raises(RefundError, match="already under way"):
            refund_requested(order, "301.00")
        assert state(order) == before

    def test_refund_numbers_count_the_order_s_refunds(self, order):
        first = refund_completed(order, "100.00")
        second = refund_requested(order, "100.00")
        assert first.number.endswith("-1") and second.number.endswith("-2")
        assert first.number[:-2] == second.number[:-2]


class TestWithdraw:
    @pytest.mark.parametrize("status", [S.IN_TRADE, S.SUCCESS])
    def test_withdrawing_returns_the_order_to_where_it_was(self, status, django_capture_on_commit_callbacks):
        order = refundable_order(status, documents=False)
        refund = refund_requested(order, "300.00")
        messages = Message.objects.filter(user=order.customer).count()
        mail.outbox.clear()

        with django_capture_on_commit_callbacks(execute=True):
            withdrawn = services.refund_withdraw(refund=refund, actor=order.customer)

        order.refresh_from_db()
        assert order.status == status and order.refunded_amount == Decimal("0.00")
        assert withdrawn.status == R.WITHDRAWN and withdrawn.withdrawn_at is not None
        assert RefundRequest.objects.get(pk=refund.pk).status == R.WITHDRAWN
        assert events(order, "withdraw_refund") == [("withdraw_refund", S.REFUNDING, status, "customer")]
        assert Message.objects.filter(user=order.customer).count() == messages + 1
        assert refund.number in last_message(order).title
        assert [m.to for m in mail.outbox] == [[order.customer.email]]  # a record of it, as for every step
        assert refund.number in mail.outbox[0].subject
        assert services.refund_problem(order) is None  # a new refund may be asked

    def test_withdrawing_twice_is_a_no_op(self, order):
        refund = refund_requested(order)
        services.refund_withdraw(refund=refund, actor=order.customer)
        before = state(order)
        again = services.refund_withdraw(refund=refund, actor=order.customer)
        assert again.status == R.WITHDRAWN
        assert state(order) == before

    def test_another_customer_cannot_withdraw(self, order):
        refund = refund_requested(order)
        before = state(order)
        with pytest.raises(RefundError, match="Only the customer"):
            services.refund_withdraw(refund=refund, actor=UserFactory())
        assert state(order) == before

    @pytest.mark.parametrize("step", ["approved", "rejected", "completed"])
    def test_a_refund_finance_decided_cannot_be_withdrawn(self, order, finance, step):
        refund = refund_requested(order)
        if step == "rejected":
            services.refund_reject(refund=refund, actor=finance, reason="已开通")
        else:
            services.refund_approve(refund=refund, actor=finance)
        if step == "completed":
            services.refund_complete(refund=refund, actor=finance, reference="R", refunded_on=TODAY())
        before = state(order)
        with pytest.raises(RefundError, match="can no longer be withdrawn"):
            services.refund_withdraw(refund=refund, actor=order.customer)
        assert state(order) == before


class TestReject:
    @pytest.mark.parametrize("status", [S.IN_TRADE, S.SUCCESS])
    def test_rejecting_returns_the_order_and_tells_the_customer_why(
        self, status, finance, django_capture_on_commit_callbacks
    ):
        order = refundable_order(status, documents=False)
        refund = refund_requested(order, "300.00")
        mail.outbox.clear()

        with django_capture_on_commit_callbacks(execute=True):
            services.refund_reject(refund=refund, actor=finance, reason=" 服务已开通使用 ")

        order.refresh_from_db()
        refund.refresh_from_db()
        assert order.status == status and order.refunded_amount == Decimal("0.00")
        assert (refund.status, refund.rejection_reason, refund.decided_by) == (R.REJECTED, "服务已开通使用", finance)
        assert refund.decided_at is not None
        assert events(order, "reject_refund") == [("reject_refund", S.REFUNDING, status, "staff")]
        assert "服务已开通使用" in OrderEvent.objects.get(order=order, action="reject_refund").note
        assert "服务已开通使用" in last_message(order).body
        assert [m.to for m in mail.outbox] == [[order.customer.email]]
        assert "服务已开通使用" in mail.outbox[0].body

    @pytest.mark.parametrize("reason", ["", "   ", None])
    def test_a_rejection_needs_a_reason(self, order, finance, reason):
        refund = refund_requested(order)
        before = state(order)
        with pytest.raises(RefundError, match="reason"):
            services.refund_reject(refund=refund, actor=finance, reason=reason)
        assert state(order) == before

    def test_rejecting_twice_is_a_no_op(self, order, finance):
        refund = refund_requested(order)
        services.refund_reject(refund=refund, actor=finance, reason="不符合条件")
        before = state(order)
        again = services.refund_reject(refund=refund, actor=finance, reason="不符合条件")
        assert again.status == R.REJECTED
        assert state(order) == before

    @pytest.mark.parametrize("step", ["approved", "withdrawn"])
    def test_an_approved_or_withdrawn_refund_cannot_be_rejected(self, order, finance, step):
        refund = refund_requested(order)
        if step == "approved":
            services.refund_approve(refund=refund, actor=finance)
        else:
            services.refund_withdraw(refund=refund, actor=order.customer)
        before = state(order)
        with pytest.raises(RefundError, match="is not possible now"):
            services.refund_reject(refund=refund, actor=finance, reason="太晚了")
        assert state(order) == before


class TestApprove:
    def test_approving_keeps_the_order_refunding_and_tells_the_customer(
        self, order, finance, django_capture_on_commit_callbacks
    ):
        refund = refund_requested(order, "300.00")
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            approved = services.refund_approve(refund=refund, actor=finance)
        order.refresh_from_db()
        assert order.status == S.REFUNDING and order.refunded_amount == Decimal("0.00")
        assert (approved.status, approved.decided_by) == (R.APPROVED, finance)
        assert events(order, "approve_refund") == [("approve_refund", S.REFUNDING, S.REFUNDING, "staff")]
        assert "300.00" in last_message(order).body
        assert [m.to for m in mail.outbox] == [[order.customer.email]]

    def test_approving_twice_is_a_no_op(self, order, finance):
        refund = refund_requested(order)
        services.refund_approve(refund=refund, actor=finance)
        before = state(order)
        services.refund_approve(refund=refund, actor=finance)
        assert state(order) == before

    @pytest.mark.parametrize("step", ["rejected", "withdrawn", "completed"])
    def test_a_closed_refund_cannot_be_approved(self, order, finance, step):
        refund = refund_requested(order)
        if step == "rejected":
            services.refund_reject(refund=refund, actor=finance, reason="不符合条件")
        elif step == "withdrawn":
            services.refund_withdraw(refund=refund, actor=order.customer)
        else:
            services.refund_approve(refund=refund, actor=finance)
            services.refund_complete(refund=refund, actor=finance, reference="R", refunded_on=TODAY())
        before = state(order)
        with pytest.raises(RefundError):
            services.refund_approve(refund=refund, actor=finance)
        assert state(order) == before


class TestComplete:
    @pytest.mark.parametrize("status", [S.IN_TRADE, S.SUCCESS])
    def test_a_partial_refund_returns_the_order_to_where_it_was(
        self, status, finance, django_capture_on_commit_callbacks
    ):
        order = refundable_order(status, documents=False)
        refund = refund_requested(order, "300.00")
        services.refund_approve(refund=refund, actor=finance)
        mail.outbox.clear()

        with django_capture_on_commit_callbacks(execute=True):
            done = services.refund_complete(
                refund=refund, actor=finance, reference=" 2026112600001 ", refunded_on=TODAY()
            )

        order.refresh_from_db()
        assert (order.status, order.refunded_amount, order.refundable_amount) == (
            status,
            Decimal("300.00"),
            Decimal("1700.00"),
        )
        assert (done.status, done.reference, done.refunded_on, done.completed_by) == (
            R.COMPLETED,
            "2026112600001",
            TODAY(),
            finance,
        )
        assert events(order, "complete_refund") == [("complete_refund", S.REFUNDING, status, "staff")]
        message = last_message(order)
        assert "300.00" in message.body and "2026112600001" in message.body
        assert [m.to for m in mail.outbox] == [[order.customer.email]]
        assert services.refund_problem(order) is None  # the rest may be refunded later

    def test_a_full_refund_ends_the_order_as_refunded(self, order, finance):
        refund_completed(order, "2000.00", finance=finance)
        order.refresh_from_db()
        assert (order.status, order.refunded_amount) == (S.REFUNDED, Decimal("2000.00"))
        assert events(order, "complete_refund") == [("complete_refund", S.REFUNDING, S.REFUNDED, "staff")]

    def test_partial_refunds_that_add_up_to_the_paid_amount_end_the_order_as_refunded(self, order, finance):
        for amount, status in [("1000.00", S.SUCCESS), ("999.99", S.SUCCESS), ("0.01", S.REFUNDED)]:
            refund_completed(order, amount, finance=finance)
            order.refresh_from_db()
            assert order.status == status
        assert order.refunded_amount == order.paid_amount

    def test_the_timeline_tells_the_whole_story_with_who_did_what(self, order, finance):
        first = refund_requested(order, "100.00")
        services.refund_withdraw(refund=first, actor=order.customer)
        second = refund_requested(order, "200.00")
        services.refund_reject(refund=second, actor=finance, reason="需补充材料")
        refund_completed(order, "300.00", finance=finance)
        refund_actions = ["request_refund", "withdraw_refund", "approve_refund", "reject_refund", "complete_refund"]
        assert events(order, *refund_actions) == [
            ("request_refund", S.SUCCESS, S.REFUNDING, "customer"),
            ("withdraw_refund", S.REFUNDING, S.SUCCESS, "customer"),
            ("request_refund", S.SUCCESS, S.REFUNDING, "customer"),
            ("reject_refund", S.REFUNDING, S.SUCCESS, "staff"),
            ("request_refund", S.SUCCESS, S.REFUNDING, "customer"),
            ("approve_refund", S.REFUNDING, S.REFUNDING, "staff"),
            ("complete_refund", S.REFUNDING, S.SUCCESS, "staff"),
        ]
        statuses = dict(order.refunds.values_list("amount", "status"))
        assert statuses == {
            Decimal("100.00"): R.WITHDRAWN,
            Decimal("200.00"): R.REJECTED,
            Decimal("300.00"): R.COMPLETED,
        }

    def test_completing_twice_refunds_once(self, order, finance):
        refund = refund_completed(order, "300.00", finance=finance)
        before = state(order)
        services.refund_complete(refund=refund, actor=finance, reference="REF-AGAIN", refunded_on=TODAY())
        assert state(order) == before
        assert RefundRequest.objects.get(pk=refund.pk).reference == "REF-1"

    @pytest.mark.parametrize("step", ["pending", "rejected", "withdrawn"])
    def test_a_refund_not_approved_cannot_be_completed(self, order, finance, step):
        refund = refund_requested(order)
        if step == "rejected":
            services.refund_reject(refund=refund, actor=finance, reason="不符合条件")
        elif step == "withdrawn":
            services.refund_withdraw(refund=refund, actor=order.customer)
        before = state(order)
        with pytest.raises(RefundError, match="is not possible now"):
            services.refund_complete(refund=refund, actor=finance, reference="R", refunded_on=TODAY())
        assert state(order) == before

    @pytest.mark.parametrize(
        "reference, days, message",
        [
            ("", 0, "Enter the refund reference"),
            ("   ", 0, "Enter the refund reference"),
            ("X" * 65, 0, "at most 64"),
            ("R-1", 1, "cannot be in the future"),
            ("R-1", -1, "cannot be before the request"),
        ],
    )
    def test_a_bad_reference_or_date_is_refused(self, order, finance, reference, days, message):
        refund = refund_requested(order)
        services.refund_approve(refund=refund, actor=finance)
        before = state(order)
        with pytest.raises(RefundError, match=message):
            services.refund_complete(
                refund=refund, actor=finance, reference=reference, refunded_on=TODAY() + timedelta(days=days)
            )
        assert state(order) == before
        assert RefundRequest.objects.get(pk=refund.pk).status == R.APPROVED

    def test_a_reference_of_64_characters_is_taken(self, order, finance):
        refund = refund_completed(order, reference="X" * 64, finance=finance)
        assert refund.reference == "X" * 64
