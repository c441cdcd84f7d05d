import os

import pytest
from django.urls import reverse


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: pytest-django makes any database access here an error.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_the_database(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_when_configured_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "unavailable"}


@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_reports_the_real_redis(client, settings):
    settings.REDIS_URL = os.environ["REDIS_URL"]
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.mark.django_db
def test_help_page_shows_the_sellers_contacts(client, settings):
    settings.SELLER = {**settings.SELLER, "hotline": "400-820-1234", "online_service_url": "https://help.example/chat"}
    text = client.get(reverse("help")).text
    assert "400-820-1234" in text and "https://help.example/chat" in text


@pytest.mark.django_db
def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "页面不存在" in response.text


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_over_plain_http_from_any_host_in_production(client, settings, path):
    """Orchestrators probe by IP over http: no https redirect, no host check in the way."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.REDIS_URL = ""
    response = client.get(path, HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_other_pages_still_redirect_to_https_in_production(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    response = client.get("/help/", HTTP_HOST="shop.example.com")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


def test_probes_refuse_writes(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_admin_sign_in_is_locked_after_five_failures(client):
    from accounts.tests.factories import PASSWORD, UserFactory

    staff = UserFactory(staff=True)
    url = reverse("admin:login")
    for _ in range(5):
        client.post(url, {"username": staff.username, "password": "wrong"}, REMOTE_ADDR="10.9.9.9")
    response = client.post(url, {"username": staff.username, "password": PASSWORD}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_admin_shows_the_sites_chinese_name(admin_client):
    assert "云市场管理后台" in admin_client.get(reverse("admin:index")).text
