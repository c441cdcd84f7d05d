"""Reviewers and finance answer customers' inquiries (咨询管理): view_inquiry,
view_inquirymessage and answer_inquiry. Catalog managers get nothing of them. See
accounts/roles.py.

As in 0005-0007, both directions set each group's full list, so running either twice
changes nothing and a permission granted by hand in between is removed; unapplying
restores 0007's lists. The lists are copies, not imports of accounts/roles.py."""

from django.db import migrations

from ._group_permissions import set_group_permissions

CATALOG_MODELS = ["productline", "platform", "module", "service"]
CATALOG_VIEW = [f"catalog.view_{model}" for model in CATALOG_MODELS]
CATALOG_MANAGE = [f"catalog.{action}_{model}" for action in ("add", "change", "delete", "view") for model in CATALOG_MODELS]

REVIEWERS_0007 = [
    "orders.view_order",
    "orders.review_order",
    "orders.close_order",
    "orders.export_order",
    "orders.view_orderline",
    "orders.view_orderevent",
    *CATALOG_VIEW,
    "invoicing.view_contract",
]
FINANCE_0007 = [
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
    "refunds.view_refundrequest",
    "refunds.review_refund",
    "refunds.complete_refund",
]
CATALOG_0007 = ["orders.add_agreement", "orders.change_agreement", "orders.view_agreement", *CATALOG_MANAGE]

INQUIRIES_ANSWER = ["accounts.view_inquiry", "accounts.view_inquirymessage", "accounts.answer_inquiry"]

GROUPS = {
    "订单审核": [*REVIEWERS_0007, *INQUIRIES_ANSWER],  # order reviewers
    "财务": [*FINANCE_0007, *INQUIRIES_ANSWER],  # finance
    "运营": CATALOG_0007,  # catalog managers: nothing of inquiries
}

# What 0007 set, for unapplying.
PREVIOUS_GROUPS = {"订单审核": REVIEWERS_0007, "财务": FINANCE_0007, "运营": CATALOG_0007}


def forwards(apps, schema_editor):
    set_group_permissions(apps, schema_editor, GROUPS)


def backwards(apps, schema_editor):
    set_group_permissions(apps, schema_editor, PREVIOUS_GROUPS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_inquiries"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
