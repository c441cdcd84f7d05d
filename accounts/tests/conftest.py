from smtplib import SMTPServerDisconnected

import pytest
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from accounts.tests.factories import UserFactory

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def user_client(client, user):
    """The test client signed in as `user`.

    The backend is named because axes' standalone backend comes first in
    AUTHENTICATION_BACKENDS and cannot load a user from the session.
    """
    client.force_login(user, backend=MODEL_BACKEND)
    return client


class FlakyBackend(LocmemBackend):
    """Fails the first `failures` sends with an SMTP error, then delivers to mail.outbox."""

    failures = 0
    attempts = 0

    def send_messages(self, messages):
        type(self).attempts += 1
        if type(self).attempts <= type(self).failures:
            raise SMTPServerDisconnected("connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def flaky_backend(settings):
    """The mail server: set `flaky_backend.failures`, read `flaky_backend.attempts`."""
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.failures, FlakyBackend.attempts = 0, 0
    yield FlakyBackend
    FlakyBackend.failures, FlakyBackend.attempts = 0, 0
