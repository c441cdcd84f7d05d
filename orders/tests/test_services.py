import re
import uuid
from datetime import date, datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Message
from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from orders import services
from orders.exceptions import OrderError, TransitionRefused
from orders.models import DailySerial, Order, OrderEvent, OrderLine

from .factories import (
    DETAILS,
    AgreementFactory,
    agreement,
    first_of_next_month,
    month_end_before,
    order_in,
    submitted_order,
)

pytestmark = pytest.mark.django_db
S = Order.Status


def force_status(order, status):
    """Test set-up only: put an order in a state the services cannot reach yet."""
    Order.objects.filter(pk=order.pk).update(status=status)
    return Order.objects.get(pk=order.pk)


class TestNumbers:
    def test_main_number_is_prefix_local_time_and_four_digits(self):
        moment = datetime(2021, 5, 12, 4, 0, 46, tzinfo=dt_timezone.utc)
        number = services.order_number_generate(now=moment)
        assert re.fullmatch(r"BS-ZX20210512120046\d{4}", number)  # 04:00 UTC is 12:00 in Shanghai

    def test_line_serials_are_consecutive_per_day_and_restart_each_day(self):
        assert services.order_line_serials_take(count=2, day=date(2021, 5, 12)) == ["210512000001", "210512000002"]
        assert services.order_line_serials_take(count=1, day=date(2021, 5, 12)) == ["210512000003"]
        assert services.order_line_serials_take(count=1, day=date(2021, 5, 13)) == ["210513000001"]

    def test_order_gets_numbers_of_todays_shanghai_date(self):
        order = submitted_order()
        today = timezone.localdate()
        assert order.number.startswith(f"BS-ZX{today:%Y%m%d}")
        assert order.lines.get().serial == f"{today:%y%m%d}000001"

    def test_a_clashing_main_number_is_retried(self, monkeypatch):
        first = submitted_order()
        numbers = iter([first.number, first.number, "BS-ZX202611261200000001"])
        monkeypatch.setattr(services, "order_number_generate", lambda now=None: next(numbers))
        assert submitted_order().number == "BS-ZX202611261200000001"


class TestSubmit:
    def test_prices_come_from_the_catalog(self):
        cheap, dear = ServiceFactory(standard_price=Decimal("800.00")), ServiceFactory(standard_price=Decimal("2000.00"))
        order = submitted_order(services_and_quantities=[(cheap, 2), (dear, 1)])
        assert (order.subtotal, order.discount, order.total) == (Decimal("3600.00"), Decimal("0.00"), Decimal("3600.00"))
        assert [(line.service_name, line.unit_price, line.quantity, line.subtotal) for line in order.lines.all()] == [
            (cheap.name, Decimal("800.00"), 2, Decimal("1600.00")),
            (dear.name, Decimal("2000.00"), 1, Decimal("2000.00")),
        ]
        assert order.status == S.AWAITING_PAYMENT
        assert order.paid_amount == Decimal("0.00")

    def test_invoice_is_a_snapshot(self):
        customer = UserFactory()
        profile = InvoiceProfileFactory(user=customer, title="甲公司")
        order = submitted_order(customer=customer, invoice_profile=profile)
        profile.title = "乙公司"
        profile.save()
        order.refresh_from_db()
        assert order.invoice_title == "甲公司"

    def test_records_agreement_version_time_and_ip(self):
        order = submitted_order()
        assert order.agreement_version == order.agreement.version
        assert order.agreement_accepted_at is not None
        assert order.agreement_accepted_ip == "127.0.0.1"

    def test_writes_a_submit_event_and_a_message(self):
        order = submitted_order()
        event = order.events.get()
        assert (event.action, event.from_status, event.to_status, event.actor_kind) == ("submit", "", S.AWAITING_PAYMENT, "customer")
        assert Message.objects.filter(user=order.customer, link=order.get_absolute_url()).count() == 1

    def test_same_checkout_token_makes_one_order(self):
        customer = UserFactory()
        profile = InvoiceProfileFactory(user=customer)
        service = ServiceFactory()
        kwargs = {
            "customer": customer,
            "items": [services.CheckoutItem(service.pk, 1)],
            "invoice_profile": profile,
            "details": DETAILS,
            "payment_method": "third_party",
            "agreement": agreement(),
            "accepted_ip": None,
            "checkout_token": uuid.uuid4(),
        }
        assert services.order_submit(**kwargs) == services.order_submit(**kwargs)
        assert Order.objects.count() == 1
        assert OrderLine.objects.count() == 1

    @pytest.mark.parametrize("change", ["new agreement", "service off sale", "list emptied"])
    def test_a_repeated_checkout_returns_its_order_whatever_changed_since(self, change):
        customer = UserFactory()
        service = ServiceFactory()
        kwargs = {
            "customer": customer,
            "items": [services.CheckoutItem(service.pk, 1)],
            "invoice_profile": InvoiceProfileFactory(user=customer),
            "details": DETAILS,
            "payment_method": "third_party",
            "agreement": agreement(),
            "accepted_ip": None,
            "checkout_token": uuid.uuid4(),
        }
        first = services.order_submit(**kwargs)
        if change == "new agreement":
            AgreementFactory(published_at=timezone.now())
        elif change == "service off sale":
            service.active = False
            service.save()
        else:
            kwargs["items"] = []
        assert services.order_submit(**kwargs) == first
        assert (Order.objects.count(), OrderLine.objects.count()) == (1, 1)
        with pytest.raises(OrderError):  # the same change refuses a new checkout
            services.order_submit(**{**kwargs, "checkout_token": uuid.uuid4()})

    @pytest.mark.parametrize("quantity", [0, 100, -1])
    def test_quantity_out_of_range_is_refused_and_nothing_is_written(self, quantity):
        service = ServiceFactory()
        with pytest.raises(OrderError):
            submitted_order(services_and_quantities=[(service, quantity)])
        assert (Order.objects.count(), OrderLine.objects.count(), DailySerial.objects.count()) == (0, 0, 0)

    @pytest.mark.parametrize(
        "bad", [{"store_name": " "}, {"reminder_mobile": "12345"}, {"reminder_email": "not-an-email"}, {"remarks": "长" * 501}]
    )
    def test_supplementary_info_is_checked_by_the_service_too(self, bad):
        with pytest.raises(OrderError):
            submitted_order(**bad)
        assert (Order.objects.count(), DailySerial.objects.count()) == (0, 0)

    def test_supplementary_info_is_stored_normalised(self):
        order = submitted_order(reminder_mobile="138 0013 8000", store_name="  云测旗舰店 ")
        assert (order.reminder_mobile, order.store_name) == ("+8613800138000", "云测旗舰店")

    def test_no_invoice_profile_is_refused(self):
        with pytest.raises(OrderError):
            services.order_submit(
                customer=UserFactory(),
                items=[services.CheckoutItem(ServiceFactory().pk, 1)],
                invoice_profile=None,
                details=DETAILS,
                payment_method="third_party",
                agreement=agreement(),
                accepted_ip=None,
                checkout_token=uuid.uuid4(),
            )

    def test_inactive_service_is_refused(self):
        with pytest.raises(OrderError):
            submitted_order(services_and_quantities=[(ServiceFactory(active=False), 1)])
        assert not Order.objects.exists()

    def test_another_customers_invoice_profile_is_refused(self):
        with pytest.raises(OrderError):
            submitted_order(customer=UserFactory(), invoice_profile=InvoiceProfileFactory())
        assert not Order.objects.exists()

    def test_a_superseded_agreement_is_refused(self):
        old = agreement()
        AgreementFactory()  # published later: the current one now
        customer = UserFactory()
        with pytest.raises(OrderError):
            services.order_submit(
                customer=customer,
                items=[services.CheckoutItem(ServiceFactory().pk, 1)],
                invoice_profile=InvoiceProfileFactory(user=customer),
                details=DETAILS,
                payment_method="third_party",
                agreement=old,
                accepted_ip=None,
                checkout_token=uuid.uuid4(),
            )
        assert not Order.objects.exists()


ACTIONS = {
    "resubmit": lambda order, staff: services.order_edit(order=order, actor=order.customer, details={"remarks": "已修改"}),
    "approve": lambda order, staff: services.order_approve(order=order, actor=staff),
    "reject": lambda order, staff: services.order_reject(order=order, actor=staff, reason="信息有误"),
    "cancel": lambda order, staff: services.order_cancel(order=order, actor=order.customer),
    "close": lambda order, staff: services.order_close(order=order, actor=staff, reason="客户要求"),
    "expire": lambda order, staff: services.order_expire(order=order),
    "confirm_receipt": lambda order, staff: services.order_confirm_receipt(order=order, actor=order.customer),
}
# DESIGN.md → Order states: action → {from: to}.
ALLOWED = {
    "resubmit": {S.REJECTED: S.AWAITING_PAYMENT},
    "approve": {S.AWAITING_PAYMENT: S.IN_TRADE},
    "reject": {S.AWAITING_PAYMENT: S.REJECTED},
    "cancel": {S.AWAITING_PAYMENT: S.FAILED, S.REJECTED: S.FAILED},
    "close": {S.AWAITING_PAYMENT: S.FAILED, S.REJECTED: S.FAILED, S.IN_TRADE: S.FAILED},
    "expire": {S.AWAITING_PAYMENT: S.FAILED, S.REJECTED: S.FAILED},
    "confirm_receipt": {S.IN_TRADE: S.SUCCESS},
}
# Resubmitting is done by editing; editing an order under review is the allowed "edit"
# (TestStateChanges), so that one pair is no refused move.
TABLE = [(a, s) for a in ACTIONS for s in S.values if (a, s) != ("resubmit", S.AWAITING_PAYMENT)]


class TestTransitionTable:
    @pytest.mark.parametrize("action, status", [(a, s) for a, s in TABLE if s in ALLOWED[a]])
    def test_allowed_move_changes_status_and_writes_one_event(self, action, status):
        order = force_status(submitted_order(), status)
        events_before = order.events.count()
        ACTIONS[action](order, UserFactory(staff=True))
        order.refresh_from_db()
        assert order.status == ALLOWED[action][status]
        new = list(order.events.order_by("id")[events_before:])
        moves = [e for e in new if e.action == action]
        assert len(moves) == 1
        assert (moves[0].from_status, moves[0].to_status) == (status, order.status)

    @pytest.mark.parametrize("action, status", [(a, s) for a, s in TABLE if s not in ALLOWED[a]])
    def test_refused_move_raises_and_changes_nothing(self, action, status):
        order = force_status(submitted_order(), status)
        snapshot = (order.status, order.updated_at, order.events.count(), Message.objects.count())
        with pytest.raises(TransitionRefused):
            ACTIONS[action](order, UserFactory(staff=True))
        order.refresh_from_db()
        assert (order.status, order.updated_at, order.events.count(), Message.objects.count()) == snapshot


class TestStateChanges:
    def test_approve_sets_paid_amount_and_service_periods(self):
        one_off = ServiceFactory(period_months=None)
        yearly = ServiceFactory(period_months=12)
        order = submitted_order(services_and_quantities=[(yearly, 1), (one_off, 1)])
        start = first_of_next_month()
        services.order_approve(order=order, actor=UserFactory(staff=True), service_start=start)
        order.refresh_from_db()
        assert order.paid_amount == order.total
        assert [(line.service_start, line.service_end) for line in order.lines.all()] == [
            (start, month_end_before(start, 12)),
            (start, None),
        ]
        assert order.events.last().actor_kind == "staff"

    def test_approve_refuses_a_paid_amount_above_the_total(self):
        order = submitted_order()
        with pytest.raises(OrderError):
            services.order_approve(order=order, actor=UserFactory(staff=True), paid_amount=order.total + 1)
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT and order.events.count() == 1

    def test_reject_needs_a_reason(self):
        order = submitted_order()
        with pytest.raises(OrderError):
            services.order_reject(order=order, actor=UserFactory(staff=True), reason="  ")
        assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT

    def test_reject_records_the_reason_and_tells_the_customer(self):
        order = order_in(S.REJECTED)
        assert order.rejection_reason == "店铺名称与平台不一致"
        assert Message.objects.filter(user=order.customer, body="店铺名称与平台不一致").exists()

    def test_edit_while_awaiting_review_keeps_the_state(self):
        order = submitted_order()
        services.order_edit(order=order, actor=order.customer, details={"store_name": "新店名"})
        order.refresh_from_db()
        assert (order.status, order.store_name) == (S.AWAITING_PAYMENT, "新店名")
        assert order.events.last().action == "edit"

    def test_edit_with_a_bad_mobile_is_refused_and_changes_nothing(self):
        order = submitted_order()
        with pytest.raises(OrderError):
            services.order_edit(order=order, actor=order.customer, details={"reminder_mobile": "021-6400000"})
        order.refresh_from_db()
        assert order.reminder_mobile == DETAILS["reminder_mobile"] and order.events.count() == 1

    def test_edit_that_changes_nothing_writes_no_event(self):
        order = submitted_order()
        services.order_edit(order=order, actor=order.customer, details={"store_name": order.store_name})
        assert list(order.events.values_list("action", flat=True)) == ["submit"]

    def test_edit_event_names_the_changed_fields(self):
        order = submitted_order()
        services.order_edit(order=order, actor=order.customer, details={"store_name": "新店名", "remarks": "请尽快"})
        assert order.events.last().note == "store_name,remarks"

    def test_edit_of_a_rejected_order_resubmits_it(self):
        order = order_in(S.REJECTED)
        new_profile = InvoiceProfileFactory(user=order.customer, title="丙公司")
        services.order_edit(order=order, actor=order.customer, details={"store_name": "改正后的店名"}, invoice_profile=new_profile)
        order.refresh_from_db()
        assert (order.status, order.store_name, order.invoice_title) == (S.AWAITING_PAYMENT, "改正后的店名", "丙公司")
        assert [e.action for e in order.events.all()][-2:] == ["edit", "resubmit"]

    def test_double_cancel_makes_one_move(self):
        order = submitted_order()
        services.order_cancel(order=order, actor=order.customer)
        services.order_cancel(order=order, actor=order.customer)
        assert order.events.filter(action="cancel").count() == 1

    def test_expire_is_done_by_the_system(self):
        order = services.order_expire(order=submitted_order())
        assert order.events.last().actor_kind == "system" and order.events.last().actor is None


class TestConfirmReceipt:
    def test_moves_to_success_and_calls_the_documents_hook_inside_the_transaction(self, settings):
        settings.ORDER_DOCUMENTS_HOOK = "orders.tests.test_services.record_documents_request"
        RECORDED.clear()
        order = order_in(S.IN_TRADE)
        services.order_confirm_receipt(order=order, actor=order.customer)
        assert RECORDED == [(order.pk, S.SUCCESS)]  # called once, with the order already moved

    def test_a_second_confirmation_changes_nothing_and_calls_no_hook(self, settings, django_capture_on_commit_callbacks):
        settings.ORDER_DOCUMENTS_HOOK = "orders.tests.test_services.record_documents_request"
        order = order_in(S.IN_TRADE)
        services.order_confirm_receipt(order=order, actor=order.customer)
        RECORDED.clear()
        with django_capture_on_commit_callbacks(execute=True):
            again = services.order_confirm_receipt(order=order, actor=order.customer)
        assert again.status == S.SUCCESS
        assert RECORDED == []
        assert order.events.filter(action="confirm_receipt").count() == 1

    def test_system_confirmation_has_no_actor(self):
        order = services.order_confirm_receipt(order=order_in(S.IN_TRADE))
        assert order.events.filter(action="confirm_receipt", actor_kind=OrderEvent.ActorKind.SYSTEM).count() == 1


RECORDED: list[tuple] = []


def record_documents_request(*, order):
    RECORDED.append((order.pk, order.status))


class TestNotifications:
    def emails_after(self, django_capture_on_commit_callbacks, action):
        from django.core import mail

        with django_capture_on_commit_callbacks(execute=True):
            result = action()
        return result, mail.outbox

    @pytest.mark.parametrize(
        "move, expected",
        [
            (lambda o, s: services.order_approve(order=o, actor=s), "approved"),
            (lambda o, s: services.order_reject(order=o, actor=s, reason="卖家NICK有误"), "卖家NICK有误"),
            (lambda o, s: services.order_close(order=o, actor=s, reason="客户要求关闭"), "客户要求关闭"),
        ],
    )
    def test_review_outcomes_send_a_message_and_a_bilingual_email_after_commit(
        self, django_capture_on_commit_callbacks, move, expected
    ):
        order = submitted_order()
        staff = UserFactory(staff=True)
        _result, outbox = self.emails_after(django_capture_on_commit_callbacks, lambda: move(order, staff))
        assert len(outbox) == 1
        email = outbox[0]
        assert email.to == [order.customer.email]
        assert order.number in email.subject and " / " in email.subject  # Chinese / English
        assert expected in email.body or expected in email.subject
        assert "--------" in email.body  # both languages
        assert email.alternatives and order.get_absolute_url() in email.alternatives[0][0]
        assert Message.objects.filter(user=order.customer).count() == 2  # submit + this

    def test_no_email_without_an_address_but_still_a_message(self, django_capture_on_commit_callbacks):
        order = submitted_order(customer=UserFactory(email=""))
        _result, outbox = self.emails_after(
            django_capture_on_commit_callbacks, lambda: services.order_approve(order=order, actor=UserFactory(staff=True))
        )
        assert outbox == []
        assert Message.objects.filter(user=order.customer).count() == 2

    def test_a_repeated_approval_sends_nothing_more(self, django_capture_on_commit_callbacks):
        order = submitted_order()
        staff = UserFactory(staff=True)
        services.order_approve(order=order, actor=staff)
        _result, outbox = self.emails_after(
            django_capture_on_commit_callbacks, lambda: services.order_approve(order=order, actor=staff)
        )
        assert outbox == []


class TestApproveStart:
    @pytest.mark.parametrize("days", [-1, 367])
    def test_a_start_before_the_order_or_over_a_year_ahead_is_refused(self, days):
        from datetime import timedelta

        order = submitted_order()
        start = timezone.localdate() + timedelta(days=days)
        with pytest.raises(OrderError):
            services.order_approve(order=order, actor=UserFactory(staff=True), service_start=start)
        assert Order.objects.get(pk=order.pk).status == S.AWAITING_PAYMENT

    def test_messages_are_stored_in_the_shops_language_whatever_the_actors(self):
        from django.utils import translation

        order = submitted_order()
        with translation.override("en"):
            services.order_approve(order=order, actor=UserFactory(staff=True))
        assert Message.objects.filter(user=order.customer).latest("id").title == f"订单 {order.number} 审核通过"
