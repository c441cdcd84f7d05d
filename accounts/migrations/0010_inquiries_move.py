"""Inquiries now live in their own app (inquiries.0001 took them over, tables and
content types included): drop them from this app's state only, keeping the tables."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_inquiries_group_permissions"),
        ("inquiries", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(model_name="inquirymessage", name="inquiry"),
                migrations.RemoveField(model_name="inquirymessage", name="author"),
                migrations.DeleteModel(name="Inquiry"),
                migrations.DeleteModel(name="InquiryMessage"),
            ],
        ),
    ]
