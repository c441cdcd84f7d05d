"""A mail server that fails on demand, for the tests of sending and retrying emails. A
pytest plugin (the root conftest.py loads it), so `flaky_backend` is a fixture everywhere."""

from smtplib import SMTPServerDisconnected

import pytest
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


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
