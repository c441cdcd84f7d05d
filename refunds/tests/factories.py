"""Refund test data, made through the real services: a refundable order, refunds
taken through finance's steps, finance staff."""

from decimal import Decimal

from django.utils import timezone

from accounts.roles import GROUP_FINANCE
from accounts.tests.factories import UserFactory
from catalog.tests.factories import ServiceFactory
from invoicing import services as invoicing_services
from orders.models import Order
from orders.tests.factories import order_in
from refunds import services
from refunds.models import RefundRequest

MOBILE = "138 0013 8000"


def refundable_order(
    status=Order.Status.SUCCESS, *, documents=True, window_days=7, platform_refundable=True, items=None, **kwargs
) -> Order:
    """An order approved today in `status` (交易中 or 交易成功) whose services are on a
    platform with `platform_refundable` (the customer may ask for a refund there) and have
    a `window_days` refund window. With `documents` (交易成功 only) its invoice and
    contract are made, as the worker makes them after commit. `items`: [(service,
    quantity)], default one service at ¥2000.00; `kwargs` go to order_in (customer, …)."""
    order = order_in(status, services_and_quantities=items or [(ServiceFactory(), 1)], **kwargs)
    for line in order.lines.select_related("service__platform"):
        line.service.platform.refundable = platform_refundable
        line.service.platform.save(update_fields=["refundable"])
        line.service.refund_window_days = window_days
        line.service.save(update_fields=["refund_window_days"])
    if documents and status == Order.Status.SUCCESS:
        invoicing_services.documents_generate(order_id=order.pk)
    order.refresh_from_db()
    return order


def two_line_order(**kwargs) -> Order:
    """A refundable order of two services at different prices and tax rates, so invoice
    amounts are shared out over lines (¥2000.00 × 1 and ¥333.33 × 3: ¥2999.99)."""
    items = [
        (ServiceFactory(), 1),
        (ServiceFactory(standard_price=Decimal("333.33"), tax_rate=Decimal("0.13")), 3),
    ]
    return refundable_order(items=items, **kwargs)


def finance_user():
    return UserFactory(staff=True, groups=[GROUP_FINANCE])


def refund_requested(
    order: Order, amount="500.00", *, reason=RefundRequest.Reason.UNWANTED, description=""
) -> RefundRequest:
    return services.refund_request(
        order=order, actor=order.customer, amount=amount, reason=reason, description=description, contact_mobile=MOBILE
    )


def refund_completed(order: Order, amount="500.00", *, finance=None, reference="REF-1", red_reason="") -> RefundRequest:
    """A refund asked by the customer, approved and completed by finance today."""
    finance = finance or finance_user()
    refund = refund_requested(order, amount)
    services.refund_approve(refund=refund, actor=finance)
    return services.refund_complete(
        refund=refund, actor=finance, reference=reference, refunded_on=timezone.localdate(), red_reason=red_reason
    )
