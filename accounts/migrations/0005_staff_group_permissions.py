"""Each staff group gets exactly the permissions its role needs (accounts/roles.py);
unapplying restores what 0002 gave them. Both directions set the full list, so running
either twice changes nothing and a permission granted by hand in between is removed.

The lists are copies, not imports: this migration must keep meaning what it meant when
written, whatever accounts/roles.py says later. Finance's invoice and refund permissions
come with the invoicing and refunds models, in their own migrations."""

from django.db import migrations

from ._group_permissions import set_group_permissions

CATALOG_MODELS = ["productline", "platform", "module", "service"]
CATALOG_VIEW = [f"catalog.view_{model}" for model in CATALOG_MODELS]
CATALOG_MANAGE = [f"catalog.{action}_{model}" for action in ("add", "change", "delete", "view") for model in CATALOG_MODELS]

GROUPS = {
    "订单审核": [  # order reviewers
        "orders.view_order",
        "orders.review_order",
        "orders.close_order",
        "orders.export_order",
        "orders.view_orderline",
        "orders.view_orderevent",
        *CATALOG_VIEW,
    ],
    "财务": [  # finance
        "orders.view_order",
        "orders.view_orderline",
        "orders.view_orderevent",
        "orders.export_order",
        "accounts.view_invoiceprofile",
        *CATALOG_VIEW,
    ],
    "运营": [  # catalog managers; no delete on agreements, orders refer to them
        "orders.add_agreement",
        "orders.change_agreement",
        "orders.view_agreement",
        *CATALOG_MANAGE,
    ],
}

# What 0002 granted, for unapplying.
PREVIOUS_GROUPS = {"订单审核": CATALOG_VIEW, "财务": CATALOG_VIEW, "运营": CATALOG_MANAGE}


def forwards(apps, schema_editor):
    set_group_permissions(apps, schema_editor, GROUPS)


def backwards(apps, schema_editor):
    set_group_permissions(apps, schema_editor, PREVIOUS_GROUPS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_mobile_help_text"),
        ("catalog", "0002_updated_at"),
        ("orders", "0003_customer_recent_index"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
