"""Where the private documents live (invoices, contracts, remittance slips), chosen by
the environment: a directory on one machine, an S3-compatible bucket shared by every
web and worker process on several (README "Running on several machines").

Read by mall/settings/base.py; no Django import, so settings can use it.
"""

from collections.abc import Mapping
from pathlib import Path

S3_BACKEND = "storages.backends.s3.S3Storage"
FILESYSTEM_BACKEND = "django.core.files.storage.FileSystemStorage"


def documents_storage_config(environ: Mapping[str, str], *, directory: Path) -> dict:
    """STORAGES["documents"]: S3 when DOCUMENTS_S3_BUCKET is set, else `directory`.

    Both are private (no public URL: views stream the files after checking ownership)
    and keep a file on a name clash (the document code deletes its own leftover before
    it saves a rerun's file under the same name).
    """
    bucket = environ.get("DOCUMENTS_S3_BUCKET", "").strip()
    if not bucket:
        return {"BACKEND": FILESYSTEM_BACKEND, "OPTIONS": {"location": directory, "base_url": None}}

    def optional(name):
        return environ.get(name, "").strip() or None

    return {
        "BACKEND": S3_BACKEND,
        "OPTIONS": {
            "bucket_name": bucket,
            "location": environ.get("DOCUMENTS_S3_PREFIX", "documents").strip("/ "),
            "endpoint_url": optional("AWS_S3_ENDPOINT_URL"),
            "region_name": optional("AWS_S3_REGION_NAME"),
            "addressing_style": optional("AWS_S3_ADDRESSING_STYLE"),
            # Unset: boto3's own chain (its environment variables, a profile, an instance role).
            "access_key": optional("AWS_ACCESS_KEY_ID"),
            "secret_key": optional("AWS_SECRET_ACCESS_KEY"),
            "default_acl": "private",
            "querystring_auth": True,  # url() is never handed out; if it were, it would be signed
            "file_overwrite": False,  # as FileSystemStorage: a clash gets a new name
        },
    }
