"""`manage.py check --deploy`: production signs contracts with the seller's own key."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def signing_key_configured(app_configs, **kwargs):
    key, cert = settings.SIGNING_KEY, settings.SIGNING_CERT
    if not key or not cert:
        return [
            Error(
                "SIGNING_KEY and SIGNING_CERT are not set: contracts would be signed with a self-signed development key.",
                hint="Point both at the seller's PEM key and certificate (see .env.example).",
                id="invoicing.E001",
            )
        ]
    missing = [path for path in (key, cert) if not Path(path).is_file()]
    if missing:
        return [Error(f"Signing file not found: {', '.join(missing)}", id="invoicing.E002")]
    from .signing import signing_credentials

    try:
        signing_credentials()
    except Exception as error:  # any failure to load means contracts cannot be signed
        return [Error(f"The signing key or certificate cannot be loaded: {error}", id="invoicing.E003")]
    return []
