"""Staff groups. Later migrations of orders, invoicing and refunds grant them their own
models' permissions; this one gives them the catalog's."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CATALOG_MODELS = ["productline", "platform", "module", "service"]
VIEW = ["view"]
MANAGE = ["add", "change", "delete", "view"]

# Group name → actions allowed on every catalog model. Names are the staff's own words.
GROUPS = {
    "订单审核": VIEW,  # order reviewers
    "财务": VIEW,  # finance: invoices and refunds
    "运营": MANAGE,  # operations: keep the catalog
}


def create_catalog_permissions(apps, using):
    # On a fresh database permissions are only made by post_migrate, after every
    # migration has run. Make catalog's now. create_permissions skips an app whose
    # models_module is unset, which it always is on the historical app registry.
    app_config = apps.get_app_config("catalog")
    app_config.models_module = True
    try:
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
    finally:
        app_config.models_module = None


def create_staff_groups(apps, schema_editor):
    using = schema_editor.connection.alias
    create_catalog_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, actions in GROUPS.items():
        codenames = [f"{action}_{model}" for action in actions for model in CATALOG_MODELS]
        permissions = Permission.objects.using(using).filter(
            content_type__app_label="catalog", codename__in=codenames
        )
        if len(permissions) != len(codenames):
            raise RuntimeError(f"catalog permissions missing for group {name}")
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*permissions)


def delete_staff_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("catalog", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_staff_groups, delete_staff_groups)]
