from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.utils import translation

from accounts.models import ProductKey, User
from accounts.roles import GROUP_CATALOG, GROUP_FINANCE, GROUP_REVIEWERS
from accounts.services import staff_groups_sync
from catalog.management.commands.seed_demo import DEMO_ACCOUNTS
from catalog.models import Module, Platform, ProductLine, Service
from catalog.selectors import PRODUCT_KEY_FORMAT, product_line_get_for_key, service_list
from catalog.tests.factories import sample_key

pytestmark = pytest.mark.django_db


def seed(*args):
    out = StringIO()
    with translation.override("en"):  # the assertions read the English msgids
        call_command("seed_demo", "--force", *args, stdout=out)  # tests run with DEBUG off
    return out.getvalue()


def test_refuses_to_run_with_debug_off_unless_forced():
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.filter(username="admin").exists()


def test_runs_without_force_when_debug_is_on(settings):
    settings.DEBUG = True
    call_command("seed_demo", "--quiet", stdout=StringIO())
    assert User.objects.filter(username="demo").exists()


def catalog_snapshot():
    return {
        "lines": list(ProductLine.objects.values_list("code", "name", "key_pattern", "active")),
        "platforms": list(Platform.objects.values_list("code", "name", "refundable", "active")),
        "modules": list(Module.objects.values_list("code", "name", "active")),
        "services": list(
            Service.objects.order_by("pk").values_list("pk", "name", "standard_price", "featured", "active")
        ),
        "users": list(User.objects.order_by("username").values_list("pk", "username", "is_staff", "is_superuser")),
        "keys": list(ProductKey.objects.values_list("pk", "key", "product_line__code")),
    }


@pytest.fixture
def seeded():
    seed("--quiet")


class TestSeedDemoRuns:
    def test_running_twice_changes_nothing(self):
        seed("--quiet")
        first = catalog_snapshot()
        seed("--quiet")
        assert catalog_snapshot() == first

    def test_rerun_restores_prices_and_passwords(self, seeded):
        service = Service.objects.get(name="E3-京东开放平台对接服务")
        Service.objects.filter(pk=service.pk).update(standard_price=Decimal("1.00"), active=False)
        demo = User.objects.get(username="demo")
        demo.set_password("changed-by-someone")
        demo.save()

        seed("--quiet")

        service.refresh_from_db()
        assert (service.standard_price, service.active) == (Decimal("2000.00"), True)
        assert User.objects.get(username="demo").check_password("demo-pass-2026")

    def test_prints_logins_and_counts(self):
        output = seed()
        for account in DEMO_ACCOUNTS:
            assert f"{account.username} " in output
            assert account.password in output
        services = Service.objects.count()
        assert f"seeded 4 product lines, 10 platforms, 5 modules, {services} services" in output

    def test_quiet_prints_only_counts(self):
        output = seed("--quiet")
        assert "demo-pass-2026" not in output
        assert "seeded 4 product lines" in output


class TestSeededCatalog:
    def test_sizes(self, seeded):
        assert ProductLine.objects.filter(active=True).count() >= 4
        assert Platform.objects.filter(active=True).count() == 10
        assert Module.objects.filter(active=True).count() == 5
        assert service_list().count() >= 100

    def test_some_platforms_refundable_some_not(self, seeded):
        assert set(Platform.objects.values_list("refundable", flat=True)) == {True, False}

    def test_inactive_services_exist_but_are_not_listed(self, seeded):
        inactive = Service.objects.filter(active=False)
        assert inactive.exists()
        assert not service_list().filter(pk__in=inactive).exists()

    def test_featured_services_are_on_sale(self, seeded):
        featured = Service.objects.filter(featured=True)
        assert 4 <= featured.count() <= 12
        assert service_list().filter(featured=True).count() == featured.count()

    def test_some_combinations_are_left_out(self, seeded):
        assert not Service.objects.filter(product_line__code="bs3000", platform__code="amazon").exists()
        assert Service.objects.filter(platform__code="amazon").values("module").distinct().count() < 5

    def test_service_names_follow_line_platform_module(self, seeded):
        for service in Service.objects.select_related("product_line", "platform", "module"):
            assert service.name == f"{service.product_line.name}-{service.platform.name}{service.module.name}"

    def test_prices_are_positive_with_two_places(self, seeded):
        for price in Service.objects.values_list("standard_price", flat=True):
            assert price > 0
            assert price == price.quantize(Decimal("0.01"))

    def test_open_platform_integration_costs_2000_on_e3(self, seeded):
        assert Service.objects.get(name="E3-京东开放平台对接服务").standard_price == Decimal("2000.00")


class TestSeededKeyPatterns:
    def test_each_line_resolves_its_own_sample_key(self, seeded):
        for line in ProductLine.objects.all():
            key = sample_key(line, 0xBEEF)
            assert PRODUCT_KEY_FORMAT.fullmatch(key)
            assert product_line_get_for_key(key=key) == line

    def test_each_pattern_rejects_the_other_lines_keys(self, seeded):
        lines = list(ProductLine.objects.all())
        for line in lines:
            for other in lines:
                if other != line:
                    assert not line.matches_key(sample_key(other, 0xBEEF)), (line, other)

    def test_demo_customer_key_resolves_to_e3_omnichannel(self, seeded):
        key = ProductKey.objects.get(user__username="demo")
        assert key.key == "E3O-1A2B-3C4D-5E6F"
        assert key.product_line.code == "e3omni"
        assert product_line_get_for_key(key=key.key) == key.product_line


class TestSeededAccounts:
    @pytest.mark.parametrize("account", DEMO_ACCOUNTS, ids=lambda account: account.username)
    def test_printed_password_signs_in(self, seeded, account):
        # The request is for django-axes, which refuses to authenticate without one.
        user = authenticate(RequestFactory().post("/"), username=account.username, password=account.password)
        assert user is not None and user.username == account.username

    @pytest.mark.parametrize(
        ("username", "group"), [("reviewer", GROUP_REVIEWERS), ("finance", GROUP_FINANCE), ("operator", GROUP_CATALOG)]
    )
    def test_staff_are_in_their_group_and_not_superusers(self, seeded, username, group):
        user = User.objects.get(username=username)
        assert user.is_staff and not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [group]

    def test_demo_customer_is_not_staff(self, seeded):
        demo = User.objects.get(username="demo")
        assert not demo.is_staff and not demo.is_superuser
        assert (demo.real_name, demo.company, demo.email) == ("演示客户", "演示商贸有限公司", "demo@example.com")

    def test_admin_is_superuser(self, seeded):
        assert User.objects.get(username="admin").is_superuser


def test_cheap_pbkdf2_demo_hash_signs_in_and_is_upgraded_on_first_sign_in(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    seed("--quiet")
    assert User.objects.get(username="demo").password.startswith("pbkdf2_sha256$1000$")

    user = authenticate(RequestFactory().post("/"), username="demo", password="demo-pass-2026")

    assert user is not None
    assert not User.objects.get(username="demo").password.startswith("pbkdf2_sha256$1000$")


def test_demo_customer_gets_orders_in_four_states_once(django_capture_on_commit_callbacks):
    from invoicing.models import Contract, Invoice
    from orders.models import Order

    with django_capture_on_commit_callbacks(execute=True):
        seed("--quiet")
    seed("--quiet")
    statuses = sorted(Order.objects.filter(customer__username="demo").values_list("status", flat=True))
    assert statuses == ["awaiting_payment", "in_trade", "rejected", "success"]
    assert all(order.lines.count() == 1 for order in Order.objects.all())
    # The confirmed order's documents are made after the seed's commit.
    success = Order.objects.get(customer__username="demo", status="success")
    assert Invoice.objects.filter(order=success).count() == 1
    assert Contract.objects.filter(order=success).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_demo_orders_emails_are_written_to_files_and_counted_not_printed(settings, tmp_path):
    """What `make run` does (EMAIL_URL=filemail:…): the emails go out through the shop's
    own code path, after the seed's commit, into files; the output says how many."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    staff_groups_sync()  # another transactional test may have flushed the migrations' groups

    output = seed()

    files = sorted((tmp_path / "mail").iterdir())
    assert len(files) >= 4  # submitted, rejected, approved twice, confirmed …
    assert all(b"Subject: " in path.read_bytes() for path in files)
    assert f"{len(files)} emails written to {tmp_path / 'mail'}" in output
    assert "Subject:" not in output and "Content-Type" not in output
    assert output.index("emails written") < output.index("demo-pass-2026")

    again = seed()
    assert "emails written" not in again  # the orders exist already: nothing new is sent
    assert len(list((tmp_path / "mail").iterdir())) == len(files)
