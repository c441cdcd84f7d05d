"""Shared by the migrations that set the staff groups' permissions (0005 onwards).

Not a migration (the loader skips modules starting with "_"). These functions only
use the historical app registry they are given, so what a migration does stays fixed
by the permission lists it holds; keep their behaviour stable for that reason."""

from django.contrib.auth.management import create_permissions


def create_app_permissions(apps, using, app_labels):
    # On a fresh database permissions are only made by post_migrate, after every
    # migration has run. create_permissions skips an app whose models_module is unset,
    # which it always is on the historical app registry.
    for app_label in app_labels:
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        try:
            create_permissions(app_config, apps=apps, verbosity=0, using=using)
        finally:
            app_config.models_module = None


def set_group_permissions(apps, schema_editor, groups):
    using = schema_editor.connection.alias
    create_app_permissions(apps, using, sorted({name.split(".")[0] for names in groups.values() for name in names}))
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, names in groups.items():
        wanted = {tuple(name.split(".")) for name in names}
        permissions = [
            permission
            for permission in Permission.objects.using(using)
            .filter(codename__in={codename for _app, codename in wanted})
            .select_related("content_type")
            if (permission.content_type.app_label, permission.codename) in wanted
        ]
        if len(permissions) != len(wanted):
            found = {f"{p.content_type.app_label}.{p.codename}" for p in permissions}
            raise RuntimeError(f"permissions missing for group {group_name}: {sorted(set(names) - found)}")
        group, _created = Group.objects.using(using).get_or_create(name=group_name)
        group.permissions.set(permissions)
