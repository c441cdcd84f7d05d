"""SMS backends for expiry reminders, chosen by settings.SMS_BACKEND (a dotted path).

A backend has one method, `send(*, mobile, text)`, which raises SmsError (or OSError for
a network failure) when the message was not accepted; the Celery task retries it.
"""

import json
import logging
import urllib.error
import urllib.request

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The gateway refused the message or answered with something other than 2xx."""


class LogBackend:
    """The default: writes each SMS to the log (no gateway in development or tests)."""

    def send(self, *, mobile: str, text: str) -> None:
        logger.info("SMS to %s: %s", mobile, text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would turn the POST into a GET elsewhere: treat it as a failure.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class HttpGatewayBackend:
    """POSTs JSON {"mobile", "text"} to SMS_GATEWAY_URL with `Authorization: Bearer
    SMS_GATEWAY_KEY`; any answer but 2xx raises SmsError."""

    timeout = 10  # seconds; the task retries a slow gateway later

    def __init__(self, *, url: str | None = None, key: str | None = None, timeout: float | None = None):
        self.url = url or settings.SMS_GATEWAY_URL
        self.key = key or settings.SMS_GATEWAY_KEY
        if not self.url or not self.key:
            raise ImproperlyConfigured("HttpGatewayBackend needs SMS_GATEWAY_URL and SMS_GATEWAY_KEY.")
        if timeout is not None:
            self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def send(self, *, mobile: str, text: str) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps({"mobile": mobile, "text": text}, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {self.key}"},
            method="POST",
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            raise SmsError(f"SMS gateway answered {error.code}") from error
        if not 200 <= status < 300:
            raise SmsError(f"SMS gateway answered {status}")


def sms_backend():
    return import_string(settings.SMS_BACKEND)()


def sms_send(*, mobile: str, text: str) -> None:
    """Send one SMS now through the configured backend."""
    sms_backend().send(mobile=mobile, text=text)
