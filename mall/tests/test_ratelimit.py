"""Rate limits (mall/ratelimit.py) through the public pages: the (N+1)-th POST within a
window is answered 429 with a translated page and does nothing; GETs, other clients and
other customers go on. The limits are settings.RATE_LIMITS, read on each request, so the
tests set small ones."""

import os
import random
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import PASSWORD, InvoiceProfileFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from orders.models import Order, PaymentProof
from orders.tests.factories import DETAILS, AgreementFactory, submitted_order
from orders.tests.test_payment_proofs import png_bytes, upload

BASE_DIR = Path(__file__).resolve().parent.parent.parent
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
LOGIN_URL = reverse("accounts:login")
REGISTER_URL = reverse("accounts:register")

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    """Three POSTs per window for every group (a day: no window ends during a test)."""
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, "3/d")
    return 3


def sign_in(client, username, password="wrong-password"):
    return client.post(LOGIN_URL, {"username": username, "password": password})


def register_data(n):
    return {
        "username": f"newcomer{n}",
        "email": f"newcomer{n}@example.com",
        "real_name": "张三",
        "mobile": "",
        "company": "",
        "password1": "fresh-pass-2026-x",
        "password2": "fresh-pass-2026-x",
    }


def checkout_data(*, service, agreement, profile):
    return {
        "invoice_profile": str(profile.pk),
        **DETAILS,
        f"quantity_{service.pk}": "1",
        "agreement": str(agreement.pk),
        "agreement_accepted": "on",
        "payment_method": "third_party",
        "checkout_token": str(uuid.uuid4()),
    }


def assert_refused(response, *, language="zh-hans"):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response.templates[0].name == "429.html"
    assert f'lang="{language}"' in response.text


class TestSignIn:
    def test_the_limit_is_per_ip_across_usernames(self, limits):
        user = UserFactory()
        client = Client(REMOTE_ADDR="10.20.0.1")
        for n in range(limits):
            assert sign_in(client, f"nobody{n}").status_code == 200  # the form again, with its error
        refused = sign_in(client, user.username, PASSWORD)
        assert_refused(refused)
        assert "_auth_user_id" not in client.session  # the right password did not sign in

    def test_another_ip_and_a_get_still_pass(self, limits):
        user = UserFactory()
        crowded = Client(REMOTE_ADDR="10.20.0.2")
        for n in range(limits + 1):
            sign_in(crowded, f"nobody{n}")
        assert crowded.get(LOGIN_URL).status_code == 200
        other = Client(REMOTE_ADDR="10.20.0.3")
        response = sign_in(other, user.username, PASSWORD)
        assert response.status_code == 302
        assert other.session["_auth_user_id"] == str(user.pk)

    def test_the_page_speaks_english_when_chosen(self, limits):
        client = Client(REMOTE_ADDR="10.20.0.4")
        client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
        for n in range(limits):
            sign_in(client, f"nobody{n}")
        refused = sign_in(client, "nobody")
        assert_refused(refused, language="en")
        assert "Too many requests" in refused.text
        assert "nothing was changed" in refused.text

    def test_htmx_gets_a_fragment_to_show(self, limits):
        client = Client(REMOTE_ADDR="10.20.0.5")
        for n in range(limits):
            sign_in(client, f"nobody{n}")
        refused = client.post(LOGIN_URL, {"username": "x", "password": "y"}, HTTP_HX_REQUEST="true")
        assert refused.status_code == 429
        assert "<html" not in refused.text
        assert 'data-testid="rate-limited"' in refused.text

    def test_the_refusal_is_logged(self, limits, caplog):
        client = Client(REMOTE_ADDR="10.20.0.6")
        for n in range(limits + 1):
            sign_in(client, f"nobody{n}")
        assert any(
            r.name == "mall.ratelimit" and "sign-in" in r.getMessage() and "10.20.0.6" in r.getMessage()
            for r in caplog.records
        )

    def test_rate_limit_enable_false_turns_the_limits_off(self, limits, settings):
        settings.RATELIMIT_ENABLE = False
        client = Client(REMOTE_ADDR="10.20.0.7")
        assert [sign_in(client, f"nobody{n}").status_code for n in range(limits + 2)] == [200] * (limits + 2)


def test_registration_is_limited_per_ip_and_the_refused_one_creates_no_user(limits):
    for n in range(limits):
        response = Client(REMOTE_ADDR="10.30.0.1").post(REGISTER_URL, register_data(n))
        assert response.status_code == 302, response.context["form"].errors if response.context else response
    users = User.objects.count()
    assert_refused(Client(REMOTE_ADDR="10.30.0.1").post(REGISTER_URL, register_data(99)))
    assert User.objects.count() == users
    assert not User.objects.filter(username="newcomer99").exists()
    assert Client(REMOTE_ADDR="10.30.0.2").post(REGISTER_URL, register_data(98)).status_code == 302


def test_checkout_is_limited_per_customer_and_the_refused_one_orders_nothing(limits):
    service, agreement = ServiceFactory(), AgreementFactory()
    customer, neighbour = UserFactory(), UserFactory()
    client = Client(REMOTE_ADDR="10.40.0.1")
    client.force_login(customer, backend=MODEL_BACKEND)
    profile = InvoiceProfileFactory(user=customer, is_default=True)
    url = reverse("orders:checkout", args=[service.pk])
    for _ in range(limits):
        assert client.post(url, checkout_data(service=service, agreement=agreement, profile=profile)).status_code == 302
    assert Order.objects.filter(customer=customer).count() == limits
    assert_refused(client.post(url, checkout_data(service=service, agreement=agreement, profile=profile)))
    # the 清单's checkout shares the counter
    assert_refused(client.post(reverse("orders:checkout-cart"), {}))
    assert Order.objects.filter(customer=customer).count() == limits
    assert client.get(url).status_code == 200
    # the same address, another customer: counted apart
    other = Client(REMOTE_ADDR="10.40.0.1")
    other.force_login(neighbour, backend=MODEL_BACKEND)
    neighbour_profile = InvoiceProfileFactory(user=neighbour, is_default=True)
    response = other.post(url, checkout_data(service=service, agreement=agreement, profile=neighbour_profile))
    assert response.status_code == 302
    assert Order.objects.filter(customer=neighbour).count() == 1


def test_remittance_slip_uploads_are_limited_per_customer_and_the_refused_one_stores_nothing(limits):
    order = submitted_order()
    client = Client()
    client.force_login(order.customer, backend=MODEL_BACKEND)
    url = reverse("orders:payment-proof", args=[order.number])
    for n in range(limits):
        response = client.post(url, {"file": upload(png_bytes(color=(n, 0, 0)))})
        assert response.status_code == 302
    assert PaymentProof.objects.filter(order=order).count() == limits
    assert_refused(client.post(url, {"file": upload(png_bytes())}))
    assert PaymentProof.objects.filter(order=order).count() == limits
    assert client.get(url).status_code == 200


def test_a_malformed_rate_stops_the_settings_from_loading():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "RATELIMIT_"))}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "mall.settings.local", "RATELIMIT_CHECKOUT": "30 per minute"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "RATELIMIT_CHECKOUT" in result.stderr or "checkout" in result.stderr


def test_with_the_cache_unreachable_requests_pass_instead_of_failing(settings):
    """Redis down (a port nobody listens on): mall.cache fails open, so do the limits."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "mall.cache.FailOpenRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign-in": "1/d"}
    client = Client(REMOTE_ADDR="10.60.0.1")
    assert [sign_in(client, f"nobody{n}").status_code for n in range(3)] == [200, 200, 200]


# --- The shared counter on Redis ---------------------------------------------------------

OTHER_PROCESS = textwrap.dedent(
    """
    import os

    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse
    from django.test import RequestFactory

    from mall.ratelimit import rate_limit

    view = rate_limit("sign-in", key="ip")(lambda request: HttpResponse("ok"))
    for _ in range(2):
        request = RequestFactory().post("/accounts/login/", REMOTE_ADDR=os.environ["CLIENT_IP"])
        request.user = AnonymousUser()
        print("status", view(request).status_code)
    print("backend", settings.CACHES["default"]["BACKEND"])
    """
)


@pytest.mark.redis
def test_web_processes_share_the_counter_in_redis(settings):
    """Two POSTs here, two in another process (the settings' own Redis cache from
    REDIS_URL), then one here again: the limit of 3 holds across both. A fresh address
    per run, so counters left by an earlier run (they expire) do not count."""
    url = os.environ["REDIS_URL"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "sign-in": "3/d"}
    ip = f"10.50.{random.randrange(256)}.{random.randrange(256)}"
    client = Client(REMOTE_ADDR=ip)
    assert [sign_in(client, f"nobody{n}").status_code for n in range(2)] == [200, 200]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "RATELIMIT_", "DATABASE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="mall.settings.local", REDIS_URL=url, RATELIMIT_SIGN_IN="3/d", CLIENT_IP=ip)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", OTHER_PROCESS],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert [line for line in lines if line.startswith("status")] == ["status 200", "status 429"]
    assert "Redis" in next(line for line in lines if line.startswith("backend"))
    assert sign_in(client, "nobody").status_code == 429
    elsewhere = f"10.51.{random.randrange(256)}.{random.randrange(256)}"
    assert sign_in(Client(REMOTE_ADDR=elsewhere), "nobody").status_code == 200
