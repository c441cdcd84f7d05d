"""The invoices follow a completed refund (invoicing.services.invoices_after_refund):

- no invoice made yet: nothing; documents_generate later makes it for what is left;
- invoice not yet issued: voided (已作废) and re-issued for what is left, if anything;
- invoice issued: a red-letter invoice for −refund referencing it waits for finance;
  issuing it reverses (已红冲) the original.

Across all of it: the invoices not voided add up to paid − refunded, and at most one
original or re-issue is in force."""

from decimal import Decimal

import pytest
from django.utils import timezone, translation

from invoicing import services as invoicing_services
from invoicing.models import Contract, DocumentJob, Invoice
from invoicing.tests.conftest import (  # noqa: F401 (fixtures)
    configured_signing_key,
    invoice_number,
    pdf_text,
    read_stored,
    signing_pair,
    squeeze,
)
from orders import services as order_services
from orders.models import Order, OrderEvent
from refunds import services
from refunds.exceptions import RefundError
from refunds.models import RefundRequest

from .factories import refund_completed, refund_requested, refundable_order, two_line_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("configured_signing_key")]

S = Order.Status
I = Invoice.Status  # noqa: E741
P = Invoice.Purpose
TODAY = timezone.localdate
_numbers = iter(range(1, 10**6))


def issue(invoice, finance):
    """Finance issues `invoice` today with a fresh 数电发票 number."""
    return invoicing_services.invoice_issue(
        invoice=invoice, actor=finance, number=invoice_number(TODAY(), next(_numbers)), issued_on=TODAY()
    )


def invoices(order):
    return list(Invoice.objects.filter(order=order).order_by("created_at", "id"))


def in_force(order):
    """Originals and re-issues neither voided nor reversed."""
    return [i for i in invoices(order) if i.purpose != P.RED_LETTER and i.status not in (I.CANCELLED, I.REVERSED)]


def net_invoiced(order) -> Decimal:
    """What the invoices say was sold: every invoice not voided, red-letter ones negative.
    (Summed here, not by the database: SQLite would add them as floats.)"""
    return sum((i.total for i in invoices(order) if i.status != I.CANCELLED), Decimal("0.00"))


def assert_adds_up(invoice):
    lines = list(invoice.lines.all())
    assert lines
    assert sum(line.total for line in lines) == invoice.total
    assert sum(line.amount for line in lines) == invoice.amount
    assert sum(line.tax for line in lines) == invoice.tax
    assert invoice.amount + invoice.tax == invoice.total
    for line in lines:
        assert line.amount + line.tax == line.total


def assert_consistent(order):
    order.refresh_from_db()
    assert len(in_force(order)) <= 1
    assert net_invoiced(order) == order.paid_amount - order.refunded_amount
    for invoice in invoices(order):
        assert_adds_up(invoice)


def complete(order, amount, finance, **kwargs):
    """A refund of `amount` through all its steps; the transaction's callbacks (the new
    invoices' sheets) run as after a real commit."""
    return refund_completed(order, amount, finance=finance, reference=f"R{next(_numbers)}", **kwargs)


@pytest.fixture
def order():
    """Confirmed, with its documents: a pending invoice for ¥2000.00."""
    return refundable_order(S.SUCCESS)


@pytest.fixture
def issued(order, finance):
    original = Invoice.objects.get(order=order)
    issue(original, finance)
    return order


class TestBeforeTheInvoiceIsIssued:
    def test_a_full_refund_voids_the_invoice_and_issues_nothing_new(
        self, order, finance, django_capture_on_commit_callbacks
    ):
        original = Invoice.objects.get(order=order)
        with django_capture_on_commit_callbacks(execute=True):
            complete(order, "2000.00", finance)

        original.refresh_from_db()
        assert original.status == I.CANCELLED
        assert invoices(order) == [original]
        assert in_force(order) == []
        actions = list(order.events.values_list("action", flat=True))
        assert "invoice_cancel" in actions and "invoice_reissue" not in actions and "invoice_red_letter" not in actions
        assert_consistent(order)

    def test_a_partial_refund_voids_the_invoice_and_reissues_it_for_the_rest(
        self, order, finance, django_capture_on_commit_callbacks
    ):
        original = Invoice.objects.get(order=order)
        with django_capture_on_commit_callbacks(execute=True):
            complete(order, "500.00", finance)
            reissue = Invoice.objects.get(order=order, purpose=P.REISSUE)
            assert not reissue.sheet  # made after the commit, by a worker

        original.refresh_from_db()
        reissue.refresh_from_db()
        assert original.status == I.CANCELLED
        assert (reissue.status, reissue.total, reissue.original, reissue.red_reason) == (
            I.PENDING,
            Decimal("1500.00"),
            original,
            "",
        )
        assert reissue.total_in_words == "壹仟伍佰元整"
        assert in_force(order) == [reissue]
        assert reissue.sheet and reissue.sheet.name != original.sheet.name
        text = squeeze(pdf_text(read_stored(reissue.sheet)))
        assert order.number in text and "1500.00" in text
        assert [e for e in order.events.values_list("action", flat=True) if e.startswith("invoice_")] == [
            "invoice_cancel",
            "invoice_reissue",
        ]
        assert_consistent(order)

    def test_a_second_partial_refund_voids_the_reissue_and_reissues_again(
        self, order, finance, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            complete(order, "500.00", finance)
        first = Invoice.objects.get(order=order, purpose=P.REISSUE)
        with django_capture_on_commit_callbacks(execute=True):
            complete(order, "300.00", finance)

        first.refresh_from_db()
        second = in_force(order)[0]
        assert first.status == I.CANCELLED
        assert (second.purpose, second.status, second.total, second.original) == (
            P.REISSUE,
            I.PENDING,
            Decimal("1200.00"),
            first,
        )
        assert second.sheet
        assert [i.status for i in invoices(order)] == [I.CANCELLED, I.CANCELLED, I.PENDING]
        assert_consistent(order)

    def test_the_rest_refunded_after_a_partial_one_voids_the_reissue_too(self, order, finance):
        complete(order, "500.00", finance)
        complete(order, "1500.00", finance)
        assert [i.status for i in invoices(order)] == [I.CANCELLED, I.CANCELLED]
        assert Order.objects.get(pk=order.pk).status == S.REFUNDED
        assert_consistent(order)

    def test_a_refund_withdrawn_or_rejected_leaves_the_invoice_alone(self, order, finance):
        original = Invoice.objects.get(order=order)
        services.refund_withdraw(refund=refund_requested(order), actor=order.customer)
        services.refund_reject(refund=refund_requested(order), actor=finance, reason="不符合条件")
        assert invoices(order) == [original]
        original.refresh_from_db()
        assert original.status == I.PENDING


class TestAfterTheInvoiceIsIssued:
    def test_a_full_refund_queues_a_red_letter_invoice_of_the_whole_amount(
        self, issued, finance, django_capture_on_commit_callbacks
    ):
        original = Invoice.objects.get(order=issued)
        with django_capture_on_commit_callbacks(execute=True):
            complete(issued, "2000.00", finance)

        original.refresh_from_db()
        red = Invoice.objects.get(order=issued, purpose=P.RED_LETTER)
        assert original.status == I.ISSUED  # until the red-letter invoice is issued
        assert (red.status, red.original, red.red_reason, red.number) == (
            I.PENDING,
            original,
            Invoice.RedReason.SERVICE_TERMINATION,
            None,
        )
        assert (red.amount, red.tax, red.total) == (-original.amount, -original.tax, Decimal("-2000.00"))
        assert red.total_in_words == "(负数)贰仟元整"
        for red_line, line in zip(red.lines.all(), original.lines.all(), strict=True):
            assert red_line.quantity == -line.quantity < 0
            assert red_line.unit_price == line.unit_price > 0
            assert (red_line.amount, red_line.tax, red_line.total) == (-line.amount, -line.tax, -line.total)
        assert red.sheet
        text = squeeze(pdf_text(read_stored(red.sheet)))
        assert original.number in text and "-2000.00" in text
        event = OrderEvent.objects.get(order=issued, action="invoice_red_letter")
        assert original.number in event.note and event.actor == finance
        assert Order.objects.get(pk=issued.pk).status == S.REFUNDED
        assert_consistent(issued)

    def test_issuing_the_red_letter_invoice_reverses_the_original(self, issued, finance):
        original = Invoice.objects.get(order=issued)
        complete(issued, "2000.00", finance)
        red = Invoice.objects.get(order=issued, purpose=P.RED_LETTER)

        issue(red, finance)

        original.refresh_from_db()
        red.refresh_from_db()
        assert (original.status, red.status) == (I.REVERSED, I.ISSUED)
        reverse = OrderEvent.objects.get(order=issued, action="invoice_reverse")
        assert original.number in reverse.note and red.number in reverse.note and reverse.actor == finance
        assert in_force(issued) == []
        assert_consistent(issued)

    def test_a_partial_refund_queues_a_red_letter_invoice_of_the_refund(self, issued, finance):
        original = Invoice.objects.get(order=issued)
        complete(issued, "500.00", finance)
        red = Invoice.objects.get(order=issued, purpose=P.RED_LETTER)
        assert (red.total, red.red_reason, red.original) == (
            Decimal("-500.00"),
            Invoice.RedReason.SALES_ALLOWANCE,
            original,
        )
        assert red.amount < 0 and red.tax < 0
        assert all(line.quantity < 0 and line.unit_price > 0 for line in red.lines.all())
        assert Order.objects.get(pk=issued.pk).status == S.SUCCESS
        assert_consistent(issued)

    @pytest.mark.parametrize("reason", [Invoice.RedReason.SALES_RETURN, Invoice.RedReason.INVOICING_ERROR])
    def test_finance_s_red_letter_reason_is_kept(self, issued, finance, reason):
        complete(issued, "500.00", finance, red_reason=reason)
        assert Invoice.objects.get(order=issued, purpose=P.RED_LETTER).red_reason == reason

    def test_an_unknown_red_letter_reason_refuses_the_whole_completion(self, issued, finance):
        refund = refund_requested(issued, "500.00")
        services.refund_approve(refund=refund, actor=finance)
        with translation.override("en"), pytest.raises(RefundError, match="reason for the red-letter invoice"):
            services.refund_complete(
                refund=refund, actor=finance, reference="R", refunded_on=TODAY(), red_reason="goodwill"
            )
        issued.refresh_from_db()
        assert (issued.status, issued.refunded_amount) == (S.REFUNDING, Decimal("0.00"))
        assert RefundRequest.objects.get(pk=refund.pk).status == RefundRequest.Status.APPROVED
        assert not Invoice.objects.filter(order=issued, purpose=P.RED_LETTER).exists()

    def test_two_partial_refunds_queue_two_red_letter_invoices_and_reverse_the_original_once(self, issued, finance):
        original = Invoice.objects.get(order=issued)
        complete(issued, "500.00", finance)
        complete(issued, "300.00", finance)
        reds = list(Invoice.objects.filter(order=issued, purpose=P.RED_LETTER).order_by("id"))
        assert [(r.total, r.original) for r in reds] == [(Decimal("-500.00"), original), (Decimal("-300.00"), original)]
        assert_consistent(issued)

        for red in reds:
            issue(red, finance)

        original.refresh_from_db()
        assert original.status == I.REVERSED
        assert OrderEvent.objects.filter(order=issued, action="invoice_reverse").count() == 1
        assert_consistent(issued)

    def test_a_refund_after_a_red_letter_invoice_was_issued_gets_its_own(self, issued, finance):
        original = Invoice.objects.get(order=issued)
        complete(issued, "500.00", finance)
        issue(Invoice.objects.get(order=issued, purpose=P.RED_LETTER), finance)
        original.refresh_from_db()
        assert original.status == I.REVERSED  # in part: ¥1500.00 of it still stands

        complete(issued, "300.00", finance)

        reds = Invoice.objects.filter(order=issued, purpose=P.RED_LETTER).order_by("id")
        assert [(r.total, r.original_id) for r in reds] == [
            (Decimal("-500.00"), original.pk),
            (Decimal("-300.00"), original.pk),
        ]
        assert_consistent(issued)

        complete(issued, "1200.00", finance)  # the rest
        assert Invoice.objects.filter(order=issued, purpose=P.RED_LETTER).count() == 3
        assert Invoice.objects.filter(order=issued, purpose=P.RED_LETTER).latest("id").red_reason == (
            Invoice.RedReason.SERVICE_TERMINATION
        )
        assert_consistent(issued)

    def test_a_mailed_invoice_is_reversed_as_well(self, issued, finance):
        original = Invoice.objects.get(order=issued)
        invoicing_services.invoice_deliver(invoice=original, actor=finance, tracking_number="SF1234567890")
        complete(issued, "2000.00", finance)
        issue(Invoice.objects.get(order=issued, purpose=P.RED_LETTER), finance)
        original.refresh_from_db()
        assert original.status == I.REVERSED
        assert_consistent(issued)

    def test_a_refund_after_the_reissue_was_issued_reverses_the_reissue(self, order, finance):
        complete(order, "500.00", finance)  # before issue: voided and re-issued
        reissue = Invoice.objects.get(order=order, purpose=P.REISSUE)
        issue(reissue, finance)

        complete(order, "300.00", finance)

        red = Invoice.objects.get(order=order, purpose=P.RED_LETTER)
        assert (red.total, red.original) == (Decimal("-300.00"), reissue)
        issue(red, finance)
        reissue.refresh_from_db()
        assert reissue.status == I.REVERSED
        assert_consistent(order)


class TestRedLetterLines:
    """An order of two services at different rates: ¥2000.00 at 6% and 3 × ¥333.33 at 13%."""

    @pytest.fixture
    def issued(self, finance):
        order = two_line_order()
        issue(Invoice.objects.get(order=order), finance)
        return order

    def test_a_full_red_letter_invoice_mirrors_the_original_line_by_line(self, issued, finance):
        original = Invoice.objects.get(order=issued, purpose=P.ORIGINAL)
        complete(issued, "2999.99", finance)
        red = Invoice.objects.get(order=issued, purpose=P.RED_LETTER)
        pairs = list(zip(red.lines.all(), original.lines.all(), strict=True))
        assert len(pairs) == 2
        for red_line, line in pairs:
            assert (red_line.order_line_id, red_line.tax_rate, red_line.item_name) == (
                line.order_line_id,
                line.tax_rate,
                line.item_name,
            )
            assert (red_line.quantity, red_line.amount, red_line.tax, red_line.total) == (
                -line.quantity,
                -line.amount,
                -line.tax,
                -line.total,
            )
            assert red_line.unit_price == line.unit_price
        assert_adds_up(red)
        assert_consistent(issued)

    @pytest.mark.parametrize(
        "amount",
        ["0.01", "0.03", "100.00", "1234.57", "2999.98"],
    )
    def test_a_partial_red_letter_invoice_adds_up_to_the_fen(self, issued, finance, amount):
        complete(issued, amount, finance)
        red = Invoice.objects.get(order=issued, purpose=P.RED_LETTER)
        assert red.total == -Decimal(amount)
        assert_adds_up(red)
        for line in red.lines.all():
            assert line.total <= 0 and line.amount <= 0 and line.tax <= 0
            assert line.quantity < 0 and line.unit_price >= 0
        assert_consistent(issued)


class TestRefundBeforeTheDocuments:
    def test_after_a_partial_refund_the_invoice_is_made_for_what_is_left(self, finance):
        order = refundable_order(S.SUCCESS, documents=False)
        complete(order, "500.00", finance)
        assert not Invoice.objects.filter(order=order).exists()

        invoicing_services.documents_generate(order_id=order.pk)

        invoice = Invoice.objects.get(order=order)
        assert (invoice.purpose, invoice.status, invoice.total) == (P.ORIGINAL, I.PENDING, Decimal("1500.00"))
        assert invoice.sheet
        assert_consistent(order)

    def test_after_a_full_refund_no_invoice_is_made_but_the_contract_is(self, finance):
        """A fully refunded order is 已退款, still among the confirmed ones: its job
        finishes with the contract of what was agreed, and no invoice."""
        order = refundable_order(S.SUCCESS, documents=False)
        complete(order, "2000.00", finance)

        job = invoicing_services.documents_generate(order_id=order.pk)

        assert job.status == DocumentJob.Status.DONE
        assert not Invoice.objects.filter(order=order).exists()
        assert Contract.objects.get(order=order).total == Decimal("2000.00")
        assert_consistent(order)

    def test_a_refund_in_trade_is_left_out_of_the_invoice_made_on_confirmation(
        self, finance, django_capture_on_commit_callbacks
    ):
        order = refundable_order(S.IN_TRADE)
        complete(order, "800.00", finance)
        with django_capture_on_commit_callbacks(execute=True):
            order_services.order_confirm_receipt(order=order, actor=order.customer)
        invoice = Invoice.objects.get(order=order)
        assert invoice.total == Decimal("1200.00") and invoice.sheet
        assert_consistent(order)
