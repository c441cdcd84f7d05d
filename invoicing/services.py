"""Invoices and e-contracts: every write the business cares about.

A receipt confirmation records a DocumentJob in its own transaction
(order_documents_request); after commit a worker runs documents_generate, which makes
the invoice with its information sheet and the signed contract, exactly once: the job
row is locked for the whole run, the invoice and contract have unique constraints per
order, and the files get names derived from the order, so a rerun overwrites instead
of adding. The sweeper sends jobs that are not done after a while to a worker again.
"""

import hashlib
import logging
import os
import socket
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed

from mall import pagecache
from mall.celery import BROKER_ERRORS
from mall.money import money
from orders.models import Order
from orders.selectors import CONFIRMED_STATUSES
from orders.services import order_event_record, order_notify

from . import pdf, seal, signing
from .exceptions import InvoiceError
from .models import Contract, DocumentJob, Invoice, InvoiceLine
from .money import allocate, amount_in_words, tax_split
from .qr import qr_data_uri
from .validators import validate_invoice_number

logger = logging.getLogger(__name__)

ISSUED_PDF_MAX_BYTES = 10 * 1024 * 1024
UNIT_PRICE_PLACES = Decimal("0.00000001")  # tax systems take unit prices to 8 places


# --- Requesting and producing the documents ------------------------------------------


def order_documents_request(*, order: Order) -> DocumentJob:
    """settings.ORDER_DOCUMENTS_HOOK: called inside the transaction that confirms the
    receipt. The job is part of that transaction; a worker gets it after commit. A
    broker that is down then loses nothing: the sweeper finds the job."""
    job, _created = DocumentJob.objects.get_or_create(order=order)
    transaction.on_commit(lambda: documents_enqueue(order_id=order.pk))
    return job


def documents_enqueue(*, order_id: int) -> bool:
    """Hand the order's documents to a worker (in-process without REDIS_URL). Returns
    False, logging why, when the broker cannot be reached: the job stays recorded."""
    from .tasks import order_documents_task  # tasks import this module

    try:
        order_documents_task.apply_async(args=[order_id], retry=False)
    except BROKER_ERRORS as error:  # one line, no traceback: mall.celery's breaker logs the outage
        logger.warning("documents of order %s not sent to a worker (%s); the sweeper will retry", order_id, error)
        return False
    except Exception:  # not the broker (e.g. a message that cannot be serialised)
        logger.warning("documents of order %s not sent to a worker; the sweeper will retry", order_id, exc_info=True)
        return False
    DocumentJob.objects.filter(order_id=order_id).update(enqueued_at=timezone.now())
    return True


def documents_generate(*, order_id: int, worker: str = "") -> DocumentJob:
    """Make the order's invoice (with its sheet PDF) and signed contract, once.

    The first transaction records the attempt (seen by the admin and the sweeper, even
    if this process dies); the second holds the job's row lock while it works, so a
    concurrent run waits and then finds the job done.
    """
    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    with transaction.atomic():
        job = DocumentJob.objects.select_for_update().get(order_id=order_id)
        if job.status == DocumentJob.Status.DONE:
            return job
        DocumentJob.objects.filter(pk=job.pk).update(
            status=DocumentJob.Status.RUNNING,
            attempts=job.attempts + 1,
            started_at=timezone.now(),
            worker=worker[:200],
        )
    with transaction.atomic():
        job = DocumentJob.objects.select_for_update().get(order_id=order_id)
        if job.status == DocumentJob.Status.DONE:
            return job
        order = Order.objects.select_for_update(of=("self",), no_key=True).select_related("customer").get(pk=order_id)
        if order.status not in CONFIRMED_STATUSES:
            raise InvoiceError(
                _("Order %(number)s is “%(status)s”: its receipt is not confirmed.")
                % {"number": order.number, "status": order.get_status_display()}
            )
        invoice = _original_invoice(order)
        if invoice is not None and not invoice.sheet:
            # Named after the order, not the invoice's id: a run that failed after writing
            # the file rolled the invoice back, and the next one overwrites that file.
            _attach(invoice, "sheet", invoice_sheet_render(invoice), _document_name(order, "invoice", "original"))
        if not Contract.objects.filter(order=order).exists():
            contract_create(order)
        DocumentJob.objects.filter(pk=job.pk).update(
            status=DocumentJob.Status.DONE, finished_at=timezone.now(), last_error=""
        )
        order_event_record(order, action="documents_ready")
        job.refresh_from_db()
    return job


def documents_attempt_failed(*, order_id: int, error: BaseException, final: bool) -> None:
    """Record a failed run: waiting for its retry, or failed for good (visible in the
    admin; the sweeper tries again until DOCUMENTS_MAX_ATTEMPTS)."""
    status = DocumentJob.Status.FAILED if final else DocumentJob.Status.PENDING
    DocumentJob.objects.filter(order_id=order_id).exclude(status=DocumentJob.Status.DONE).update(
        status=status, last_error=f"{type(error).__name__}: {error}"[:2000], finished_at=timezone.now()
    )


def documents_sweep(*, now=None) -> list[int]:
    """Send to a worker again every confirmed order whose documents are still missing
    DOCUMENTS_SWEEP_AFTER_MINUTES after the last try (broker down at confirm time, a
    worker killed, failures), and record jobs for confirmed orders that have none.
    Returns the order ids sent."""
    now = now or timezone.now()
    before = now - timedelta(minutes=settings.DOCUMENTS_SWEEP_AFTER_MINUTES)
    missing = Order.objects.filter(status__in=CONFIRMED_STATUSES, document_job__isnull=True, completed_at__lte=before)
    created = []
    for order_id in missing.values_list("pk", flat=True):
        _job, new = DocumentJob.objects.get_or_create(order_id=order_id, defaults={"requested_at": now})
        if new:
            created.append(order_id)
    stale = (
        DocumentJob.objects.exclude(status=DocumentJob.Status.DONE)
        .filter(attempts__lt=settings.DOCUMENTS_MAX_ATTEMPTS, requested_at__lte=before)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=before))
        .filter(Q(started_at__isnull=True) | Q(started_at__lte=before))
    )
    sent = []
    for order_id in sorted(set(stale.values_list("order_id", flat=True)) | set(created)):
        if documents_enqueue(order_id=order_id):
            sent.append(order_id)
    # Re-issued and red-letter invoices whose sheet was not made (their task was lost).
    sheetless = Invoice.objects.filter(sheet="", created_at__lte=before).exclude(purpose=Invoice.Purpose.ORIGINAL)
    for invoice_id in sheetless.values_list("pk", flat=True):
        _sheet_enqueue(invoice_id)
    return sent


def documents_retry(*, job: DocumentJob) -> bool:
    """Staff's 重新生成 for a failed job: it goes to a worker again at once."""
    with transaction.atomic():
        locked = DocumentJob.objects.select_for_update().get(pk=job.pk)
        if locked.status == DocumentJob.Status.DONE:
            return False
        DocumentJob.objects.filter(pk=locked.pk).update(status=DocumentJob.Status.PENDING, requested_at=timezone.now())
    return documents_enqueue(order_id=job.order_id)


def _document_name(order: Order, kind: str, key) -> str:
    """A name derived from the order (and `key`, stable across reruns), so a rerun
    replaces the file instead of adding one."""
    submitted = timezone.localtime(order.submitted_at)
    return f"{kind}s/{submitted:%Y/%m}/{order.number}-{kind}-{key}.pdf"


def _attach(instance, field: str, content: bytes, name: str) -> None:
    """Store `content` under `name` (replacing a leftover of an earlier, failed run) and
    point `field` at it."""
    storage = instance._meta.get_field(field).storage
    if storage.exists(name):
        storage.delete(name)
    getattr(instance, field).save(name, ContentFile(content), save=False)
    type(instance).objects.filter(pk=instance.pk).update(**{field: getattr(instance, field).name})
    pagecache.row_changed(instance)  # its download link appears on the customer's pages


# --- The invoice -----------------------------------------------------------------------


def item_name(service) -> str:
    """开票项目名称: *税收分类简称*服务名称, e.g. *软件服务*E3-京东开放平台对接服务."""
    category = service.tax_category or settings.INVOICE_TAX_CATEGORY
    return f"*{category}*{service.name}"


def invoice_lines_compute(*, lines, total) -> list[dict]:
    """The invoice lines of order `lines` for a tax-inclusive `total` (what was paid):
    shared out over the lines by their subtotals, each split at its service's rate."""
    lines = list(lines)
    shares = allocate(total, [line.subtotal for line in lines])
    computed = []
    for line, share in zip(lines, shares):
        amount, tax = tax_split(share, line.service.tax_rate)
        # A red-letter line has a negative quantity at the same positive unit price (also
        # a line whose share rounds to 0.00).
        quantity = line.quantity if money(total) >= 0 else -line.quantity
        computed.append(
            {
                "order_line": line,
                "item_name": item_name(line.service),
                "tax_code": line.service.tax_code or settings.INVOICE_TAX_CODE,
                "unit": line.unit,
                "quantity": quantity,
                "unit_price": (amount / quantity).quantize(UNIT_PRICE_PLACES),
                "amount": amount,
                "tax_rate": line.service.tax_rate,
                "tax": tax,
                "total": share,
            }
        )
    return computed


def invoiceable_amount(order: Order):
    """What the order's invoice is for: the paid amount (the total when none was
    recorded), less what was refunded."""
    return (order.paid_amount or order.total) - order.refunded_amount


def _original_invoice(order: Order) -> Invoice | None:
    """The order's invoice, created from its snapshot if there is none yet; None when
    everything paid was refunded before it was made."""
    existing = order.invoices.filter(purpose=Invoice.Purpose.ORIGINAL).first()
    if existing:
        return existing
    total = invoiceable_amount(order)
    if total <= 0:
        return None
    return _invoice_create(order, purpose=Invoice.Purpose.ORIGINAL, total=total)


def _invoice_create(order: Order, *, purpose, total, original: Invoice | None = None, red_reason="") -> Invoice:
    """An invoice of `order` for `total` (negative for a red-letter invoice): buyer from
    the order's snapshot, seller from settings, lines shared out over the order's lines."""
    lines = invoice_lines_compute(lines=order.lines.select_related("service"), total=total)
    seller = settings.SELLER
    invoice = Invoice.objects.create(
        order=order,
        purpose=purpose,
        original=original,
        red_reason=red_reason,
        kind=order.invoice_kind,
        buyer_title=order.invoice_title,
        buyer_taxpayer_id=order.invoice_taxpayer_id,
        buyer_address=order.invoice_address,
        buyer_phone=order.invoice_phone,
        buyer_bank=order.invoice_bank,
        buyer_account=order.invoice_account,
        buyer_email=order.customer.email,
        seller_name=seller["name"],
        seller_taxpayer_id=seller["taxpayer_id"],
        seller_address=seller["address"],
        seller_phone=seller["phone"],
        seller_bank=seller["bank"],
        seller_account=seller["bank_account"],
        amount=sum((line["amount"] for line in lines), money(0)),
        tax=sum((line["tax"] for line in lines), money(0)),
        total=money(total),
        total_in_words=amount_in_words(total),
    )
    InvoiceLine.objects.bulk_create(InvoiceLine(invoice=invoice, **line) for line in lines)
    return invoice


def invoice_sheet_ensure(*, invoice_id: int) -> Invoice:
    """The sheet PDF of a re-issued or red-letter invoice, made once (after the refund
    that created the invoice commits; the sweeper catches one that was not)."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",), no_key=True).select_related("order").get(pk=invoice_id)
        if not invoice.sheet:
            key = "original" if invoice.purpose == Invoice.Purpose.ORIGINAL else f"{invoice.purpose}-{invoice.pk}"
            _attach(invoice, "sheet", invoice_sheet_render(invoice), _document_name(invoice.order, "invoice", key))
            invoice.refresh_from_db(fields=["sheet"])
    return invoice


def _sheet_enqueue(invoice_id: int) -> None:
    from .tasks import invoice_sheet_task

    try:
        invoice_sheet_task.apply_async(args=[invoice_id], retry=False)
    except BROKER_ERRORS as error:  # one line, no traceback: mall.celery's breaker logs the outage
        logger.warning("sheet of invoice %s not sent to a worker (%s); the sweeper will retry", invoice_id, error)
    except Exception:  # not the broker
        logger.warning("sheet of invoice %s not sent to a worker; the sweeper will retry", invoice_id, exc_info=True)


# --- Refunds -----------------------------------------------------------------------------


def invoice_current(order: Order) -> Invoice | None:
    """The order's invoice in force: the original or its latest re-issue, not voided
    nor reversed."""
    return (
        order.invoices.filter(purpose__in=[Invoice.Purpose.ORIGINAL, Invoice.Purpose.REISSUE])
        .exclude(status__in=[Invoice.Status.CANCELLED, Invoice.Status.REVERSED])
        .order_by("-created_at", "-id")
        .first()
    )


def red_reason_default(*, full: bool) -> str:
    return Invoice.RedReason.SERVICE_TERMINATION if full else Invoice.RedReason.SALES_ALLOWANCE


def invoices_after_refund(*, order: Order, amount, actor, red_reason: str = "") -> list[Invoice]:
    """The invoices follow a completed refund of `amount` (called inside the refund's
    transaction, the order locked, its refunded_amount already counting `amount`):

    - no invoice yet: nothing; it will be made for what is left;
    - not yet issued: voided (已作废), and re-issued for what is left, if anything;
    - issued: a red-letter invoice for −amount referencing it joins the finance queue;
      the original becomes 已红冲 when finance issues the red-letter one.
    Returns the invoices created."""
    current = invoice_current(order)
    if current is None:
        # An earlier partial red-letter invoice reversed the last one only in part.
        reversed_ = order.invoices.filter(status=Invoice.Status.REVERSED).exclude(purpose=Invoice.Purpose.RED_LETTER)
        current = reversed_.order_by("-created_at", "-id").first()
    if current is None:
        return []
    current = Invoice.objects.select_for_update().get(pk=current.pk)
    remainder = invoiceable_amount(order)
    created = []
    if current.status == Invoice.Status.PENDING:
        current.cancel()
        current.save(update_fields=["status", "updated_at"])
        order_event_record(order, action="invoice_cancel", actor=actor, note=str(current))
        if remainder > 0:
            created.append(_invoice_create(order, purpose=Invoice.Purpose.REISSUE, total=remainder, original=current))
            order_event_record(order, action="invoice_reissue", actor=actor, note=f"¥{remainder}")
    else:
        full = remainder <= 0
        reason = red_reason or red_reason_default(full=full)
        if reason not in Invoice.RedReason.values:
            raise InvoiceError(_("Choose a reason for the red-letter invoice."))
        created.append(
            _invoice_create(order, purpose=Invoice.Purpose.RED_LETTER, total=-money(amount), original=current, red_reason=reason)
        )
        order_event_record(order, action="invoice_red_letter", actor=actor, note=f"{current.number} −¥{money(amount)}")
    for invoice in created:
        transaction.on_commit(lambda pk=invoice.pk: _sheet_enqueue(pk))
    return created


def invoice_sheet_render(invoice: Invoice) -> bytes:
    """开票信息确认单: the invoice's data as finance will key it in, on one A4 page."""
    order = invoice.order
    page = f"{settings.SITE_URL.rstrip('/')}{order.get_absolute_url()}#invoice"
    with translation.override(settings.LANGUAGE_CODE):
        return pdf.render_template_pdf(
            "invoicing/pdf/invoice_sheet.html",
            {
                "invoice": invoice,
                "order": order,
                "lines": list(invoice.lines.all()),
                "qr": qr_data_uri(page),
                "page_url": page,
                "generated_at": timezone.localtime(),
            },
        )


# --- The contract ----------------------------------------------------------------------


def contract_number(order: Order) -> str:
    """HT + the digits of the order number: one contract per order, readable beside it."""
    return "HT" + "".join(character for character in order.number if character.isdigit())


def contract_create(order: Order) -> Contract:
    """The contract of `order`: rendered, signed with the seller's key, stored."""
    period = order.lines.aggregate(start=Min("service_start"), end=Max("service_end"))
    contract = Contract(
        order=order,
        number=contract_number(order),
        seal_filing_number=settings.SELLER["seal_filing_number"],
        buyer_name=order.contract_customer_name or order.invoice_title,
        seller_name=settings.SELLER["name"],
        total=order.paid_amount or order.total,
        total_in_words=amount_in_words(order.paid_amount or order.total),
        service_start=period["start"],
        service_end=period["end"],
        agreement_version=order.agreement_version,
        signed_at=timezone.now(),
    )
    signed = contract_render_signed(contract)
    contract.sha256 = hashlib.sha256(signed).hexdigest()
    contract.signer_fingerprint = signing.signing_credentials().fingerprint
    name = _document_name(order, "contract", "signed")
    storage = contract._meta.get_field("pdf").storage
    if storage.exists(name):
        storage.delete(name)
    contract.pdf.save(name, ContentFile(signed), save=False)
    contract.save()
    return contract


def contract_render_signed(contract: Contract) -> bytes:
    order = contract.order
    with translation.override(settings.LANGUAGE_CODE):
        document = pdf.render_template_pdf(
            "invoicing/pdf/contract.html",
            {
                "contract": contract,
                "order": order,
                "lines": list(order.lines.all()),
                "agreement": order.agreement,
                "seller": settings.SELLER,
                "seal": seal.seal_data_uri(settings.SELLER["name"]),
                "qr": qr_data_uri(contract.verification_url),
            },
        )
        reason = _("Contract %(number)s") % {"number": contract.number}
    return signing.sign_pdf(document, reason=reason, location=settings.SELLER["address"])


def contract_verify(contract: Contract) -> dict:
    """What the public verification page shows: the stored PDF's SHA-256 against the one
    recorded at signing, and whether its signature validates."""
    try:
        with contract.pdf.open("rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        logger.error("contract %s: its PDF %s is missing from storage", contract.number, contract.pdf.name)
        return {"sha256": "", "unchanged": False, "signature_valid": False, "signer": "", "signed_at": None}
    digest = hashlib.sha256(data).hexdigest()
    result = signing.verify_pdf(data)
    return {
        "sha256": digest,
        "unchanged": digest == contract.sha256,
        "signature_valid": result.valid,
        "signer": result.signer,
        "signed_at": result.signed_at,
    }


# --- Finance: issuing and mailing ------------------------------------------------------


def invoice_issue(*, invoice: Invoice, actor, number: str, issued_on: date, official_pdf=None) -> Invoice:
    """开票: finance enters the 数电发票 number and date (and may upload the official PDF,
    which then replaces the sheet for the customer). The customer is told."""
    try:
        number = validate_invoice_number(number, issued_on=issued_on)
    except ValidationError as error:
        raise InvoiceError(error.messages[0]) from None
    if issued_on > timezone.localdate():
        raise InvoiceError(_("The issue date cannot be in the future."))
    content = _official_pdf_read(official_pdf) if official_pdf else None
    with transaction.atomic():
        locked = Invoice.objects.select_for_update(of=("self",), no_key=True).select_related("order", "order__customer").get(pk=invoice.pk)
        if locked.status == Invoice.Status.ISSUED and locked.number == number:
            return locked  # the same form sent twice
        if not can_proceed(locked.issue):
            raise InvoiceError(
                _("Invoice %(invoice)s is %(status)s and cannot be issued.")
                % {"invoice": locked, "status": locked.get_status_display()}
            )
        if issued_on < timezone.localtime(locked.created_at).date():
            raise InvoiceError(_("The issue date cannot be before the invoice information was made."))
        if Invoice.objects.filter(number=number).exclude(pk=locked.pk).exists():
            raise InvoiceError(_("Invoice number %(number)s is already used by another invoice.") % {"number": number})
        locked.issue()
        locked.number, locked.issued_on = number, issued_on
        locked.save(update_fields=["status", "number", "issued_on", "updated_at"])
        if content is not None:
            _attach(locked, "official_pdf", content, _document_name(locked.order, "official-invoice", locked.pk))
            locked.refresh_from_db(fields=["official_pdf"])
        order_event_record(locked.order, action="invoice_issue", actor=actor, note=number)
        if locked.purpose == Invoice.Purpose.RED_LETTER and locked.original_id:
            original = Invoice.objects.select_for_update().get(pk=locked.original_id)
            if can_proceed(original.reverse):  # a second red-letter one finds it reversed already
                original.reverse()
                original.save(update_fields=["status", "updated_at"])
                order_event_record(locked.order, action="invoice_reverse", actor=actor, note=f"{original.number} ← {number}")
        order_notify(
            locked.order,
            title=gettext_lazy("The invoice of order %(number)s was issued"),
            body=gettext_lazy("Invoice number %(invoice)s, issued on %(date)s. You can download it under My invoices."),
            params={"invoice": number, "date": issued_on.isoformat()},
            email=True,
        )
    return locked


def invoice_deliver(*, invoice: Invoice, actor, tracking_number: str) -> Invoice:
    """已寄出: a paper invoice was mailed; the customer gets the tracking number."""
    tracking_number = (tracking_number or "").strip()
    if not tracking_number:
        raise InvoiceError(_("Enter the tracking number of the mailing."))
    if len(tracking_number) > 64:
        raise InvoiceError(_("The tracking number can be at most 64 characters."))
    with transaction.atomic():
        locked = Invoice.objects.select_for_update(of=("self",), no_key=True).select_related("order", "order__customer").get(pk=invoice.pk)
        if locked.status == Invoice.Status.DELIVERED and locked.tracking_number == tracking_number:
            return locked
        if not can_proceed(locked.deliver):
            raise InvoiceError(
                _("Invoice %(invoice)s is %(status)s and cannot be marked as mailed.")
                % {"invoice": locked, "status": locked.get_status_display()}
            )
        locked.deliver()
        locked.tracking_number, locked.delivered_at = tracking_number, timezone.now()
        locked.save(update_fields=["status", "tracking_number", "delivered_at", "updated_at"])
        order_event_record(locked.order, action="invoice_deliver", actor=actor, note=tracking_number)
        order_notify(
            locked.order,
            title=gettext_lazy("The invoice of order %(number)s was mailed"),
            body=gettext_lazy("Tracking number: %(tracking)s"),
            params={"tracking": tracking_number},
            email=True,
        )
    return locked


def _official_pdf_read(upload) -> bytes:
    """The uploaded official invoice, checked by its bytes: a PDF of at most 10 MB."""
    if upload.size > ISSUED_PDF_MAX_BYTES:
        raise InvoiceError(_("The invoice PDF can be at most 10 MB."))
    content = upload.read()
    if not content.startswith(b"%PDF-") or b"%%EOF" not in content[-2048:]:
        raise InvoiceError(_("The uploaded file is not a PDF."))
    return content
