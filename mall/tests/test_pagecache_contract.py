"""The page cache's contract: what each app declares in its apps.py, the system check that
holds every model and cached view to it (mall/pagecache/checks.py), and the queryset that
makes a bulk update() bump like a save does (mall/pagecache/querysets.py)."""

import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import models
from django.test.utils import isolate_apps
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Message
from accounts.tests.factories import UserFactory
from catalog import views as catalog_views
from catalog.models import Service
from mall.pagecache import PageVisibleManager, PageVisibleQuerySet, checks, contract, versions
from mall.tests.test_pagecache import HOME, MY_ORDERS, cached, fresh, hit, order_url, sign_in
from orders.models import Order, OrderLine
from orders.tests.factories import order_in

S = Order.Status


def badge(response) -> int:
    """The unread count in the page's header."""
    match = re.search(r'data-testid="unread-badge">(\d+)', response.text)
    return int(match.group(1)) if match else 0


def errors_of(*ids) -> list:
    return [error for error in checks.check_contract() if error.id in ids]


@pytest.fixture
def declarations(monkeypatch):
    """Change an app's declarations for one test: they are read again now and after it."""
    contract.forget()
    yield lambda label: apps.get_app_config(label)
    contract.forget()


# --- the check --------------------------------------------------------------------------


@pytest.mark.once
class TestTheCheck:
    def test_the_project_keeps_the_contract(self):
        assert checks.check_contract() == []
        call_command("check", verbosity=0)  # registered: manage.py check runs it

    def test_a_customer_model_no_app_declares_fails_it(self, declarations, monkeypatch):
        monkeypatch.delitem(declarations("orders").page_cache_customer_models, "CartItem")
        [error] = errors_of("pagecache.E001")
        assert error.obj is apps.get_model("orders.CartItem")
        assert "orders.CartItem has a foreign-key path to the user" in error.msg
        with pytest.raises(SystemCheckError, match="pagecache.E001"):
            call_command("check", verbosity=0)

    @isolate_apps("orders")
    def test_a_new_model_with_a_path_to_the_user_fails_it(self):
        class Voucher(models.Model):  # noqa: DJ008 (a test's model)
            owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE)

            class Meta:
                app_label = "orders"

        class VoucherUse(models.Model):  # noqa: DJ008 (a test's model); two foreign keys away
            voucher = models.ForeignKey(Voucher, models.CASCADE)

            class Meta:
                app_label = "orders"

        class Counter(models.Model):  # noqa: DJ008 (a test's model); no path to the user, but a project model all the same
            value = models.IntegerField()

            class Meta:
                app_label = "orders"

        found = checks.model_errors(contract.current(), [Voucher, VoucherUse, Counter])
        assert [(error.obj, error.id) for error in found] == [
            (Voucher, "pagecache.E001"),
            (VoucherUse, "pagecache.E001"),
            (Counter, "pagecache.E002"),
        ]
        assert "orders/apps.py" in found[0].hint

    @isolate_apps("django.contrib.admin")
    def test_a_model_of_another_package_is_exempted_in_mall(self):
        class Note(models.Model):  # noqa: DJ008 (a test's model)
            author = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE)

            class Meta:
                app_label = "admin"

        class Tally(models.Model):  # noqa: DJ008 (a test's model); another package's, with no path to the user: not the project's to classify
            value = models.IntegerField()

            class Meta:
                app_label = "admin"

        [error] = checks.model_errors(contract.current(), [Note, Tally])
        assert error.obj is Note and error.id == "pagecache.E001"
        assert "OTHER_APPS_EXEMPT" in error.hint

    def test_a_declaration_must_name_a_model_once_and_an_exemption_say_why(self, declarations, monkeypatch):
        monkeypatch.setitem(declarations("orders").page_cache_customer_models, "Coupon", "customer_id")
        monkeypatch.setattr(declarations("orders"), "page_cache_shared_models", ("Agreement", "Order"))
        monkeypatch.setitem(declarations("orders").page_cache_exempt_models, "DailySerial", " ")
        messages = sorted(error.msg for error in errors_of("pagecache.E003"))
        assert messages == [
            "orders.DailySerial is exempt from the page cache without a reason.",
            "orders/apps.py declares Coupon for the page cache, but orders has no such model.",
            "orders/apps.py declares orders.Order more than once for the page cache.",
        ]

    @pytest.mark.parametrize(
        "label, path, problem",
        [
            ("orders.OrderLine", "order__customer_id", None),
            ("invoicing.InvoiceLine", "invoice__order__customer_id", None),
            ("accounts.User", "pk", None),
            ("orders.Order", "pk", 'the path "pk" is only for the user model itself.'),
            ("orders.Order", "customer", 'the path "customer" must end with the column of the user\'s id, "customer_id".'),
            ("orders.OrderLine", "order_id", 'the path "order_id" does not end at the user: orders.OrderLine.order points to orders.Order.'),
            ("orders.OrderLine", "order__buyer_id", 'the path "order__buyer_id": orders.Order has no field buyer_id.'),
            ("orders.OrderLine", "quantity", 'the path "quantity": orders.OrderLine.quantity is not a foreign key.'),
        ],
    )
    def test_a_customer_path_must_end_at_the_users_id(self, label, path, problem):
        assert checks.path_problem(apps.get_model(label), path) == problem

    def test_a_wrong_customer_path_fails_it(self, declarations, monkeypatch):
        monkeypatch.setitem(declarations("orders").page_cache_customer_models, "OrderLine", "order_id")
        [error] = errors_of("pagecache.E004")
        assert error.msg.startswith("orders.OrderLine: ")

    @isolate_apps("orders")
    def test_a_declared_models_managers_must_bump(self):
        class Plain(models.Model):  # noqa: DJ008 (a test's model)
            objects = models.Manager()

            class Meta:
                app_label = "orders"

        class Bumping(models.Model):  # noqa: DJ008 (a test's model)
            objects = PageVisibleManager()
            also = models.Manager()  # noqa: DJ012 (a second manager, not a field)

            class Meta:
                app_label = "orders"

        class Fine(models.Model):  # noqa: DJ008 (a test's model)
            objects = PageVisibleManager()

            class Meta:
                app_label = "orders"

        found = checks.manager_errors([Plain, Bumping, Fine])
        assert [error.msg.split(":")[0] for error in found] == ["orders.Plain.objects", "orders.Bumping.also"]
        assert {error.id for error in found} == {"pagecache.E005"}

    def test_a_declared_view_that_is_not_routed_fails_it(self, declarations, monkeypatch):
        catalog = declarations("catalog")
        monkeypatch.setattr(catalog, "page_cache_views", (*catalog.page_cache_views, "no-such-page", "key-finder"))
        found = errors_of("pagecache.E006")
        assert [error.msg.split()[5] for error in found] == ["catalog:key-finder", "catalog:no-such-page"]

    def test_a_cacheable_view_that_is_not_declared_fails_it(self, declarations, monkeypatch):
        monkeypatch.setattr(declarations("catalog"), "page_cache_views", ("home", "service-list"))
        [error] = errors_of("pagecache.E007")
        assert "catalog.views.service_detail is marked @cacheable, but its URL name catalog:service-detail is not declared" in error.msg
        assert "catalog:service-detail" not in contract.current().views

    def test_the_catalogues_session_value_is_the_one_its_views_keep(self):
        assert apps.get_app_config("catalog").page_cache_session_values == (catalog_views.SESSION_KEY_LINE,)


@pytest.mark.once
class TestEveryDeclaredModelBumps:
    def declared(self):
        return checks.declared_models(contract.current())

    def test_with_its_default_and_every_other_manager(self):
        assert len(self.declared()) >= 20
        for model in self.declared():
            assert isinstance(model._default_manager.all(), PageVisibleQuerySet), model
            assert isinstance(model.objects.all(), PageVisibleQuerySet), model

    def test_through_the_related_managers_too(self):
        declared = set(self.declared())
        seen = 0
        for model in declared:
            for relation in model._meta.get_fields():
                if relation.one_to_many and relation.auto_created and relation.related_model in declared:
                    manager = getattr(model(pk=1), relation.get_accessor_name())
                    assert isinstance(manager.all(), PageVisibleQuerySet), f"{model._meta.label}.{relation.get_accessor_name()}"
                    seen += 1
        assert seen >= 10  # order.lines, user.messages, invoice.lines, …


# --- what a bulk write now does ---------------------------------------------------------


@pytest.mark.django_db
class TestBulkWritesMakePagesStale:
    """update() and bulk_create() send no post_save: the queryset bumps instead. Each test
    first proves the page was a hit, so a stale page would be seen."""

    def version(self, user):
        versions.bump_pending()  # a read inside the test's transaction, as the page cache's
        return cache.get(versions.customer_version_key(user.pk))

    def test_marking_messages_read_outside_a_request(self):
        alice = UserFactory()
        as_alice = sign_in(alice)
        account_services.message_send(user=alice, title="您的订单已审核")
        assert badge(cached(as_alice, HOME)) == 1
        account_services.message_mark_all_read(user=alice)  # no POST of hers bumps
        assert badge(fresh(as_alice, HOME)) == 0

    def test_an_update_of_order_lines_shows_on_the_order_page(self):
        alice = UserFactory()
        as_alice = sign_in(alice)
        order = order_in(S.IN_TRADE, customer=alice)
        cached(as_alice, order_url(order))
        end = timezone.localdate() + timedelta(days=400)
        OrderLine.objects.filter(order=order).update(service_end=end)
        assert end.isoformat() in fresh(as_alice, order_url(order)).text

    def test_an_update_that_moves_rows_makes_both_customers_pages_stale(self):
        alice, bob = UserFactory(), UserFactory()
        order = order_in(S.AWAITING_PAYMENT, customer=alice)
        before = (self.version(alice), self.version(bob))
        Order.objects.filter(pk=order.pk).update(customer=bob)
        after = (self.version(alice), self.version(bob))
        assert after[0] != before[0] and after[1] != before[1]

    def test_an_update_that_changes_nothing_bumps_nothing(self):
        alice = UserFactory()
        as_alice = sign_in(alice)
        cached(as_alice, MY_ORDERS)
        assert Message.objects.filter(user=alice).update(read_at=timezone.now()) == 0
        hit(as_alice, MY_ORDERS)

    def test_bulk_create_makes_the_customers_pages_stale(self):
        alice = UserFactory()
        as_alice = sign_in(alice)
        assert badge(cached(as_alice, HOME)) == 0
        Message.objects.bulk_create([Message(user=alice, title="一"), Message(user=alice, title="二")])
        assert badge(fresh(as_alice, HOME)) == 2

    def test_a_bulk_update_of_the_catalogue_makes_every_page_stale(self, client):
        from catalog.tests.factories import ServiceFactory

        service = ServiceFactory(name="E3-旧名字", featured=True)
        assert "E3-旧名字" in cached(client, reverse("catalog:service-list")).text
        Service.objects.filter(pk=service.pk).update(name="E3-新名字")  # updated_at untouched
        assert "E3-新名字" in fresh(client, reverse("catalog:service-list")).text
