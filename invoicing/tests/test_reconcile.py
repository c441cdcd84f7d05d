"""manage.py reconcile: clean on a database of orders in every state made through the
services, and each corruption made behind the services' back (a direct DB update) is
found, with exit status 1 and the order's number; the only writing option re-makes
missing documents; the number of queries does not grow with the number of orders."""

import io
import json
import shutil
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from invoicing import reconcile, services
from invoicing.models import Contract, DocumentJob, Invoice
from orders.models import Order, OrderEvent
from orders.tests.factories import order_in
from refunds.models import RefundRequest
from refunds.tests.factories import finance_user, refund_completed, refund_requested, refundable_order

from .conftest import fields_storage, invoice_number, write_signing_pair

S = Order.Status
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("configured_signing_key")]


def run(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("reconcile", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


class Issuer:
    """Finance issuing invoices with distinct valid numbers."""

    def __init__(self):
        self.finance = finance_user()
        self.sequence = 0

    def __call__(self, invoice: Invoice) -> Invoice:
        self.sequence += 1
        today = timezone.localdate()
        return services.invoice_issue(
            invoice=invoice, actor=self.finance, number=invoice_number(today, self.sequence), issued_on=today
        )


def original(order) -> Invoice:
    return order.invoices.get(purpose=Invoice.Purpose.ORIGINAL)


def build_world():
    """Orders in every state, as customers, staff, finance and the worker leave them."""
    issue = Issuer()
    orders = {
        "awaiting": order_in(S.AWAITING_PAYMENT),
        "rejected": order_in(S.REJECTED),
        "failed": order_in(S.FAILED),
        "in_trade": order_in(S.IN_TRADE),
        "success": refundable_order(),
        "issued": refundable_order(),
        "refunding": refundable_order(),
        "partial_before_issue": refundable_order(),  # original voided, re-issued for the rest
        "partial_after_issue": refundable_order(),  # red-letter issued (original reversed), then another
        "refunded_after_issue": refundable_order(),
        "refunded_before_documents": refundable_order(documents=False),
        "refunded_in_trade": refundable_order(S.IN_TRADE),
    }
    issue(original(orders["issued"]))
    refund_requested(orders["refunding"], "300.00")
    refund_completed(orders["partial_before_issue"], "500.00")

    partial = orders["partial_after_issue"]
    issue(original(partial))
    refund_completed(partial, "500.00")
    issue(partial.invoices.get(purpose=Invoice.Purpose.RED_LETTER))
    assert original(partial).status == Invoice.Status.REVERSED
    refund_completed(partial, "300.00", reference="REF-2")

    issue(original(orders["refunded_after_issue"]))
    refund_completed(orders["refunded_after_issue"], orders["refunded_after_issue"].paid_amount)
    refund_completed(orders["refunded_before_documents"], orders["refunded_before_documents"].paid_amount)
    services.documents_generate(order_id=orders["refunded_before_documents"].pk)
    refund_completed(orders["refunded_in_trade"], orders["refunded_in_trade"].paid_amount)
    # The sheets of re-issued and red-letter invoices, as the worker makes them after commit.
    for invoice_id in Invoice.objects.filter(sheet="").values_list("pk", flat=True):
        services.invoice_sheet_ensure(invoice_id=invoice_id)
    for order in orders.values():
        order.refresh_from_db()
    assert {order.status for order in orders.values()} == set(S.values)
    assert not orders["refunded_before_documents"].invoices.exists()
    assert orders["refunded_in_trade"].completed_at is None
    return orders


def findings(*args) -> list[tuple[str, str]]:
    code, out = run("--json", *args)
    data = json.loads(out)
    assert code == (1 if data["findings"] else 0)
    return [(finding["order"], finding["check"]) for finding in data["findings"]]


def test_an_empty_database_is_clean():
    assert run() == (0, "Reconciled 0 orders (all orders), 0 with their receipt confirmed.\nOK: no findings.\n")


def test_since_must_be_a_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("reconcile", "--since", "yesterday")


def _orders(count):
    """`count` orders: awaiting payment, in trade, confirmed with documents, a refund."""
    for index in range(count):
        kind = index % 4
        if kind == 0:
            order_in(S.AWAITING_PAYMENT)
        elif kind == 1:
            order_in(S.IN_TRADE)
        elif kind == 2:
            refundable_order()
        else:
            refund_completed(refundable_order(), "100.00")


def test_the_number_of_queries_does_not_grow_with_the_orders():
    _orders(3)
    with CaptureQueriesContext(connection) as few:
        small = reconcile.reconcile(files=True)
    _orders(9)
    with CaptureQueriesContext(connection) as many:
        large = reconcile.reconcile(files=True)
    assert (small.orders, large.orders) == (3, 12)
    assert large.files_checked > small.files_checked
    assert len(many) == len(few) <= 13


class TestOnAWorldOfOrders(TestCase):
    """The tests that need orders in every state: the world is built once for the class (it
    renders and signs a dozen real documents) and each test rolls back its own changes."""

    @classmethod
    def setUpTestData(cls):
        # A configured seller key, as the configured_signing_key fixture gives the other tests
        # (function fixtures do not reach setUpTestData).
        directory = Path(tempfile.mkdtemp(prefix="reconcile-signing-"))
        cls.addClassCleanup(shutil.rmtree, directory, ignore_errors=True)
        key, cert = write_signing_pair(directory)
        with override_settings(SIGNING_KEY=key, SIGNING_CERT=cert, SIGNING_KEY_PASSPHRASE=""):
            cls.world = build_world()

    def test_clean_database_has_no_findings(self):
        world = self.world
        code, out = run("--files")
        assert code == 0, out
        assert f"Reconciled {len(world)} orders" in out
        assert "7 with their receipt confirmed" in out
        assert "OK: no findings." in out
        assert "stored files checked" in out


    def test_a_deleted_contract_is_found(self):
        world = self.world
        order = world["issued"]
        Contract.objects.filter(order=order).delete()
        code, out = run()
        assert code == 1
        assert f"{order.number}\tcontract_missing\tno contract, though its document job is done" in out
        assert "1 findings: contract_missing 1" in out


    def test_a_deleted_job_is_still_expected_then_missing(self):
        order = order_in(S.SUCCESS)  # confirmed just now; the worker has not run (no commit in a test)
        code, out = run()
        assert code == 0, out
        assert "1 confirmed in the last 10 minutes: documents still expected" in out

        Order.objects.filter(pk=order.pk).update(completed_at=timezone.now() - timedelta(minutes=42))
        assert findings() == [(order.number, "documents_missing")]
        code, out = run()
        assert "documents missing 42 min after the receipt was confirmed: document job pending after 0 attempt(s)" in out

        DocumentJob.objects.filter(order=order).delete()
        code, out = run()
        assert code == 1
        assert f"{order.number}\tdocuments_missing\tdocuments missing 42 min after the receipt was confirmed: no document job was recorded" in out


    def test_a_missing_original_invoice_is_found(self):
        world = self.world
        order = world["success"]
        Invoice.objects.filter(order=order).delete()
        assert findings() == [(order.number, "original_invoice_missing")]


    def test_documents_of_an_unconfirmed_order_are_found(self):
        world = self.world
        order = world["success"]
        Order.objects.filter(pk=order.pk).update(completed_at=None)
        assert (order.number, "documents_unconfirmed") in findings()


    def test_a_removed_event_breaks_the_chain(self):
        world = self.world
        order = world["success"]
        order.events.filter(action="approve").delete()
        code, out = run()
        assert code == 1
        assert f"{order.number}\thistory_chain\tevent #" in out
        assert "confirm_receipt (in_trade → success) follows a change that ended at awaiting_payment" in out


    def test_a_removed_submit_event_is_found(self):
        world = self.world
        order = world["rejected"]
        order.events.filter(action="submit").delete()
        assert findings() == [(order.number, "history_no_submit")]


    def test_an_order_without_events_is_found(self):
        world = self.world
        order = world["awaiting"]
        order.events.all().delete()
        assert findings() == [(order.number, "history_no_status"), (order.number, "history_no_submit")]


    def test_a_changed_to_status_is_found(self):
        world = self.world
        order = world["issued"]
        order.events.filter(action="approve").update(to_status=S.REJECTED)
        assert findings() == [(order.number, "history_chain")]
        last = order.events.filter(action="confirm_receipt")
        last.update(to_status=S.REFUNDED)
        assert (order.number, "history_end") in findings()


    def test_a_status_changed_without_its_event_is_found(self):
        world = self.world
        order = world["in_trade"]
        Order.objects.filter(pk=order.pk).update(status=S.SUCCESS)
        code, out = run()
        assert f"{order.number}\thistory_end\tstatus success but its last status change ends at in_trade" in out


    def test_an_order_without_lines_is_found(self):
        order = self.world["awaiting"]
        order.lines.all().delete()
        assert findings() == [(order.number, "order_no_lines")]

    def test_totals_that_do_not_add_up_are_found(self):
        world = self.world
        Order.objects.filter(pk=world["awaiting"].pk).update(total=F("total") + 1)
        line = world["rejected"].lines.first()
        type(line).objects.filter(pk=line.pk).update(subtotal=F("subtotal") - Decimal("0.01"))
        assert findings() == sorted(
            [
                (world["awaiting"].number, "order_lines_total"),
                (world["awaiting"].number, "order_total"),
                (world["rejected"].number, "order_lines_total"),
            ]
        )

    def test_events_that_do_not_move_the_status_are_not_part_of_the_chain(self):
        world = self.world
        order = world["issued"]
        assert order.events.filter(action__in=["documents_ready", "invoice_issue"]).exists()
        assert run()[0] == 0


    def test_a_wrong_refunded_amount_is_found(self):
        world = self.world
        order = world["partial_before_issue"]
        Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("400.00"))
        code, out = run()
        assert code == 1
        assert f"{order.number}\trefunded_amount\trefunded amount ¥400.00, but its completed refunds add up to ¥500.00" in out
        # The invoices still add up to what was invoiceable before.
        assert f"{order.number}\tinvoice_sum\t" in out


    def test_refunding_without_an_open_refund_and_an_open_refund_elsewhere_are_found(self):
        world = self.world
        refunding = world["refunding"]
        RefundRequest.objects.filter(order=refunding).update(status=RefundRequest.Status.WITHDRAWN)
        success = world["success"]
        refund = refund_requested(success, "100.00")
        Order.objects.filter(pk=success.pk).update(status=S.SUCCESS)
        OrderEvent.objects.filter(order=success, action="request_refund").delete()
        assert sorted(findings()) == sorted([(refunding.number, "refund_open_none"), (success.number, "refund_open_not_refunding")])
        assert refund.status == RefundRequest.Status.PENDING


    def test_an_invoice_total_that_does_not_add_up_is_found(self):
        world = self.world
        order = world["partial_after_issue"]
        red = order.invoices.filter(purpose=Invoice.Purpose.RED_LETTER).order_by("pk").last()
        Invoice.objects.filter(pk=red.pk).update(total=Decimal("-200.00"), amount=red.amount + 100, tax=red.tax)
        code, out = run()
        assert code == 1
        assert (
            f"{order.number}\tinvoice_sum\tinvoices not voided add up to ¥1300.00, but ¥1200.00 is invoiceable "
            "(paid ¥2000.00 − refunded ¥800.00)"
        ) in out


    def test_a_voided_invoice_brought_back_is_found(self):
        world = self.world
        order = world["partial_before_issue"]
        Invoice.objects.filter(order=order, status=Invoice.Status.CANCELLED).update(status=Invoice.Status.PENDING)
        assert findings() == [(order.number, "invoice_sum")]


    def test_a_sheetless_invoice_is_found_once_the_sweeper_would_have_made_it(self):
        world = self.world
        order = world["partial_before_issue"]
        reissue = order.invoices.get(purpose=Invoice.Purpose.REISSUE)
        Invoice.objects.filter(pk=reissue.pk).update(sheet="")
        assert run()[0] == 0  # just made: its task may still be running
        Invoice.objects.filter(pk=reissue.pk).update(created_at=timezone.now() - timedelta(hours=1))
        assert findings() == [(order.number, "invoice_sheet_missing")]
        assert run("--fix-missing-documents")[0] == 1
        reissue.refresh_from_db()
        assert reissue.sheet
        assert run()[0] == 0


    def test_a_deleted_stored_file_is_found_with_files(self):
        world = self.world
        order = world["refunding"]
        contract = Contract.objects.get(order=order)
        sheet = original(world["issued"]).sheet.name
        storage = fields_storage()
        for name in (contract.pdf.name, sheet):  # the storage is not rolled back: put them back after
            content = storage.open(name).read()
            self.addCleanup(storage.save, name, ContentFile(content))
            storage.delete(name)
        assert run()[0] == 0  # the database alone is consistent
        code, out = run("--files")
        assert code == 1
        assert f"{order.number}\tfile_missing\tcontract PDF {contract.pdf.name} is not in storage" in out
        assert f"{world['issued'].number}\tfile_missing\tinvoice #" in out
        assert f"information sheet {sheet} is not in storage" in out


    def test_since_limits_to_orders_submitted_from_that_day(self):
        world = self.world
        order = world["success"]
        Contract.objects.filter(order=order).delete()
        Order.objects.filter(pk=order.pk).update(submitted_at=timezone.now() - timedelta(days=30))
        today = timezone.localdate().isoformat()
        code, out = run("--since", today)
        assert code == 0, out
        assert f"Reconciled {len(world) - 1} orders (submitted since {today})" in out
        assert findings() == [(order.number, "contract_missing")]


    def test_json_output(self):
        world = self.world
        Contract.objects.filter(order=world["success"]).delete()
        code, out = run("--json")
        data = json.loads(out)
        assert code == 1
        assert data["orders"] == len(world) and data["confirmed"] == 7
        assert data["counts"] == {"contract_missing": 1}
        assert data["findings"] == [
            {"order": world["success"].number, "check": "contract_missing", "problem": "no contract, though its document job is done"}
        ]
        assert data["fixed"] is None


    def test_fix_missing_documents_remakes_a_deleted_contract(self):
        world = self.world
        order = world["issued"]
        Contract.objects.filter(order=order).delete()
        invoices_before = list(Invoice.objects.order_by("pk").values_list("pk", "status", "total"))
        code, out = run("--fix-missing-documents")
        assert code == 1  # what was found; the fix is reported after it
        assert f"--fix-missing-documents: 1 orders sent to a worker ({order.number})" in out
        contract = Contract.objects.get(order=order)
        assert fields_storage().exists(contract.pdf.name)
        assert DocumentJob.objects.get(order=order).status == DocumentJob.Status.DONE
        assert list(Invoice.objects.order_by("pk").values_list("pk", "status", "total")) == invoices_before
        code, out = run("--files")
        assert code == 0, out
        assert "OK: no findings." in out


    def test_fix_missing_documents_makes_those_never_made(self):
        order = order_in(S.SUCCESS)
        DocumentJob.objects.filter(order=order).delete()
        Order.objects.filter(pk=order.pk).update(completed_at=timezone.now() - timedelta(hours=2))
        run("--fix-missing-documents")
        assert Contract.objects.filter(order=order).count() == 1
        assert order.invoices.get().purpose == Invoice.Purpose.ORIGINAL
        assert run()[0] == 0


    def test_fix_leaves_documents_still_expected_alone(self):
        order = order_in(S.SUCCESS)
        assert run("--fix-missing-documents")[0] == 0
        assert not Contract.objects.filter(order=order).exists()
        assert DocumentJob.objects.get(order=order).attempts == 0


    def test_without_fix_nothing_is_written(self):
        world = self.world
        order = order_in(S.SUCCESS)
        Order.objects.filter(pk=order.pk).update(completed_at=timezone.now() - timedelta(hours=2))
        Contract.objects.filter(order=world["success"]).delete()
        with CaptureQueriesContext(connection) as queries:
            assert run("--files")[0] == 1
        # Reads only (on PostgreSQL the long ones through a server-side cursor: DECLARE … FOR SELECT).
        for query in queries.captured_queries:
            sql = query["sql"].lstrip()
            assert sql.startswith("SELECT ") or (sql.startswith("DECLARE ") and " CURSOR " in sql and " FOR SELECT " in sql), sql
        assert not Contract.objects.filter(order__in=[order, world["success"]]).exists()
