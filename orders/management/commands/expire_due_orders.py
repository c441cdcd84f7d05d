from django.core.management.base import BaseCommand

from orders import services


class Command(BaseCommand):
    help = (
        "Close orders left awaiting review or rejected for ORDER_EXPIRE_DAYS "
        "(the beat job expire-due-orders does this hourly; run it by hand without beat)."
    )

    def handle(self, *args, **options):
        expired = services.orders_expire_due()
        self.stdout.write(f"{len(expired)} orders expired")
