"""Finance's refund queue: refund requests, read-only, pending first then approved, oldest
first, with their age. 同意, 拒绝 and 完成退款 are pages calling refunds.services with the
staff user as actor; the invoices follow inside refund_complete (invoicing.services)."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Case, Q, Value, When
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import can_proceed

from invoicing.admin import ReadOnlyAdmin
from invoicing.exceptions import InvoiceError
from invoicing.models import Invoice
from invoicing.services import invoice_current, invoiceable_amount, red_reason_default
from orders.templatetags.order_admin import waiting_time

from . import services
from .admin_forms import RefundCompleteForm, RefundRejectForm
from .exceptions import RefundError
from .models import RefundRequest

S = RefundRequest.Status
OPEN = Q(status__in=[S.PENDING, S.APPROVED])
# The state each move leads to: a repeat that finds the refund there changed nothing.
TARGETS = {"approve": S.APPROVED, "reject": S.REJECTED, "complete": S.COMPLETED}


@admin.register(RefundRequest)
class RefundRequestAdmin(ReadOnlyAdmin):
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

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_label(self, refund):
        return format_html(
            '<span class="refund-status refund-status--{}" data-status="{}">{}</span>',
            refund.status,
            refund.status,
            refund.get_status_display(),
        )

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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        refund = self.get_object(request, unquote(object_id))
        if refund is not None:
            extra_context = {**(extra_context or {}), "refund_buttons": self._buttons(request, refund)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _buttons(self, request, refund) -> list[tuple[str, str, str]]:
        """(url, label, move) of each move this user may make on the refund in its state now."""
        allowed = {
            "approve": self.has_review_permission(request),
            "reject": self.has_review_permission(request),
            "complete": self.has_complete_permission(request),
        }
        return [
            (self._url(move, refund.pk), services.ACTION_LABELS[move], move)
            for move, may in allowed.items()
            if may and can_proceed(getattr(refund, move))
        ]

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/approve/", view(self.approve_view), name="%s_%s_approve" % info),
            path("<path:object_id>/reject/", view(self.reject_view), name="%s_%s_reject" % info),
            path("<path:object_id>/complete/", view(self.complete_view), name="%s_%s_complete" % info),
            *super().get_urls(),
        ]

    # --- The moves ----------------------------------------------------------------------

    def approve_view(self, request, object_id):
        """同意: a confirmation page; the customer is told, the money follows with 完成退款."""
        refund = self._object_or_404(request, object_id, allowed=self.has_review_permission)
        posted = request.method == "POST"
        if not can_proceed(refund.approve):
            return self._refuse(request, refund, "approve", posted)
        if posted:
            try:
                result = services.refund_approve(refund=refund, actor=request.user)
            except RefundError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self._report(request, result, "approve")
            return HttpResponseRedirect(self._url("change", refund.pk))
        return self._render_move_page(request, refund, "approve", _("Approve refund %(refund)s"), form=None)

    def reject_view(self, request, object_id):
        """拒绝: the reason is required and shown to the customer; the order goes back to
        where it was before the request."""
        refund = self._object_or_404(request, object_id, allowed=self.has_review_permission)
        posted = request.method == "POST"
        if not can_proceed(refund.reject):
            return self._refuse(request, refund, "reject", posted)
        form = RefundRejectForm(request.POST if posted else None)
        if posted and form.is_valid():
            try:
                result = services.refund_reject(refund=refund, actor=request.user, reason=form.cleaned_data["reason"])
            except RefundError as error:
                form.add_error(None, error.message)
            else:
                self._report(request, result, "reject")
                return HttpResponseRedirect(self._url("change", refund.pk))
        return self._render_move_page(request, refund, "reject", _("Reject refund %(refund)s"), form=form)

    def complete_view(self, request, object_id):
        """完成退款: the refund's reference and date, and the red-letter reason when the
        order's invoice is already issued. The page says what happens to the invoice."""
        refund = self._object_or_404(request, object_id, allowed=self.has_complete_permission)
        posted = request.method == "POST"
        if not can_proceed(refund.complete):
            return self._refuse(request, refund, "complete", posted)
        outcome = invoice_outcome(refund)
        form = RefundCompleteForm(request.POST if posted else None, red_reason_default=outcome.get("red_reason"))
        if posted and form.is_valid():
            try:
                result = services.refund_complete(
                    refund=refund,
                    actor=request.user,
                    reference=form.cleaned_data["reference"],
                    refunded_on=form.cleaned_data["refunded_on"],
                    red_reason=form.cleaned_data.get("red_reason", ""),
                )
            except (RefundError, InvoiceError) as error:
                form.add_error(None, error.message)
            else:
                self._report(request, result, "complete")
                return HttpResponseRedirect(self._url("change", refund.pk))
        return self._render_move_page(
            request, refund, "complete", _("Complete refund %(refund)s"), form=form, outcome=outcome
        )

    def _refuse(self, request, refund, move, posted):
        """The refund's state does not allow `move`. A repeat of a submission that already
        made it (a double click) is told so; anything else is an error. Either way the
        refund is shown instead of the form, and nothing changed."""
        if posted and refund.status == TARGETS[move]:
            level = messages.INFO
            text = _("Refund %(refund)s was already “%(status)s”: nothing changed.")
        else:
            level = messages.ERROR
            text = _("Refund %(refund)s is “%(status)s”: “%(action)s” is not possible now.")
        params = {"refund": refund.number, "status": refund.get_status_display(), "action": services.ACTION_LABELS[move]}
        self.message_user(request, text % params, level)
        return HttpResponseRedirect(self._url("change", refund.pk))

    def _report(self, request, refund, move):
        """The services treat a repeat of the move just made as done: a user who lost a race
        to someone else making the same move learns that someone else made it."""
        actor_id = refund.completed_by_id if move == "complete" else refund.decided_by_id
        params = {"refund": refund.number, "action": services.ACTION_LABELS[move], "status": refund.get_status_display()}
        if actor_id == request.user.pk:
            self.message_user(
                request, _("Refund %(refund)s: %(action)s done; it is now “%(status)s”.") % params, messages.SUCCESS
            )
        else:
            self.message_user(
                request,
                _("Refund %(refund)s was already “%(status)s” (by someone else): %(action)s changed nothing.") % params,
                messages.WARNING,
            )

    def _render_move_page(self, request, refund, move, title, *, form, **extra):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title % {"refund": refund.number},
            "refund": refund,
            "order": refund.order,
            "move": move,
            "form": form,
            "change_url": self._url("change", refund.pk),
            "order_url": reverse("admin:orders_order_change", args=[refund.order_id]),
            **extra,
        }
        return TemplateResponse(request, f"admin/refunds/refundrequest/{move}.html", context)


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
