"""invoicing.services: the document job recorded with the receipt confirmation, the
documents made once after commit, failures, the sweeper, and finance issuing and
mailing invoices."""

import contextlib
import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts.models import Message
from accounts.tests.factories import UserFactory
from invoicing import services
from invoicing.exceptions import InvoiceError
from invoicing.models import Contract, DocumentJob, Invoice
from invoicing.pdf import render_pdf
from orders import services as order_services
from orders.exceptions import TransitionRefused
from orders.models import Order, OrderEvent
from orders.tests.factories import order_in

from .conftest import invoice_number, pdf_upload, read_stored, stored_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("configured_signing_key")]


def confirm(order, capture):
    """The customer confirms receipt; the transaction commits and its callbacks run
    (the documents task eagerly, as the embedded default runs it in-process)."""
    with capture(execute=True):
        return order_services.order_confirm_receipt(order=order, actor=order.customer)


def job_of(order) -> DocumentJob:
    return DocumentJob.objects.get(order=order)


@pytest.fixture
def in_trade():
    return order_in(Order.Status.IN_TRADE)


@pytest.fixture
def confirmed():
    """A confirmed order whose documents are not made yet (its job is recorded; the
    test's transaction never commits, so no worker got it)."""
    return order_in(Order.Status.SUCCESS)


@pytest.fixture
def with_documents(confirmed):
    services.documents_generate(order_id=confirmed.pk)
    return confirmed


class TestRequest:
    def test_confirming_records_the_job_in_its_transaction_and_nothing_runs_before_commit(
        self, in_trade, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            order_services.order_confirm_receipt(order=in_trade, actor=in_trade.customer)

        job = job_of(in_trade)
        assert job.status == DocumentJob.Status.PENDING and job.attempts == 0 and job.enqueued_at is None
        assert not Invoice.objects.filter(order=in_trade).exists()
        assert not Contract.objects.filter(order=in_trade).exists()
        assert callbacks  # the enqueue waits for the commit

    def test_a_confirmation_that_rolls_back_leaves_no_job(self, in_trade):
        with pytest.raises(RuntimeError), transaction.atomic():
            order_services.order_confirm_receipt(order=in_trade, actor=in_trade.customer)
            assert DocumentJob.objects.filter(order=in_trade).exists()
            raise RuntimeError("the request failed after the confirmation")

        in_trade.refresh_from_db()
        assert in_trade.status == Order.Status.IN_TRADE
        assert not DocumentJob.objects.filter(order=in_trade).exists()

    def test_after_commit_the_invoice_and_the_signed_contract_are_made(
        self, in_trade, django_capture_on_commit_callbacks
    ):
        confirm(in_trade, django_capture_on_commit_callbacks)

        job = job_of(in_trade)
        assert job.status == DocumentJob.Status.DONE
        assert job.attempts == 1 and job.enqueued_at and job.finished_at and job.last_error == ""
        invoice = Invoice.objects.get(order=in_trade)
        assert invoice.status == Invoice.Status.PENDING and invoice.purpose == Invoice.Purpose.ORIGINAL
        assert invoice.total == in_trade.total and invoice.sheet
        contract = Contract.objects.get(order=in_trade)
        assert contract.pdf and len(contract.sha256) == 64
        assert OrderEvent.objects.filter(order=in_trade, action="documents_ready").count() == 1
        assert sorted(stored_files(in_trade)) == sorted([invoice.sheet.name, contract.pdf.name])

    def test_the_invoice_snapshot_comes_from_the_order_and_the_seller_from_settings(self, with_documents, settings):
        order = with_documents
        invoice = Invoice.objects.get(order=order)

        assert (invoice.buyer_title, invoice.buyer_taxpayer_id, invoice.buyer_bank, invoice.buyer_account) == (
            order.invoice_title,
            order.invoice_taxpayer_id,
            order.invoice_bank,
            order.invoice_account,
        )
        assert invoice.kind == order.invoice_kind and invoice.buyer_email == order.customer.email
        assert (invoice.seller_name, invoice.seller_taxpayer_id) == (
            settings.SELLER["name"],
            settings.SELLER["taxpayer_id"],
        )
        line = invoice.lines.get()
        assert line.item_name == f"*软件服务*{order.lines.get().service.name}"
        contract = Contract.objects.get(order=order)
        assert contract.seal_filing_number == settings.SELLER["seal_filing_number"]
        assert contract.buyer_name == order.contract_customer_name
        assert contract.agreement_version == order.agreement_version


class TestExactlyOnce:
    def test_confirming_twice_makes_one_invoice_one_contract_and_one_file_each(
        self, in_trade, django_capture_on_commit_callbacks
    ):
        confirm(in_trade, django_capture_on_commit_callbacks)
        # Refused for now instead of ignored: see test_a_repeat_after_the_documents_are_made_is_not_an_error.
        with contextlib.suppress(TransitionRefused):
            confirm(in_trade, django_capture_on_commit_callbacks)

        assert Invoice.objects.filter(order=in_trade).count() == 1
        assert Contract.objects.filter(order=in_trade).count() == 1
        assert DocumentJob.objects.filter(order=in_trade).count() == 1
        assert OrderEvent.objects.filter(order=in_trade, action="confirm_receipt").count() == 1
        assert len(stored_files(in_trade)) == 2

    def test_a_second_confirmation_before_the_documents_are_made_changes_nothing(
        self, in_trade, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=False) as first_commit:
            order_services.order_confirm_receipt(order=in_trade, actor=in_trade.customer)
        confirmed = confirm(in_trade, django_capture_on_commit_callbacks)  # the second click
        for callback in first_commit:  # the first request's worker runs late
            callback()

        assert confirmed.status == Order.Status.SUCCESS
        assert OrderEvent.objects.filter(order=in_trade, action="confirm_receipt").count() == 1
        assert job_of(in_trade).status == DocumentJob.Status.DONE
        assert Invoice.objects.filter(order=in_trade).count() == 1
        assert len(stored_files(in_trade)) == 2

    def test_a_repeat_after_the_documents_are_made_is_not_an_error(self, in_trade, django_capture_on_commit_callbacks):
        """DESIGN.md: a double click finds the new state and does nothing. In-process the
        documents are made before the second click arrives."""
        confirm(in_trade, django_capture_on_commit_callbacks)

        again = confirm(in_trade, django_capture_on_commit_callbacks)

        assert again.status == Order.Status.SUCCESS
        assert OrderEvent.objects.filter(order=in_trade, action="confirm_receipt").count() == 1

    def test_generating_twice_changes_nothing(self, with_documents):
        order = with_documents
        invoice, contract, job = Invoice.objects.get(order=order), Contract.objects.get(order=order), job_of(order)
        files = {name: read_stored(Invoice._meta.get_field("sheet").storage.open(name)) for name in stored_files(order)}

        again = services.documents_generate(order_id=order.pk)

        assert again.status == DocumentJob.Status.DONE and again.attempts == job.attempts == 1
        assert list(Invoice.objects.filter(order=order).values_list("pk", "sheet")) == [(invoice.pk, invoice.sheet.name)]
        assert list(Contract.objects.filter(order=order).values_list("pk", "sha256", "token")) == [
            (contract.pk, contract.sha256, contract.token)
        ]
        storage = Invoice._meta.get_field("sheet").storage
        assert {name: read_stored(storage.open(name)) for name in stored_files(order)} == files
        assert OrderEvent.objects.filter(order=order, action="documents_ready").count() == 1

    def test_documents_of_an_order_not_confirmed_are_refused(self, in_trade):
        DocumentJob.objects.create(order=in_trade)

        with pytest.raises(InvoiceError):
            services.documents_generate(order_id=in_trade.pk)

        assert not Invoice.objects.filter(order=in_trade).exists()


class TestFailures:
    def test_a_missing_signing_key_fails_the_job_visibly_and_leaves_no_half_made_invoice(
        self, in_trade, settings, tmp_path, django_capture_on_commit_callbacks
    ):
        configured_key = settings.SIGNING_KEY
        settings.SIGNING_KEY = str(tmp_path / "missing-key.pem")

        confirm(in_trade, django_capture_on_commit_callbacks)

        in_trade.refresh_from_db()
        assert in_trade.status == Order.Status.SUCCESS  # the confirmation stands
        job = job_of(in_trade)
        assert job.status == DocumentJob.Status.FAILED and job.attempts == 1
        assert "missing-key.pem" in job.last_error
        # The invoice was made before the contract failed: it rolled back with it.
        assert not Invoice.objects.filter(order=in_trade).exists()
        assert not Contract.objects.filter(order=in_trade).exists()
        assert not OrderEvent.objects.filter(order=in_trade, action="documents_ready").exists()

        settings.SIGNING_KEY = configured_key
        done = services.documents_generate(order_id=in_trade.pk)

        assert done.status == DocumentJob.Status.DONE and done.attempts == 2 and done.last_error == ""
        invoice, contract = Invoice.objects.get(order=in_trade), Contract.objects.get(order=in_trade)
        # One file each: nothing left over from the failed run.
        assert sorted(stored_files(in_trade)) == sorted([invoice.sheet.name, contract.pdf.name])

    def test_a_broken_seller_setting_fails_the_run_and_records_the_attempt(self, confirmed, settings):
        seller = settings.SELLER
        settings.SELLER = {key: value for key, value in seller.items() if key != "taxpayer_id"}

        with pytest.raises(KeyError):
            services.documents_generate(order_id=confirmed.pk)
        services.documents_attempt_failed(order_id=confirmed.pk, error=KeyError("taxpayer_id"), final=False)

        job = job_of(confirmed)
        assert job.status == DocumentJob.Status.PENDING  # waiting for its retry
        assert job.attempts == 1 and "taxpayer_id" in job.last_error
        assert not Invoice.objects.filter(order=confirmed).exists()
        assert stored_files(confirmed) == []

        settings.SELLER = seller
        assert services.documents_generate(order_id=confirmed.pk).status == DocumentJob.Status.DONE
        assert Invoice.objects.filter(order=confirmed).count() == 1

    def test_a_failure_recorded_after_success_does_not_undo_done(self, with_documents):
        services.documents_attempt_failed(order_id=with_documents.pk, error=RuntimeError("late"), final=True)

        job = job_of(with_documents)
        assert job.status == DocumentJob.Status.DONE and job.last_error == ""

    def test_a_failed_job_is_sent_again_by_retry(self, confirmed):
        DocumentJob.objects.filter(order=confirmed).update(status=DocumentJob.Status.FAILED, last_error="x")

        assert services.documents_retry(job=job_of(confirmed)) is True

        assert job_of(confirmed).status == DocumentJob.Status.DONE
        assert services.documents_retry(job=job_of(confirmed)) is False  # done: nothing to do


class TestSweep:
    @pytest.fixture(autouse=True)
    def sweep_settings(self, settings):
        settings.DOCUMENTS_SWEEP_AFTER_MINUTES = 10
        settings.DOCUMENTS_MAX_ATTEMPTS = 3

    def later(self, minutes):
        return timezone.now() + timedelta(minutes=minutes)

    def test_a_job_never_sent_is_sent_only_after_the_delay(self, confirmed):
        assert services.documents_sweep(now=self.later(0)) == []
        assert services.documents_sweep(now=self.later(9)) == []
        assert job_of(confirmed).status == DocumentJob.Status.PENDING

        assert services.documents_sweep(now=self.later(11)) == [confirmed.pk]

        assert job_of(confirmed).status == DocumentJob.Status.DONE
        assert Invoice.objects.filter(order=confirmed).count() == 1
        assert Contract.objects.filter(order=confirmed).count() == 1

    def test_a_job_sent_or_started_recently_is_left_to_its_worker(self, confirmed):
        long_ago = timezone.now() - timedelta(hours=1)
        DocumentJob.objects.filter(order=confirmed).update(
            requested_at=long_ago, enqueued_at=timezone.now() - timedelta(minutes=2)
        )
        assert services.documents_sweep() == []

        DocumentJob.objects.filter(order=confirmed).update(
            enqueued_at=long_ago, started_at=timezone.now() - timedelta(minutes=2), status=DocumentJob.Status.RUNNING
        )
        assert services.documents_sweep() == []

        DocumentJob.objects.filter(order=confirmed).update(started_at=long_ago)  # a worker died mid-run
        assert services.documents_sweep() == [confirmed.pk]
        assert job_of(confirmed).status == DocumentJob.Status.DONE

    def test_a_confirmed_order_without_a_job_gets_one(self, confirmed, in_trade):
        DocumentJob.objects.filter(order=confirmed).delete()  # as if the hook had not run

        assert services.documents_sweep(now=self.later(5)) == []
        assert not DocumentJob.objects.filter(order=confirmed).exists()

        assert services.documents_sweep(now=self.later(11)) == [confirmed.pk]

        assert job_of(confirmed).status == DocumentJob.Status.DONE
        assert Invoice.objects.filter(order=confirmed).count() == 1
        assert not DocumentJob.objects.filter(order=in_trade).exists()  # not confirmed: no documents owed

    def test_done_jobs_and_jobs_out_of_attempts_are_skipped(self, confirmed):
        done = order_in(Order.Status.SUCCESS)
        services.documents_generate(order_id=done.pk)
        DocumentJob.objects.filter(order=done).update(requested_at=timezone.now() - timedelta(hours=2))
        DocumentJob.objects.filter(order=confirmed).update(status=DocumentJob.Status.FAILED, attempts=3)

        assert services.documents_sweep(now=self.later(60)) == []

        DocumentJob.objects.filter(order=confirmed).update(attempts=2)
        assert services.documents_sweep(now=self.later(60)) == [confirmed.pk]
        assert job_of(confirmed).status == DocumentJob.Status.DONE and job_of(confirmed).attempts == 3
        assert job_of(done).attempts == 1  # never sent again

    def test_the_management_command_sweeps(self, confirmed):
        out = io.StringIO()
        call_command("documents_sweep", stdout=out)
        assert out.getvalue().startswith("0 orders")

        DocumentJob.objects.filter(order=confirmed).update(requested_at=timezone.now() - timedelta(hours=1))
        out = io.StringIO()
        call_command("documents_sweep", stdout=out)

        assert out.getvalue().startswith("1 orders")
        assert job_of(confirmed).status == DocumentJob.Status.DONE
        assert Invoice.objects.filter(order=confirmed).count() == 1


@pytest.fixture
def finance():
    return UserFactory(staff=True)


@pytest.fixture
def invoice(with_documents):
    return Invoice.objects.get(order=with_documents)


class TestIssue:
    def test_issuing_records_number_date_event_message_and_email(
        self, invoice, finance, django_capture_on_commit_callbacks
    ):
        today = timezone.localdate()
        mail.outbox.clear()
        number = invoice_number(today)

        with django_capture_on_commit_callbacks(execute=True):
            issued = services.invoice_issue(invoice=invoice, actor=finance, number=number, issued_on=today)

        invoice.refresh_from_db()
        assert (invoice.status, invoice.number, invoice.issued_on) == (Invoice.Status.ISSUED, number, today)
        assert issued.pk == invoice.pk
        event = OrderEvent.objects.get(order=invoice.order, action="invoice_issue")
        assert (event.actor, event.note) == (finance, number)
        message = Message.objects.filter(user=invoice.order.customer).latest("id")
        assert number in message.body and message.link == invoice.order.get_absolute_url()
        assert [m.to for m in mail.outbox] == [[invoice.order.customer.email]]
        assert number in mail.outbox[0].body

    def test_spaces_in_the_number_are_dropped(self, invoice, finance):
        today = timezone.localdate()
        number = invoice_number(today)
        spaced = " ".join(number[i : i + 4] for i in range(0, 20, 4))

        services.invoice_issue(invoice=invoice, actor=finance, number=spaced, issued_on=today)

        invoice.refresh_from_db()
        assert invoice.number == number

    def test_a_bad_number_is_refused_and_changes_nothing(self, invoice, finance):
        today = timezone.localdate()
        bad_numbers = [
            "1234",
            invoice_number(today)[:19],  # 19 digits
            invoice_number(today)[:19] + "X",
            f"{today.year % 100:02d}002{1:015d}",  # 00 is no province
            f"{(today.year - 1) % 100:02d}312{1:015d}",  # last year's number
            "",
        ]
        for number in bad_numbers:
            with pytest.raises(InvoiceError):
                services.invoice_issue(invoice=invoice, actor=finance, number=number, issued_on=today)

            invoice.refresh_from_db()
            assert invoice.status == Invoice.Status.PENDING and invoice.number is None, number
        assert not OrderEvent.objects.filter(order=invoice.order, action="invoice_issue").exists()

    def test_a_date_in_the_future_or_before_the_invoice_was_made_is_refused(self, invoice, finance):
        tomorrow = timezone.localdate() + timedelta(days=1)
        yesterday = timezone.localdate() - timedelta(days=1)

        with pytest.raises(InvoiceError):
            services.invoice_issue(invoice=invoice, actor=finance, number=invoice_number(tomorrow), issued_on=tomorrow)
        with pytest.raises(InvoiceError):
            services.invoice_issue(
                invoice=invoice, actor=finance, number=invoice_number(yesterday), issued_on=yesterday
            )

        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PENDING

    def test_a_number_used_by_another_invoice_is_refused(self, invoice, finance):
        other_order = order_in(Order.Status.SUCCESS)
        services.documents_generate(order_id=other_order.pk)
        other = Invoice.objects.get(order=other_order)
        today = timezone.localdate()
        services.invoice_issue(invoice=other, actor=finance, number=invoice_number(today), issued_on=today)

        with pytest.raises(InvoiceError):
            services.invoice_issue(invoice=invoice, actor=finance, number=invoice_number(today), issued_on=today)

        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PENDING and invoice.number is None

    def test_the_same_issue_sent_twice_is_a_no_op_and_another_number_is_refused(
        self, invoice, finance, django_capture_on_commit_callbacks
    ):
        today = timezone.localdate()
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            services.invoice_issue(invoice=invoice, actor=finance, number=invoice_number(today), issued_on=today)
            services.invoice_issue(invoice=invoice, actor=finance, number=invoice_number(today), issued_on=today)

        with pytest.raises(InvoiceError):
            services.invoice_issue(invoice=invoice, actor=finance, number=invoice_number(today, 2), issued_on=today)

        invoice.refresh_from_db()
        assert invoice.number == invoice_number(today)
        assert OrderEvent.objects.filter(order=invoice.order, action="invoice_issue").count() == 1
        assert len(mail.outbox) == 1

    def test_an_uploaded_official_pdf_replaces_the_sheet_for_the_customer(self, invoice, finance):
        today = timezone.localdate()
        official = render_pdf("<p>数电发票 official</p>")

        services.invoice_issue(
            invoice=invoice, actor=finance, number=invoice_number(today), issued_on=today, official_pdf=pdf_upload(content=official)
        )

        invoice.refresh_from_db()
        assert read_stored(invoice.document) == official
        assert invoice.document.name != invoice.sheet.name and invoice.sheet

    def test_an_upload_that_is_not_a_pdf_is_refused(self, invoice, finance):
        today = timezone.localdate()

        with pytest.raises(InvoiceError):
            services.invoice_issue(
                invoice=invoice,
                actor=finance,
                number=invoice_number(today),
                issued_on=today,
                official_pdf=pdf_upload("fake.pdf", b"<html>not a pdf</html>"),
            )

        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PENDING and not invoice.official_pdf


class TestDeliver:
    @pytest.fixture
    def issued(self, invoice, finance):
        today = timezone.localdate()
        return services.invoice_issue(invoice=invoice, actor=finance, number=invoice_number(today), issued_on=today)

    def test_a_pending_invoice_cannot_be_mailed(self, invoice, finance):
        with pytest.raises(InvoiceError):
            services.invoice_deliver(invoice=invoice, actor=finance, tracking_number="SF1234567890")

        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PENDING and invoice.tracking_number == ""

    def test_mailing_records_tracking_event_message_and_email_once(
        self, issued, finance, django_capture_on_commit_callbacks
    ):
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            services.invoice_deliver(invoice=issued, actor=finance, tracking_number=" SF1234567890 ")
            services.invoice_deliver(invoice=issued, actor=finance, tracking_number="SF1234567890")

        issued.refresh_from_db()
        assert issued.status == Invoice.Status.DELIVERED and issued.tracking_number == "SF1234567890"
        assert issued.delivered_at is not None
        events = OrderEvent.objects.filter(order=issued.order, action="invoice_deliver")
        assert [(e.actor, e.note) for e in events] == [(finance, "SF1234567890")]
        assert "SF1234567890" in Message.objects.filter(user=issued.order.customer).latest("id").body
        assert len(mail.outbox) == 1 and "SF1234567890" in mail.outbox[0].body

    def test_a_missing_or_overlong_tracking_number_is_refused(self, issued, finance):
        for tracking in ["", "   ", "X" * 65]:
            with pytest.raises(InvoiceError):
                services.invoice_deliver(invoice=issued, actor=finance, tracking_number=tracking)

            issued.refresh_from_db()
            assert issued.status == Invoice.Status.ISSUED and issued.tracking_number == ""

    def test_a_mailed_invoice_cannot_be_issued_again(self, issued, finance):
        services.invoice_deliver(invoice=issued, actor=finance, tracking_number="SF1")
        today = timezone.localdate()

        with pytest.raises(InvoiceError):
            services.invoice_issue(invoice=issued, actor=finance, number=invoice_number(today, 9), issued_on=today)
        with pytest.raises(InvoiceError):
            services.invoice_deliver(invoice=issued, actor=finance, tracking_number="SF2")

        issued.refresh_from_db()
        assert (issued.status, issued.tracking_number) == (Invoice.Status.DELIVERED, "SF1")
