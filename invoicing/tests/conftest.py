"""Shared helpers of the invoicing tests: a configured signing key, reading PDFs back,
listing the stored documents of an order, and a TCP listener that tells whether a
renderer reached out to it."""

import datetime
import io
import re
import socket

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.files.uploadedfile import SimpleUploadedFile
from pypdf import PdfReader

from invoicing import signing
from invoicing.models import Contract
from invoicing.pdf import render_pdf

SIGNER_NAME = "测试卖家签章有限公司"


def write_signing_pair(directory, name: str = SIGNER_NAME, passphrase: bytes | None = None):
    """A seller key (encrypted with `passphrase`, if given) and self-signed certificate as
    PEM files (what SIGNING_KEY and SIGNING_CERT point to in production); their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "seller-key.pem", directory / "seller-cert.pem"
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(key_path), str(cert_path)


@pytest.fixture(scope="session")
def signing_pair(tmp_path_factory):
    """(key path, certificate path) of the seller key configured for these tests."""
    return write_signing_pair(tmp_path_factory.mktemp("signing"))


@pytest.fixture
def configured_signing_key(settings, signing_pair):
    """Contracts are signed with a configured key, not the development pair under var/.
    (Not autouse: test_signing.py tests the development pair.)"""
    settings.SIGNING_KEY, settings.SIGNING_CERT = signing_pair
    settings.SIGNING_KEY_PASSPHRASE = ""
    yield signing_pair
    signing._load.cache_clear()


def pdf_reader(data: bytes) -> PdfReader:
    assert data.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(data))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pdf_reader(data).pages)


def squeeze(text: str) -> str:
    """`text` without whitespace: table cells wrap long values at arbitrary points."""
    return re.sub(r"\s+", "", text)


def fields_storage():
    """The storage the document fields write to. A FileField resolves its storage once, at
    import; storages["documents"] is a new object after any test changes STORAGES."""
    return Contract._meta.get_field("pdf").storage


def stored_files(order) -> list[str]:
    """Every file in the documents storage whose name carries the order's number."""
    storage = fields_storage()
    found = []

    def walk(path):
        directories, files = storage.listdir(path)
        for name in files:
            full = f"{path}/{name}" if path else name
            if order.number in name:
                found.append(full)
        for directory in directories:
            walk(f"{path}/{directory}" if path else directory)

    walk("")
    return sorted(found)


def read_stored(field_file) -> bytes:
    with field_file.open("rb") as handle:
        return handle.read()


def invoice_number(day, sequence: int = 1) -> str:
    """A valid 数电发票 number: year of issue, Shanghai's tax office (31), channel 2."""
    return f"{day.year % 100:02d}312{sequence:015d}"


def pdf_upload(name="official.pdf", content=None):
    """An uploaded file, as finance's 开票 form sends the official invoice."""
    return SimpleUploadedFile(name, content or render_pdf("<p>数电发票</p>"), content_type="application/pdf")


class Listener:
    """A TCP port on 127.0.0.1 that tells whether anything connected to it."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(5)
        self.server.settimeout(0.3)
        self.port = self.server.getsockname()[1]

    def connections(self) -> int:
        count = 0
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return count
            connection.close()
            count += 1

    def close(self):
        self.server.close()


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.close()
