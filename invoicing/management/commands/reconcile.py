import datetime
import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from invoicing import reconcile as checks


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since takes a date as YYYY-MM-DD, not {value!r}") from None


class Command(BaseCommand):
    help = (
        "Check every order against its documents, invoices, refunds and status history, "
        "in a fixed number of queries. Read-only unless --fix-missing-documents. "
        "Exit status 0 when nothing is found, 1 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="only orders submitted on or after this day (local time)")
        parser.add_argument("--files", action="store_true", help="also check that every stored PDF exists (one storage call per file)")
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument(
            "--fix-missing-documents",
            action="store_true",
            help=(
                "send the orders whose contract or invoice is missing (past DOCUMENTS_SWEEP_AFTER_MINUTES) to a worker "
                "again, as the sweeper does; the only option that writes, safe in production"
            ),
        )

    def handle(self, *args, since=None, files=False, fix_missing_documents: bool = False, **options):
        report = checks.reconcile(since=since, files=files)
        fixed = checks.fix_missing_documents(report) if fix_missing_documents else None
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "orders": report.orders,
                        "confirmed": report.confirmed,
                        "documents_expected": report.documents_expected,
                        "files_checked": report.files_checked,
                        "counts": report.counts(),
                        "findings": [finding.as_dict() for finding in report.findings],
                        "fixed": fixed,
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            self._print(report, since, fixed)
        if not report.clean:
            sys.exit(1)

    def _print(self, report, since, fixed):
        scope = f"submitted since {since}" if since else "all orders"
        self.stdout.write(f"Reconciled {report.orders} orders ({scope}), {report.confirmed} with their receipt confirmed.")
        if report.documents_expected:
            self.stdout.write(
                f"{report.documents_expected} confirmed in the last {settings.DOCUMENTS_SWEEP_AFTER_MINUTES} minutes: "
                "documents still expected, not counted as missing."
            )
        if report.files_checked is not None:
            self.stdout.write(f"{report.files_checked} stored files checked.")
        if report.clean:
            self.stdout.write(self.style.SUCCESS("OK: no findings."))
        else:
            summary = ", ".join(f"{check} {count}" for check, count in report.counts().items())
            self.stdout.write(self.style.ERROR(f"{len(report.findings)} findings: {summary}"))
            for finding in report.findings:
                self.stdout.write(f"{finding.order}\t{finding.check}\t{finding.problem}")
        if fixed is not None:
            self.stdout.write(
                f"--fix-missing-documents: {len(fixed['sent'])} orders sent to a worker"
                + (f" ({', '.join(fixed['sent'])})" if fixed["sent"] else "")
                + (f", {len(fixed['not_sent'])} not sent (broker unreachable; the sweeper retries)" if fixed["not_sent"] else "")
                + (f", {len(fixed['sheets'])} invoice sheets" if fixed["sheets"] else "")
                + ". Run reconcile again once the workers are done."
            )
