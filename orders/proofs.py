"""上传回单 (remittance slips): the byte checks, the upload service and the download.

A slip is judged by its bytes only, never by its name or the browser's content type:
JPEG and PNG must parse completely and are re-encoded (which drops their metadata and
anything appended to them); a PDF must look like one from header to trailer and carry
no scripts or launch actions. A refused file leaves nothing behind: no row, no file.
"""

import hashlib
import io
import re
import struct
import warnings
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse, Http404
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from . import services
from .exceptions import OrderError, TransitionRefused
from .models import Order, PaymentProof

# Settings with their defaults; read when used so tests can override them.
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_PER_ORDER = 10
# A decompression-bomb limit far below Pillow's own (~89 Mpx): a scanned A4 page at
# 600 dpi is about 35 Mpx.
DEFAULT_MAX_PIXELS = 40_000_000

# Orders awaiting review (待审核, 审核未通过) or in trade take slips.
UPLOAD_STATUSES = (Order.Status.AWAITING_PAYMENT, Order.Status.REJECTED, Order.Status.IN_TRADE)

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
PDF_MAGIC = b"%PDF-"
# Names that make a PDF run something when opened. Compared after #xx escapes are
# decoded (/J#61vaScript is /JavaScript).
PDF_ACTIVE_NAMES = {b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/RichMedia", b"/XFA"}
PDF_NAME = re.compile(rb"/[^\s/<>\[\]()%{}]+")
PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
PDF_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.DOTALL)
# Inflated stream bytes examined at most; a PDF that inflates beyond is refused (zip bomb).
PDF_INFLATE_LIMIT = 50 * 1024 * 1024


def max_bytes() -> int:
    return getattr(settings, "PAYMENT_PROOF_MAX_BYTES", DEFAULT_MAX_BYTES)


def max_per_order() -> int:
    return getattr(settings, "PAYMENT_PROOF_MAX_PER_ORDER", DEFAULT_MAX_PER_ORDER)


def max_pixels() -> int:
    return getattr(settings, "PAYMENT_PROOF_MAX_PIXELS", DEFAULT_MAX_PIXELS)


class ProofRefused(OrderError):
    """The file is not an acceptable slip; `message` says why."""


@dataclass(frozen=True)
class CheckedFile:
    content: bytes  # what is stored: re-encoded for images, as uploaded for PDFs
    content_type: str


# --- Byte checks (pure: bytes in, bytes out) -----------------------------------------------


def proof_check(data: bytes) -> CheckedFile:
    """The slip to store, or ProofRefused. The type comes from the magic number."""
    if not data:
        raise ProofRefused(_("The file is empty."))
    if len(data) > max_bytes():
        raise _too_large()
    if data.startswith(PNG_MAGIC):
        return CheckedFile(_image_reencoded(data, "PNG"), PNG)
    if data.startswith(JPEG_MAGIC):
        return CheckedFile(_image_reencoded(data, "JPEG"), JPEG)
    if data.startswith(PDF_MAGIC):
        _pdf_check(data)
        return CheckedFile(data, PDF)
    raise ProofRefused(
        _("This file is not a JPEG, PNG or PDF file (whatever its name says). Upload a photo, scan or PDF of the slip.")
    )


def _too_large():
    return ProofRefused(
        _("The file is larger than %(max)s. Upload a smaller photo or scan of the slip.")
        % {"max": filesizeformat(max_bytes())}
    )


def _damaged():
    return ProofRefused(_("This image is damaged or incomplete. Take the photo or scan again and upload that."))


def _image_reencoded(data: bytes, fmt: str) -> bytes:
    """Parse the whole image, then write its pixels anew: metadata (EXIF, GPS, comments)
    and anything appended after the image data are left behind."""
    with warnings.catch_warnings():
        # Pillow warns before it refuses a decompression bomb: refuse at the warning.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
                width, height = probe.size
                if width * height > max_pixels():
                    raise ProofRefused(
                        _(
                            "This image is too large (%(width)d × %(height)d pixels). "
                            "Upload one of at most %(megapixels)d megapixels."
                        )
                        % {"width": width, "height": height, "megapixels": max_pixels() // 1_000_000}
                    )
                probe.verify()  # checksums and structure; the image is unusable afterwards
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                image.load()  # decodes every pixel: truncated data fails here
                image = ImageOps.exif_transpose(image)  # keep a phone photo upright without its EXIF
                return _encode(image, fmt)
        except ProofRefused:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _damaged() from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error):
            # Pillow reports broken data with any of these.
            raise _damaged() from None


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=90)
    else:
        if image.mode not in ("1", "L", "LA", "RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, "PNG")
    return out.getvalue()


def _pdf_check(data: bytes) -> None:
    """A light structural check (no PDF library at runtime): the header, a cross-reference
    pointer and %%EOF at the end, and no active content in the file or its Flate streams."""
    tail = data[-1024:]
    if b"%%EOF" not in tail or b"startxref" not in tail or b"obj" not in data:
        raise ProofRefused(_("This PDF is damaged or incomplete. Save or print it to PDF again and upload that."))
    inflated, budget = [data], PDF_INFLATE_LIMIT
    for match in PDF_STREAM.finditer(data):
        try:
            inflater = zlib.decompressobj()
            chunk = inflater.decompress(match.group(1), budget + 1)
        except zlib.error:
            continue  # not Flate (images, fonts in other filters): nothing to read there
        budget -= len(chunk)
        if budget < 0:
            raise ProofRefused(_("This PDF is damaged or incomplete. Save or print it to PDF again and upload that."))
        inflated.append(chunk)
    for part in inflated:
        for name in PDF_NAME.findall(part):
            if PDF_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), name) in PDF_ACTIVE_NAMES:
                raise ProofRefused(
                    _(
                        "This PDF contains scripts, attachments or actions, which are not accepted. "
                        "Print it to a new PDF and upload that."
                    )
                )


# --- Service --------------------------------------------------------------------------------


def _read(upload) -> bytes:
    """The upload's bytes, never more than the limit plus one read into memory."""
    if upload.size is not None and upload.size > max_bytes():
        raise _too_large()
    upload.seek(0)
    return upload.read(max_bytes() + 1)


def payment_proof_upload(*, order: Order, actor, upload) -> PaymentProof:
    """上传回单: check the file's bytes, store it under a random name in private storage,
    record its size and SHA-256, and note it on the order's timeline."""
    checked = proof_check(_read(upload))
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if actor is None or actor.pk != locked.customer_id:
            raise OrderError(_("Only the customer who placed the order can upload its remittance slip."))
        if locked.status not in UPLOAD_STATUSES:
            raise TransitionRefused(locked, services.ACTION_LABELS["upload_payment_proof"])
        if locked.payment_proofs.count() >= max_per_order():
            raise OrderError(
                _("This order already has %(count)d remittance slips, the most it can have.")
                % {"count": max_per_order()}
            )
        proof = PaymentProof(
            order=locked,
            content_type=checked.content_type,
            size=len(checked.content),
            sha256=hashlib.sha256(checked.content).hexdigest(),
            original_name=(getattr(upload, "name", "") or "")[-200:],
            uploaded_by=actor,
        )
        # The name comes from the model's upload_to (random, extension from content_type).
        proof.file.save("slip", ContentFile(checked.content), save=False)
        try:
            proof.save()
            services.order_event_record(
                locked, action="upload_payment_proof", actor=actor, note=proof.original_name
            )
        except BaseException:
            proof.file.delete(save=False)  # no row, no file
            raise
    return proof


# --- Download -------------------------------------------------------------------------------


def payment_proof_response(proof: PaymentProof) -> FileResponse:
    """The slip as a download under a name made from the order number, never cached and
    never rendered by the browser as anything but its recorded type."""
    try:
        handle = proof.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    filename = f"{proof.order.number}-{proof.pk}{proof.extension}"
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=proof.content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
