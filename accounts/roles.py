"""Staff roles: the Django groups staff belong to and exactly what each may do.

Migrations set the groups in the database from frozen copies of these sets (a migration
must not import code that changes later); accounts/tests/test_staff_groups.py checks that
the migrated groups still equal the sets here. To change a role, edit its set and add a
migration that sets the group to the new list.
"""

from django.utils.translation import gettext_lazy as _

# Group names are the staff's own words, and what the admin shows.
GROUP_REVIEWERS = "订单审核"
GROUP_FINANCE = "财务"
GROUP_CATALOG = "运营"

# `manage.py createstaff --group <role>`: role → group name.
ROLES = {
    "reviewers": GROUP_REVIEWERS,
    "finance": GROUP_FINANCE,
    "catalog": GROUP_CATALOG,
}
ROLE_DESCRIPTIONS = {
    "reviewers": _("order reviewers: approve, reject, close and export orders"),
    "finance": _(
        "finance: issue, mail and export invoices; review and complete refunds; view orders, contracts and document jobs"
    ),
    "catalog": _("catalog managers: services, product lines, platforms, modules and agreements"),
}

CATALOG_MODELS = ("productline", "platform", "module", "service")
CATALOG_VIEW = frozenset(f"catalog.view_{model}" for model in CATALOG_MODELS)
CATALOG_MANAGE = frozenset(
    f"catalog.{action}_{model}" for action in ("add", "change", "delete", "view") for model in CATALOG_MODELS
)

# Contracts: finance and reviewers may download them from the admin (view_contract).
CONTRACT_VIEW = frozenset({"invoicing.view_contract"})
# Finance's invoice queue. issue_invoice covers 开票 and 已寄出; nobody gets
# delete_invoice or change_invoice (the admin refuses them to superusers as well).
# change_documentjob is the right to send a document job to a worker again (重新生成):
# the job admin stays read-only, that action is all it allows.
INVOICING_FINANCE = frozenset(
    {
        "invoicing.view_invoice",
        "invoicing.view_invoiceline",
        "invoicing.issue_invoice",
        "invoicing.export_invoice",
        "invoicing.view_documentjob",
        "invoicing.change_documentjob",
    }
)
# Finance's refund queue: view the requests, approve or reject them (review_refund) and
# complete them (complete_refund). Nobody gets add, change or delete: the admin is
# read-only and its pages call refunds.services. Reviewers get nothing of refunds.
REFUNDS_FINANCE = frozenset(
    {
        "refunds.view_refundrequest",
        "refunds.review_refund",
        "refunds.complete_refund",
    }
)
# 咨询管理: reviewers and finance answer customers' inquiries (view the queue and its
# threads, answer_inquiry). Nobody adds, changes or deletes them in the admin.
INQUIRIES_ANSWER = frozenset(
    {
        "inquiries.view_inquiry",
        "inquiries.view_inquirymessage",
        "inquiries.answer_inquiry",
    }
)

# "app_label.codename" per group; a group has these and nothing else.
GROUP_PERMISSIONS = {
    GROUP_REVIEWERS: frozenset(
        {
            "orders.view_order",
            "orders.review_order",
            "orders.close_order",
            "orders.export_order",
            "orders.view_orderline",
            "orders.view_orderevent",
        }
    )
    | CATALOG_VIEW
    | CONTRACT_VIEW
    | INQUIRIES_ANSWER,
    GROUP_FINANCE: frozenset(
        {
            "orders.view_order",
            "orders.view_orderline",
            "orders.view_orderevent",
            "orders.export_order",
            "accounts.view_invoiceprofile",
        }
    )
    | CATALOG_VIEW
    | CONTRACT_VIEW
    | INVOICING_FINANCE
    | REFUNDS_FINANCE
    | INQUIRIES_ANSWER,
    # No delete on agreements: orders point at the version their customer accepted.
    GROUP_CATALOG: frozenset({"orders.add_agreement", "orders.change_agreement", "orders.view_agreement"})
    | CATALOG_MANAGE,
}
