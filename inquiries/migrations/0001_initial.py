"""Inquiries move from the accounts app to their own, without touching the data: the
tables keep their names (accounts_inquiry, accounts_inquirymessage; see the models'
db_table), so this migration only tells Django's state that the models now live here,
and accounts.0010 drops them from the accounts app's state.

The content types move with them (accounts.inquiry → inquiries.inquiry, and the
messages'), so the permissions the staff groups hold (view_inquiry, answer_inquiry …,
granted by accounts.0009) stay theirs under the new label."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ['inquiry', 'inquirymessage']


def content_types_move(apps, schema_editor, *, source, target):
    ContentType = apps.get_model('contenttypes', 'ContentType')
    using = schema_editor.connection.alias
    for model in MODELS:
        if not ContentType.objects.using(using).filter(app_label=target, model=model).exists():
            ContentType.objects.using(using).filter(app_label=source, model=model).update(app_label=target)


def forwards(apps, schema_editor):
    content_types_move(apps, schema_editor, source='accounts', target='inquiries')


def backwards(apps, schema_editor):
    content_types_move(apps, schema_editor, source='inquiries', target='accounts')


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0009_inquiries_group_permissions'),
        ('catalog', '0003_service_tax_classification'),
        ('orders', '0005_reminders_payment_proofs'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Inquiry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('subject', models.CharField(max_length=120, verbose_name='subject')),
                        ('status', models.CharField(choices=[('open', 'Waiting for an answer'), ('answered', 'Answered'), ('closed', 'Closed')], default='open', max_length=16, verbose_name='status')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='asked at')),
                        ('last_customer_message_at', models.DateTimeField(verbose_name='last question at')),
                        ('answered_at', models.DateTimeField(blank=True, null=True, verbose_name='last answered at')),
                        ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='inquiries', to=settings.AUTH_USER_MODEL, verbose_name='customer')),
                        ('order', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='inquiries', to='orders.order', verbose_name='order')),
                        ('service', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='catalog.service', verbose_name='service')),
                    ],
                    options={
                        'verbose_name': 'inquiry',
                        'verbose_name_plural': 'inquiries',
                        'db_table': 'accounts_inquiry',
                        'ordering': ['-created_at', '-id'],
                        'permissions': [('answer_inquiry', 'Can answer inquiries')],
                    },
                ),
                migrations.CreateModel(
                    name='InquiryMessage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('from_staff', models.BooleanField(default=False, verbose_name='from staff')),
                        ('body', models.TextField(verbose_name='message')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='sent at')),
                        ('author', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='author')),
                        ('inquiry', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='inquiries.inquiry', verbose_name='inquiry')),
                    ],
                    options={
                        'verbose_name': 'inquiry message',
                        'verbose_name_plural': 'inquiry messages',
                        'db_table': 'accounts_inquirymessage',
                        'ordering': ['created_at', 'id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='inquiry',
                    index=models.Index(fields=['status', 'last_customer_message_at'], name='accounts_inquiry_queue'),
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
