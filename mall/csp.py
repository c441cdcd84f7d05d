"""Content-Security-Policy (django-csp): the policy of CONTENT_SECURITY_POLICY on every
response, loosened for the admin only.

Django's admin templates (change_list.html) and the admin overrides under
templates/admin/ carry inline <style> blocks, so admin pages also allow inline styles;
never inline scripts. The shop's own pages allow neither."""

from django.conf import settings

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts

ADMIN_UPDATE = {"style-src": [UNSAFE_INLINE]}


def is_admin_path(path: str) -> bool:
    return path.startswith("/" + settings.ADMIN_URL)


class ShopCSPMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only=False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if is_admin_path(request.path_info) and not report_only:
            parts.update = {**ADMIN_UPDATE, **(parts.update or {})}
        return parts
