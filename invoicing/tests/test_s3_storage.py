"""Documents on S3-compatible storage (DOCUMENTS_S3_BUCKET): a real S3 API, moto's server
mode on a free port of 127.0.0.1, with django-storages' S3Storage built from the
environment as mall/settings/base.py builds it.

What is proved: a confirmed order's invoice sheet and signed contract land in the
bucket, private; the download views stream them to the owner and answer 404 to anyone
else, and 404 (logged) when the object is gone; reconcile --files sees them and misses a
deleted one; a rerun over a crashed run's leftover replaces it under the same key (no
second object); remittance slips go to the bucket too.
"""

import hashlib

import pytest
from django.urls import reverse
from storages.backends.s3 import S3Storage

from accounts.tests.factories import UserFactory
from invoicing import reconcile, services, signing
from invoicing.models import Contract, DocumentJob, Invoice
from mall.storage import documents_storage_config
from orders import proofs
from orders.models import Order, PaymentProof
from orders.tests.factories import order_in
from orders.tests.test_payment_proofs import png_bytes, upload
from tests.support.s3server import S3Server

# Once, on the PostgreSQL pass when there are two: the bucket does not care which database.
pytestmark = [pytest.mark.once, pytest.mark.django_db, pytest.mark.usefixtures("configured_signing_key")]

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
# Every FileField that holds a private document; they took their storage at import.
DOCUMENT_FIELDS = [(Invoice, "sheet"), (Invoice, "official_pdf"), (Contract, "pdf"), (PaymentProof, "file")]


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    server = S3Server(tmp_path_factory.mktemp("moto")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server, settings):
    """A fresh bucket that every document field of this process writes to, through the
    S3Storage that DOCUMENTS_S3_BUCKET & co. configure."""
    name = s3_server.bucket_create()
    config = documents_storage_config(s3_server.environment(name), directory=None)
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    storage = S3Storage(**config["OPTIONS"])
    settings.STORAGES = {**settings.STORAGES, "documents": config}
    saved = [(model, field, model._meta.get_field(field).storage) for model, field in DOCUMENT_FIELDS]
    for model, field in DOCUMENT_FIELDS:
        model._meta.get_field(field).storage = storage
    try:
        yield name
    finally:
        for model, field, original in saved:
            model._meta.get_field(field).storage = original


def with_documents(**kwargs) -> Order:
    order = order_in(Order.Status.SUCCESS, **kwargs)
    services.documents_generate(order_id=order.pk)
    return order


def object_bytes(s3_server, bucket, key) -> bytes:
    return s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def keys_of(s3_server, bucket, order) -> list[str]:
    return [key for key in s3_server.keys(bucket) if order.number in key]


def test_without_a_bucket_documents_stay_in_the_private_directory(tmp_path):
    config = documents_storage_config({}, directory=tmp_path)
    assert config == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path, "base_url": None},
    }


def test_a_bucket_in_the_environment_selects_private_s3_storage(tmp_path):
    config = documents_storage_config(
        {"DOCUMENTS_S3_BUCKET": "shop-docs", "DOCUMENTS_S3_PREFIX": "/prod/", "AWS_S3_REGION_NAME": "cn-north-1"},
        directory=tmp_path,
    )
    options = config["OPTIONS"]
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    assert options["bucket_name"] == "shop-docs" and options["location"] == "prod"
    assert options["region_name"] == "cn-north-1" and options["endpoint_url"] is None
    assert options["access_key"] is None  # boto3's own credential chain then
    assert options["default_acl"] == "private" and options["file_overwrite"] is False


def test_a_confirmed_orders_invoice_sheet_and_contract_land_in_the_bucket_privately(s3_server, bucket):
    order = with_documents()

    invoice, contract = Invoice.objects.get(order=order), Contract.objects.get(order=order)
    assert keys_of(s3_server, bucket, order) == sorted(
        [f"documents/{invoice.sheet.name}", f"documents/{contract.pdf.name}"]
    )
    signed = object_bytes(s3_server, bucket, f"documents/{contract.pdf.name}")
    assert hashlib.sha256(signed).hexdigest() == contract.sha256
    assert signing.verify_pdf(signed).valid
    assert object_bytes(s3_server, bucket, f"documents/{invoice.sheet.name}").startswith(b"%PDF-")
    for key in keys_of(s3_server, bucket, order):
        grants = s3_server.client().get_object_acl(Bucket=bucket, Key=key)["Grants"]
        assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]  # the owner only
        assert "URI" not in grants[0]["Grantee"]  # not AllUsers / AuthenticatedUsers


def test_downloads_stream_from_the_bucket_to_the_owner_and_404_to_anyone_else(s3_server, bucket, client):
    order = with_documents()
    invoice, contract = Invoice.objects.get(order=order), Contract.objects.get(order=order)
    invoice_url = reverse("invoicing:download", args=[invoice.pk])
    contract_url = reverse("invoicing:contract", args=[order.number])

    client.force_login(order.customer, backend=MODEL_BACKEND)
    got_invoice, got_contract = client.get(invoice_url), client.get(contract_url)
    assert got_invoice.status_code == got_contract.status_code == 200
    assert got_contract["Cache-Control"] == "private, no-store"
    assert b"".join(got_invoice.streaming_content) == object_bytes(
        s3_server, bucket, f"documents/{invoice.sheet.name}"
    )
    signed = b"".join(got_contract.streaming_content)
    assert hashlib.sha256(signed).hexdigest() == contract.sha256
    assert int(got_contract["Content-Length"]) == len(signed)

    client.force_login(UserFactory(), backend=MODEL_BACKEND)
    assert client.get(invoice_url).status_code == 404
    assert client.get(contract_url).status_code == 404


def test_an_object_gone_from_the_bucket_is_a_404_and_a_reconcile_finding(s3_server, bucket, client, caplog):
    order = with_documents()
    contract = Contract.objects.get(order=order)

    report = reconcile.reconcile(files=True)
    assert report.files_checked == 2
    assert [finding for finding in report.findings if finding.order == order.number] == []

    s3_server.client().delete_object(Bucket=bucket, Key=f"documents/{contract.pdf.name}")
    report = reconcile.reconcile(files=True)
    assert [(finding.order, finding.check) for finding in report.findings] == [(order.number, "file_missing")]
    client.force_login(order.customer, backend=MODEL_BACKEND)
    assert client.get(reverse("invoicing:contract", args=[order.number])).status_code == 404
    assert "missing from storage" in caplog.text


def test_a_rerun_replaces_a_crashed_runs_leftover_under_the_same_key(s3_server, bucket):
    order = order_in(Order.Status.SUCCESS)
    # What a run that died after writing its files (its rows rolled back) left behind.
    leftovers = [
        services._document_name(order, "invoice", "original"),
        services._document_name(order, "contract", "signed"),
    ]
    for name in leftovers:
        s3_server.client().put_object(Bucket=bucket, Key=f"documents/{name}", Body=b"half-written")

    services.documents_generate(order_id=order.pk)
    services.documents_generate(order_id=order.pk)  # a redelivered message: already done

    assert keys_of(s3_server, bucket, order) == sorted(f"documents/{name}" for name in leftovers)
    for name in leftovers:
        assert object_bytes(s3_server, bucket, f"documents/{name}").startswith(b"%PDF-")
    assert DocumentJob.objects.get(order=order).attempts == 1
    assert Invoice.objects.filter(order=order).count() == Contract.objects.filter(order=order).count() == 1


def test_remittance_slips_go_to_the_bucket_and_only_their_owner_gets_them(s3_server, bucket, client):
    order = order_in(Order.Status.AWAITING_PAYMENT)
    proof = proofs.payment_proof_upload(order=order, actor=order.customer, upload=upload(png_bytes()))

    assert f"documents/{proof.file.name}" in s3_server.keys(bucket)
    url = reverse("orders:payment-proof-download", args=[order.number, proof.pk])
    client.force_login(order.customer, backend=MODEL_BACKEND)
    response = client.get(url)
    assert response.status_code == 200
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == proof.sha256
    client.force_login(UserFactory(), backend=MODEL_BACKEND)
    assert client.get(url).status_code == 404
