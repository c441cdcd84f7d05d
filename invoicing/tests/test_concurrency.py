"""Exactly one invoice and one contract per order under concurrency, on PostgreSQL where
row locks are real. Commits are real here (transaction=True): the confirmation's
on-commit hook runs the documents task in-process, as without REDIS_URL."""

import pytest

from invoicing import services
from invoicing.models import Contract, DocumentJob, Invoice
from orders import services as order_services
from orders.models import Order, OrderEvent
from orders.tests.factories import order_in
from tests.support.helpers import run_concurrently

from .conftest import stored_files

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("configured_signing_key"),
]


def assert_one_set_of_documents(order):
    invoice = Invoice.objects.get(order=order)  # exactly one, or this raises
    contract = Contract.objects.get(order=order)
    assert DocumentJob.objects.filter(order=order).count() == 1
    assert sorted(stored_files(order)) == sorted([invoice.sheet.name, contract.pdf.name])
    assert OrderEvent.objects.filter(order=order, action="documents_ready").count() == 1


def test_two_concurrent_confirmations_make_one_event_one_job_and_one_set_of_documents():
    order = order_in(Order.Status.IN_TRADE)

    outcomes = run_concurrently(lambda i: order_services.order_confirm_receipt(order=order, actor=order.customer), 2)

    assert all(isinstance(o, Order) and o.status == Order.Status.SUCCESS for o in outcomes), outcomes
    assert OrderEvent.objects.filter(order=order, action="confirm_receipt").count() == 1
    assert DocumentJob.objects.get(order=order).status == DocumentJob.Status.DONE
    assert_one_set_of_documents(order)


def test_concurrent_runs_of_one_job_make_one_invoice_one_contract_and_one_file_each(settings, tmp_path):
    configured_key = settings.SIGNING_KEY
    settings.SIGNING_KEY = str(tmp_path / "missing.pem")
    order = order_in(Order.Status.SUCCESS)  # its documents task runs after the commit, and fails
    job = DocumentJob.objects.get(order=order)
    assert job.status == DocumentJob.Status.FAILED and not Invoice.objects.filter(order=order).exists()
    settings.SIGNING_KEY = configured_key

    # A Celery retry, the sweeper and staff's 重新生成 may all pick the job up at once.
    outcomes = run_concurrently(lambda i: services.documents_generate(order_id=order.pk, worker=f"w{i}"), 4)

    assert all(isinstance(o, DocumentJob) and o.status == DocumentJob.Status.DONE for o in outcomes), outcomes
    assert_one_set_of_documents(order)
    assert DocumentJob.objects.get(order=order).attempts <= 5  # the failed run and at most one per runner
