from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Prefetch, Q, Value, When
from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext
from django_fsm import can_proceed

from mall.admin_moves import (
    DONE,
    DONE_BY_OTHER,
    REFUSED,
    Move,
    MoveAdminMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    admin_object_or_404,
    status_column,
)

from . import export, proofs, services
from .admin_forms import OrderApproveForm, OrderReasonForm
from .exceptions import OrderError, TransitionRefused
from .models import Agreement, Order, OrderEvent, OrderLine, PaymentProof
from .selectors import service_end_for
from .templatetags.order_admin import waiting_time

S = Order.Status
S_PAY = Order.PaymentMethod
AWAITING = Q(status=S.AWAITING_PAYMENT)
EXPORT_CHUNK = 500
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    """Agreements are versioned: orders record the version accepted, so a published
    version's text is read-only; publish a new version to change the terms."""

    list_display = ["version", "title", "published_at", "created_at"]
    search_fields = ["version", "title"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.published_at is not None:
            return ["version", "title", "body", "published_at", "created_at"]
        return ["created_at"]

    def has_change_permission(self, request, obj=None):
        # A published version is shown, not offered for saving.
        if obj is not None and obj.published_at is not None:
            return False
        return super().has_change_permission(request, obj)


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = [
        "serial",
        "service_name",
        "unit_price",
        "quantity",
        "unit",
        "discount",
        "subtotal",
        "service_start",
        "service_end",
    ]
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    """The order's timeline, as the customer sees it, with who did each step."""

    model = OrderEvent
    verbose_name_plural = gettext_lazy("timeline")
    fields = ["at", "action_label", "from_label", "to_label", "actor_kind", "actor_name", "note_text"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    @admin.display(description=gettext_lazy("action"))
    def action_label(self, event):
        return services.ACTION_LABELS.get(event.action, event.action)

    @admin.display(description=gettext_lazy("from"))
    def from_label(self, event):
        return _status_label(event.from_status) if event.from_status else "—"

    @admin.display(description=gettext_lazy("to"))
    def to_label(self, event):
        return _status_label(event.to_status)

    @admin.display(description=gettext_lazy("actor"))
    def actor_name(self, event):
        # Text, not a link to the user's account, which reviewers may not open.
        return str(event.actor) if event.actor else "—"

    @admin.display(description=gettext_lazy("note"))
    def note_text(self, event):
        return event.note_display


class PaymentProofInline(ReadOnlyInline):
    """上传回单: the order's remittance slips, each a download through the admin (the files
    have no public URL). Shown to whoever may view the order."""

    model = PaymentProof
    fields = ["uploaded_at", "download", "content_type", "size", "sha256"]
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("orders.view_order")

    @admin.display(description=gettext_lazy("file"))
    def download(self, proof):
        url = reverse("admin:orders_order_payment_proof", args=[proof.order_id, proof.pk])
        return format_html(
            '<a href="{}" data-testid="admin-payment-proof-download">{}</a>', url, proof.original_name or proof.pk
        )


def _status_label(value):
    return S(value).label if value in S.values else value


class OrderMove(Move):
    """A review move: orders.services refuses it with an OrderError, shown as a message with
    the order. The label is the move's name on the order's timeline."""

    object_name = "order"
    permission = "review"
    message_errors = (OrderError,)
    done = gettext_lazy("Order %(number)s: %(action)s done; it is now “%(status)s”.")
    done_by_other = gettext_lazy(
        "Order %(number)s was already “%(status)s” (by someone else): %(action)s changed nothing."
    )

    @property
    def label(self):
        return services.ACTION_LABELS[self.name]

    def params(self, order):
        return {"number": order.number, "status": order.get_status_display(), "action": self.label}

    def message(self, kind, order):
        if kind == REFUSED:
            return TransitionRefused(order, self.label).message  # the service's own words
        return super().message(kind, order)

    def outcome(self, request, order):
        """The services treat a repeat of the move just made as done, so a reviewer who lost
        a race to another reviewer making the same move learns that someone else made it."""
        last = order.events.order_by("-at", "-id").values_list("action", "actor_id").first()
        return DONE if last == (self.name, request.user.pk) else DONE_BY_OTHER


class ApproveOrder(OrderMove):
    """审核通过: confirm the paid amount and the service start; "preview" shows the service
    ends for another start date without approving."""

    name = "approve"
    form_class = OrderApproveForm
    template = "admin/orders/order/approve.html"
    title = gettext_lazy("Approve order %(number)s")

    def get_form_kwargs(self, request, order):
        return {"order": order}

    def is_preview(self, request):
        return "_preview" in request.POST

    def call(self, request, order, data):
        return services.order_approve(
            order=order,
            actor=request.user,
            paid_amount=data["paid_amount"],
            service_start=data["service_start"],
            unchanged_since=data["seen"],
        )

    def extra_context(self, request, order, form):
        start = form.cleaned_data["service_start"] if form.is_bound and form.is_valid() else form.initial["service_start"]
        lines = [
            (line, service_end_for(start=start, months=line.service.period_months))
            for line in order.lines.select_related("service")
        ]
        # The service refuses these too; the page says so before the reviewer tries.
        proof_missing = order.payment_method == S_PAY.BANK_TRANSFER and not order.payment_proofs.exists()
        return {"lines": lines, "proof_missing": proof_missing}


@admin.register(Order)
class OrderAdmin(MoveAdminMixin, ReadOnlyAdmin):
    """Orders are read-only here: status and money change only through the review
    pages and actions, which call orders.services with the staff user as actor."""

    list_display = [
        "number",
        "customer_and_company",
        "store_name",
        "platforms",
        "total",
        "status_label",
        "submitted",
        "waiting",
    ]
    list_select_related = ["customer"]
    list_filter = [
        "status",
        "lines__service__product_line",
        "lines__service__platform",
        "payment_method",
        "submitted_at",
    ]
    search_fields = [
        "number",
        "lines__serial",
        "store_name",
        "seller_nick",
        "marketplace_order_no",
        "customer__username",
        "customer__real_name",
        "customer__company",
    ]
    search_help_text = gettext_lazy(
        "Main order number, transaction serial number, store name, seller nick, service market order "
        "number, or the customer's username, name or company."
    )
    # The review queue first, oldest waiting first; then the other orders, newest first.
    ordering = [
        Case(When(AWAITING, then=Value(0)), default=Value(1)).asc(),
        Case(When(AWAITING, then="submitted_at")).asc(),
        Case(When(~AWAITING, then="submitted_at")).desc(),
    ]
    actions = ["approve_selected", "reject_selected"]
    moves = [
        ApproveOrder(),
        # 驳回: the reason is required and shown to the customer.
        OrderMove(
            name="reject",
            form_class=OrderReasonForm,
            template="admin/orders/order/reason.html",
            title=gettext_lazy("Reject order %(number)s"),
            call=lambda request, order, data: services.order_reject(order=order, actor=request.user, reason=data["reason"]),
        ),
        # 关闭订单: the reason is required.
        OrderMove(
            name="close",
            permission="close",
            form_class=OrderReasonForm,
            template="admin/orders/order/reason.html",
            title=gettext_lazy("Close order %(number)s"),
            call=lambda request, order, data: services.order_close(order=order, actor=request.user, reason=data["reason"]),
        ),
    ]
    move_buttons_context = "review_buttons"
    inlines = [OrderLineInline, OrderEventInline, PaymentProofInline]
    fieldsets = [
        (None, {"fields": ["number", "status_label", "customer_name", "customer_contact", "submitted_at", "updated_at"]}),
        (gettext_lazy("Supplementary information"), {"fields": list(services.DETAIL_FIELDS)}),
        (gettext_lazy("Invoice information"), {"fields": list(services.INVOICE_FIELDS)}),
        (
            gettext_lazy("Payment"),
            {"fields": ["payment_method", "subtotal", "discount", "total", "paid_amount"]},
        ),
        (
            gettext_lazy("Store ordering agreement"),
            {"fields": ["agreement_title", "agreement_version", "agreement_accepted_at", "agreement_accepted_ip"]},
        ),
        (
            gettext_lazy("Review"),
            {
                "fields": [
                    "approved_at",
                    "rejected_at",
                    "rejection_reason",
                    "completed_at",
                    "failed_at",
                    "close_reason",
                ]
            },
        ),
    ]
    readonly_fields = ["status_label", "customer_name", "customer_contact", "agreement_title"]
    change_form_template = "admin/orders/order/change_form.html"
    change_list_template = "admin/orders/order/change_list.html"

    # --- Permissions: nobody adds, edits or deletes an order here (ReadOnlyAdmin) -------

    def has_review_permission(self, request, obj=None):
        return request.user.has_perm("orders.review_order")

    def has_close_permission(self, request, obj=None):
        return request.user.has_perm("orders.close_order")

    def has_export_permission(self, request, obj=None):
        return request.user.has_perm("orders.export_order")

    # --- List -------------------------------------------------------------------------

    def get_queryset(self, request):
        lines = OrderLine.objects.select_related("service__platform").order_by("id")
        return super().get_queryset(request).prefetch_related(Prefetch("lines", queryset=lines))

    # Shown as text, not links: reviewers see who ordered without access to user
    # accounts or the agreements' admin.
    @admin.display(description=gettext_lazy("customer"))
    def customer_name(self, order):
        customer = order.customer
        return f"{customer.real_name or customer.username} ({customer.username})"

    @admin.display(description=gettext_lazy("agreement"))
    def agreement_title(self, order):
        return order.agreement.title

    @admin.display(description=gettext_lazy("customer"), ordering="customer__username")
    def customer_and_company(self, order):
        customer = order.customer
        name = customer.real_name or customer.username
        if not customer.company:
            return name
        return format_html('{}<br><span class="quiet">{}</span>', name, customer.company)

    @admin.display(description=gettext_lazy("platforms"))
    def platforms(self, order):
        names = dict.fromkeys(line.service.platform.name for line in order.lines.all())
        return pgettext("list separator", ", ").join(names)

    status_label = status_column("order-status")

    @admin.display(description=gettext_lazy("submitted at"), ordering="submitted_at")
    def submitted(self, order):
        local = timezone.localtime(order.submitted_at)  # date over time: the list is wide
        return format_html("{}<br>{}", f"{local:%Y-%m-%d}", f"{local:%H:%M}")

    @admin.display(description=gettext_lazy("waiting"), ordering="submitted_at")
    def waiting(self, order):
        return waiting_time(order.submitted_at) if order.status == S.AWAITING_PAYMENT else ""

    @admin.display(description=gettext_lazy("customer contact"))
    def customer_contact(self, order):
        customer = order.customer
        return " · ".join(
            value for value in (customer.real_name, customer.company, customer.email, customer.mobile) if value
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_export_permission": self.has_export_permission(request)}
        return super().changelist_view(request, extra_context)

    # --- Pages: the moves (above), remittance slips, export -------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/payment-proof/<int:pk>/",
                view(self.payment_proof_view),
                name="%s_%s_payment_proof" % info,
            ),
            path("export/csv/", view(self.export_view), {"extension": "csv"}, name="%s_%s_export_csv" % info),
            path("export/xlsx/", view(self.export_view), {"extension": "xlsx"}, name="%s_%s_export_xlsx" % info),
            *super().get_urls(),
        ]

    def payment_proof_view(self, request, object_id, pk):
        """A remittance slip of the order, for staff who may view orders (403 otherwise)."""
        order = admin_object_or_404(self, request, object_id, allowed=self.has_view_permission(request))
        proof = order.payment_proofs.filter(pk=pk).first()
        if proof is None:
            raise Http404
        return proofs.payment_proof_response(proof)

    # --- Bulk actions ---------------------------------------------------------------------

    @admin.action(permissions=["review"], description=gettext_lazy("Approve selected orders"))
    def approve_selected(self, request, queryset):
        """Approves the selected orders awaiting review (paid amount = total, service from
        today) and names the others with the reason each was skipped."""
        orders = queryset.prefetch_related(None).order_by("submitted_at", "pk")
        approved, skipped = self._each(
            request, orders, "approve", lambda order: services.order_approve(order=order, actor=request.user)
        )
        done = ngettext("%(count)d order approved.", "%(count)d orders approved.", approved) % {"count": approved}
        self._report_bulk(request, done, approved, skipped)

    @admin.action(permissions=["review"], description=gettext_lazy("Reject selected orders…"))
    def reject_selected(self, request, queryset):
        """Asks for the reason on an intermediate page, then rejects the selected orders
        awaiting review with it; the others are named with the reason they were skipped."""
        orders = list(queryset.prefetch_related(None).order_by("submitted_at", "pk"))
        form = OrderReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            rejected, skipped = self._each(
                request, orders, "reject", lambda order: services.order_reject(order=order, actor=request.user, reason=reason)
            )
            done = ngettext("%(count)d order rejected.", "%(count)d orders rejected.", rejected) % {"count": rejected}
            self._report_bulk(request, done, rejected, skipped)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Reject orders"),
            "orders": [(order, can_proceed(order.reject)) for order in orders],
            "eligible": sum(can_proceed(order.reject) for order in orders),
            "form": form,
            "action_name": "reject_selected",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/orders/order/reject_selected.html", context)

    def _each(self, request, orders, name, call) -> tuple[int, list[str]]:
        """Make the move `name` by calling `call(order)` for each order whose state allows it,
        one transaction each, as its page would. Returns how many this user moved, and why
        each other was skipped."""
        move = self.get_move(name)
        moved, skipped = 0, []
        for order in orders:
            if not move.allows(order):
                skipped.append(_skip_reason(order))
                continue
            try:
                result = call(order)
            except OrderError as error:
                skipped.append(error.message)
                continue
            if move.outcome(request, result) == DONE:
                moved += 1
            else:
                skipped.append(move.message(DONE_BY_OTHER, result))
        return moved, skipped

    def _report_bulk(self, request, text, count, skipped):
        self.message_user(request, text, messages.SUCCESS if count else messages.INFO)
        if skipped:
            self.message_user(
                request,
                ngettext("Skipped %(count)d order: %(list)s", "Skipped %(count)d orders: %(list)s", len(skipped))
                % {"count": len(skipped), "list": "; ".join(skipped)},
                messages.WARNING,
            )

    # --- Export -------------------------------------------------------------------------

    def export_view(self, request, extension):
        """The orders of the changelist's current filter and search (every page, not only
        the shown or selected rows), in its order, read in chunks with their lines."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            changelist_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(f"{changelist_url}?e=1")
        lines = Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
        orders = changelist.queryset.prefetch_related(None).prefetch_related(lines).iterator(chunk_size=EXPORT_CHUNK)
        if extension == "csv":
            response = StreamingHttpResponse(export.csv_chunks(orders), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(export.xlsx_bytes(orders), content_type=XLSX_TYPE)
        return self._attachment(response, extension)

    @staticmethod
    def _attachment(response, extension):
        response["Content-Disposition"] = f'attachment; filename="orders-{timezone.localtime():%Y%m%d-%H%M}.{extension}"'
        return response


def _skip_reason(order) -> str:
    return _("%(number)s is “%(status)s”") % {"number": order.number, "status": order.get_status_display()}
