"""A view that loses its database answers 503 with Retry-After, a standalone page in the
visitor's language, nothing cached (mall.middleware.DatabaseUnavailableMiddleware). The
fault tests under traffic (tests/faults/) restart a real PostgreSQL under it."""

import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory
from django.utils import translation

from mall.middleware import DatabaseUnavailableMiddleware


def answer(exception, path="/services/?q=E3"):
    request = RequestFactory().post(path)
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    return middleware.process_exception(request, exception)


@pytest.mark.parametrize("error", [OperationalError("server closed the connection unexpectedly"), InterfaceError("connection already closed")])
def test_a_lost_database_is_a_503_with_retry_after(error):
    with translation.override("en"):
        response = answer(error)
    assert response.status_code == 503
    assert response["Retry-After"] == str(DatabaseUnavailableMiddleware.RETRY_AFTER_SECONDS)
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "Service temporarily unavailable" in page
    assert 'href="/services/?q=E3"' in page


def test_other_errors_are_left_to_the_500_handler():
    assert answer(ValueError("a bug")) is None


def test_it_is_installed_after_the_locale_middleware():
    middleware = settings.MIDDLEWARE
    assert middleware.index("mall.middleware.DatabaseUnavailableMiddleware") > middleware.index(
        "mall.middleware.ShopLocaleMiddleware"
    )
