"""Concurrent writes on PostgreSQL, where row locks and constraints are real."""


import pytest

from accounts import services
from accounts.exceptions import AccountError
from accounts.models import ProductKey, User
from catalog.tests.factories import ProductLineFactory
from tests.support.helpers import run_concurrently

from .factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_sign_ups_with_one_username_create_one_user():
    outcomes = run_concurrently(
        lambda i: services.user_register(username="racer", email=f"racer{i}@example.com", password="pw-12345-long"), 6
    )
    assert User.objects.filter(username="racer").count() == 1
    assert sum(isinstance(o, User) for o in outcomes) == 1
    assert all(isinstance(o, (User, AccountError)) for o in outcomes), outcomes


def test_concurrent_sign_ups_with_one_email_in_different_case_create_one_user():
    outcomes = run_concurrently(
        lambda i: services.user_register(
            username=f"racer{i}", email="RACER@example.com" if i % 2 else "racer@example.com", password="pw-12345-long"
        ),
        6,
    )
    assert User.objects.filter(email__iexact="racer@example.com").count() == 1
    assert all(isinstance(o, (User, AccountError)) for o in outcomes), outcomes


def test_concurrent_saves_of_one_product_key_keep_one_row():
    user = UserFactory()
    line = ProductLineFactory(code="conc", key_pattern=r"CONC-[0-9A-F]{4}")
    outcomes = run_concurrently(lambda i: services.product_key_save(user=user, key="CONC-00AA"), 6)
    assert all(isinstance(o, ProductKey) for o in outcomes), outcomes
    assert ProductKey.objects.filter(user=user).count() == 1
    assert ProductKey.objects.get(user=user).product_line == line
