"""A username longer than any account's is a failed sign-in like any other, never a 500
(django-axes records it; its column holds 255 characters, and PostgreSQL enforces that)."""

import pytest
from django.urls import reverse

from accounts.axes import USERNAME_MAX, axes_username

LONG = "u" * 300


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["accounts:login", "admin:login"])
def test_a_username_past_axes_column_is_refused_as_a_failed_sign_in(client, url_name):
    from axes.models import AccessAttempt

    response = client.post(reverse(url_name), {"username": LONG, "password": "wrong-password"})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert AccessAttempt.objects.get().username == LONG[:USERNAME_MAX]


def test_the_recorded_username_is_cut_to_the_column_and_otherwise_as_axes_reads_it(rf):
    request = rf.post("/accounts/login/", {"username": "from-the-post"})

    assert axes_username(request, {"username": LONG}) == LONG[:USERNAME_MAX]
    assert axes_username(request, {"username": "alice"}) == "alice"
    assert axes_username(request) == "from-the-post"
    assert axes_username(rf.post("/accounts/login/", {})) is None
