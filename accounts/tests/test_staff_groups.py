"""Staff groups: the permissions the migrations leave them, and what each role may
open in the admin."""

from importlib import import_module
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from accounts.roles import GROUP_CATALOG, GROUP_FINANCE, GROUP_PERMISSIONS, GROUP_REVIEWERS, ROLES
from accounts.tests.factories import UserFactory

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
MIGRATION = ("accounts", "0005_staff_group_permissions")
BEFORE_MIGRATION = ("accounts", "0004_mobile_help_text")

CATALOG_VIEW = {f"catalog.view_{model}" for model in ("productline", "platform", "module", "service")}
CATALOG_MANAGE = {
    f"catalog.{action}_{model}"
    for action in ("add", "change", "delete", "view")
    for model in ("productline", "platform", "module", "service")
}
# What 0005 set (the functions of that migration are tested below).
AT_0005 = {
    GROUP_REVIEWERS: {
        "orders.view_order",
        "orders.review_order",
        "orders.close_order",
        "orders.export_order",
        "orders.view_orderline",
        "orders.view_orderevent",
        *CATALOG_VIEW,
    },
    GROUP_FINANCE: {
        "orders.view_order",
        "orders.view_orderline",
        "orders.view_orderevent",
        "orders.export_order",
        "accounts.view_invoiceprofile",
        *CATALOG_VIEW,
    },
    GROUP_CATALOG: {"orders.add_agreement", "orders.change_agreement", "orders.view_agreement", *CATALOG_MANAGE},
}
# Since 0006: finance works the invoice queue, reviewers may download contracts.
INVOICING_FINANCE = {
    "invoicing.view_invoice",
    "invoicing.view_invoiceline",
    "invoicing.issue_invoice",
    "invoicing.export_invoice",
    "invoicing.view_contract",
    "invoicing.view_documentjob",
    "invoicing.change_documentjob",
}
AT_0006 = {
    GROUP_REVIEWERS: AT_0005[GROUP_REVIEWERS] | {"invoicing.view_contract"},
    GROUP_FINANCE: AT_0005[GROUP_FINANCE] | INVOICING_FINANCE,
    GROUP_CATALOG: AT_0005[GROUP_CATALOG],
}
# Since 0007: finance works the refund queue; reviewers and catalog managers get nothing of it.
REFUNDS_FINANCE = {"refunds.view_refundrequest", "refunds.review_refund", "refunds.complete_refund"}
AT_0007 = {
    GROUP_REVIEWERS: AT_0006[GROUP_REVIEWERS],
    GROUP_FINANCE: AT_0006[GROUP_FINANCE] | REFUNDS_FINANCE,
    GROUP_CATALOG: AT_0006[GROUP_CATALOG],
}
# Since 0009: reviewers and finance answer inquiries; catalog managers get nothing of them.
# 0009 granted them under the accounts label; since inquiries.0001 the same permissions
# (their content types moved) read inquiries.*.
INQUIRIES_ANSWER_0009 = {"accounts.view_inquiry", "accounts.view_inquirymessage", "accounts.answer_inquiry"}
AT_0009 = {
    GROUP_REVIEWERS: AT_0007[GROUP_REVIEWERS] | INQUIRIES_ANSWER_0009,
    GROUP_FINANCE: AT_0007[GROUP_FINANCE] | INQUIRIES_ANSWER_0009,
    GROUP_CATALOG: AT_0007[GROUP_CATALOG],
}
INQUIRIES_ANSWER = {"inquiries.view_inquiry", "inquiries.view_inquirymessage", "inquiries.answer_inquiry"}
EXPECTED = {
    GROUP_REVIEWERS: AT_0007[GROUP_REVIEWERS] | INQUIRIES_ANSWER,
    GROUP_FINANCE: AT_0007[GROUP_FINANCE] | INQUIRIES_ANSWER,
    GROUP_CATALOG: AT_0007[GROUP_CATALOG],
}
# What accounts.0002 granted, and so what unapplying 0005 restores.
BEFORE = {GROUP_REVIEWERS: CATALOG_VIEW, GROUP_FINANCE: CATALOG_VIEW, GROUP_CATALOG: CATALOG_MANAGE}


def permissions_of(name):
    rows = Group.objects.get(name=name).permissions.values_list("content_type__app_label", "codename")
    return {f"{app_label}.{codename}" for app_label, codename in rows}


def all_group_permissions():
    return {name: permissions_of(name) for name in EXPECTED}


def permission(name):
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def migration_functions(name: str) -> SimpleNamespace:
    """forwards() and backwards() of accounts migration `name`, run on the historical models
    of its state, inside the test's transaction."""
    module = import_module(f"accounts.migrations.{name}")
    state_apps = MigrationExecutor(connection).loader.project_state(("accounts", name)).apps
    schema_editor = SimpleNamespace(connection=connection)  # only its alias is read
    return SimpleNamespace(
        forwards=lambda: module.forwards(state_apps, schema_editor),
        backwards=lambda: module.backwards(state_apps, schema_editor),
    )


@pytest.mark.django_db
class TestGroupPermissions:
    @pytest.mark.parametrize("name", EXPECTED)
    def test_each_group_has_exactly_its_roles_permissions(self, name):
        assert permissions_of(name) == EXPECTED[name] == GROUP_PERMISSIONS[name]

    def test_every_role_of_createstaff_is_a_group(self):
        assert set(ROLES.values()) == set(GROUP_PERMISSIONS) == set(EXPECTED)


@pytest.mark.django_db
class TestMigrationFunctions:
    """The migration's own functions on the historical models, inside the test's transaction."""

    @pytest.fixture
    def migration(self):
        return migration_functions(MIGRATION[1])

    def test_forwards_sets_the_list_removing_grants_made_by_hand(self, migration):
        reviewers = Group.objects.get(name=GROUP_REVIEWERS)
        reviewers.permissions.add(permission("orders.delete_order"))
        reviewers.permissions.remove(permission("orders.review_order"))

        migration.forwards()

        assert all_group_permissions() == AT_0005

    def test_forwards_twice_changes_nothing(self, migration):
        migration.forwards()
        migration.forwards()
        assert all_group_permissions() == AT_0005

    def test_backwards_restores_what_0002_granted(self, migration):
        migration.backwards()
        assert all_group_permissions() == BEFORE
        migration.forwards()
        assert all_group_permissions() == AT_0005

    def test_forwards_creates_a_missing_group(self, migration):
        Group.objects.filter(name=GROUP_FINANCE).delete()
        migration.forwards()
        assert permissions_of(GROUP_FINANCE) == AT_0005[GROUP_FINANCE]


@pytest.mark.django_db
class TestInvoicingMigrationFunctions:
    """0006: the invoicing permissions, on the historical models."""

    @pytest.fixture
    def migration(self):
        return migration_functions("0006_invoicing_group_permissions")

    def test_forwards_sets_the_list_removing_grants_made_by_hand(self, migration):
        Group.objects.get(name=GROUP_FINANCE).permissions.add(permission("invoicing.delete_invoice"))
        Group.objects.get(name=GROUP_REVIEWERS).permissions.add(permission("invoicing.view_invoice"))
        migration.forwards()
        migration.forwards()
        assert all_group_permissions() == AT_0006

    def test_backwards_restores_what_0005_set(self, migration):
        migration.backwards()
        assert all_group_permissions() == AT_0005
        migration.forwards()
        assert all_group_permissions() == AT_0006


@pytest.mark.django_db
class TestRefundsMigrationFunctions:
    """0007: the refund permissions, finance's only, on the historical models."""

    @pytest.fixture
    def migration(self):
        return migration_functions("0007_refunds_group_permissions")

    def test_forwards_sets_the_list_removing_grants_made_by_hand(self, migration):
        Group.objects.get(name=GROUP_FINANCE).permissions.add(permission("refunds.delete_refundrequest"))
        Group.objects.get(name=GROUP_FINANCE).permissions.remove(permission("refunds.complete_refund"))
        Group.objects.get(name=GROUP_REVIEWERS).permissions.add(permission("refunds.review_refund"))
        migration.forwards()
        migration.forwards()
        assert all_group_permissions() == AT_0007

    def test_backwards_restores_what_0006_set(self, migration):
        migration.backwards()
        assert all_group_permissions() == AT_0006
        migration.forwards()
        assert all_group_permissions() == AT_0007

    def test_no_group_but_finance_has_any_refund_permission(self):
        for name in (GROUP_REVIEWERS, GROUP_CATALOG):
            assert not {p for p in permissions_of(name) if p.startswith("refunds.")}
        assert {p for p in permissions_of(GROUP_FINANCE) if p.startswith("refunds.")} == REFUNDS_FINANCE


@pytest.mark.django_db
class TestInquiriesMigrationFunctions:
    """0009: the inquiry permissions, reviewers' and finance's, on the historical models
    (where inquiries were still the accounts app's)."""

    @pytest.fixture
    def migration(self):
        return migration_functions("0009_inquiries_group_permissions")

    def test_forwards_sets_the_list_removing_grants_made_by_hand(self, migration):
        Group.objects.get(name=GROUP_CATALOG).permissions.add(permission("inquiries.answer_inquiry"))
        Group.objects.get(name=GROUP_FINANCE).permissions.add(permission("inquiries.delete_inquiry"))
        Group.objects.get(name=GROUP_REVIEWERS).permissions.remove(permission("inquiries.answer_inquiry"))
        migration.forwards()
        migration.forwards()
        assert all_group_permissions() == AT_0009

    def test_backwards_restores_what_0007_set(self, migration):
        migration.backwards()
        assert all_group_permissions() == AT_0007
        migration.forwards()
        assert all_group_permissions() == AT_0009

    def test_catalog_managers_have_no_inquiry_permission(self):
        assert not {p for p in permissions_of(GROUP_CATALOG) if "inquir" in p}
        for name in (GROUP_REVIEWERS, GROUP_FINANCE):
            assert {p for p in permissions_of(name) if "inquir" in p} == INQUIRIES_ANSWER


@pytest.mark.django_db(transaction=True)
def test_migration_unapplies_and_applies_again():
    """With the real migrate command; transactional, since migrating needs its own transactions."""
    call_command("migrate", *BEFORE_MIGRATION, verbosity=0)
    assert all_group_permissions() == BEFORE

    call_command("migrate", MIGRATION[0], verbosity=0)
    assert all_group_permissions() == EXPECTED


# The permission matrix over the admin. Each row is a page; the columns are the roles
# in ROLE_COLUMNS. 302 is the redirect to the admin's sign-in page; 403 is a staff
# member whose group lacks the permission.
ROLE_COLUMNS = ("reviewer", "finance", "catalog manager", "customer")
MATRIX = {
    #                                          reviewer finance catalog customer
    "admin:index":                              (200,    200,    200,    302),
    "admin:catalog_service_changelist":         (200,    200,    200,    302),
    "admin:catalog_service_add":                (403,    403,    200,    302),
    "admin:orders_order_changelist":            (200,    200,    403,    302),
    "admin:orders_agreement_changelist":        (403,    403,    200,    302),
    "admin:orders_agreement_add":               (403,    403,    200,    302),
    "admin:accounts_user_changelist":           (403,    403,    403,    302),
    "admin:accounts_invoiceprofile_changelist": (403,    200,    403,    302),
    "admin:refunds_refundrequest_changelist":   (403,    200,    403,    302),
    "admin:refunds_refundrequest_add":          (403,    403,    403,    302),
    "admin:inquiries_inquiry_changelist":        (200,    200,    403,    302),
    "admin:inquiries_inquiry_add":               (403,    403,    403,    302),
}
ROLE_USERS = {
    "reviewer": {"staff": True, "groups": [GROUP_REVIEWERS]},
    "finance": {"staff": True, "groups": [GROUP_FINANCE]},
    "catalog manager": {"staff": True, "groups": [GROUP_CATALOG]},
    "customer": {},
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url_name", "role", "expected"),
    [
        pytest.param(url_name, role, status, id=f"{role}-{url_name.removeprefix('admin:')}")
        for url_name, statuses in MATRIX.items()
        for role, status in zip(ROLE_COLUMNS, statuses, strict=True)
    ],
)
def test_permission_matrix(client, url_name, role, expected):
    client.force_login(UserFactory(**ROLE_USERS[role]), backend=MODEL_BACKEND)

    response = client.get(reverse(url_name))

    assert response.status_code == expected
    if expected == 302:
        assert response.url.startswith(reverse("admin:login") + "?next=")


@pytest.mark.django_db
def test_staff_groups_sync_restores_a_deleted_group_with_exactly_its_permissions():
    from django.contrib.auth.models import Group

    from accounts.roles import GROUP_PERMISSIONS, GROUP_REVIEWERS
    from accounts.services import staff_groups_sync

    Group.objects.filter(name=GROUP_REVIEWERS).delete()
    staff_groups_sync()
    group = Group.objects.get(name=GROUP_REVIEWERS)
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
    assert granted == set(GROUP_PERMISSIONS[GROUP_REVIEWERS])
