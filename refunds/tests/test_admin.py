"""Finance's refund queue in the admin (issue 6): the read-only refund with its 同意, 拒绝
and 完成退款 pages, what completing does to the order and its invoice (voided and
re-issued before issue, a red-letter invoice after, reversed once that is issued), the
queue on the admin index and the export of red-letter invoices, driven through their
URLs as staff of each role.

The admin is still being translated: assertions check status codes, data attributes,
database state and the services' effects, never the project's Chinese text.
"""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Message
from accounts.roles import GROUP_CATALOG, GROUP_FINANCE, GROUP_REVIEWERS
from accounts.tests.factories import UserFactory
from invoicing import export
from invoicing import services as invoicing_services
from invoicing.models import Invoice
from invoicing.tests.conftest import invoice_number
from orders.models import Order, OrderEvent
from refunds import services
from refunds.models import RefundRequest

from .factories import refund_requested, refundable_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

S = RefundRequest.Status
CHANGELIST = reverse("admin:refunds_refundrequest_changelist")
INDEX = reverse("admin:index")
MOVES = ("approve", "reject", "complete")


def issue_today(invoice, finance, sequence: int) -> None:
    """Finance issues `invoice` today as 数电发票 number `sequence` (invoice_number's)."""
    today = timezone.localdate()
    invoicing_services.invoice_issue(invoice=invoice, actor=finance, number=invoice_number(today, sequence), issued_on=today)


def url(name, refund):
    return reverse(f"admin:refunds_refundrequest_{name}", args=[refund.pk])


def message_list(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in messages.get_messages(response.wsgi_request)]


def events(order, action) -> list:
    return list(OrderEvent.objects.filter(order=order, action=action).values_list("actor_id", flat=True))


def complete_form(**data):
    return {"reference": "TX-20260101-0001", "refunded_on": timezone.localdate().isoformat(), **data}


@pytest.fixture
def order():
    return refundable_order()


@pytest.fixture
def refund(order):
    return refund_requested(order)


@pytest.fixture
def approved(refund, finance):
    return services.refund_approve(refund=refund, actor=finance)


class TestPagesRender:
    def test_changelist_change_and_move_pages_for_finance(self, finance_client, refund):
        order = refund.order
        response = finance_client.get(CHANGELIST)
        assert response.status_code == 200
        assert refund.number in response.text and order.number in response.text
        assert 'data-status="pending"' in response.text
        assert f'data-paid="{order.paid_amount}" data-refunded="0.00"' in response.text

        response = finance_client.get(url("change", refund))
        assert response.status_code == 200
        assert [move for _url, _label, move in response.context["refund_buttons"]] == ["approve", "reject"]
        assert "13800138000" in response.text  # the contact mobile
        assert 'name="reference"' not in response.text  # read-only: no inputs
        assert reverse("admin:orders_order_change", args=[order.pk]) in response.text

        assert finance_client.get(url("approve", refund)).status_code == 200
        response = finance_client.get(url("reject", refund))
        assert response.status_code == 200
        assert 'name="reason"' in response.text

    def test_the_complete_page_once_approved(self, finance_client, approved):
        response = finance_client.get(url("change", approved))
        assert [move for *_rest, move in response.context["refund_buttons"]] == ["complete"]
        response = finance_client.get(url("complete", approved))
        assert response.status_code == 200
        form = response.context["form"]
        assert form.initial["refunded_on"] == timezone.localdate()
        assert set(form.fields) == {"reference", "refunded_on"}  # no red-letter reason: the invoice is not issued

    def test_superuser_change_page_offers_no_save_and_no_delete(self, client, refund):
        client.force_login(UserFactory(superuser=True))
        response = client.get(url("change", refund))
        assert response.status_code == 200
        assert not response.context["has_change_permission"]
        assert not response.context["has_delete_permission"]
        assert 'name="_save"' not in response.text


class TestApprove:
    def test_approving_tells_the_customer_and_records_the_event(
        self, finance_client, finance, refund, mailoutbox, django_capture_on_commit_callbacks
    ):
        customer = refund.order.customer
        messages_before = Message.objects.filter(user=customer).count()
        with django_capture_on_commit_callbacks(execute=True):
            response = finance_client.post(url("approve", refund))
        assert response.status_code == 302
        assert response.url == url("change", refund)
        assert [level for level, _text in message_list(response)] == [messages.SUCCESS]
        refund.refresh_from_db()
        assert (refund.status, refund.decided_by) == (S.APPROVED, finance)
        assert events(refund.order, "approve_refund") == [finance.pk]
        assert Message.objects.filter(user=customer).count() == messages_before + 1
        assert [mail.to for mail in mailoutbox] == [[customer.email]]
        assert refund.number in mailoutbox[0].subject
        refund.order.refresh_from_db()
        assert refund.order.status == Order.Status.REFUNDING  # the money has not gone back yet

    def test_approving_twice_approves_once(self, finance_client, refund, mailoutbox, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            first = finance_client.post(url("approve", refund))
            second = finance_client.post(url("approve", refund))
        assert first.status_code == second.status_code == 302
        assert message_list(second)[-1][0] == messages.INFO
        assert len(events(refund.order, "approve_refund")) == 1
        assert len(mailoutbox) == 1

    @pytest.mark.parametrize("method", ["get", "post"])
    def test_a_rejected_refund_cannot_be_approved(self, finance_client, finance, refund, method):
        services.refund_reject(refund=refund, actor=finance, reason="服务已开通")
        response = getattr(finance_client, method)(url("approve", refund))
        assert response.status_code == 302
        assert response.url == url("change", refund)
        assert [level for level, _text in message_list(response)] == [messages.ERROR]
        refund.refresh_from_db()
        assert refund.status == S.REJECTED
        assert events(refund.order, "approve_refund") == []


class TestReject:
    @pytest.mark.parametrize("reason", ["", "   "])
    def test_a_rejection_without_a_reason_is_refused_and_changes_nothing(
        self, finance_client, refund, reason, mailoutbox
    ):
        response = finance_client.post(url("reject", refund), {"reason": reason})
        assert response.status_code == 200
        assert response.context["form"].errors["reason"]
        refund.refresh_from_db()
        assert refund.status == S.PENDING and refund.rejection_reason == ""
        refund.order.refresh_from_db()
        assert refund.order.status == Order.Status.REFUNDING
        assert events(refund.order, "reject_refund") == []
        assert mailoutbox == []

    def test_a_rejection_returns_the_order_and_tells_the_customer_why(
        self, finance_client, finance, refund, mailoutbox, django_capture_on_commit_callbacks
    ):
        customer = refund.order.customer
        with django_capture_on_commit_callbacks(execute=True):
            response = finance_client.post(url("reject", refund), {"reason": "服务已开通并使用"})
        assert response.status_code == 302
        assert [level for level, _text in message_list(response)] == [messages.SUCCESS]
        refund.refresh_from_db()
        assert (refund.status, refund.rejection_reason, refund.decided_by) == (S.REJECTED, "服务已开通并使用", finance)
        refund.order.refresh_from_db()
        assert refund.order.status == refund.order_status_before == Order.Status.SUCCESS
        assert events(refund.order, "reject_refund") == [finance.pk]
        assert Message.objects.filter(user=customer, body__contains="服务已开通并使用").exists()
        assert [mail.to for mail in mailoutbox] == [[customer.email]]
        assert "服务已开通并使用" in mailoutbox[0].body

    def test_rejecting_twice_rejects_once(self, finance_client, refund):
        finance_client.post(url("reject", refund), {"reason": "重复"})
        second = finance_client.post(url("reject", refund), {"reason": "重复"})
        assert second.status_code == 302
        assert message_list(second)[-1][0] == messages.INFO
        assert len(events(refund.order, "reject_refund")) == 1

    def test_an_approved_refund_cannot_be_rejected(self, finance_client, approved):
        response = finance_client.post(url("reject", approved), {"reason": "太晚了"})
        assert response.status_code == 302
        assert [level for level, _text in message_list(response)] == [messages.ERROR]
        approved.refresh_from_db()
        assert approved.status == S.APPROVED and approved.rejection_reason == ""


class TestComplete:
    def test_a_pending_refund_cannot_be_completed(self, finance_client, refund):
        for call in (finance_client.get, lambda path: finance_client.post(path, complete_form())):
            response = call(url("complete", refund))
            assert response.status_code == 302
            assert response.url == url("change", refund)
            assert [level for level, _text in message_list(response)] == [messages.ERROR]
            finance_client.get(response.url)  # shows, and so consumes, the message
        refund.refresh_from_db()
        assert refund.status == S.PENDING and refund.reference == ""
        assert events(refund.order, "complete_refund") == []

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"reference": ""}, "reference"),
            ({"refunded_on": ""}, "refunded_on"),
            ({"refunded_on": "2026-02-30"}, "refunded_on"),
            ({"reference": "x" * 65}, "reference"),
        ],
    )
    def test_a_missing_or_malformed_field_is_refused_beside_it(self, finance_client, approved, data, field):
        response = finance_client.post(url("complete", approved), complete_form(**data))
        assert response.status_code == 200
        assert response.context["form"].errors[field]
        approved.refresh_from_db()
        assert approved.status == S.APPROVED
        assert Invoice.objects.get(order=approved.order).status == Invoice.Status.PENDING

    @pytest.mark.parametrize("days", [1, -30])
    def test_a_date_in_the_future_or_before_the_request_is_refused_by_the_service(self, finance_client, approved, days):
        day = timezone.localdate() + timedelta(days=days)
        response = finance_client.post(url("complete", approved), complete_form(refunded_on=day.isoformat()))
        assert response.status_code == 200
        assert response.context["form"].non_field_errors()
        approved.refresh_from_db()
        assert approved.status == S.APPROVED and approved.refunded_on is None
        approved.order.refresh_from_db()
        assert approved.order.refunded_amount == Decimal("0.00")

    def test_partial_before_the_invoice_is_issued_voids_it_and_reissues_the_remainder(
        self, finance_client, finance, approved, mailoutbox, django_capture_on_commit_callbacks
    ):
        order = approved.order
        original = Invoice.objects.get(order=order)
        page = finance_client.get(url("complete", approved))
        assert page.context["outcome"]["kind"] == "void"
        assert f'data-outcome="void" data-invoice="{original.pk}" data-reissue="1500.00"' in page.text

        with django_capture_on_commit_callbacks(execute=True):
            response = finance_client.post(url("complete", approved), complete_form())
        assert response.status_code == 302
        assert [level for level, _text in message_list(response)] == [messages.SUCCESS]
        approved.refresh_from_db()
        assert (approved.status, approved.reference, approved.refunded_on, approved.completed_by) == (
            S.COMPLETED,
            "TX-20260101-0001",
            timezone.localdate(),
            finance,
        )
        order.refresh_from_db()
        assert order.status == Order.Status.SUCCESS  # a partial refund: back to where it was
        assert order.refunded_amount == Decimal("500.00")
        original.refresh_from_db()
        assert original.status == Invoice.Status.CANCELLED
        reissue = Invoice.objects.get(order=order, purpose=Invoice.Purpose.REISSUE)
        assert (reissue.status, reissue.total, reissue.original) == (Invoice.Status.PENDING, Decimal("1500.00"), original)
        assert reissue.amount + reissue.tax == reissue.total
        assert not Invoice.objects.filter(order=order, purpose=Invoice.Purpose.RED_LETTER).exists()
        assert events(order, "complete_refund") == [finance.pk]
        assert events(order, "invoice_cancel") == events(order, "invoice_reissue") == [finance.pk]
        assert [mail.to for mail in mailoutbox] == [[order.customer.email]]

    def test_full_before_the_invoice_is_issued_voids_it_without_a_reissue(self, finance_client, finance, order):
        refund = services.refund_approve(refund=refund_requested(order, amount="2000.00"), actor=finance)
        page = finance_client.get(url("complete", refund))
        assert (page.context["outcome"]["kind"], page.context["outcome"]["reissue"]) == ("void", None)
        finance_client.post(url("complete", refund), complete_form())
        order.refresh_from_db()
        assert order.status == Order.Status.REFUNDED
        assert list(order.invoices.values_list("purpose", "status")) == [("original", Invoice.Status.CANCELLED)]

    def test_full_after_the_invoice_was_issued_queues_a_red_letter_invoice(
        self, finance_client, client, finance, order, django_capture_on_commit_callbacks
    ):
        original = Invoice.objects.get(order=order)
        issue_today(original, finance, 1)
        refund = services.refund_approve(refund=refund_requested(order, amount="2000.00"), actor=finance)

        page = finance_client.get(url("complete", refund))
        assert page.context["outcome"]["kind"] == "red_letter"
        assert f'data-invoice="{original.pk}" data-red-letter="-2000.00"' in page.text
        assert invoice_number(timezone.localdate(), 1) in page.text
        form = page.context["form"]
        assert form.initial["red_reason"] == Invoice.RedReason.SERVICE_TERMINATION  # the default for a full refund
        assert 'name="red_reason"' in page.text

        with django_capture_on_commit_callbacks(execute=True):
            response = finance_client.post(
                url("complete", refund), complete_form(red_reason=Invoice.RedReason.SALES_RETURN)
            )
        assert response.status_code == 302
        order.refresh_from_db()
        assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, Decimal("2000.00"))
        red = Invoice.objects.get(order=order, purpose=Invoice.Purpose.RED_LETTER)
        assert (red.status, red.original, red.red_reason) == (Invoice.Status.PENDING, original, Invoice.RedReason.SALES_RETURN)
        assert red.total == -refund.amount == Decimal("-2000.00")
        assert red.amount < 0 and red.tax < 0 and red.amount + red.tax == red.total
        assert (red.amount, red.tax) == (-original.amount, -original.tax)
        assert all(line.total < 0 for line in red.lines.all())
        original.refresh_from_db()
        assert original.status == Invoice.Status.ISSUED  # reversed only once the red-letter one is issued
        assert events(order, "invoice_red_letter") == [finance.pk]

        # The customer finds the order under 交易失败 (the refunded order's tab).
        client.force_login(order.customer)
        failed = client.get(reverse("orders:list") + "?tab=failed")
        assert order.number in failed.text
        assert order.number not in client.get(reverse("orders:list") + "?tab=success").text

    def test_partial_after_issue_defaults_to_a_sales_allowance(self, finance_client, finance, order):
        original = Invoice.objects.get(order=order)
        issue_today(original, finance, 2)
        refund = services.refund_approve(refund=refund_requested(order, amount="0.01"), actor=finance)
        page = finance_client.get(url("complete", refund))
        assert page.context["form"].initial["red_reason"] == Invoice.RedReason.SALES_ALLOWANCE
        response = finance_client.post(
            url("complete", refund), complete_form(red_reason=Invoice.RedReason.SALES_ALLOWANCE)
        )
        assert response.status_code == 302
        red = Invoice.objects.get(order=order, purpose=Invoice.Purpose.RED_LETTER)
        assert (red.total, red.red_reason) == (Decimal("-0.01"), Invoice.RedReason.SALES_ALLOWANCE)
        order.refresh_from_db()
        assert order.status == Order.Status.SUCCESS

    def test_an_unknown_red_letter_reason_is_refused_beside_the_field(self, finance_client, finance, order):
        issue_today(order.invoices.get(), finance, 3)
        refund = services.refund_approve(refund=refund_requested(order), actor=finance)
        response = finance_client.post(url("complete", refund), complete_form(red_reason="because"))
        assert response.status_code == 200
        assert response.context["form"].errors["red_reason"]
        refund.refresh_from_db()
        assert refund.status == S.APPROVED
        assert not Invoice.objects.filter(order=order, purpose=Invoice.Purpose.RED_LETTER).exists()

    def test_completing_twice_completes_once(self, finance_client, finance, order):
        issue_today(order.invoices.get(), finance, 4)
        refund = services.refund_approve(refund=refund_requested(order), actor=finance)
        first = finance_client.post(url("complete", refund), complete_form(red_reason="sales_allowance"))
        second = finance_client.post(url("complete", refund), complete_form(red_reason="sales_allowance"))
        assert first.status_code == second.status_code == 302
        assert message_list(second)[-1][0] == messages.INFO
        assert len(events(order, "complete_refund")) == 1
        assert Invoice.objects.filter(order=order, purpose=Invoice.Purpose.RED_LETTER).count() == 1
        order.refresh_from_db()
        assert order.refunded_amount == Decimal("500.00")

    def test_issuing_the_red_letter_invoice_in_the_invoice_admin_reverses_the_original(
        self, finance_client, finance, order
    ):
        original = order.invoices.get()
        issue_today(original, finance, 5)
        refund = services.refund_approve(refund=refund_requested(order, amount="2000.00"), actor=finance)
        default = finance_client.get(url("complete", refund)).context["form"].initial["red_reason"]
        finance_client.post(url("complete", refund), complete_form(red_reason=default))
        red = Invoice.objects.get(order=order, purpose=Invoice.Purpose.RED_LETTER)
        assert red.red_reason == Invoice.RedReason.SERVICE_TERMINATION

        # The invoice admin shows what the red-letter invoice is and what it reverses.
        invoices = finance_client.get(reverse("admin:invoicing_invoice_changelist") + "?purpose__exact=red_letter")
        assert 'data-purpose="red_letter"' in invoices.text
        assert f'data-original="{invoice_number(timezone.localdate(), 5)}"' in invoices.text
        change = finance_client.get(reverse("admin:invoicing_invoice_change", args=[red.pk]))
        assert [move for *_rest, move in change.context["invoice_buttons"]] == ["issue"]
        assert reverse("admin:invoicing_invoice_change", args=[original.pk]) in change.text  # the original, linked
        assert {"purpose", "original", "red_reason"} <= {
            field for fieldset in change.context["adminform"].fieldsets for field in fieldset[1]["fields"]
        }

        issue_page = finance_client.get(reverse("admin:invoicing_invoice_issue", args=[red.pk]))
        summary = re.search(r'<td data-testid="invoice-purpose"[^>]*>(.*?)</td>', issue_page.text, re.S)
        assert summary and invoice_number(timezone.localdate(), 5) in summary.group(1)  # finance sees what it reverses
        assert 'data-purpose="red_letter"' in issue_page.text

        response = finance_client.post(
            reverse("admin:invoicing_invoice_issue", args=[red.pk]),
            {"number": invoice_number(timezone.localdate(), 6), "issued_on": timezone.localdate().isoformat()},
        )
        assert response.status_code == 302
        red.refresh_from_db()
        original.refresh_from_db()
        assert (red.status, red.number) == (Invoice.Status.ISSUED, invoice_number(timezone.localdate(), 6))
        assert original.status == Invoice.Status.REVERSED
        assert events(order, "invoice_reverse") == [finance.pk]


class TestWhoMayDoWhat:
    def pages(self, refund):
        return [CHANGELIST, url("change", refund), url("history", refund), url("delete", refund)] + [
            url(move, refund) for move in MOVES
        ]

    def test_a_reviewer_reaches_no_refund_page(self, client, approved):
        client.force_login(UserFactory(staff=True, groups=[GROUP_REVIEWERS]))
        for page in self.pages(approved):
            assert client.get(page).status_code == 403, page
        assert 'data-queue="refunds"' not in client.get(INDEX).text

    def test_a_reviewer_cannot_complete_a_refund(self, client, approved):
        client.force_login(UserFactory(staff=True, groups=[GROUP_REVIEWERS]))
        response = client.post(url("complete", approved), complete_form())
        assert response.status_code == 403
        approved.refresh_from_db()
        assert approved.status == S.APPROVED
        assert events(approved.order, "complete_refund") == []

    def test_a_reviewer_cannot_approve_or_reject(self, client, refund):
        client.force_login(UserFactory(staff=True, groups=[GROUP_REVIEWERS]))
        assert client.post(url("approve", refund)).status_code == 403
        assert client.post(url("reject", refund), {"reason": "不行"}).status_code == 403
        refund.refresh_from_db()
        assert refund.status == S.PENDING

    @pytest.mark.parametrize("who", ["customer", "owner", "catalog manager"])
    def test_customers_and_other_staff_reach_nothing(self, client, approved, who):
        user = {
            "customer": lambda: UserFactory(),
            "owner": lambda: approved.order.customer,
            "catalog manager": lambda: UserFactory(staff=True, groups=[GROUP_CATALOG]),
        }[who]()
        client.force_login(user)
        for page in self.pages(approved):
            response = client.get(page)
            if who == "catalog manager":
                assert response.status_code == 403, page
            else:
                assert response.status_code == 302 and response.url.startswith(reverse("admin:login")), page
        response = client.post(url("complete", approved), complete_form())
        assert response.status_code in (302, 403)
        approved.refresh_from_db()
        assert approved.status == S.APPROVED

    def test_view_only_staff_see_the_refund_but_get_no_buttons_nor_pages(self, client, refund):
        from django.contrib.auth.models import Permission

        viewer = UserFactory(staff=True)
        viewer.user_permissions.add(Permission.objects.get(content_type__app_label="refunds", codename="view_refundrequest"))
        client.force_login(viewer)
        assert client.get(url("change", refund)).context["refund_buttons"] == []
        for move in MOVES:
            assert client.get(url(move, refund)).status_code == 403

    def test_a_reviewer_only_staff_member_gets_no_complete_button(self, client, approved):
        """review_refund without complete_refund: approving and rejecting, not completing."""
        from django.contrib.auth.models import Permission

        user = UserFactory(staff=True)
        user.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="refunds", codename__in=["view_refundrequest", "review_refund"])
        )
        client.force_login(user)
        assert client.get(url("change", approved)).context["refund_buttons"] == []
        assert client.post(url("complete", approved), complete_form()).status_code == 403

    def test_an_unknown_refund_is_a_404_on_the_move_pages(self, finance_client):
        for move in MOVES:
            assert finance_client.get(reverse(f"admin:refunds_refundrequest_{move}", args=[987654])).status_code == 404


class TestNobodyAddsEditsOrDeletes:
    @pytest.mark.parametrize("who", ["finance", "superuser"])
    def test_delete_page_and_its_post_are_refused(self, client, refund, who):
        user = UserFactory(staff=True, groups=[GROUP_FINANCE]) if who == "finance" else UserFactory(superuser=True)
        client.force_login(user)
        assert client.get(url("delete", refund)).status_code == 403
        assert client.post(url("delete", refund), {"post": "yes"}).status_code == 403
        assert RefundRequest.objects.filter(pk=refund.pk).exists()

    def test_the_bulk_delete_action_is_not_offered_nor_applied(self, finance_client, refund):
        response = finance_client.get(CHANGELIST)
        assert "delete_selected" not in response.text
        finance_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [refund.pk], "post": "yes"})
        assert RefundRequest.objects.filter(pk=refund.pk).exists()

    def test_no_add_and_no_edit_even_for_a_superuser(self, client, refund):
        client.force_login(UserFactory(superuser=True))
        assert client.get(reverse("admin:refunds_refundrequest_add")).status_code == 403
        client.post(url("change", refund), {"amount": "1.00", "reference": "forged", "status": "completed"})
        refund.refresh_from_db()
        assert (refund.amount, refund.reference, refund.status) == (Decimal("500.00"), "", S.PENDING)


class TestChangelist:
    def test_pending_first_then_approved_oldest_first_then_the_rest_newest_first(self, finance_client, finance):
        now = timezone.now()
        made = {}
        for name, hours_ago in [("pending_new", 1), ("pending_old", 5), ("approved_new", 2), ("approved_old", 9),
                                ("rejected_old", 30), ("completed_new", 3)]:
            refund = refund_requested(refundable_order())
            RefundRequest.objects.filter(pk=refund.pk).update(requested_at=now - timedelta(hours=hours_ago))
            if name.startswith(("approved", "completed")):
                services.refund_approve(refund=refund, actor=finance)
            if name.startswith("rejected"):
                services.refund_reject(refund=refund, actor=finance, reason="不符合")
            if name.startswith("completed"):
                services.refund_complete(refund=refund, actor=finance, reference="R1", refunded_on=timezone.localdate())
            made[name] = refund.pk
        response = finance_client.get(CHANGELIST)
        order = [row.pk for row in response.context["cl"].result_list]
        assert order == [made[name] for name in (
            "pending_old", "pending_new", "approved_old", "approved_new", "completed_new", "rejected_old"
        )]

    def test_open_refunds_show_their_age(self, finance_client, refund):
        RefundRequest.objects.filter(pk=refund.pk).update(requested_at=timezone.now() - timedelta(days=2, hours=3))
        response = finance_client.get(CHANGELIST)
        assert "data-age" in response.text
        services.refund_reject(refund=refund, actor=UserFactory(staff=True), reason="不符合")
        assert "data-age" not in finance_client.get(CHANGELIST).text

    @pytest.mark.parametrize("field", ["refund number", "order number", "username", "company"])
    def test_search(self, finance_client, refund, field):
        # The other customer's name and company are not the factory's: its random company
        # names repeat (a clean-clone CI run met two alike), and "user1" finds user12 too.
        other = refund_requested(refundable_order(customer=UserFactory(username="other-customer", company="另一家测试公司")))
        customer = refund.order.customer
        term = {
            "refund number": refund.number,
            "order number": refund.order.number,
            "username": customer.username,
            "company": customer.company,
        }[field]
        response = finance_client.get(CHANGELIST, {"q": term})
        found = [row.pk for row in response.context["cl"].result_list]
        assert refund.pk in found and other.pk not in found

    def test_filters_by_status_reason_and_the_open_queue(self, finance_client, finance, refund):
        other = services.refund_approve(refund=refund_requested(refundable_order()), actor=finance)
        closed = refund_requested(refundable_order())
        services.refund_reject(refund=closed, actor=finance, reason="不符合")

        def listed(query):
            return {row.pk for row in finance_client.get(CHANGELIST + query).context["cl"].result_list}

        assert listed("?status__exact=pending") == {refund.pk}
        assert listed("?status__exact=approved") == {other.pk}
        assert listed("?status__in=pending,approved") == {refund.pk, other.pk}  # the index's link
        assert listed(f"?reason__exact={RefundRequest.Reason.UNWANTED}") == {refund.pk, other.pk, closed.pk}
        assert listed("?reason__exact=duplicate") == set()

    def test_query_count_does_not_grow_with_rows(self, finance_client):
        refund_requested(refundable_order())
        with CaptureQueriesContext(connection) as few:
            assert finance_client.get(CHANGELIST).status_code == 200
        for _ in range(3):
            refund_requested(refundable_order())
        with CaptureQueriesContext(connection) as more:
            assert finance_client.get(CHANGELIST).status_code == 200
        assert len(more) == len(few)


def queue_row(response) -> str:
    """The refund queue's row of the admin index."""
    return response.text.split('data-queue="refunds"', 1)[1].split("</tr>", 1)[0]


class TestAdminIndexQueue:
    def test_finance_sees_the_refunds_waiting_with_the_oldest_age(self, finance_client, finance, refund):
        services.refund_approve(refund=refund_requested(refundable_order()), actor=finance)
        done = services.refund_approve(refund=refund_requested(refundable_order()), actor=finance)
        services.refund_complete(refund=done, actor=finance, reference="R1", refunded_on=timezone.localdate())
        RefundRequest.objects.filter(pk=refund.pk).update(requested_at=timezone.now() - timedelta(days=3, hours=2))
        response = finance_client.get(INDEX)
        assert response.status_code == 200
        queue = queue_row(response)
        assert '<td class="count">2</td>' in queue  # pending and approved, not completed
        assert "3 days 2 hours" in queue
        assert f"{CHANGELIST}?status__in=pending,approved" in queue

    def test_the_queue_is_empty_without_open_refunds(self, finance_client):
        queue = queue_row(finance_client.get(INDEX))
        assert '<td class="count">0</td>' in queue
        assert '<td class="age"></td>' in queue

    def test_query_count_does_not_grow_with_the_queue(self, finance_client, refund):
        with CaptureQueriesContext(connection) as few:
            finance_client.get(INDEX)
        for _ in range(3):
            refund_requested(refundable_order())
        with CaptureQueriesContext(connection) as more:
            finance_client.get(INDEX)
        assert len(more) == len(few)

    def test_the_catalog_manager_sees_no_refund_queue(self, client, refund):
        client.force_login(UserFactory(staff=True, groups=[GROUP_CATALOG]))
        assert 'data-queue="refunds"' not in client.get(INDEX).text


class TestExportOfRedLetterInvoices:
    def test_the_pending_red_letter_invoice_is_exported_with_negative_amounts_and_the_original_number(
        self, finance_client, finance, order
    ):
        original = order.invoices.get()
        issue_today(original, finance, 7)
        refund = services.refund_approve(refund=refund_requested(order, amount="800.00"), actor=finance)
        services.refund_complete(
            refund=refund, actor=finance, reference="R1", refunded_on=timezone.localdate(), red_reason="sales_allowance"
        )
        red = Invoice.objects.get(order=order, purpose=Invoice.Purpose.RED_LETTER)

        response = finance_client.get(reverse("admin:invoicing_invoice_export_csv"))
        data = b"".join(response.streaming_content).decode("utf-8-sig")
        header, *rows = list(csv.reader(io.StringIO(data)))
        assert header == export.headers()
        assert [row[0] for row in rows] == [str(red.pk)]  # the issued original is not in the queue
        [row] = rows
        with translation.override(export.LANGUAGE):
            purpose = str(Invoice.Purpose.RED_LETTER.label)
            reason = str(Invoice.RedReason.SALES_ALLOWANCE.label)
        assert row[-3:] == [purpose, invoice_number(timezone.localdate(), 7), reason]
        assert Decimal(row[15]) == Decimal("-800.00")  # total including tax
        assert Decimal(row[12]) < 0 and Decimal(row[14]) < 0
        assert Decimal(row[12]) + Decimal(row[14]) == Decimal("-800.00")
        assert row[16] == order.number
