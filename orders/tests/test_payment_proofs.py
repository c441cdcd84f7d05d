"""上传回单 (remittance slips): the byte checks, the upload page, the downloads for the
owner and for staff, and the rule that a bank-transfer order needs a slip before approval.

Files are real: images made with Pillow, PDFs written by hand. Storage is
InMemoryStorage in tests, shared by the process: "nothing stored" compares its listing
before and after. Assertions check data, status codes and data-testid attributes, never
the project's Chinese text.
"""

import hashlib
import io
import re
import zlib

import pytest
from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from accounts.roles import GROUP_CATALOG, GROUP_FINANCE, GROUP_REVIEWERS
from accounts.tests.factories import UserFactory
from orders import proofs, services
from orders.exceptions import OrderError
from orders.models import Order, OrderEvent, PaymentProof
from orders.tests.factories import order_in, submitted_order

S = Order.Status
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
STORAGE = PaymentProof._meta.get_field("file").storage


# --- Real files ------------------------------------------------------------------------------


def png_bytes(size=(40, 30), color=(200, 30, 30), text: dict | None = None) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jpeg_bytes(size=(40, 30), exif_make: str | None = None) -> bytes:
    image = Image.new("RGB", size, (20, 120, 220))
    out = io.BytesIO()
    if exif_make:
        exif = Image.Exif()
        exif[0x010F] = exif_make  # Make
        image.save(out, "JPEG", exif=exif.tobytes())
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def pdf_bytes(extra_objects: list[bytes] = (), catalog_extra: bytes = b"") -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        *extra_objects,
    ]
    out, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def flate_stream(content: bytes) -> bytes:
    packed = zlib.compress(content)
    return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"


def upload(data: bytes, name="slip.png", content_type="image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored() -> set[str]:
    try:
        return {f"payment-proofs/{name}" for name in STORAGE.listdir("payment-proofs")[1]}
    except FileNotFoundError:
        return set()


BAD_FILES = {
    "png-header-then-html": (b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "slip.png", "image/png"),
    "exe-renamed-pdf": (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode", "slip.pdf", "application/pdf"),
    "six-megabytes": (b"%PDF-1.4\n" + b"0" * (6 * 1024 * 1024) + b"\nstartxref\n0\n%%EOF\n", "slip.pdf", "application/pdf"),
    "empty": (b"", "slip.png", "image/png"),
    "truncated-png": (png_bytes(size=(300, 200))[:-60], "slip.png", "image/png"),
    "truncated-jpeg": (jpeg_bytes(size=(300, 200))[:400], "slip.jpg", "image/jpeg"),
    "html-named-jpg": (b"<!doctype html><html><body>hi</body></html>", "slip.jpg", "image/jpeg"),
    "pdf-with-javascript": (pdf_bytes(catalog_extra=b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "), "slip.pdf", "application/pdf"),
    "pdf-without-trailer": (pdf_bytes()[:-40], "slip.pdf", "application/pdf"),
}


# --- Byte checks (no database) ---------------------------------------------------------------


class TestProofCheck:
    @pytest.mark.parametrize("case", sorted(BAD_FILES))
    def test_bad_files_are_refused_with_a_message(self, case):
        data, _name, _type = BAD_FILES[case]
        with pytest.raises(proofs.ProofRefused) as refused:
            proofs.proof_check(data)
        assert refused.value.message

    def test_png_is_reencoded_without_its_metadata_or_appended_bytes(self):
        original = png_bytes(text={"Comment": "secret-metadata"}) + b"<html>appended</html>"

        checked = proofs.proof_check(original)

        assert checked.content_type == "image/png"
        assert checked.content.startswith(proofs.PNG_MAGIC)
        assert b"secret-metadata" not in checked.content and b"appended" not in checked.content
        with Image.open(io.BytesIO(checked.content)) as image:
            assert image.size == (40, 30)
            assert image.convert("RGB").getpixel((5, 5)) == (200, 30, 30)

    def test_jpeg_is_reencoded_without_its_exif(self):
        original = jpeg_bytes(exif_make="SecretCameraMaker")
        assert b"SecretCameraMaker" in original

        checked = proofs.proof_check(original)

        assert checked.content_type == "image/jpeg"
        assert checked.content.startswith(proofs.JPEG_MAGIC)
        assert b"SecretCameraMaker" not in checked.content
        with Image.open(io.BytesIO(checked.content)) as image:
            assert image.format == "JPEG" and image.size == (40, 30)

    def test_a_plain_pdf_is_kept_as_uploaded(self):
        data = pdf_bytes()

        checked = proofs.proof_check(data)

        assert checked == proofs.CheckedFile(data, "application/pdf")

    @pytest.mark.parametrize(
        "extra",
        [
            b"/AA << /O << /S /Launch /F (cmd.exe) >> >> ",
            b"/OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >> ",  # #xx-escaped names
        ],
    )
    def test_a_pdf_with_actions_is_refused(self, extra):
        with pytest.raises(proofs.ProofRefused):
            proofs.proof_check(pdf_bytes(catalog_extra=extra))

    def test_a_script_hidden_in_a_compressed_stream_is_found(self):
        hidden = flate_stream(b"<< /Type /Action /S /JavaScript /JS (app.alert(1)) >>")
        with pytest.raises(proofs.ProofRefused):
            proofs.proof_check(pdf_bytes(extra_objects=[hidden]))

    def test_a_pdf_with_harmless_compressed_streams_passes(self):
        content = flate_stream(b"BT /F1 12 Tf 72 720 Td (Bank slip) Tj ET")
        assert proofs.proof_check(pdf_bytes(extra_objects=[content])).content_type == "application/pdf"

    def test_a_decompression_bomb_is_refused_before_decoding(self, settings):
        settings.PAYMENT_PROOF_MAX_PIXELS = 1_000_000
        out = io.BytesIO()
        Image.new("1", (2000, 1000)).save(out, "PNG")  # 2 Mpx in a few kB
        assert len(out.getvalue()) < 10_000

        with pytest.raises(proofs.ProofRefused) as refused:
            proofs.proof_check(out.getvalue())
        assert "2000" in refused.value.message

    def test_the_size_limit_is_a_setting(self, settings):
        data = png_bytes()
        settings.PAYMENT_PROOF_MAX_BYTES = len(data) - 1
        with pytest.raises(proofs.ProofRefused):
            proofs.proof_check(data)
        settings.PAYMENT_PROOF_MAX_BYTES = len(data)
        assert proofs.proof_check(data).content_type == "image/png"

    def test_the_default_limit_is_five_megabytes(self):
        assert proofs.max_bytes() == 5 * 1024 * 1024


# --- Customer side ---------------------------------------------------------------------------


@pytest.fixture
def customer():
    return UserFactory()


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer, backend=MODEL_BACKEND)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def upload_url(order):
    return reverse("orders:payment-proof", args=[order.number])


def download_url(proof):
    return reverse("orders:payment-proof-download", args=[proof.order.number, proof.pk])


def message_levels(response) -> list[int]:
    return [message.level for message in messages.get_messages(response.wsgi_request)]


def bank_transfer(order: Order) -> Order:
    Order.objects.filter(pk=order.pk).update(payment_method=Order.PaymentMethod.BANK_TRANSFER)
    order.refresh_from_db()
    return order


def proof_for(order: Order, data: bytes | None = None, name="回单.png") -> PaymentProof:
    return proofs.payment_proof_upload(order=order, actor=order.customer, upload=upload(data or png_bytes(), name=name))


@pytest.mark.django_db
class TestUploadPage:
    @pytest.mark.parametrize("status", [S.AWAITING_PAYMENT, S.REJECTED, S.IN_TRADE])
    def test_offered_while_awaiting_review_or_in_trade(self, signed_in, customer, status):
        order = order_in(status, customer=customer)

        detail = signed_in.get(reverse("orders:detail", args=[order.number]))
        page = signed_in.get(upload_url(order))

        assert f'href="{upload_url(order)}" data-testid="upload-proof-link"' in detail.text
        assert page.status_code == 200
        assert 'data-testid="payment-proof-form"' in page.text
        assert 'enctype="multipart/form-data"' in page.text
        assert 'accept=".jpg,.jpeg,.png,.pdf"' in page.text

    @pytest.mark.parametrize("status", [S.SUCCESS, S.FAILED])
    def test_not_offered_in_other_states(self, signed_in, customer, status):
        order = order_in(status, customer=customer)
        before = stored()

        detail = signed_in.get(reverse("orders:detail", args=[order.number]))
        response = signed_in.post(upload_url(order), {"file": upload(png_bytes())})

        assert 'data-testid="upload-proof-link"' not in detail.text
        assert response.status_code == 302 and response["Location"] == order.get_absolute_url()
        assert message_levels(response) == [messages.WARNING]
        assert PaymentProof.objects.count() == 0 and stored() == before

    def test_a_good_image_is_stored_reencoded_under_a_random_name(self, signed_in, customer):
        order = order_in(S.AWAITING_PAYMENT, customer=customer)
        original = png_bytes(text={"Author": "metadata-to-drop"})
        before = stored()

        response = signed_in.post(upload_url(order), {"file": upload(original, name="../../etc/我的回单.pdf", content_type="application/pdf")})

        assert response.status_code == 302 and response["Location"] == order.get_absolute_url()
        assert message_levels(response) == [messages.SUCCESS]
        proof = PaymentProof.objects.get()
        assert proof.order == order and proof.uploaded_by == customer
        # The type comes from the bytes, not the name or the browser's content type.
        assert proof.content_type == "image/png"
        assert re.fullmatch(r"payment-proofs/[0-9a-f]{32}\.png", proof.file.name)
        assert stored() == before | {proof.file.name}
        with STORAGE.open(proof.file.name) as handle:
            content = handle.read()
        assert b"metadata-to-drop" not in content
        assert proof.size == len(content) and proof.sha256 == hashlib.sha256(content).hexdigest()
        assert proof.original_name == "我的回单.pdf"  # the browser's path is dropped
        event = OrderEvent.objects.filter(order=order).latest("id")
        assert (event.action, event.actor, event.to_status) == ("upload_payment_proof", customer, S.AWAITING_PAYMENT)

    def test_a_good_pdf_is_stored_as_uploaded(self, signed_in, customer):
        order = order_in(S.IN_TRADE, customer=customer)
        data = pdf_bytes()

        signed_in.post(upload_url(order), {"file": upload(data, name="slip.pdf", content_type="application/pdf")})

        proof = PaymentProof.objects.get()
        assert proof.content_type == "application/pdf" and proof.file.name.endswith(".pdf")
        assert proof.sha256 == hashlib.sha256(data).hexdigest() and proof.size == len(data)

    @pytest.mark.parametrize("case", sorted(BAD_FILES))
    def test_a_bad_file_gets_a_form_error_and_nothing_is_stored(self, signed_in, customer, case):
        order = order_in(S.AWAITING_PAYMENT, customer=customer)
        data, name, content_type = BAD_FILES[case]
        before, events = stored(), order.events.count()

        response = signed_in.post(upload_url(order), {"file": upload(data, name=name, content_type=content_type)})

        assert response.status_code == 200
        assert response.context["form"].errors["file"]
        assert 'class="invalid-feedback"' in response.text
        assert PaymentProof.objects.count() == 0
        assert stored() == before
        assert order.events.count() == events

    def test_no_file_gets_a_form_error(self, signed_in, customer):
        order = order_in(S.AWAITING_PAYMENT, customer=customer)

        response = signed_in.post(upload_url(order), {})

        assert response.status_code == 200 and response.context["form"].errors["file"]
        assert PaymentProof.objects.count() == 0

    def test_a_failure_after_storing_removes_the_file(self, signed_in, customer, monkeypatch):
        order = order_in(S.AWAITING_PAYMENT, customer=customer)
        before = stored()

        def broken(*args, **kwargs):
            raise OrderError("timeline unavailable")

        monkeypatch.setattr(services, "order_event_record", broken)
        response = signed_in.post(upload_url(order), {"file": upload(png_bytes())})

        assert response.status_code == 200 and response.context["form"].errors["file"] == ["timeline unavailable"]
        assert PaymentProof.objects.count() == 0 and stored() == before

    def test_slips_per_order_are_limited(self, signed_in, customer, settings):
        settings.PAYMENT_PROOF_MAX_PER_ORDER = 1
        order = order_in(S.AWAITING_PAYMENT, customer=customer)
        proof_for(order)
        before = stored()

        response = signed_in.post(upload_url(order), {"file": upload(png_bytes())})

        assert response.context["form"].errors["file"]
        assert PaymentProof.objects.count() == 1 and stored() == before

    def test_another_customers_order_is_a_404_and_stores_nothing(self, signed_in):
        theirs = order_in(S.AWAITING_PAYMENT)
        before = stored()

        assert signed_in.get(upload_url(theirs)).status_code == 404
        assert signed_in.post(upload_url(theirs), {"file": upload(png_bytes())}).status_code == 404
        assert PaymentProof.objects.count() == 0 and stored() == before

    def test_signed_out_visitors_are_sent_to_sign_in(self, client):
        order = order_in(S.AWAITING_PAYMENT)

        response = client.post(upload_url(order), {"file": upload(png_bytes())})

        assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
        assert PaymentProof.objects.count() == 0


@pytest.mark.django_db
class TestUploadService:
    def test_only_the_orders_customer_may_upload(self):
        order = order_in(S.AWAITING_PAYMENT)
        before = stored()

        with pytest.raises(OrderError):
            proofs.payment_proof_upload(order=order, actor=UserFactory(staff=True), upload=upload(png_bytes()))
        assert PaymentProof.objects.count() == 0 and stored() == before

    def test_a_refused_state_stores_nothing(self):
        order = order_in(S.SUCCESS)
        before = stored()

        with pytest.raises(OrderError):
            proof_for(order)
        assert PaymentProof.objects.count() == 0 and stored() == before

    def test_a_large_upload_is_refused_by_its_size_before_it_is_read(self):
        order = order_in(S.AWAITING_PAYMENT)
        class Unreadable:
            name, size = "big.pdf", 6 * 1024 * 1024

            def seek(self, *args):
                pass

            def read(self, *args):
                raise AssertionError("read")

        big = Unreadable()
        with pytest.raises(proofs.ProofRefused):
            proofs.payment_proof_upload(order=order, actor=order.customer, upload=big)


@pytest.mark.django_db
class TestDownloads:
    def test_the_order_page_lists_the_slips_with_download_links(self, signed_in, customer):
        order = order_in(S.AWAITING_PAYMENT, customer=customer)
        proof = proof_for(order)

        response = signed_in.get(reverse("orders:detail", args=[order.number]))

        assert 'data-testid="payment-proofs"' in response.text
        assert f'data-proof="{proof.pk}"' in response.text
        assert f'href="{download_url(proof)}"' in response.text
        assert proof.file.name not in response.text  # the stored name is never shown

    def test_a_bank_transfer_order_without_slips_says_none_yet(self, signed_in, customer):
        order = bank_transfer(order_in(S.AWAITING_PAYMENT, customer=customer))

        response = signed_in.get(reverse("orders:detail", args=[order.number]))

        assert 'data-testid="payment-proofs-none"' in response.text

    def test_the_owner_downloads_the_stored_file(self, signed_in, customer):
        order = order_in(S.IN_TRADE, customer=customer)
        proof = proof_for(order, jpeg_bytes(), name="x.jpg")

        response = signed_in.get(download_url(proof))

        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        assert hashlib.sha256(body).hexdigest() == proof.sha256
        assert response["Content-Type"] == "image/jpeg"
        assert response["Content-Disposition"].startswith("attachment;")
        assert f"{order.number}-{proof.pk}.jpg" in response["Content-Disposition"]
        assert response["Cache-Control"] == "private, no-store"
        assert response["X-Content-Type-Options"] == "nosniff"

    def test_another_customers_slip_is_a_404(self, client):
        proof = proof_for(order_in(S.AWAITING_PAYMENT))
        client.force_login(UserFactory(), backend=MODEL_BACKEND)

        assert client.get(download_url(proof)).status_code == 404

    def test_a_slip_under_another_of_ones_own_orders_is_a_404(self, signed_in, customer):
        mine = order_in(S.AWAITING_PAYMENT, customer=customer)
        theirs = proof_for(order_in(S.AWAITING_PAYMENT))

        response = signed_in.get(reverse("orders:payment-proof-download", args=[mine.number, theirs.pk]))

        assert response.status_code == 404

    def test_signed_out_visitors_are_sent_to_sign_in(self, client):
        proof = proof_for(order_in(S.AWAITING_PAYMENT))

        response = client.get(download_url(proof))

        assert response.status_code == 302 and reverse("accounts:login") in response["Location"]

    def test_no_direct_media_url_serves_a_slip(self, signed_in, customer):
        proof = proof_for(order_in(S.AWAITING_PAYMENT, customer=customer))

        for prefix in (f"/{settings.MEDIA_URL}", f"/{settings.MEDIA_URL}documents/"):
            assert signed_in.get(f"{prefix}{proof.file.name}").status_code == 404


# --- Staff side ------------------------------------------------------------------------------


def admin_url(name, order, *args):
    return reverse(f"admin:orders_order_{name}", args=[order.pk, *args])


def staff_client(client, **kwargs):
    client.force_login(UserFactory(staff=True, **kwargs), backend=MODEL_BACKEND)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.mark.django_db
class TestAdmin:
    @pytest.mark.parametrize("group", [GROUP_REVIEWERS, GROUP_FINANCE])
    def test_the_order_page_lists_slips_with_download_links(self, client, group):
        proof = proof_for(order_in(S.AWAITING_PAYMENT))
        staff_client(client, groups=[group])

        response = client.get(admin_url("change", proof.order))

        assert response.status_code == 200
        link = admin_url("payment_proof", proof.order, proof.pk)
        assert f'href="{link}" data-testid="admin-payment-proof-download"' in response.text
        assert proof.sha256 in response.text

    @pytest.mark.parametrize("group", [GROUP_REVIEWERS, GROUP_FINANCE])
    def test_staff_who_may_view_orders_download_a_slip(self, client, group):
        proof = proof_for(order_in(S.AWAITING_PAYMENT), pdf_bytes(), name="slip.pdf")
        staff_client(client, groups=[group])

        response = client.get(admin_url("payment_proof", proof.order, proof.pk))

        assert response.status_code == 200
        assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == proof.sha256
        assert response["Content-Type"] == "application/pdf"
        assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}

    def test_staff_without_the_view_permission_get_a_403(self, client):
        proof = proof_for(order_in(S.AWAITING_PAYMENT))
        staff_client(client, groups=[GROUP_CATALOG])

        assert client.get(admin_url("payment_proof", proof.order, proof.pk)).status_code == 403

    def test_a_slip_of_another_order_is_a_404(self, client):
        proof = proof_for(order_in(S.AWAITING_PAYMENT))
        other = order_in(S.AWAITING_PAYMENT)
        staff_client(client, groups=[GROUP_REVIEWERS])

        assert client.get(admin_url("payment_proof", other, proof.pk)).status_code == 404

    def test_customers_cannot_use_the_admin_download(self, client):
        proof = proof_for(order_in(S.AWAITING_PAYMENT))
        client.force_login(proof.order.customer, backend=MODEL_BACKEND)

        response = client.get(admin_url("payment_proof", proof.order, proof.pk))

        assert response.status_code == 302 and "login" in response["Location"]

    def test_the_approve_page_says_a_bank_transfer_order_needs_a_slip_and_refuses(self, client):
        order = bank_transfer(order_in(S.AWAITING_PAYMENT))
        staff_client(client, groups=[GROUP_REVIEWERS])

        page = client.get(admin_url("approve", order))
        response = client.post(
            admin_url("approve", order),
            {"paid_amount": str(order.total), "service_start": page.context["form"].initial["service_start"].isoformat(),
             "seen": page.context["form"]["seen"].value()},
        )

        assert 'data-testid="proof-required"' in page.text
        assert 'class="default"' not in page.text  # no Approve button
        assert response.status_code == 302
        assert message_levels(response) == [messages.ERROR]
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT and not order.events.filter(action="approve").exists()

    def test_a_bank_transfer_order_with_a_slip_is_approved(self, client):
        order = bank_transfer(order_in(S.AWAITING_PAYMENT))
        proof_for(order)
        staff_client(client, groups=[GROUP_REVIEWERS])

        page = client.get(admin_url("approve", order))
        response = client.post(
            admin_url("approve", order),
            {"paid_amount": str(order.total), "service_start": page.context["form"].initial["service_start"].isoformat(),
             "seen": page.context["form"]["seen"].value()},
        )

        assert 'data-testid="proof-required"' not in page.text
        assert message_levels(response) == [messages.SUCCESS]
        order.refresh_from_db()
        assert order.status == S.IN_TRADE

    def test_bulk_approval_skips_bank_transfer_orders_without_a_slip(self, client):
        without = bank_transfer(order_in(S.AWAITING_PAYMENT))
        third_party = order_in(S.AWAITING_PAYMENT)
        staff_client(client, groups=[GROUP_REVIEWERS])

        client.post(
            reverse("admin:orders_order_changelist"),
            {"action": "approve_selected", "_selected_action": [without.pk, third_party.pk]},
        )

        without.refresh_from_db(), third_party.refresh_from_db()
        assert (without.status, third_party.status) == (S.AWAITING_PAYMENT, S.IN_TRADE)


@pytest.mark.django_db
class TestApproveService:
    def test_a_bank_transfer_order_without_a_slip_is_refused(self):
        order = bank_transfer(submitted_order())

        with pytest.raises(OrderError) as refused:
            services.order_approve(order=order, actor=UserFactory(staff=True))

        assert refused.value.message
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT and order.approved_at is None
        assert all(line.service_start is None for line in order.lines.all())

    def test_a_bank_transfer_order_with_a_slip_is_approved(self):
        order = bank_transfer(submitted_order())
        proof_for(order)

        approved = services.order_approve(order=order, actor=UserFactory(staff=True))

        assert approved.status == S.IN_TRADE

    def test_a_third_party_order_needs_no_slip(self):
        order = submitted_order()

        assert services.order_approve(order=order, actor=UserFactory(staff=True)).status == S.IN_TRADE

