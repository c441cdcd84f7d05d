from django.core.management.base import BaseCommand

from invoicing import services


class Command(BaseCommand):
    help = (
        "Send to a worker again every confirmed order whose invoice or contract is still missing "
        "(the beat job documents-sweep does this every minute; run it by hand without beat)."
    )

    def handle(self, *args, **options):
        sent = services.documents_sweep()
        self.stdout.write(f"{len(sent)} orders sent to produce their documents")
