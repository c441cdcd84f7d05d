"""mall.constraints.CheckConstraint: checks as Django's does, and changes no migration."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import models

from mall.constraints import CheckConstraint
from orders.forms import OrderDetailsForm
from orders.models import Order
from orders.tests.factories import DETAILS, order_in

pytestmark = pytest.mark.django_db

S = Order.Status


def test_a_condition_on_validated_fields_is_checked():
    order = order_in(S.AWAITING_PAYMENT)
    order.paid_amount, order.refunded_amount = Decimal("10.00"), Decimal("10.01")
    with pytest.raises(ValidationError) as raised:
        order.validate_constraints()
    assert "orders_order_refunds_within_paid" in str(raised.value)
    order.total = Decimal("-0.01")
    with pytest.raises(ValidationError) as raised:
        order.validate_constraints(exclude={"refunded_amount"})
    assert "orders_order_total_not_negative" in str(raised.value)
    assert "orders_order_refunds_within_paid" not in str(raised.value)


def test_a_condition_on_a_field_left_out_is_not_checked():
    order = order_in(S.AWAITING_PAYMENT)
    order.paid_amount, order.refunded_amount, order.total = Decimal("10.00"), Decimal("10.01"), Decimal("-1.00")
    order.validate_constraints(exclude={"paid_amount", "total"})  # as Django's own does


def test_a_model_form_checks_only_the_fields_it_shows():
    order = order_in(S.AWAITING_PAYMENT)
    order.total = Decimal("-1.00")  # not on the form: not the form's to check
    form = OrderDetailsForm(dict(DETAILS, reminder_mobile="13800138000"), instance=order)
    assert form.is_valid(), form.errors


def test_migrations_record_djangos_class():
    # A migration written later names django.db.models.CheckConstraint, not this module.
    constraints = [c for model in apps.get_models() for c in model._meta.constraints if isinstance(c, models.CheckConstraint)]
    assert {type(c) for c in constraints} == {CheckConstraint}
    assert {c.deconstruct()[0] for c in constraints} == {"django.db.models.CheckConstraint"}


def test_the_models_need_no_new_migration():
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)
