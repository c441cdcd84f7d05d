"""Finance works the refund queue: views refund requests, approves or rejects them
(review_refund) and completes them (complete_refund). Reviewers and catalog managers
get nothing of refunds. See accounts/roles.py.

As in 0005 and 0006, both directions set each group's full list, so running either twice
changes nothing and a permission granted by hand in between is removed; unapplying
restores 0006's lists. The lists are copies, not imports of accounts/roles.py."""

from django.db import migrations

from ._group_permissions import set_group_permissions

CATALOG_MODELS = ["productline", "platform", "module", "service"]
CATALOG_VIEW = [f"catalog.view_{model}" for model in CATALOG_MODELS]
CATALOG_MANAGE = [f"catalog.{action}_{model}" for action in ("add", "change", "delete", "view") for model in CATALOG_MODELS]

REVIEWERS_0006 = [
    "orders.view_order",
    "orders.review_order",
    "orders.close_order",
    "orders.export_order",
    "orders.view_orderline",
    "orders.view_orderevent",
    *CATALOG_VIEW,
    "invoicing.view_contract",
]
FINANCE_0006 = [
    "orders.view_order",
    "orders.view_orderline",
    "orders.view_orderevent",
    "orders.export_order",
    "accounts.view_invoiceprofile",
    *CATALOG_VIEW,
    "invoicing.view_invoice",
    "invoicing.view_invoiceline",
    "invoicing.issue_invoice",
    "invoicing.export_invoice",
    "invoicing.view_contract",
    "invoicing.view_documentjob",
    "invoicing.change_documentjob",
]
CATALOG_0006 = ["orders.add_agreement", "orders.change_agreement", "orders.view_agreement", *CATALOG_MANAGE]

GROUPS = {
    "订单审核": REVIEWERS_0006,  # order reviewers: nothing of refunds
    "财务": [  # finance
        *FINANCE_0006,
        "refunds.view_refundrequest",
        "refunds.review_refund",
        "refunds.complete_refund",
    ],
    "运营": CATALOG_0006,  # catalog managers
}

# What 0006 set, for unapplying.
PREVIOUS_GROUPS = {"订单审核": REVIEWERS_0006, "财务": FINANCE_0006, "运营": CATALOG_0006}


def forwards(apps, schema_editor):
    set_group_permissions(apps, schema_editor, GROUPS)


def backwards(apps, schema_editor):
    set_group_permissions(apps, schema_editor, PREVIOUS_GROUPS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_invoicing_group_permissions"),
        ("refunds", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
