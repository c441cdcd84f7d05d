"""Reconciliation: the invariants of orders, their documents, invoices and refunds,
checked over the whole database in a fixed number of queries (aggregates, subqueries
and one window query; nothing per order), for `manage.py reconcile`.

What holds by design, and is checked here:

- documents: an order whose receipt was confirmed (completed_at set and status
  success, refunding or refunded) has one DocumentJob that is done, one contract and
  one original invoice, unless everything paid was refunded before the documents were
  made (then documents_generate makes no invoice). A job not done is "still expected"
  for DOCUMENTS_SWEEP_AFTER_MINUTES after the confirmation (the sweeper's threshold),
  "missing" after that. No order has two contracts or two originals, and no order
  whose receipt was not confirmed has a contract or an invoice.
- invoice amounts: for every order with an invoice, the totals of its invoices that
  are not voided (status cancelled) add up to invoiceable_amount(order), i.e.
  (paid or total) − refunded. Why (invoicing.services.invoices_after_refund, run in the
  refund's transaction): a refund of r voids a pending invoice and re-issues the
  remainder (the voided one no longer counts; the re-issue is the new remainder), or
  adds a red-letter invoice of −r against an issued one. An issued invoice that
  red-letter invoices correct (status reversed once finance issues one) is still
  counted: the red-letter invoices carry the correction, possibly only a part of
  it, so "reversed" must not drop it from the sum. Red-letter invoices are never voided.
  Invoices are made only for confirmed orders and only ever in these steps, so the
  sum holds at every commit, whatever the statuses (pending, issued, delivered).
- invoice sheets: every invoice has its information sheet once the sweeper threshold
  has passed since it was made.
- orders: every order has its lines, its total is its subtotal less its discount, and
  its lines' subtotals add up to its total (checkout writes the order, its lines and its
  submit event in one transaction: a request that failed half-way left none of them).
- history: the events that change the status (from_status != to_status), in timeline
  order (at, id), form a chain: the first is the submit from '' and each one starts
  where the previous one ended; the last one ends at the order's status.
- refunds: refunded_amount is the sum of the completed refunds; at most one refund is
  open (pending or approved) per order; an order is in refunding exactly when it has
  one open refund.
- files (optional, slower: one storage call per file): each contract PDF, invoice
  sheet and official invoice PDF named in the database exists in storage.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Case, Count, DecimalField, Exists, F, OuterRef, Q, Subquery, Sum, Value, When, Window
from django.db.models.functions import Coalesce, Lag, Round
from django.db.models.lookups import Exact
from django.utils import timezone

from orders.models import Order, OrderEvent, OrderLine
from refunds.models import OPEN_STATUSES, RefundRequest

from . import services
from .models import Contract, DocumentJob, Invoice

CONFIRMED = Q(completed_at__isnull=False, status__in=services.CONFIRMED_STATUSES)
ZERO = Value(Decimal("0.00"), output_field=DecimalField(max_digits=12, decimal_places=2))
MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)


@dataclass
class Finding:
    order: str  # the order's number
    check: str  # a stable code, e.g. "contract_missing"
    problem: str  # what is wrong, for people

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    orders: int = 0
    confirmed: int = 0
    documents_expected: int = 0  # confirmed within the sweeper threshold, not done yet
    files_checked: int | None = None
    findings: list[Finding] = field(default_factory=list)
    # Orders whose documents --fix-missing-documents may produce again: {order id: number}.
    fixable: dict[int, str] = field(default_factory=dict)
    sheetless_invoices: list[int] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings

    def add(self, order: str, check: str, problem: str) -> None:
        self.findings.append(Finding(order, check, problem))

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.check] = counts.get(finding.check, 0) + 1
        return dict(sorted(counts.items()))


def _sum(model, column: str, *conditions, **filters):
    """Σ column of `model` rows of the outer order matching the conditions, as a
    subquery (one value per order; 0 when none), without multiplying rows by a join."""
    rows = (
        model.objects.filter(*conditions, order=OuterRef("pk"), **filters)
        .order_by()
        .values("order")
        .annotate(total=Sum(column))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=MONEY_FIELD), ZERO)


def _count(queryset):
    rows = queryset.filter(order=OuterRef("pk")).order_by().values("order").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(rows), Value(0))


def _in_fen(expression):
    # Compared in fen: SQLite keeps decimals as floats (see Invoice's check constraint).
    return Round(expression * 100)


def _money(value) -> Decimal:
    """Sums computed in SQL come back from SQLite unquantized (and via floats)."""
    return Decimal(value).quantize(Decimal("0.01"))


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def reconcile(*, since: datetime.date | datetime.datetime | None = None, files: bool = False, now=None) -> Report:
    """Every check, over the orders submitted on or after `since` (all when None)."""
    now = now or timezone.now()
    threshold = now - timedelta(minutes=settings.DOCUMENTS_SWEEP_AFTER_MINUTES)
    orders = Order.objects.order_by()
    related = {}  # the same limit on tables that point to orders
    if since is not None:
        if not isinstance(since, datetime.datetime):
            since = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))
        orders = orders.filter(submitted_at__gte=since)
        related = {"order__submitted_at__gte": since}

    report = Report()
    totals = orders.aggregate(orders=Count("pk"), confirmed=Count("pk", filter=CONFIRMED))
    report.orders, report.confirmed = totals["orders"], totals["confirmed"]

    _check_documents(report, orders, now, threshold)
    _check_duplicates(report, related)
    _check_unconfirmed_documents(report, orders)
    _check_invoice_amounts(report, orders)
    _check_order_lines(report, orders)
    _check_sheets(report, related, threshold)
    _check_history(report, orders, related)
    _check_refunds(report, orders)
    if files:
        _check_files(report, related)
    report.findings.sort(key=lambda finding: (finding.order, finding.check))
    return report


def _check_documents(report: Report, orders, now, threshold) -> None:
    originals = Invoice.objects.filter(order=OuterRef("pk"), purpose=Invoice.Purpose.ORIGINAL)
    rows = (
        orders.filter(CONFIRMED)
        .annotate(
            job_status=F("document_job__status"),
            job_attempts=F("document_job__attempts"),
            job_error=F("document_job__last_error"),
            has_contract=Exists(Contract.objects.filter(order=OuterRef("pk"))),
            has_original=Exists(originals),
            has_invoice=Exists(Invoice.objects.filter(order=OuterRef("pk"))),
        )
        .filter(
            Q(job_status__isnull=True)
            | ~Q(job_status=DocumentJob.Status.DONE)
            | Q(has_contract=False)
            | Q(has_original=False)
        )
        .values(
            "pk", "number", "completed_at", "paid_amount", "total", "refunded_amount",
            "job_status", "job_attempts", "job_error", "has_contract", "has_original", "has_invoice",
        )
    )
    for row in rows.iterator(chunk_size=2000):
        number = row["number"]
        invoiceable = (row["paid_amount"] or row["total"]) - row["refunded_amount"]
        if row["job_status"] != DocumentJob.Status.DONE:
            if row["completed_at"] > threshold:
                report.documents_expected += 1
                continue
            age = _minutes(now - row["completed_at"])
            if row["job_status"] is None:
                state = "no document job was recorded"
            else:
                state = f"document job {row['job_status']} after {row['job_attempts']} attempt(s)"
                if row["job_error"]:
                    state += f" ({row['job_error'][:120]})"
            report.add(number, "documents_missing", f"documents missing {age} min after the receipt was confirmed: {state}")
            report.fixable[row["pk"]] = number
            continue
        if not row["has_contract"]:
            report.add(number, "contract_missing", "no contract, though its document job is done")
            report.fixable[row["pk"]] = number
        if not row["has_original"] and invoiceable > 0:
            if row["has_invoice"]:
                report.add(number, "original_invoice_missing", "no original invoice, but other invoices (needs a person)")
            else:
                report.add(number, "original_invoice_missing", f"no invoice, though ¥{invoiceable} is invoiceable and its document job is done")
                report.fixable[row["pk"]] = number


def _check_duplicates(report: Report, related: dict) -> None:
    """The unique constraints make these impossible; checked anyway."""
    contracts = Contract.objects.filter(**related).order_by().values("order__number").annotate(n=Count("pk")).filter(n__gt=1)
    for row in contracts:
        report.add(row["order__number"], "contract_duplicate", f"{row['n']} contracts")
    originals = (
        Invoice.objects.filter(purpose=Invoice.Purpose.ORIGINAL, **related)
        .order_by()
        .values("order__number")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    for row in originals:
        report.add(row["order__number"], "original_invoice_duplicate", f"{row['n']} original invoices")


def _check_unconfirmed_documents(report: Report, orders) -> None:
    rows = (
        orders.exclude(CONFIRMED)
        .annotate(
            has_contract=Exists(Contract.objects.filter(order=OuterRef("pk"))),
            has_invoice=Exists(Invoice.objects.filter(order=OuterRef("pk"))),
        )
        .filter(Q(has_contract=True) | Q(has_invoice=True))
        .values("number", "status", "has_contract", "has_invoice")
    )
    for row in rows:
        what = " and ".join(name for name, has in (("a contract", row["has_contract"]), ("invoices", row["has_invoice"])) if has)
        report.add(row["number"], "documents_unconfirmed", f"{row['status']} without a confirmed receipt, yet has {what}")


def _check_invoice_amounts(report: Report, orders) -> None:
    invoiceable = Case(When(paid_amount=0, then=F("total")), default=F("paid_amount")) - F("refunded_amount")
    rows = (
        orders.annotate(
            has_invoice=Exists(Invoice.objects.filter(order=OuterRef("pk"))),
            invoiced=_sum(Invoice, "total", ~Q(status=Invoice.Status.CANCELLED)),
            invoiceable=invoiceable,
        )
        .filter(has_invoice=True)
        .exclude(Exact(_in_fen(F("invoiced")), _in_fen(F("invoiceable"))))
        .values("number", "invoiced", "paid_amount", "total", "refunded_amount")
    )
    for row in rows:
        expected = (row["paid_amount"] or row["total"]) - row["refunded_amount"]
        report.add(
            row["number"],
            "invoice_sum",
            f"invoices not voided add up to ¥{_money(row['invoiced'])}, but ¥{expected} is invoiceable "
            f"(paid ¥{row['paid_amount'] or row['total']} − refunded ¥{row['refunded_amount']})",
        )


def _check_order_lines(report: Report, orders) -> None:
    rows = (
        orders.annotate(line_count=_count(OrderLine.objects.all()), lines_total=_sum(OrderLine, "subtotal"))
        .filter(
            Q(line_count=0)
            | ~Exact(_in_fen(F("total")), _in_fen(F("subtotal") - F("discount")))
            | ~Exact(_in_fen(F("lines_total")), _in_fen(F("total")))
        )
        .values("number", "line_count", "lines_total", "subtotal", "discount", "total")
    )
    for row in rows:
        number = row["number"]
        if row["line_count"] == 0:
            report.add(number, "order_no_lines", "an order without lines")
            continue
        if row["total"] != row["subtotal"] - row["discount"]:
            report.add(
                number,
                "order_total",
                f"total ¥{row['total']}, but subtotal ¥{row['subtotal']} less discount ¥{row['discount']} "
                f"is ¥{row['subtotal'] - row['discount']}",
            )
        if _money(row["lines_total"]) != row["total"]:
            report.add(number, "order_lines_total", f"its lines add up to ¥{_money(row['lines_total'])}, its total is ¥{row['total']}")


def _check_sheets(report: Report, related: dict, threshold) -> None:
    rows = Invoice.objects.filter(sheet="", created_at__lte=threshold, **related).order_by("pk")
    for row in rows.values("pk", "purpose", "order__number"):
        report.add(row["order__number"], "invoice_sheet_missing", f"invoice #{row['pk']} ({row['purpose']}) has no information sheet")
        report.sheetless_invoices.append(row["pk"])


def _check_history(report: Report, orders, related: dict) -> None:
    moves = OrderEvent.objects.exclude(from_status=F("to_status"))
    # Orders without the submit that created them.
    submit = moves.filter(order=OuterRef("pk"), action="submit", from_status="")
    last = moves.filter(order=OuterRef("pk")).order_by("-at", "-id").values("to_status")[:1]
    rows = (
        orders.annotate(submitted=Exists(submit), last_to=Subquery(last))
        .filter(Q(submitted=False) | Q(last_to__isnull=True) | ~Q(last_to=F("status")))
        .values("number", "status", "submitted", "last_to")
    )
    unsubmitted = set()
    for row in rows:
        if not row["submitted"]:
            unsubmitted.add(row["number"])
            report.add(row["number"], "history_no_submit", "no submit event")
        if row["last_to"] is None:
            report.add(row["number"], "history_no_status", f"status {row['status']} but no event that changed the status")
        elif row["last_to"] != row["status"]:
            report.add(row["number"], "history_end", f"status {row['status']} but its last status change ends at {row['last_to']}")
    # Each move starts where the one before it ended (the first one from ''): one window
    # query returns only the moves that do not.
    previous = Window(Lag("to_status", default=Value("")), partition_by=[F("order_id")], order_by=[F("at").asc(), F("id").asc()])
    breaks = (
        moves.filter(**related)
        .order_by()
        .annotate(previous=previous, order_number=F("order__number"))
        .exclude(from_status=F("previous"))
        .values("order_number", "id", "action", "from_status", "to_status", "previous")
    )
    for row in breaks:
        number = row["order_number"]
        if row["previous"] == "":
            if number in unsubmitted:
                continue  # reported as missing its submit
            problem = f"the history starts with {row['action']} from {row['from_status']!r}, not with the submit"
        else:
            problem = (
                f"event #{row['id']} {row['action']} ({row['from_status']} → {row['to_status']}) "
                f"follows a change that ended at {row['previous']}"
            )
        report.add(number, "history_chain", problem)


def _check_refunds(report: Report, orders) -> None:
    rows = (
        orders.annotate(
            refunds_completed=_sum(RefundRequest, "amount", status=RefundRequest.Status.COMPLETED),
            refunds_open=_count(RefundRequest.objects.filter(status__in=OPEN_STATUSES)),
        )
        .filter(
            ~Exact(_in_fen(F("refunded_amount")), _in_fen(F("refunds_completed")))
            | Q(refunds_open__gt=1)
            | Q(status=Order.Status.REFUNDING, refunds_open=0)
            | (~Q(status=Order.Status.REFUNDING) & Q(refunds_open__gt=0))
        )
        .values("number", "status", "refunded_amount", "refunds_completed", "refunds_open")
    )
    for row in rows:
        number, open_ = row["number"], row["refunds_open"]
        completed = _money(row["refunds_completed"])
        if row["refunded_amount"] != completed:
            report.add(
                number,
                "refunded_amount",
                f"refunded amount ¥{row['refunded_amount']}, but its completed refunds add up to ¥{completed}",
            )
        if open_ > 1:
            report.add(number, "refund_open_many", f"{open_} open refunds")
        if row["status"] == Order.Status.REFUNDING and open_ == 0:
            report.add(number, "refund_open_none", "refunding without an open refund")
        if row["status"] != Order.Status.REFUNDING and open_ > 0:
            report.add(number, "refund_open_not_refunding", f"{row['status']} with an open refund")


def _check_files(report: Report, related: dict) -> None:
    """One storage call per file: slow on remote storage, hence behind --files."""
    checked = 0
    contracts = Contract.objects.filter(**related).exclude(pdf="").order_by("pk").values_list("order__number", "pdf")
    for number, name in contracts.iterator(chunk_size=2000):
        checked += 1
        if not Contract._meta.get_field("pdf").storage.exists(name):
            report.add(number, "file_missing", f"contract PDF {name} is not in storage")
    invoices = Invoice.objects.filter(**related).order_by("pk").values_list("pk", "order__number", "sheet", "official_pdf")
    storage = Invoice._meta.get_field("sheet").storage
    for pk, number, sheet, official in invoices.iterator(chunk_size=2000):
        for label, name in (("information sheet", sheet), ("official PDF", official)):
            if not name:
                continue
            checked += 1
            if not storage.exists(name):
                report.add(number, "file_missing", f"invoice #{pk} {label} {name} is not in storage")
    report.files_checked = checked


def fix_missing_documents(report: Report) -> dict[str, list]:
    """Send to a worker again the documents that `report` found missing; nothing else.

    Only orders past the sweeper threshold (never one a worker may still be on), through
    the pipeline's own idempotent path: documents_generate holds the job's row lock, the
    contract and the original invoice are unique per order and the files are named after
    the order, so a run that meets another run, or a worker that was merely slow, makes
    nothing twice. A job that is done but whose contract or invoice is gone is set back
    to pending first (documents_generate skips what exists). Nothing is deleted and no
    order, invoice or refund changes status.
    Returns {"sent": [order numbers], "not_sent": [...], "sheets": [invoice ids]}."""
    sent, not_sent = [], []
    # Still incomplete at the moment of the update (a worker may have finished since the check).
    incomplete = (
        ~Q(status=DocumentJob.Status.DONE)
        | ~Exists(Contract.objects.filter(order=OuterRef("order_id")))
        | ~Exists(Invoice.objects.filter(order=OuterRef("order_id")))
    )
    for order_id, number in sorted(report.fixable.items()):
        job, _created = DocumentJob.objects.get_or_create(order_id=order_id)
        DocumentJob.objects.filter(incomplete, pk=job.pk).update(
            status=DocumentJob.Status.PENDING, requested_at=timezone.now()
        )
        (sent if services.documents_enqueue(order_id=order_id) else not_sent).append(number)
    for invoice_id in report.sheetless_invoices:
        services._sheet_enqueue(invoice_id)
    return {"sent": sent, "not_sent": not_sent, "sheets": list(report.sheetless_invoices)}
