"""invoicing.signing: PAdES signatures with the seller's key (configured PEM files,
or a development pair created once under VAR_DIR/signing/)."""

import datetime
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ImproperlyConfigured

from invoicing import signing
from invoicing.pdf import render_pdf
from invoicing.signing import sign_pdf, signing_credentials, verify_pdf

from .conftest import write_signing_pair

pytestmark = pytest.mark.once  # signing and validating bytes: no database

HTML = """<html><head><style>body { font-family: "Noto Sans CJK SC"; }</style></head>
<body><h1>店铺订购合同</h1><p>合同编号 HT-2026-0001</p></body></html>"""


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_pdf(HTML)


@pytest.fixture(autouse=True)
def dev_dir(settings, tmp_path):
    """No configured key; the development pair goes under a temporary VAR_DIR."""
    settings.VAR_DIR = tmp_path / "var"
    settings.SIGNING_KEY = ""
    settings.SIGNING_CERT = ""
    settings.SIGNING_KEY_PASSPHRASE = ""
    signing._load.cache_clear()
    yield tmp_path / "var" / "signing"
    signing._load.cache_clear()


class TestSignAndVerify:
    def test_signed_pdf_is_intact_and_valid(self, pdf, settings):
        signed = sign_pdf(pdf, reason="店铺订购合同", location="上海")

        result = verify_pdf(signed)

        assert result.intact and result.valid
        assert result.signer == settings.SELLER["name"]
        assert abs(result.signed_at - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=5)
        assert b"/SellerSignature" in signed or b"(SellerSignature)" in signed
        assert b"/ETSI.CAdES.detached" in signed  # PAdES

    def test_one_flipped_byte_in_the_signed_content_breaks_it(self, pdf):
        signed = bytearray(sign_pdf(pdf, reason="店铺订购合同"))
        position = signed.index(b"stream\n") + 20  # inside the first (signed) stream
        signed[position] ^= 0x01

        result = verify_pdf(bytes(signed))

        assert not result.intact
        assert not result.valid

    def test_unsigned_pdf_is_not_valid(self, pdf):
        result = verify_pdf(pdf)

        assert not result.valid and not result.intact

    def test_garbage_is_not_valid(self):
        assert not verify_pdf(b"not a pdf").valid


class TestDevelopmentKey:
    def test_created_once_and_reused(self, dev_dir):
        first = signing_credentials()
        signing._load.cache_clear()  # read the files again
        second = signing_credentials()

        assert first.fingerprint == second.fingerprint
        assert sorted(p.name for p in dev_dir.iterdir() if not p.name.startswith(".")) == [
            "dev-cert.pem",
            "dev-key.pem",
        ]

    def test_key_file_is_private(self, dev_dir):
        signing_credentials()

        assert stat.S_IMODE((dev_dir / "dev-key.pem").stat().st_mode) == 0o600

    def test_certificate_names_the_seller(self, settings):
        settings.SELLER = {**settings.SELLER, "name": "测试卖家有限公司"}

        credentials = signing_credentials()

        assert credentials.certificate.subject.native["common_name"] == "测试卖家有限公司"


class TestConfiguredKey:
    def test_configured_pem_files_are_used_instead_of_the_dev_key(self, pdf, settings, tmp_path, dev_dir):
        settings.SIGNING_KEY, settings.SIGNING_CERT = write_signing_pair(tmp_path, "Configured Seller")

        result = verify_pdf(sign_pdf(pdf, reason="合同"))

        assert result.valid and result.signer == "Configured Seller"
        assert not dev_dir.exists()

    def test_encrypted_key_with_passphrase(self, pdf, settings, tmp_path):
        settings.SIGNING_KEY, settings.SIGNING_CERT = write_signing_pair(tmp_path, "Encrypted Seller", passphrase=b"s3cret")
        settings.SIGNING_KEY_PASSPHRASE = "s3cret"

        assert verify_pdf(sign_pdf(pdf, reason="合同")).valid

    def test_signature_by_another_key_is_intact_but_not_trusted(self, pdf, settings, tmp_path):
        signed_with_dev_key = sign_pdf(pdf, reason="合同")
        settings.SIGNING_KEY, settings.SIGNING_CERT = write_signing_pair(tmp_path, "Configured Seller")

        result = verify_pdf(signed_with_dev_key)

        assert result.intact and not result.valid

    def test_key_without_certificate_is_refused(self, settings, tmp_path):
        settings.SIGNING_KEY = write_signing_pair(tmp_path, "x")[0]

        with pytest.raises(ImproperlyConfigured):
            signing_credentials()


def test_the_private_key_is_parsed_once_for_many_signatures(pdf, monkeypatch):
    """pyHanko's SimpleSigner parses the key for every signature (~40 ms for RSA)."""
    parsed = []
    load = serialization.load_der_private_key
    monkeypatch.setattr(serialization, "load_der_private_key", lambda *a, **k: parsed.append(1) or load(*a, **k))

    signed = [sign_pdf(pdf, reason="店铺订购合同") for _ in range(3)]

    assert len(parsed) <= 1
    assert all(verify_pdf(document).valid for document in signed)


def test_signing_and_verifying_work_inside_a_running_event_loop():
    """pyHanko runs asyncio.run inside: from a thread that already runs a loop (an async
    view, or the browser tests' Playwright) the calls must still work."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from invoicing.pdf import render_pdf
    from invoicing.signing import sign_pdf, verify_pdf

    async def inside_a_loop():
        signed = sign_pdf(render_pdf("<p>合同</p>"), reason="test")
        return verify_pdf(signed)

    # A thread of its own, since this one may already run a loop (Playwright's).
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(asyncio.run, inside_a_loop()).result()
    assert result.intact
