"""Finance's refund queue: refund requests, read-only, pending first then approved, oldest
first, with their age. 同意, 拒绝 and 完成退款 are pages calling refunds.services with the
staff user as actor; the invoices follow inside refund_complete (invoicing.services)."""

from django.contrib import admin
from django.db.models import Case, Q, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from invoicing.exceptions import InvoiceError
from invoicing.models import Invoice
from invoicing.services import invoice_current, invoiceable_amount, red_reason_default
from mall.admin_moves import DONE, DONE_BY_OTHER, Move, MoveAdminMixin, ReadOnlyAdmin, status_column
from orders.templatetags.order_admin import waiting_time

from . import services
from .admin_forms import RefundCompleteForm, RefundRejectForm
from .exceptions import RefundError
from .models import RefundRequest

S = RefundRequest.Status
OPEN = Q(status__in=[S.PENDING, S.APPROVED])


class RefundMove(Move):
    """A finance move on one refund. A repeat of the submission that made it (a double
    click) finds the refund in the move's `target` state; the services treat a repeat of
    the move just made as done, so a user who lost a race to someone else making the same
    move learns that someone else made it. The label is the move's name on the timeline."""

    object_name = "refund"
    permission = "review"
    target = None  # the status the move leads to
    actor_field = "decided_by_id"  # who made the move, as the service recorded it
    refused = gettext_lazy("Refund %(refund)s is “%(status)s”: “%(action)s” is not possible now.")
    already = gettext_lazy("Refund %(refund)s was already “%(status)s”: nothing changed.")
    done = gettext_lazy("Refund %(refund)s: %(action)s done; it is now “%(status)s”.")
    done_by_other = gettext_lazy("Refund %(refund)s was already “%(status)s” (by someone else): %(action)s changed nothing.")

    @property
    def label(self):
        return services.ACTION_LABELS[self.name]

    def params(self, refund):
        return {"refund": refund.number, "status": refund.get_status_display(), "action": self.label}

    def is_repeat(self, request, refund):
        return refund.status == self.target

    def outcome(self, request, refund):
        return DONE if getattr(refund, self.actor_field) == request.user.pk else DONE_BY_OTHER

    def extra_context(self, request, refund, form):
        return {"order": refund.order, "order_url": reverse("admin:orders_order_change", args=[refund.order_id])}


class CompleteRefund(RefundMove):
    """完成退款: the refund's reference and date, and the red-letter reason when the
    order's invoice is already issued. The page says what happens to the invoice."""

    name = "complete"
    permission = "complete"
    target = S.COMPLETED
    actor_field = "completed_by_id"
    form_class = RefundCompleteForm
    template = "admin/refunds/refundrequest/complete.html"
    title = gettext_lazy("Complete refund %(refund)s")
    form_errors = (RefundError, InvoiceError)

    def get_form_kwargs(self, request, refund):
        return {"red_reason_default": invoice_outcome(refund).get("red_reason")}

    def call(self, request, refund, data):
        return services.refund_complete(
            refund=refund,
            actor=request.user,
            reference=data["reference"],
            refunded_on=data["refunded_on"],
            red_reason=data.get("red_reason", ""),
        )

    def extra_context(self, request, refund, form):
        return {**super().extra_context(request, refund, form), "outcome": invoice_outcome(refund)}


@admin.register(RefundRequest)
class RefundRequestAdmin(MoveAdminMixin, ReadOnlyAdmin):
    """退款管理 for finance: nobody adds, edits or deletes a refund here, superusers
    included; approving, rejecting and completing are pages of their own."""

    list_display = [
        "number",
        "order_number",
        "customer",
        "amount",
        "order_paid_refunded",
        "reason",
        "status_label",
        "requested",
        "reference",
    ]
    list_select_related = ["order", "order__customer"]
    list_filter = ["status", "reason", "requested_at"]
    search_fields = [
        "number",
        "order__number",
        "order__customer__username",
        "order__customer__real_name",
        "order__customer__company",
    ]
    search_help_text = gettext_lazy("Refund number, main order number, or the customer's username, name or company.")
    # Waiting for a decision first, then waiting for the money, each oldest first; then
    # the rest, newest first.
    ordering = [
        Case(When(status=S.PENDING, then=Value(0)), When(status=S.APPROVED, then=Value(1)), default=Value(2)).asc(),
        Case(When(OPEN, then="requested_at")).asc(),
        Case(When(~OPEN, then="requested_at")).desc(),
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "order_link",
                    "customer_name",
                    "status_label",
                    "amount",
                    "order_paid_refunded",
                    "reason",
                    "description",
                    "contact_mobile",
                ]
            },
        ),
        (
            gettext_lazy("Decision"),
            {"fields": ["requested_at", "decided_at", "decided_by_name", "rejection_reason"]},
        ),
        (
            gettext_lazy("Refund"),
            {"fields": ["reference", "refunded_on", "completed_at", "completed_by_name", "withdrawn_at"]},
        ),
        (gettext_lazy("Invoices of the order"), {"fields": ["invoices"]}),
    ]
    readonly_fields = [
        "order_link",
        "customer_name",
        "status_label",
        "order_paid_refunded",
        "decided_by_name",
        "completed_by_name",
        "invoices",
    ]
    moves = [
        # 同意: a confirmation page; the customer is told, the money follows with 完成退款.
        RefundMove(
            name="approve",
            target=S.APPROVED,
            template="admin/refunds/refundrequest/approve.html",
            title=gettext_lazy("Approve refund %(refund)s"),
            call=lambda request, refund, data: services.refund_approve(refund=refund, actor=request.user),
            message_errors=(RefundError,),
        ),
        # 拒绝: the reason is required and shown to the customer; the order goes back to
        # where it was before the request.
        RefundMove(
            name="reject",
            target=S.REJECTED,
            form_class=RefundRejectForm,
            template="admin/refunds/refundrequest/reject.html",
            title=gettext_lazy("Reject refund %(refund)s"),
            call=lambda request, refund, data: services.refund_reject(refund=refund, actor=request.user, reason=data["reason"]),
            form_errors=(RefundError,),
        ),
        CompleteRefund(),
    ]
    move_buttons_context = "refund_buttons"
    change_form_template = "admin/refunds/refundrequest/change_form.html"
    change_list_template = "admin/refunds/refundrequest/change_list.html"

    def has_review_permission(self, request, obj=None):
        return request.user.has_perm("refunds.review_refund")

    def has_complete_permission(self, request, obj=None):
        return request.user.has_perm("refunds.complete_refund")

    # --- List ---------------------------------------------------------------------------

    @admin.display(description=gettext_lazy("main order number"), ordering="order__number")
    def order_number(self, refund):
        return refund.order.number

    @admin.display(description=gettext_lazy("customer"), ordering="order__customer__username")
    def customer(self, refund):
        customer = refund.order.customer
        name = customer.real_name or customer.username
        if not customer.company:
            return name
        return format_html('{}<br><span class="quiet">{}</span>', name, customer.company)

    @admin.display(description=gettext_lazy("paid / refunded"))
    def order_paid_refunded(self, refund):
        """What the order's customer paid and what was refunded so far (this refund counts
        once completed)."""
        order = refund.order
        return format_html(
            '<span data-paid="{}" data-refunded="{}">¥{} / ¥{}</span>',
            order.paid_amount,
            order.refunded_amount,
            order.paid_amount,
            order.refunded_amount,
        )

    status_label = status_column("refund-status")

    @admin.display(description=gettext_lazy("requested at / waiting"), ordering="requested_at")
    def requested(self, refund):
        """When the customer asked and, while the refund is open, for how long they have waited."""
        local = timezone.localtime(refund.requested_at)
        if not refund.is_open:
            return f"{local:%Y-%m-%d %H:%M}"
        return format_html(
            '{}<br><span class="refund-age" data-age>{}</span>', f"{local:%Y-%m-%d %H:%M}", waiting_time(refund.requested_at)
        )

    # --- Change page --------------------------------------------------------------------

    @admin.display(description=gettext_lazy("order"))
    def order_link(self, refund):
        order = refund.order
        return format_html(
            '<a href="{}" data-order="{}">{}</a> · {}',
            reverse("admin:orders_order_change", args=[order.pk]),
            order.number,
            order.number,
            order.get_status_display(),
        )

    # Text, not links to the users' accounts, which finance may not open.
    @admin.display(description=gettext_lazy("customer"))
    def customer_name(self, refund):
        customer = refund.order.customer
        parts = [f"{customer.real_name or customer.username} ({customer.username})", customer.company, customer.email]
        return " · ".join(part for part in parts if part)

    @admin.display(description=gettext_lazy("decided by"))
    def decided_by_name(self, refund):
        return str(refund.decided_by) if refund.decided_by else "—"

    @admin.display(description=gettext_lazy("completed by"))
    def completed_by_name(self, refund):
        return str(refund.completed_by) if refund.completed_by else "—"

    @admin.display(description=gettext_lazy("invoices"))
    def invoices(self, refund):
        rows = [
            (
                reverse("admin:invoicing_invoice_change", args=[invoice.pk]),
                invoice.status,
                f"{invoice.get_purpose_display()} · {invoice.number or '#' + str(invoice.pk)} · "
                f"{_yuan(invoice.total)} · {invoice.get_status_display()}",
            )
            for invoice in refund.order.invoices.order_by("created_at", "id")
        ]
        if not rows:
            return "—"
        return format_html_join(mark_safe("<br>"), '<a href="{}" data-invoice-status="{}">{}</a>', rows)


def _yuan(amount) -> str:
    """¥2000.00, or −¥2000.00 for a red-letter invoice."""
    return f"−¥{-amount}" if amount < 0 else f"¥{amount}"


def invoice_outcome(refund: RefundRequest) -> dict:
    """What completing `refund` now does to the order's invoice, as refund_complete will
    do it (invoicing.services.invoices_after_refund):

    - "none": no invoice yet; one is made later for the remainder, if any;
    - "void": the invoice waiting to be issued is voided, and re-issued for the remainder
      (`reissue`, None when nothing is left);
    - "red_letter": the invoice is issued; a red-letter invoice for −`amount` referencing it
      joins the queue, with `red_reason` preselected (service terminated for a full refund,
      sales allowance for a partial one).
    `full`: whether everything paid is refunded then (the order ends as 已退款)."""
    order = refund.order
    remainder = invoiceable_amount(order) - refund.amount
    full = remainder <= 0
    current = invoice_current(order)
    if current is None:
        return {"kind": "none", "full": full, "invoice": None}
    if current.status == Invoice.Status.PENDING:
        return {"kind": "void", "full": full, "invoice": current, "reissue": None if full else remainder}
    return {
        "kind": "red_letter",
        "full": full,
        "invoice": current,
        "amount": refund.amount,  # the red-letter invoice's total is its negative
        "red_reason": red_reason_default(full=full),
    }
