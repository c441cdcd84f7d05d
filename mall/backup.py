"""Backups of the shop's state, for `manage.py backup` and `manage.py restore`: the
PostgreSQL database (pg_dump's custom format) and the documents directory (a tar), in one
new directory with a manifest. docs/operations.md "Backups and restore" says how they are used.

Standard tools only: pg_dump and pg_restore from Debian's postgresql-client, Python's
tarfile. The database password travels to them in the environment (PGPASSWORD), never on
the command line, where `ps` would show it. Imports no app.
"""

import hashlib
import json
import os
import subprocess
import tarfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

MANIFEST = "manifest.json"
DUMP = "database.dump"
DOCUMENTS = "documents.tar"
FORMAT = 1

# libpq's environment variables for the parts of a Django DATABASES entry pg_dump needs.
PG_VARIABLES = {"HOST": "PGHOST", "PORT": "PGPORT", "USER": "PGUSER", "PASSWORD": "PGPASSWORD"}
PG_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


class BackupError(Exception):
    """A backup that cannot be made or restored; the message says why and what to do."""


def documents_directory() -> Path | None:
    """The directory of STORAGES["documents"], or None when the documents are in a bucket."""
    storage = storages["documents"]
    return Path(storage.location) if isinstance(storage, FileSystemStorage) else None


def bucket_advice() -> str:
    """What to do instead when the documents are in S3 (DOCUMENTS_S3_BUCKET)."""
    options = settings.STORAGES["documents"].get("OPTIONS", {})
    where = f"s3://{options.get('bucket_name', '<bucket>')}/{options.get('location', '')}".rstrip("/")
    return (
        f"the documents are in the bucket {where}, not in a directory: keep them with the bucket's own "
        f"versioning and replication, or copy them with `aws s3 sync {where} <directory>`, and back up the "
        "database with `manage.py backup --database-only <directory>` (docs/operations.md, Backups and restore)"
    )


def pg_environment(database: Mapping, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment for pg_dump / pg_restore to reach `database` (a DATABASES entry)."""
    if "postgresql" not in database["ENGINE"]:
        raise BackupError(
            f"the database is not PostgreSQL ({database['ENGINE']}): backup and restore need DATABASE_URL "
            "to name a PostgreSQL database (the development SQLite file is copied as a file)"
        )
    env = dict(environ)
    for key, variable in PG_VARIABLES.items():
        if database.get(key):
            env[variable] = str(database[key])
    for option, variable in PG_OPTIONS.items():
        if database.get("OPTIONS", {}).get(option):
            env[variable] = str(database["OPTIONS"][option])
    return env


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _run(command: list[str], env: dict[str, str]) -> None:
    # --no-password: fail at once instead of waiting for a password on the terminal.
    result = subprocess.run([command[0], "--no-password", *command[1:]], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed ({result.returncode}):\n{result.stderr.strip()}")


def _git_revision(directory: Path) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return os.environ.get("GIT_REVISION", "unknown")
    return result.stdout.strip() if result.returncode == 0 else os.environ.get("GIT_REVISION", "unknown")


def backup_create(*, database: Mapping, documents: Path | None, destination: Path, now: datetime, source: Path) -> Path:
    """Make `destination/<database>-<UTC time>/` with the dump, the documents' tar (unless
    `documents` is None: they are in a bucket) and manifest.json; return its path.

    The database is dumped first, the files copied after: a document is stored before the
    row that names it commits, so every file the dump names is on disk by the time the tar
    is made (a document made meanwhile is an extra file, which harms nothing). The
    directory holds customer data and password hashes: it is made readable by its owner
    only, and written under a .partial name until complete.
    """
    env = pg_environment(database)
    name = f"{database['NAME']}-{now:%Y%m%dT%H%M%SZ}"
    target = destination / name
    work = destination / f"{name}.partial"
    if target.exists():
        raise BackupError(f"{target} exists already")
    destination.mkdir(parents=True, exist_ok=True)
    work.mkdir(mode=0o700)
    previous_umask = os.umask(0o077)
    try:
        _run(["pg_dump", "--format=custom", f"--file={work / DUMP}", f"--dbname={database['NAME']}"], env)
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "revision": _git_revision(source),
            "database": database["NAME"],
            "dump": {"file": DUMP, "bytes": (work / DUMP).stat().st_size, "sha256": sha256_of(work / DUMP)},
            "documents": None,
        }
        if documents is not None:
            files, size = _tar(documents, work / DOCUMENTS)
            manifest["documents"] = {
                "file": DOCUMENTS,
                "files": files,
                "bytes": size,
                "sha256": sha256_of(work / DOCUMENTS),
            }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    finally:
        os.umask(previous_umask)
    work.rename(target)
    return target


def _tar(directory: Path, archive: Path) -> tuple[int, int]:
    """Every file under `directory`, by its path relative to it. Returns (files, bytes)."""
    files = size = 0
    with tarfile.open(archive, "w") as tar:
        if directory.is_dir():
            for path in sorted(directory.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    tar.add(path, arcname=path.relative_to(directory).as_posix(), recursive=False)
                    files += 1
                    size += path.stat().st_size
    return files, size


def backup_read(directory: Path) -> dict:
    """The manifest of the backup in `directory`, once its files match their checksums."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{directory} is not a backup: it has no {MANIFEST}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{directory / MANIFEST} has format {manifest.get('format')!r}, not {FORMAT}")
    for part in (manifest["dump"], manifest["documents"]):
        if part is None:
            continue
        path = directory / part["file"]
        if not path.is_file() or sha256_of(path) != part["sha256"]:
            raise BackupError(f"{path} is missing or does not match the sha256 in {MANIFEST}: the backup is damaged")
    return manifest


def database_restore(*, database: Mapping, dump: Path) -> None:
    """pg_restore into `database`: one transaction (a failure leaves it as it was), objects
    of the dump dropped first if they exist, owned by the restoring user, no GRANTs (the
    roles of the backed-up server need not exist here)."""
    command = [
        "pg_restore", "--no-owner", "--no-privileges", "--clean", "--if-exists", "--single-transaction",
        f"--dbname={database['NAME']}", str(dump),
    ]  # fmt: skip
    _run(command, pg_environment(database))


def documents_restore(*, archive: Path, directory: Path) -> int:
    """Unpack the documents' tar into `directory`; returns the number of files. The "data"
    filter refuses absolute paths, links out of the directory and device files."""
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = [member for member in tar.getmembers() if member.isfile()]
        tar.extractall(directory, members=members, filter="data")
    return len(members)


def directory_has_files(directory: Path) -> bool:
    return directory.is_dir() and any(path.is_file() for path in directory.rglob("*"))
