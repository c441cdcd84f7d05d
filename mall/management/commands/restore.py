import io
import json
import sys
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from mall import backup


class Command(BaseCommand):
    help = (
        "Restore a backup made by manage.py backup into DATABASE_URL's database and the documents directory "
        "(MEDIA_ROOT/documents), then check it: pending migrations, then reconcile --json --files. "
        "Refuses a database or documents directory that is not empty unless --force. "
        "Exit status 0 when the restored shop reconciles clean, 1 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="BACKUP", type=Path, help="the directory manage.py backup made")
        parser.add_argument(
            "--force",
            action="store_true",
            help="restore over a database or documents directory that is not empty (the backup's tables are "
            "dropped and made again; other tables and files stay)",
        )

    def handle(self, *args, directory: Path, force: bool = False, **options):
        connection = connections["default"]
        database = connection.settings_dict
        try:
            manifest = backup.backup_read(directory)
            backup.pg_environment(database)  # refuses anything but PostgreSQL
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        documents = backup.documents_directory()
        if manifest["documents"] is not None and documents is None:
            raise CommandError(f"this backup holds the documents, but {backup.bucket_advice()}")
        tables = connection.introspection.table_names()
        if tables and not force:
            raise CommandError(
                f"the database {database['NAME']} is not empty ({len(tables)} tables): "
                "restore into a new database, or give --force to replace the backup's tables"
            )
        if manifest["documents"] is not None and backup.directory_has_files(documents) and not force:
            raise CommandError(f"{documents} has files: restore into an empty directory, or give --force")
        connection.close()  # pg_restore drops and makes the tables again

        # The database first: pg_restore runs in one transaction, so when it fails nothing has changed.
        try:
            backup.database_restore(database=database, dump=directory / manifest["dump"]["file"])
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        self.stderr.write(
            f"Database {database['NAME']}: restored from {manifest['database']} "
            f"(backed up {manifest['created_at']}, revision {manifest['revision']})."
        )
        if manifest["documents"] is None:
            self.stderr.write(
                "Documents: not in this backup (--database-only): restore them first (S3: from the bucket's "
                "versions or replica, or aws s3 sync); reconcile --files below checks them."
            )
        else:
            count = backup.documents_restore(archive=directory / manifest["documents"]["file"], directory=documents)
            self.stderr.write(f"Documents: {count} files restored into {documents}.")

        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _backwards in pending)
            raise CommandError(
                f"restored, but {len(pending)} migrations are not applied ({names}): "
                "run manage.py migrate, then manage.py reconcile --files"
            )

        output = io.StringIO()
        try:
            call_command("reconcile", json=True, files=True, stdout=output)
            status = 0
        except SystemExit as exit:  # reconcile exits 1 when it finds something
            status = exit.code
        self.stdout.write(output.getvalue())
        report = json.loads(output.getvalue())
        if status:
            self.stderr.write(f"Reconcile: {len(report['findings'])} findings (above): the restore is not clean.")
            sys.exit(1)
        self.stderr.write(f"Reconcile: clean ({report['orders']} orders, {report['files_checked']} files checked).")
