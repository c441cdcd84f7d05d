import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import GROUP_CATALOG
from accounts.tests.factories import UserFactory
from catalog.models import Service
from catalog.tests.factories import ModuleFactory, PlatformFactory, ProductLineFactory, ServiceFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

SERVICE_CHANGELIST = reverse("admin:catalog_service_changelist")


@pytest.fixture
def operator_client(client):
    client.force_login(UserFactory(staff=True, groups=[GROUP_CATALOG]))
    return client


def post_action(client, action, services):
    return client.post(
        SERVICE_CHANGELIST, {"action": action, "_selected_action": [s.pk for s in services]}, follow=True
    )


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


class TestServiceChangelist:
    def changelist_queries(self, client):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(SERVICE_CHANGELIST)
        assert response.status_code == 200
        return len(queries)

    def test_query_count_does_not_grow_with_rows(self, operator_client):
        ServiceFactory.create_batch(5)
        with_5 = self.changelist_queries(operator_client)
        ServiceFactory.create_batch(25)
        assert self.changelist_queries(operator_client) == with_5

    def test_lists_name_line_platform_and_module(self, operator_client):
        service = ServiceFactory()
        response = operator_client.get(SERVICE_CHANGELIST)
        for text in (service.name, service.product_line.name, service.platform.name, service.module.name):
            assert text in response.text

    def test_filters_by_refundable_platform(self, operator_client):
        refundable = ServiceFactory(platform=PlatformFactory(refundable=True))
        not_refundable = ServiceFactory(platform=PlatformFactory(refundable=False))
        response = operator_client.get(SERVICE_CHANGELIST, {"platform__refundable__exact": "1"})
        assert list(response.context["cl"].result_list) == [refundable]
        assert not_refundable.name not in response.text

    def test_search_matches_module_name(self, operator_client):
        wanted = ServiceFactory(module=ModuleFactory(name="库存同步服务"))
        ServiceFactory()
        response = operator_client.get(SERVICE_CHANGELIST, {"q": "库存"})
        assert list(response.context["cl"].result_list) == [wanted]


class TestServiceActionsAsOperator:
    def test_deactivate_selected(self, operator_client):
        chosen = ServiceFactory.create_batch(2)
        other = ServiceFactory()
        response = post_action(operator_client, "deactivate_selected", chosen)
        assert response.status_code == 200
        assert not Service.objects.filter(pk__in=[s.pk for s in chosen], active=True).exists()
        assert Service.objects.get(pk=other.pk).active
        assert "2 services were deactivated." in messages_of(response)

    def test_activate_selected_counts_only_rows_that_changed(self, operator_client):
        inactive = ServiceFactory(active=False)
        active = ServiceFactory(active=True)
        before = Service.objects.get(pk=active.pk).updated_at
        response = post_action(operator_client, "activate_selected", [inactive, active])
        assert Service.objects.get(pk=inactive.pk).active
        assert Service.objects.get(pk=active.pk).updated_at == before
        assert "1 service was activated." in messages_of(response)

    def test_feature_and_unfeature_selected(self, operator_client):
        service = ServiceFactory(featured=False)
        post_action(operator_client, "feature_selected", [service])
        assert Service.objects.get(pk=service.pk).featured
        post_action(operator_client, "unfeature_selected", [service])
        assert not Service.objects.get(pk=service.pk).featured

    def test_deactivating_stamps_updated_at(self, operator_client):
        service = ServiceFactory()
        before = Service.objects.get(pk=service.pk).updated_at
        post_action(operator_client, "deactivate_selected", [service])
        assert Service.objects.get(pk=service.pk).updated_at > before


class TestServiceActionsAsReviewer:
    """订单审核 may view the catalog but not change it."""

    def test_can_view_changelist_without_actions(self, reviewer_client):
        ServiceFactory()
        response = reviewer_client.get(SERVICE_CHANGELIST)
        assert response.status_code == 200
        assert "deactivate_selected" not in response.text

    @pytest.mark.parametrize(
        "action", ["activate_selected", "deactivate_selected", "feature_selected", "unfeature_selected"]
    )
    def test_actions_change_nothing(self, reviewer_client, action):
        services = [ServiceFactory(active=True, featured=False), ServiceFactory(active=False, featured=True)]
        post_action(reviewer_client, action, services)
        assert sorted(Service.objects.values_list("active", "featured")) == [(False, True), (True, False)]

    def test_cannot_edit_a_service(self, reviewer_client):
        service = ServiceFactory()
        response = reviewer_client.post(reverse("admin:catalog_service_change", args=[service.pk]), {"name": "x"})
        assert response.status_code == 403


class TestCatalogChangelists:
    @pytest.mark.parametrize("model", ["productline", "platform", "module", "service"])
    def test_operator_sees_every_catalog_changelist(self, operator_client, model):
        ServiceFactory()
        assert operator_client.get(reverse(f"admin:catalog_{model}_changelist")).status_code == 200

    def test_product_lines_show_their_service_count(self, operator_client):
        line = ProductLineFactory()
        ServiceFactory.create_batch(3, product_line=line)
        response = operator_client.get(reverse("admin:catalog_productline_changelist"))
        [row] = response.context["cl"].result_list
        assert row.service_count == 3

    def test_sort_and_active_are_editable_in_the_list(self, operator_client):
        line = ProductLineFactory(sort=5, active=True)
        response = operator_client.post(
            reverse("admin:catalog_productline_changelist"),
            {
                "form-TOTAL_FORMS": "1",
                "form-INITIAL_FORMS": "1",
                "form-0-id": str(line.pk),
                "form-0-sort": "1",
                "_save": "Save",
            },
        )
        assert response.status_code == 302
        line.refresh_from_db()
        assert (line.sort, line.active) == (1, False)
