"""A local S3 server for the tests: moto's server mode (`moto_server`, from moto[server]
in requirements-dev.txt) on a free port of 127.0.0.1, in a process group of its own,
stopped by the fixture that started it. Not a test module itself."""

import subprocess
import sys
import time
import uuid
from pathlib import Path

from .helpers import BASE_DIR, LOCALHOST, free_port, process_stop

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
START_SECONDS = 20
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"


class S3Server:
    """moto_server on 127.0.0.1:<free port>; `bucket_create()` makes a fresh private bucket."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_path = self.directory / f"moto-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def start(self) -> "S3Server":
        import urllib.error
        import urllib.request

        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(MOTO_SERVER), "-H", LOCALHOST, "-p", str(self.port)],
                cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):
                    return self
            except urllib.error.HTTPError:
                return self  # it answers
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto_server on port {self.port} did not start:\n{self.log_path.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process is not None:
            process_stop(self.process)
            self.process = None

    def bucket_create(self) -> str:
        name = f"cloudmall-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name, ACL="private")
        return name

    def keys(self, bucket: str) -> list[str]:
        """Every object key in `bucket`, sorted."""
        keys = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def environment(self, bucket: str) -> dict[str, str]:
        """The variables that point the documents storage of another process at `bucket`
        (mall/settings/base.py, DOCUMENTS_S3_BUCKET)."""
        return {
            "DOCUMENTS_S3_BUCKET": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_S3_ADDRESSING_STYLE": "path",
        }

    def storage_options(self, bucket: str) -> dict:
        """S3Storage options as mall/settings/base.py builds them from environment()."""
        return {
            "bucket_name": bucket,
            "location": "documents",
            "endpoint_url": self.endpoint_url,
            "region_name": REGION,
            "addressing_style": "path",
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        }
