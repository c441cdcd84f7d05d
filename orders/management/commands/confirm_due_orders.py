from django.core.management.base import BaseCommand

from orders import services


class Command(BaseCommand):
    help = (
        "Confirm receipt of orders in trade for ORDER_AUTO_CONFIRM_DAYS since approval "
        "(the beat job confirm-due-orders does this hourly; run it by hand without beat)."
    )

    def handle(self, *args, **options):
        confirmed = services.orders_confirm_due()
        self.stdout.write(f"{len(confirmed)} orders confirmed")
