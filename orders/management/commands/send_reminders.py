from datetime import date

from django.core.management.base import BaseCommand, CommandError

from orders import reminders


class Command(BaseCommand):
    help = (
        "Send the expiry reminders due today: lines whose service ends in exactly one of "
        "REMINDER_DAYS days (the beat job expiry-reminders does this daily; run it by hand without beat)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--today", help="the day to run for, YYYY-MM-DD (default: today in Asia/Shanghai)")

    def handle(self, *args, today=None, **options):
        try:
            day = date.fromisoformat(today) if today else None
        except ValueError:
            raise CommandError("--today takes a date as YYYY-MM-DD") from None
        sent = reminders.reminders_send(today=day)
        self.stdout.write(f"{len(sent)} reminders sent")
