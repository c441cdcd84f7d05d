"""Content-Security-Policy (django-csp): the policy of CONTENT_SECURITY_POLICY on every
response, loosened for the admin only.

Django's admin templates (change_list.html) and the admin overrides under
templates/admin/ carry inline <style> blocks, so admin pages also allow inline styles;
never inline scripts. The shop's own pages allow neither."""

from dataclasses import asdict

from csp.constants import HEADER, UNSAFE_INLINE
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings

ADMIN_UPDATE = {"style-src": [UNSAFE_INLINE]}


def is_admin_path(path: str) -> bool:
    return path.startswith("/" + settings.ADMIN_URL)


class ShopCSPMiddleware(CSPMiddleware):
    """django-csp's middleware with the admin's looser policy, and the header text kept
    once built: unless a view decorated its response (csp_update & co.), asked for a
    nonce or is exempt, the header is the same for every shop page and for every admin
    page, and django-csp would rebuild it on each response."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self._built: dict[bool, str] = {}

    def get_policy_parts(self, request, response, report_only=False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if is_admin_path(request.path_info) and not report_only:
            parts.update = {**ADMIN_UPDATE, **(parts.update or {})}
        return parts

    def process_response(self, request, response):
        if not self._plain(request, response):
            return super().process_response(request, response)
        admin = is_admin_path(request.path_info)
        header = self._built.get(admin)
        if header is None:
            header = self._built[admin] = build_policy(**asdict(self.get_policy_parts(request, response)))
        response[HEADER] = header
        # As django-csp does: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response

    @staticmethod
    def _plain(request, response) -> bool:
        decorated = ("_csp_config", "_csp_update", "_csp_replace", "_csp_exempt", "_csp_config_ro",
                     "_csp_update_ro", "_csp_replace_ro", "_csp_exempt_ro")
        return (
            HEADER not in response
            and getattr(request, "_csp_nonce", None) is None
            and not any(getattr(response, name, None) for name in decorated)
            and not getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            and not (getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}).get("EXCLUDE_URL_PREFIXES")
            and not (response.status_code in (500, 404) and settings.DEBUG)
        )
