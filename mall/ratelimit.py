"""Rate limits on the POSTs worth abusing: sign-in and registration per client IP,
checkout and remittance-slip uploads per signed-in customer.

django-ratelimit counts (fixed windows in the default cache: the shared Redis when
REDIS_URL is set, so every web process sees one counter); the rates are
settings.RATE_LIMITS, read on each request. A POST over its limit is answered 429 with
a page that says when to try again, before the view runs, so it changes nothing.
GETs are never counted.
"""

import logging
import math
from functools import wraps

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.shortcuts import render
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)

# Who a limit counts (django-ratelimit's keys): the client's address, or the signed-in user.
KEYS = ("ip", "user")
# Every address that cannot be read shares one counter instead of escaping the limit.
UNKNOWN_IP = "0.0.0.0"


def client_ip(request) -> str:
    """The client's address as django-axes reads it (AXES_PROXY_COUNT trusted proxies), so
    the lock-out and the rate limits agree on who the client is. RATELIMIT_IP_META_KEY."""
    return get_client_ip_address(request) or request.META.get("REMOTE_ADDR") or UNKNOWN_IP


def rate_for(group: str, request) -> str | None:
    """The current rate of `group` ("count/period"); django-ratelimit calls it per request."""
    return settings.RATE_LIMITS.get(group)


def rate_limit(group: str, *, key: str):
    """Refuse a view's POSTs beyond settings.RATE_LIMITS[group] per `key` ("ip" or "user")."""
    if key not in KEYS:
        raise ValueError(f"unknown rate-limit key {key!r}")

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            usage = get_usage(request, group=group, key=key, rate=rate_for, method="POST", increment=True)
            if usage is not None and usage["should_limit"]:
                return ratelimited(request, group=group, key=key, usage=usage)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def ratelimited(request, *, group: str, key: str, usage: dict):
    """429 with Retry-After: the page, or for htmx a fragment to show where the request aimed."""
    retry_after = max(int(usage["time_left"]), 1)
    who = client_ip(request) if key == "ip" else f"user {request.user.pk}"
    logger.warning(
        "rate limit %s (%s) refused %s %s from %s; retry in %ss",
        group,
        rate_for(group, request),
        request.method,
        request.path,
        who,
        retry_after,
    )
    context = {"minutes": math.ceil(retry_after / 60), "back": request.path}
    template = "_ratelimited.html" if getattr(request, "htmx", False) else "429.html"
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(retry_after)
    return response
