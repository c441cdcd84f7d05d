"""Every page a customer can open renders in Chinese by default and in English on request."""

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ServiceFactory

PUBLIC = ["catalog:home", "catalog:service-list", "catalog:key-finder", "help", "accounts:login", "accounts:register",
          "accounts:password-reset", "accounts:password-reset-done"]
SIGNED_IN = ["accounts:profile", "accounts:password", "accounts:product-keys", "accounts:addresses",
             "accounts:invoice-profiles", "accounts:messages", "inquiries:list", "orders:list", "invoicing:list",
             "refunds:list"]


@pytest.fixture
def service(db):
    return ServiceFactory(name="E3-京东开放平台对接服务")


def assert_renders_in(client, urls, language, marker):
    if language != "zh-hans":
        client.cookies["django_language"] = language
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert f'<html lang="{language}">' in response.text, url
        assert marker in response.text, url


@pytest.mark.django_db
@pytest.mark.parametrize("language, marker", [("zh-hans", "云市场"), ("en", "Cloud Mall")])
def test_every_public_page_renders_in_both_languages(client, service, language, marker):
    urls = [reverse(name) for name in PUBLIC] + [service.get_absolute_url()]
    assert_renders_in(client, urls, language, marker)


@pytest.mark.django_db
@pytest.mark.parametrize("language, marker", [("zh-hans", "云市场"), ("en", "Cloud Mall")])
def test_every_user_centre_page_renders_in_both_languages(client, service, language, marker):
    client.force_login(UserFactory(), backend="django.contrib.auth.backends.ModelBackend")
    urls = [reverse(name) for name in SIGNED_IN] + [reverse("orders:checkout", args=[service.pk])]
    assert_renders_in(client, urls, language, marker)


@pytest.mark.django_db
@pytest.mark.parametrize("name", SIGNED_IN)
def test_user_centre_pages_need_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")
