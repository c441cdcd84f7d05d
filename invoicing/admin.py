"""Finance's back office: the invoice queue (开票, 已寄出, export for the tax system),
e-contracts and the document jobs, all read-only. Moves go through invoicing.services
with the staff user as actor; documents are downloaded through views that check the
model's view permission, never through a public URL."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Prefetch, Q, Value, When
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import Address
from mall.admin_moves import (
    Move,
    MoveAdminMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    admin_object_or_404,
    admin_url,
    status_column,
)
from orders.templatetags.order_admin import waiting_time

from . import export, services
from .admin_forms import InvoiceDeliverForm, InvoiceIssueForm
from .exceptions import InvoiceError
from .models import Contract, DocumentJob, Invoice, InvoiceLine
from .validators import invoice_number_normalize
from .views import invoice_filename, pdf_response

S = Invoice.Status
PENDING = Q(status=S.PENDING)
EXPORT_CHUNK = 500
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ["item_name", "tax_code", "unit", "quantity", "unit_price", "amount", "tax_rate", "tax", "total"]
    readonly_fields = fields


class InvoiceMove(Move):
    """A finance move on one invoice: invoicing.services refuses it on the form (a number
    in use, a date in the future, a file that is not a PDF), and finance may correct it."""

    object_name = "invoice"
    permission = "issue"
    form_errors = (InvoiceError,)
    already = gettext_lazy("Invoice %(invoice)s was already “%(status)s”: nothing changed.")

    def params(self, invoice):
        return {"invoice": invoice, "status": invoice.get_status_display()}

    def extra_context(self, request, invoice, form):
        return {"lines": list(invoice.lines.all())}


class IssueInvoice(InvoiceMove):
    """开票: the number (validated), the date and optionally the official PDF. A second
    submission of the same number finds the invoice issued and changes nothing."""

    name = "issue"
    label = gettext_lazy("Issue invoice")
    form_class = InvoiceIssueForm
    template = "admin/invoicing/invoice/issue.html"
    title = gettext_lazy("Issue invoice %(invoice)s")
    refused = gettext_lazy("Invoice %(invoice)s is %(status)s and cannot be issued.")
    done = gettext_lazy("Invoice %(number)s of order %(order)s issued; the customer was told.")

    def is_repeat(self, request, invoice):
        return bool(invoice.number) and invoice.number == invoice_number_normalize(request.POST.get("number"))

    def call(self, request, invoice, data):
        return services.invoice_issue(
            invoice=invoice,
            actor=request.user,
            number=data["number"],
            issued_on=data["issued_on"],
            official_pdf=data["official_pdf"],
        )

    def params(self, invoice):
        return {**super().params(invoice), "number": invoice.number, "order": invoice.order.number}


class DeliverInvoice(InvoiceMove):
    """已寄出: the tracking number of the mailed paper invoice, with the customer's mailing
    address in sight."""

    name = "deliver"
    label = gettext_lazy("Mark as mailed")
    form_class = InvoiceDeliverForm
    template = "admin/invoicing/invoice/deliver.html"
    title = gettext_lazy("Mark invoice %(invoice)s as mailed")
    refused = gettext_lazy("Invoice %(invoice)s is %(status)s and cannot be marked as mailed.")
    done = gettext_lazy("Invoice %(invoice)s marked as mailed; the customer was told the tracking number.")

    def is_repeat(self, request, invoice):
        tracking = (request.POST.get("tracking_number") or "").strip()
        return invoice.status == S.DELIVERED and invoice.tracking_number == tracking

    def call(self, request, invoice, data):
        return services.invoice_deliver(invoice=invoice, actor=request.user, tracking_number=data["tracking_number"])

    def extra_context(self, request, invoice, form):
        return {**super().extra_context(request, invoice, form), "address": _mailing_address(invoice)}


@admin.register(Invoice)
class InvoiceAdmin(MoveAdminMixin, ReadOnlyAdmin):
    """财务的开票队列: pending invoices first, oldest first, with how long each has waited."""

    list_display = [
        "reference",
        "order_number",
        "buyer",
        "kind",
        "purpose_label",
        "total",
        "status_label",
        "created",
        "number",
    ]
    list_display_links = ["reference"]
    list_select_related = ["order", "original"]
    list_filter = ["status", "kind", "purpose", "created_at"]
    search_fields = ["order__number", "buyer_title", "buyer_taxpayer_id", "number"]
    search_help_text = gettext_lazy("Main order number, buyer, buyer's taxpayer id or invoice number.")
    ordering = [
        Case(When(PENDING, then=Value(0)), default=Value(1)).asc(),
        Case(When(PENDING, then="created_at")).asc(),
        Case(When(~PENDING, then="created_at")).desc(),
    ]
    inlines = [InvoiceLineInline]
    moves = [IssueInvoice(), DeliverInvoice()]
    move_buttons_context = "invoice_buttons"
    fieldsets = [
        (
            None,
            {"fields": ["order", "purpose", "original", "red_reason", "status_label", "kind", "created_at", "updated_at"]},
        ),
        (
            gettext_lazy("Buyer"),
            {
                "fields": [
                    "buyer_title",
                    "buyer_taxpayer_id",
                    "buyer_address",
                    "buyer_phone",
                    "buyer_bank",
                    "buyer_account",
                    "buyer_email",
                    "mailing_address",
                ]
            },
        ),
        (
            gettext_lazy("Seller"),
            {
                "fields": [
                    "seller_name",
                    "seller_taxpayer_id",
                    "seller_address",
                    "seller_phone",
                    "seller_bank",
                    "seller_account",
                ]
            },
        ),
        (gettext_lazy("Amounts"), {"fields": ["amount", "tax", "total", "total_in_words"]}),
        (
            gettext_lazy("Issue and mailing"),
            {"fields": ["number", "issued_on", "documents", "tracking_number", "delivered_at"]},
        ),
    ]
    readonly_fields = ["status_label", "mailing_address", "documents"]
    change_form_template = "admin/invoicing/invoice/change_form.html"
    change_list_template = "admin/invoicing/invoice/change_list.html"

    def has_issue_permission(self, request, obj=None):
        return request.user.has_perm("invoicing.issue_invoice")

    def has_export_permission(self, request, obj=None):
        return request.user.has_perm("invoicing.export_invoice")

    # --- List ---------------------------------------------------------------------------

    @admin.display(description=gettext_lazy("reference"), ordering="pk")
    def reference(self, invoice):
        return invoice.pk

    @admin.display(description=gettext_lazy("main order number"), ordering="order__number")
    def order_number(self, invoice):
        return invoice.order.number

    @admin.display(description=gettext_lazy("buyer"), ordering="buyer_title")
    def buyer(self, invoice):
        if not invoice.buyer_taxpayer_id:
            return invoice.buyer_title
        return format_html('{}<br><span class="quiet">{}</span>', invoice.buyer_title, invoice.buyer_taxpayer_id)

    @admin.display(description=gettext_lazy("purpose"), ordering="purpose")
    def purpose_label(self, invoice):
        """Original, re-issue or red-letter; a red-letter invoice with the number of the
        invoice it reverses and its reason."""
        if invoice.purpose != Invoice.Purpose.RED_LETTER:
            return format_html('<span data-purpose="{}">{}</span>', invoice.purpose, invoice.get_purpose_display())
        original = invoice.original.number if invoice.original_id else ""
        return format_html(
            '<span data-purpose="{}">{}</span><br><span class="quiet" data-original="{}">→ {} · {}</span>',
            invoice.purpose,
            invoice.get_purpose_display(),
            original,
            original or "—",
            invoice.get_red_reason_display(),
        )

    status_label = status_column("invoice-status")

    @admin.display(description=gettext_lazy("created at / waiting"), ordering="created_at")
    def created(self, invoice):
        """When the invoice information was made and, while it waits to be issued, for how long."""
        local = timezone.localtime(invoice.created_at)
        if invoice.status != S.PENDING:
            return f"{local:%Y-%m-%d %H:%M}"
        return format_html(
            '{}<br><span class="invoice-age" data-age>{}</span>', f"{local:%Y-%m-%d %H:%M}", waiting_time(invoice.created_at)
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_export_permission": self.has_export_permission(request)}
        return super().changelist_view(request, extra_context)

    # --- Change page --------------------------------------------------------------------

    @admin.display(description=gettext_lazy("mailing address"))
    def mailing_address(self, invoice):
        address = _mailing_address(invoice)
        return _address_text(address) if address else "—"

    @admin.display(description=gettext_lazy("documents"))
    def documents(self, invoice):
        links = self._document_links(invoice)
        if not links:
            return "—"
        return format_html_join(" · ", '<a href="{}" data-download="{}">{}</a>', links)

    def _document_links(self, invoice) -> list[tuple[str, str, str]]:
        links = []
        if invoice.sheet:
            links.append((admin_url(self, "sheet", invoice.pk), "sheet", _("Invoice information sheet (PDF)")))
        if invoice.official_pdf:
            links.append((admin_url(self, "official", invoice.pk), "official", _("Official invoice (PDF)")))
        return links

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/sheet.pdf", view(self.download_view), {"field": "sheet"}, name="%s_%s_sheet" % info),
            path(
                "<path:object_id>/official.pdf",
                view(self.download_view),
                {"field": "official_pdf"},
                name="%s_%s_official" % info,
            ),
            path("export/csv/", view(self.export_view), {"extension": "csv"}, name="%s_%s_export_csv" % info),
            path("export/xlsx/", view(self.export_view), {"extension": "xlsx"}, name="%s_%s_export_xlsx" % info),
            *super().get_urls(),
        ]

    def download_view(self, request, object_id, field):
        invoice = admin_object_or_404(self, request, object_id, allowed=self.has_view_permission(request))
        if field == "sheet":
            filename = f"{invoice.order.number}-invoice-{invoice.pk}.pdf"
        else:
            filename = invoice_filename(invoice)
        return pdf_response(getattr(invoice, field), filename)

    # --- Export ---------------------------------------------------------------------------

    def export_view(self, request, extension):
        """Every invoice waiting to be issued, oldest first, one row per line, for the tax
        system's bulk import (whatever the list's filter: the queue is what finance keys in)."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        lines = Prefetch("lines", queryset=InvoiceLine.objects.order_by("id"))
        invoices = (
            Invoice.objects.filter(PENDING)
            .select_related("order", "original")
            .prefetch_related(lines)
            .order_by("created_at", "id")
            .iterator(chunk_size=EXPORT_CHUNK)
        )
        if extension == "csv":
            response = StreamingHttpResponse(export.csv_chunks(invoices), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(export.xlsx_bytes(invoices), content_type=XLSX_TYPE)
        stamp = f"{timezone.localtime():%Y%m%d-%H%M}"
        response["Content-Disposition"] = f'attachment; filename="invoices-pending-{stamp}.{extension}"'
        return response


def _mailing_address(invoice) -> Address | None:
    """Where the paper invoice goes: the customer's default mailing address, or else the
    one they saved last."""
    return Address.objects.filter(user_id=invoice.order.customer_id).order_by("-is_default", "-updated_at", "-id").first()


def _address_text(address) -> str:
    postal = f" {address.postal_code}" if address.postal_code else ""
    return f"{address.recipient} {address.mobile} · {address.region} {address.detail}{postal}"


@admin.register(Contract)
class ContractAdmin(ReadOnlyAdmin):
    list_display = ["number", "order_number", "buyer_name", "total", "signed_at", "download"]
    list_select_related = ["order"]
    search_fields = ["number", "order__number", "buyer_name"]
    search_help_text = gettext_lazy("Contract number, main order number or customer.")
    list_filter = ["signed_at"]
    fields = [
        "number",
        "order",
        "buyer_name",
        "seller_name",
        "total",
        "total_in_words",
        "service_start",
        "service_end",
        "agreement_version",
        "seal_filing_number",
        "signed_at",
        "sha256",
        "signer_fingerprint",
        "download",
        "verification",
    ]
    readonly_fields = ["download", "verification"]

    @admin.display(description=gettext_lazy("main order number"), ordering="order__number")
    def order_number(self, contract):
        return contract.order.number

    @admin.display(description=gettext_lazy("signed PDF"))
    def download(self, contract):
        if not contract.pdf:
            return "—"
        return format_html(
            '<a href="{}" data-download="contract">{}</a>', admin_url(self, "pdf", contract.pk), _("Download PDF")
        )

    @admin.display(description=gettext_lazy("verification page"))
    def verification(self, contract):
        return format_html(
            '<a href="{}" target="_blank" rel="noopener noreferrer" data-verify="contract">{}</a>',
            contract.get_verification_url(),
            _("Open the public verification page"),
        )

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/contract.pdf", view(self.download_view), name="%s_%s_pdf" % info),
            *super().get_urls(),
        ]

    def download_view(self, request, object_id):
        contract = admin_object_or_404(self, request, object_id, allowed=self.has_view_permission(request))
        return pdf_response(contract.pdf, f"{contract.number}.pdf")


@admin.register(DocumentJob)
class DocumentJobAdmin(ReadOnlyAdmin):
    """The production of each confirmed order's invoice and contract. A failed job shows
    its last error; 重新生成 sends it to a worker again."""

    list_display = ["order_number", "status", "attempts", "requested_at", "started_at", "finished_at", "error"]
    list_select_related = ["order"]
    list_filter = ["status", "requested_at"]
    search_fields = ["order__number"]
    actions = ["retry_selected"]
    fields = [
        "order",
        "status",
        "attempts",
        "requested_at",
        "enqueued_at",
        "started_at",
        "finished_at",
        "worker",
        "last_error",
    ]

    def has_retry_permission(self, request, obj=None):
        # accounts.roles: change_documentjob is the right to send a job to a worker again.
        return request.user.has_perm("invoicing.change_documentjob")

    @admin.display(description=gettext_lazy("main order number"), ordering="order__number")
    def order_number(self, job):
        return job.order.number

    @admin.display(description=gettext_lazy("last error"))
    def error(self, job):
        text = job.last_error
        return text if len(text) <= 120 else f"{text[:117]}…"

    @admin.action(permissions=["retry"], description=gettext_lazy("Generate the documents again"))
    def retry_selected(self, request, queryset):
        """Sends each selected job that is not done to a worker again; done ones are skipped."""
        sent, skipped = 0, []
        for job in queryset.order_by("requested_at", "pk"):
            if job.status == DocumentJob.Status.DONE:
                skipped.append(job.order.number)
                continue
            if services.documents_retry(job=job):
                sent += 1
            else:
                skipped.append(job.order.number)
        self.message_user(
            request,
            ngettext("%(count)d job sent to a worker.", "%(count)d jobs sent to a worker.", sent) % {"count": sent},
            messages.SUCCESS if sent else messages.INFO,
        )
        if skipped:
            self.message_user(
                request,
                _("Skipped (already done, or the broker is unreachable; the sweeper retries): %(list)s")
                % {"list": ", ".join(skipped)},
                messages.WARNING,
            )
