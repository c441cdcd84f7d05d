"""What django-axes records of a sign-in attempt (settings.AXES_USERNAME_CALLABLE)."""

from django.conf import settings

# AccessAttempt.username and AccessLog.username are varchar(255).
USERNAME_MAX = 255


def axes_username(request, credentials=None) -> str | None:
    """The username axes counts failures under, as axes reads it by default (from the
    credentials, else the POST), cut to what its tables hold: a longer one (a scanner's,
    an attacker's; Django's sign-in form limits the length only in the browser) would fail
    the insert and answer 500 on PostgreSQL."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        username = getattr(request, "data", request.POST).get(field)
    return username[:USERNAME_MAX] if isinstance(username, str) else username
