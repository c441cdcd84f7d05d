"""The documents the pipeline makes (documents_generate), read back: the invoice
information sheet and the signed contract, their fonts and page size, the contract's
PAdES signature checked with pyHanko, and customer-typed markup that must stay text."""

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO

import pytest
from django.db import transaction
from django.test import override_settings
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from invoicing import services
from invoicing.models import Contract, Invoice
from invoicing.signing import outside_event_loop, verify_pdf
from orders.models import Order
from orders.tests.factories import order_in

from .conftest import SIGNER_NAME, pdf_reader, pdf_text, read_stored, squeeze, stored_files, write_signing_pair

BUYER_TITLE = "上海云测信息技术有限公司"
BUYER_TAXPAYER_ID = "91310115MA1H7Y2K0U"  # valid check digit; not the seller's
CONTRACT_CUSTOMER = "上海云测贸易有限公司"
A4 = (595.28, 841.89)  # points


@dataclass
class Made:
    """What one real run of the pipeline produced (the rows are rolled back after)."""

    sheet: bytes
    contract_pdf: bytes
    invoice: Invoice
    lines: list
    contract: Contract
    order: Order
    order_lines: list
    agreement_body: str
    seller: dict


@pytest.fixture(scope="module")
def made(django_db_setup, django_db_blocker, signing_pair) -> Made:
    """An order of two services at 6% and 13%, confirmed, and its documents made by
    documents_generate: rendered once for the whole module."""
    key, cert = signing_pair
    with override_settings(SIGNING_KEY=key, SIGNING_CERT=cert, SIGNING_KEY_PASSPHRASE=""), django_db_blocker.unblock():
        with transaction.atomic():
            from django.conf import settings

            customer = UserFactory()
            profile = InvoiceProfileFactory(user=customer, title=BUYER_TITLE, taxpayer_id=BUYER_TAXPAYER_ID)
            six = ServiceFactory(standard_price=Decimal("2000.00"), tax_rate=Decimal("0.06"))
            thirteen = ServiceFactory(standard_price=Decimal("1130.00"), tax_rate=Decimal("0.13"))
            order = order_in(
                Order.Status.SUCCESS,
                customer=customer,
                invoice_profile=profile,
                services_and_quantities=[(six, 1), (thirteen, 2)],
                contract_customer_name=CONTRACT_CUSTOMER,
            )
            services.documents_generate(order_id=order.pk)
            invoice = Invoice.objects.get(order=order)
            contract = Contract.objects.get(order=order)
            result = Made(
                sheet=read_stored(invoice.sheet),
                contract_pdf=read_stored(contract.pdf),
                invoice=invoice,
                lines=list(invoice.lines.all()),
                contract=contract,
                order=order,
                order_lines=list(order.lines.select_related("service")),
                agreement_body=order.agreement.body,
                seller=dict(settings.SELLER),
            )
            transaction.set_rollback(True)
    return result


class TestInvoiceSheet:
    def test_shows_buyer_seller_lines_amounts_and_total_in_words(self, made):
        text = squeeze(pdf_text(made.sheet))

        assert BUYER_TITLE in text and BUYER_TAXPAYER_ID in text
        assert squeeze(made.seller["name"]) in text and made.seller["taxpayer_id"] in text
        assert made.order.number in text
        for line in made.order_lines:
            assert squeeze(f"*软件服务*{line.service.name}") in text
        for figure in ("1886.79", "113.21", "2000.00", "260.00", "3886.79", "373.21", "4260.00"):
            assert figure in text, figure
        assert "6%" in text and "13%" in text
        assert made.invoice.total_in_words == "肆仟贰佰陆拾元整"
        assert "肆仟贰佰陆拾元整" in text

    def test_is_one_a4_page(self, made):
        reader = pdf_reader(made.sheet)

        assert len(reader.pages) == 1
        assert page_size(reader.pages[0]) == pytest.approx(A4, abs=1)


class TestContract:
    def test_shows_number_parties_amount_period_and_the_accepted_agreement(self, made):
        text = squeeze(pdf_text(made.contract_pdf))
        contract = made.contract

        assert contract.number == "HT" + re.sub(r"\D", "", made.order.number)
        assert contract.number in text and made.order.number in text
        assert CONTRACT_CUSTOMER in text and squeeze(made.seller["name"]) in text
        assert BUYER_TAXPAYER_ID in text and made.seller["taxpayer_id"] in text
        assert "¥4260.00" in text and "肆仟贰佰陆拾元整" in text
        start, end = made.order_lines[0].service_start, made.order_lines[0].service_end
        assert f"{start:%Y-%m-%d}–{end:%Y-%m-%d}" in text
        assert contract.agreement_version == made.order.agreement_version
        assert made.order.agreement_version in text
        for paragraph in made.agreement_body.splitlines():
            assert squeeze(paragraph) in text
        assert made.seller["seal_filing_number"] in text
        for line in made.order_lines:
            assert line.serial in text and squeeze(line.service_name) in text

    def test_the_stored_hash_is_that_of_the_stored_file(self, made):
        assert made.contract.sha256 == hashlib.sha256(made.contract_pdf).hexdigest()

    def test_is_a4(self, made):
        for page in pdf_reader(made.contract_pdf).pages:
            assert page_size(page) == pytest.approx(A4, abs=1)


def page_size(page) -> tuple[float, float]:
    box = page.mediabox
    return (round(float(box.width), 2), round(float(box.height), 2))


class TestFonts:
    @pytest.mark.parametrize("document", ["sheet", "contract_pdf"])
    def test_chinese_fonts_are_embedded_as_subsets(self, made, document):
        fonts = embedded_fonts(getattr(made, document))

        assert fonts, "no embedded font"
        assert any("CJK" in name for name in fonts)
        for name, size in fonts.items():
            assert re.fullmatch(r"[A-Z]{6}\+.+", name), name  # the subset tag
            assert size < 1_000_000, (name, size)  # the system's Noto CJK faces weigh 16-25 MB


def embedded_fonts(data: bytes) -> dict[str, int]:
    """Base font name → size of the embedded font program, over every page."""
    fonts = {}
    for page in pdf_reader(data).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font)["/FontDescriptor"].get_object()
            program = next(descriptor[key] for key in ("/FontFile3", "/FontFile2", "/FontFile") if key in descriptor)
            fonts[str(font["/BaseFont"]).lstrip("/")] = len(program.get_object().get_data())
    return fonts


@pytest.mark.usefixtures("configured_signing_key")
class TestSignature:
    def test_validates_against_the_configured_certificate(self, made, signing_pair):
        result = verify_pdf(made.contract_pdf)

        assert result.valid and result.intact and result.signer == SIGNER_NAME
        assert made.contract.signer_fingerprint == hashlib.sha256(load_cert_from_pemder(signing_pair[1]).dump()).hexdigest()

    def test_pyhanko_itself_finds_it_intact_trusted_and_covering_the_whole_file(self, made, signing_pair):
        status = pyhanko_status(made.contract_pdf, signing_pair[1])

        assert status.intact and status.valid and status.trusted and status.bottom_line
        assert status.coverage.name == "ENTIRE_FILE"
        assert status.signing_cert.subject.native["common_name"] == SIGNER_NAME

    def test_another_certificate_does_not_vouch_for_it(self, made, tmp_path):
        _key, other_cert = write_signing_pair(tmp_path, "另一家公司")

        status = pyhanko_status(made.contract_pdf, other_cert)

        assert status.intact and not status.trusted and not status.bottom_line

    @pytest.mark.parametrize("where", ["first signed range", "second signed range"])
    def test_one_flipped_byte_inside_the_signed_range_breaks_it(self, made, signing_pair, where):
        data = bytearray(made.contract_pdf)
        start1, length1, start2, length2 = byte_range(made.contract_pdf)
        if where == "first signed range":
            position = made.contract_pdf.index(b"stream\n", start1) + 40
            assert position < start1 + length1
        else:
            position = start2 + length2 // 2  # the signature's own field dictionary, xref and trailer
        data[position] ^= 0x01

        assert not verify_pdf(bytes(data)).valid
        try:
            status = pyhanko_status(bytes(data), signing_pair[1])
        except Exception:  # too damaged to read: no valid signature either
            return
        assert not status.intact and not status.bottom_line

    def test_bytes_appended_after_signing_are_not_covered(self, made):
        appended = made.contract_pdf + b"\n% changed after signing\n"

        assert not verify_pdf(appended).valid


def byte_range(data: bytes) -> tuple[int, int, int, int]:
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    start1, length1, start2, length2 = map(int, match.groups())
    assert start1 == 0 and start2 + length2 == len(data)  # the whole file but the signature
    return start1, length1, start2, length2


def image_count(data: bytes) -> int:
    return sum(len(page.images) for page in pdf_reader(data).pages)


def pyhanko_status(data: bytes, cert_path: str):
    signature = PdfFileReader(BytesIO(data), strict=False).embedded_signatures[0]
    context = ValidationContext(trust_roots=[load_cert_from_pemder(cert_path)], allow_fetching=False)
    # Through the same helper as verify_pdf: pyHanko runs asyncio.run, refused where an
    # event loop already runs (Playwright's, left by the browser tests in this process).
    return outside_event_loop(validate_pdf_signature, signature, context)


@pytest.mark.django_db
@pytest.mark.usefixtures("configured_signing_key")
class TestVerificationPage:
    def test_a_tampered_stored_contract_is_reported_not_valid(self, client):
        order = order_in(Order.Status.SUCCESS)
        services.documents_generate(order_id=order.pk)
        contract = Contract.objects.get(order=order)
        url = contract.get_verification_url()
        before = client.get(url)
        assert 'data-valid="true"' in before.content.decode()

        data = bytearray(read_stored(contract.pdf))
        data[data.index(b"stream\n") + 40] ^= 0x01
        storage = contract.pdf.storage
        storage.delete(contract.pdf.name)
        assert storage.save(contract.pdf.name, BytesIO(bytes(data))) == contract.pdf.name

        page = client.get(url).content.decode()
        assert 'data-valid="false"' in page and 'data-valid="true"' not in page
        assert hashlib.sha256(bytes(data)).hexdigest() in page
        assert contract.sha256 not in page  # the page shows the stored file's hash, not the recorded one


@pytest.mark.django_db
@pytest.mark.usefixtures("configured_signing_key")
class TestCustomerMarkup:
    """Text customers type goes through the real pipeline as text: no request leaves the
    renderer, no local file is read, and the PDF shows the markup literally."""

    def test_markup_in_store_name_title_and_names_stays_text(self, listener):
        port = listener.port
        store = f'<img src="http://127.0.0.1:{port}/x">'
        title = '<img src="file:///etc/passwd">'
        customer_name = '<link rel=stylesheet href="file:///etc/passwd">'
        nick = f'<link rel=stylesheet href="http://127.0.0.1:{port}/s.css">'
        address = f'<iframe src="http://127.0.0.1:{port}/f"></iframe>'
        customer = UserFactory()
        profile = InvoiceProfileFactory(user=customer, title=title, address=address)
        order = order_in(
            Order.Status.SUCCESS,
            customer=customer,
            invoice_profile=profile,
            store_name=store,
            contract_customer_name=customer_name,
            seller_nick=nick,
        )

        services.documents_generate(order_id=order.pk)

        sheet = read_stored(Invoice.objects.get(order=order).sheet)
        contract = read_stored(Contract.objects.get(order=order).pdf)
        assert listener.connections() == 0
        sheet_text, contract_text = squeeze(pdf_text(sheet)), squeeze(pdf_text(contract))
        for text in (sheet_text, contract_text):
            assert squeeze(store) in text
            assert "root:" not in text
        assert squeeze(title) in sheet_text and squeeze(address) in sheet_text
        assert squeeze(customer_name) in contract_text and squeeze(nick) in contract_text
        # The QR codes and the seal are vector drawings: any raster image was fetched.
        assert image_count(sheet) == image_count(contract) == 0
        for data in (sheet, contract):
            assert b"root:x:0:0" not in data
        assert len(stored_files(order)) == 2
