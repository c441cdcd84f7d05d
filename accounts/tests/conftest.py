import pytest

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
