from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from mall import backup


class Command(BaseCommand):
    help = (
        "Back up the shop: pg_dump (custom format) of DATABASE_URL's database and a tar of the documents "
        "directory, with a manifest, in a new directory under DIRECTORY; prints its path. "
        "Restore it with manage.py restore."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "directory", type=Path, help="where to make the backup's directory (keep it off this machine)"
        )
        parser.add_argument(
            "--database-only",
            action="store_true",
            help="the database only: for documents in S3, kept by the bucket's versioning or replication",
        )

    def handle(self, *args, directory: Path, database_only: bool = False, **options):
        documents = None if database_only else backup.documents_directory()
        if documents is None and not database_only:
            raise CommandError(backup.bucket_advice())
        try:
            path = backup.backup_create(
                database=connections["default"].settings_dict,
                documents=documents,
                destination=directory.resolve(),
                now=timezone.now(),
                source=Path(settings.BASE_DIR),
            )
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        manifest = backup.backup_read(path)
        files = f"{manifest['documents']['files']} files" if manifest["documents"] else "not included (--database-only)"
        self.stderr.write(f"Database {manifest['database']}: {manifest['dump']['bytes']} bytes; documents: {files}.")
        self.stdout.write(str(path))
