"""Backups and restore (`manage.py backup`, `manage.py restore`; docs/operations.md
"Backups and restore"), run as the operator runs them: other processes, configured by
DATABASE_URL and MEDIA_ROOT.

A shop whose confirmed orders' invoice sheets, official invoice PDF and signed contracts
were really made, with a remittance slip, is backed up from the test database and restored
into a new database on the same server and a new media directory. There, as another process
sees it, reconcile --files is clean, every table holds the same rows, every stored file is
byte-identical and every contract's signature still validates against the seller's
certificate. A document lost from the restored media is a reconcile finding; a backup of a
shop that lost a document makes restore exit non-zero; restore refuses a non-empty database
without --force and a backup whose dump does not match its manifest.

Every process is bounded in time; each new database is dropped when the test ends.
"""

import hashlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from psycopg2 import sql

from accounts.tests.factories import UserFactory
from invoicing import services, signing
from invoicing.models import Contract, Invoice
from invoicing.tests.conftest import invoice_number, pdf_upload, write_signing_pair
from mall.storage import documents_storage_config
from orders import proofs
from orders.models import Order, PaymentProof
from orders.tests.factories import order_in
from orders.tests.test_payment_proofs import png_bytes, upload
from tests.support.helpers import BASE_DIR, database_url

MANAGE_SECONDS = 120  # one manage.py process: Django's start-up, pg_dump or pg_restore, reconcile
# Every FileField that holds a private document; they took their storage at import.
DOCUMENT_FIELDS = [(Invoice, "sheet"), (Invoice, "official_pdf"), (Contract, "pdf"), (PaymentProof, "file")]
# Each contract's signature, checked in the restored shop as the verify page checks it:
# against the restored SIGNING_CERT, then against another seller certificate (argv).
VERIFY = """
import json
import sys
import django
django.setup()
from django.conf import settings
from invoicing.models import Contract
from invoicing.signing import verify_pdf
contracts = {contract.number: contract.pdf.read() for contract in Contract.objects.all()}
valid = {number: verify_pdf(pdf).valid for number, pdf in contracts.items()}
settings.SIGNING_KEY, settings.SIGNING_CERT = sys.argv[1:3]
other = {number: verify_pdf(pdf).valid for number, pdf in contracts.items()}
print(json.dumps({"restored certificate": valid, "another certificate": other}))
"""


@pytest.fixture
def signing_pair(settings, tmp_path):
    """The seller's key pair: configuration, not data. The restored shop is given the
    same files, as an operator restores SIGNING_KEY and SIGNING_CERT with it."""
    settings.SIGNING_KEY, settings.SIGNING_CERT = write_signing_pair(tmp_path / "signing")
    settings.SIGNING_KEY_PASSPHRASE = ""
    yield settings.SIGNING_KEY, settings.SIGNING_CERT
    signing._load.cache_clear()


@pytest.fixture
def media(settings, tmp_path):
    """The shop's MEDIA_ROOT: every document field of this process writes to its
    documents/ directory, the filesystem storage mall/settings/base.py configures."""
    root = tmp_path / "media"
    config = documents_storage_config({}, directory=root / "documents")
    settings.STORAGES = {**settings.STORAGES, "documents": config}
    storage = FileSystemStorage(**config["OPTIONS"])
    saved = [(model, field, model._meta.get_field(field).storage) for model, field in DOCUMENT_FIELDS]
    for model, field in DOCUMENT_FIELDS:
        model._meta.get_field(field).storage = storage
    try:
        yield root
    finally:
        for model, field, original in saved:
            model._meta.get_field(field).storage = original


def server_connection(database: dict, name: str):
    return psycopg2.connect(
        dbname=name,
        host=database.get("HOST") or "127.0.0.1",
        port=database.get("PORT") or 5432,
        user=database.get("USER") or None,
        password=database.get("PASSWORD") or None,
        connect_timeout=10,
    )


@pytest.fixture
def new_database(transactional_db):
    """A new, empty database on the test database's server (a DATABASES entry for it)."""
    source = connection.settings_dict
    name = f"{source['NAME']}_restored_{secrets.token_hex(4)}"
    admin = server_connection(source, "postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield {**source, "NAME": name}
    finally:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def environment(database: dict, media_root: Path, signing_pair=("", "")) -> dict[str, str]:
    """What an operator's shell holds: the database, the media root, the signing pair."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mall.settings.local",
        "DATABASE_URL": database_url(database),
        "MEDIA_ROOT": str(media_root),
        "SIGNING_KEY": signing_pair[0],
        "SIGNING_CERT": signing_pair[1],
    }
    for name in ("DOCUMENTS_S3_BUCKET", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=MANAGE_SECONDS,
    )  # fmt: skip


def backup_made(env: dict[str, str], destination: Path) -> Path:
    result = manage("backup", str(destination), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return Path(result.stdout.strip())


def tables(database: dict) -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of its rows (in a fixed order)."""
    digests = {}
    digest = sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t")
    db = server_connection(database, database["NAME"])
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
            for (table,) in cursor.fetchall():
                cursor.execute(digest.format(sql.Identifier(table)))
                digests[table] = cursor.fetchone()
    finally:
        db.close()
    return digests


def file_hashes(directory: Path) -> dict[str, str]:
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def confirmed_with_documents() -> Order:
    order = order_in(Order.Status.SUCCESS)
    services.documents_generate(order_id=order.pk)  # done already once committed; a no-op then
    return order


def shop_make() -> None:
    """Two confirmed orders with their invoice sheets and signed contracts, one invoice
    issued by finance with its official PDF, and an order awaiting payment with a slip."""
    first, _second = confirmed_with_documents(), confirmed_with_documents()
    today = timezone.localdate()
    services.invoice_issue(
        invoice=Invoice.objects.get(order=first), actor=UserFactory(staff=True),
        number=invoice_number(today), issued_on=today, official_pdf=pdf_upload(),
    )  # fmt: skip
    waiting = order_in(Order.Status.AWAITING_PAYMENT)
    proofs.payment_proof_upload(order=waiting, actor=waiting.customer, upload=upload(png_bytes()))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_restored_shop_has_the_same_rows_and_files_valid_signatures_and_reconciles_clean(
    media, signing_pair, new_database, tmp_path
):
    shop_make()
    backup = backup_made(environment(connection.settings_dict, media, signing_pair), tmp_path / "backups")

    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"] == connection.settings_dict["NAME"]
    head = subprocess.run(["git", "-C", str(BASE_DIR), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert manifest["revision"] == head.stdout.strip() and len(manifest["revision"]) == 40
    assert manifest["dump"]["sha256"] == hashlib.sha256((backup / "database.dump").read_bytes()).hexdigest()
    assert manifest["documents"]["files"] == 6  # 2 sheets, 2 contracts, 1 official PDF, 1 slip
    assert sorted(path.name for path in backup.iterdir()) == ["database.dump", "documents.tar", "manifest.json"]
    assert backup.stat().st_mode & 0o077 == 0  # customer data: its owner's only

    restored_media = tmp_path / "restored-media"
    restored = environment(new_database, restored_media, signing_pair)
    result = manage("restore", str(backup), env=restored)

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)  # reconcile --json --files, run by restore in the restored shop
    assert (report["findings"], report["confirmed"], report["files_checked"]) == ([], 2, 5)
    source_tables, restored_tables = tables(connection.settings_dict), tables(new_database)
    assert restored_tables == source_tables and source_tables["orders_order"][0] == 3
    hashes = file_hashes(restored_media / "documents")
    assert hashes == file_hashes(media / "documents") and len(hashes) == 6
    recorded = [(contract.pdf.name, contract.sha256) for contract in Contract.objects.all()]
    recorded += [(proof.file.name, proof.sha256) for proof in PaymentProof.objects.all()]
    assert all(hashes[name] == digest for name, digest in recorded)
    # The signatures hold with the restored signing pair, and only with it: the pair is
    # configuration that the backup does not hold (docs/operations.md).
    another_pair = write_signing_pair(tmp_path / "another-signing", name="另一家卖家")
    result = subprocess.run(
        [sys.executable, "-c", VERIFY, *another_pair], cwd=BASE_DIR, env=restored, capture_output=True, text=True,
        timeout=MANAGE_SECONDS,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    numbers = list(Contract.objects.values_list("number", flat=True))
    assert json.loads(result.stdout) == {
        "restored certificate": dict.fromkeys(numbers, True),
        "another certificate": dict.fromkeys(numbers, False),
    }

    # A document lost from the restored media is found.
    contract = Contract.objects.first()
    (restored_media / "documents" / contract.pdf.name).unlink()
    result = manage("reconcile", "--json", "--files", env=restored)
    assert result.returncode == 1, result.stdout + result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [(finding["order"], finding["check"]) for finding in findings] == [(contract.order.number, "file_missing")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_restore_exits_non_zero_when_a_document_the_database_names_is_not_in_the_backup(
    media, signing_pair, new_database, tmp_path
):
    order = confirmed_with_documents()
    (media / "documents" / Contract.objects.get(order=order).pdf.name).unlink()
    backup = backup_made(environment(connection.settings_dict, media, signing_pair), tmp_path / "backups")

    result = manage("restore", str(backup), env=environment(new_database, tmp_path / "restored-media", signing_pair))

    assert result.returncode == 1, result.stdout + result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [(finding["order"], finding["check"]) for finding in findings] == [(order.number, "file_missing")]
    assert "the restore is not clean" in result.stderr


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_non_empty_database_without_force_and_a_damaged_backup(media, new_database, tmp_path):
    backup = backup_made(environment(connection.settings_dict, media), tmp_path / "backups")
    restored = environment(new_database, tmp_path / "restored-media")
    assert manage("restore", str(backup), env=restored).returncode == 0

    again = manage("restore", str(backup), env=restored)
    assert again.returncode == 1 and f"the database {new_database['NAME']} is not empty" in again.stderr
    forced = manage("restore", "--force", str(backup), env=restored)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert tables(new_database) == tables(connection.settings_dict)

    # Checked before anything is touched (here, in this process, on the test database).
    with open(backup / "database.dump", "ab") as dump:
        dump.write(b"\0")
    with pytest.raises(CommandError, match="the backup is damaged"):
        call_command("restore", "--force", str(backup))


@pytest.mark.once
def test_backup_refuses_documents_in_a_bucket_and_says_what_to_do_instead(settings, tmp_path):
    bucket = documents_storage_config({"DOCUMENTS_S3_BUCKET": "shop-documents"}, directory=None)
    settings.STORAGES = {**settings.STORAGES, "documents": bucket}

    with pytest.raises(CommandError, match=r"s3://shop-documents/documents.*aws s3 sync.*--database-only"):
        call_command("backup", str(tmp_path / "backups"))
    assert not (tmp_path / "backups").exists()
