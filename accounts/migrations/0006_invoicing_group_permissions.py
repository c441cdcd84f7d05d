"""Finance works the invoice queue (view, issue and mail, export invoices; view contracts
and document jobs, and send a job to a worker again through change_documentjob);
reviewers may download contracts (view_contract). See accounts/roles.py.

As in 0005, both directions set each group's full list, so running either twice
changes nothing and a permission granted by hand in between is removed; unapplying
restores 0005's lists. The lists are copies, not imports of accounts/roles.py."""

from django.db import migrations

from ._group_permissions import set_group_permissions

CATALOG_MODELS = ["productline", "platform", "module", "service"]
CATALOG_VIEW = [f"catalog.view_{model}" for model in CATALOG_MODELS]
CATALOG_MANAGE = [f"catalog.{action}_{model}" for action in ("add", "change", "delete", "view") for model in CATALOG_MODELS]

REVIEWERS_0005 = [
    "orders.view_order",
    "orders.review_order",
    "orders.close_order",
    "orders.export_order",
    "orders.view_orderline",
    "orders.view_orderevent",
    *CATALOG_VIEW,
]
FINANCE_0005 = [
    "orders.view_order",
    "orders.view_orderline",
    "orders.view_orderevent",
    "orders.export_order",
    "accounts.view_invoiceprofile",
    *CATALOG_VIEW,
]
CATALOG_0005 = ["orders.add_agreement", "orders.change_agreement", "orders.view_agreement", *CATALOG_MANAGE]

GROUPS = {
    "订单审核": [*REVIEWERS_0005, "invoicing.view_contract"],  # order reviewers
    "财务": [  # finance
        *FINANCE_0005,
        "invoicing.view_invoice",
        "invoicing.view_invoiceline",
        "invoicing.issue_invoice",
        "invoicing.export_invoice",
        "invoicing.view_contract",
        "invoicing.view_documentjob",
        "invoicing.change_documentjob",
    ],
    "运营": CATALOG_0005,  # catalog managers: nothing of invoicing
}

# What 0005 set, for unapplying.
PREVIOUS_GROUPS = {"订单审核": REVIEWERS_0005, "财务": FINANCE_0005, "运营": CATALOG_0005}


def forwards(apps, schema_editor):
    set_group_permissions(apps, schema_editor, GROUPS)


def backwards(apps, schema_editor):
    set_group_permissions(apps, schema_editor, PREVIOUS_GROUPS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_staff_group_permissions"),
        ("invoicing", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
