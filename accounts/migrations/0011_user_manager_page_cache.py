"""User.objects becomes accounts.models.UserManager: Django's UserManager on the page
cache's queryset (a bulk update of users makes their cached pages stale). State only:
AlterModelManagers changes nothing in the database."""

from django.db import migrations

import accounts.models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_inquiries_move"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", accounts.models.UserManager()),
            ],
        ),
    ]
