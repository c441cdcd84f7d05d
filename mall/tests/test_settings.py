"""Settings as operators meet them: the production checks and the documented environment."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.once  # settings and manage.py checks: the database backend changes nothing here

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "mall.settings.production",
    "DJANGO_SECRET_KEY": "k3y-" + "x7Q!p9Z@m2#v5&L8" * 4,
    "DJANGO_ALLOWED_HOSTS": "shop.example.com",
}


def manage(*args, env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def signing_pair(tmp_path):
    """The seller's key and certificate, as production configures them."""
    from invoicing.tests.conftest import write_signing_pair

    key, cert = write_signing_pair(tmp_path, "上海测试软件有限公司")
    return {"SIGNING_KEY": key, "SIGNING_CERT": cert}


def test_check_deploy_refuses_the_development_signing_key():
    result = manage("check", "--deploy", env=PRODUCTION_ENV)
    assert result.returncode != 0
    assert "invoicing.E001" in result.stderr + result.stdout


def test_check_deploy_refuses_a_signing_key_that_does_not_load(signing_pair, tmp_path):
    broken = tmp_path / "broken.pem"
    broken.write_text("not a key")
    result = manage("check", "--deploy", env={**PRODUCTION_ENV, **signing_pair, "SIGNING_KEY": str(broken)})
    assert result.returncode != 0
    assert "invoicing.E003" in result.stderr + result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_every_variable_read_by_the_settings_is_in_env_example():
    source = "\n".join(p.read_text() for p in (BASE_DIR / "mall" / "settings").glob("*.py"))
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (BASE_DIR / ".env.example").read_text(), re.MULTILINE))
    assert read, "no variables found: the pattern above no longer matches the settings"
    assert read <= documented, f"missing from .env.example: {sorted(read - documented)}"


def test_local_defaults_are_sqlite_chinese_shanghai_and_in_process_tasks():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.LANGUAGE_CODE, s.TIME_ZONE, s.CELERY_TASK_ALWAYS_EAGER)",
        env={"DJANGO_SETTINGS_MODULE": "mall.settings.local"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == ["django.db.backends.sqlite3", "zh-hans", "Asia/Shanghai", "True"]


def test_seller_details_come_from_the_environment():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.SELLER['hotline'], s.SELLER['seal_filing_number'])",
        env={"DJANGO_SETTINGS_MODULE": "mall.settings.local", "SELLER_HOTLINE": "400-111-2222", "SELLER_SEAL_FILING_NUMBER": "SEAL-42"},
    )
    assert result.stdout.split()[-2:] == ["400-111-2222", "SEAL-42"]


@pytest.mark.django_db
def test_redis_url_switches_cache_and_broker(settings):
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.CACHES['default']['BACKEND'], s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER)",
        env={"DJANGO_SETTINGS_MODULE": "mall.settings.local", "REDIS_URL": "redis://127.0.0.1:6379/3"},
    )
    backend, broker, eager = result.stdout.split()[-3:]
    assert backend.endswith("RedisCache")  # Django's, or mall.cache's fail-open subclass
    assert (broker, eager) == ("redis://127.0.0.1:6379/3", "False")


def test_admin_path_comes_from_admin_url():
    result = manage(
        "shell",
        "-c",
        "from django.urls import reverse; print(reverse('admin:index'))",
        env={"DJANGO_SETTINGS_MODULE": "mall.settings.local", "ADMIN_URL": "backoffice-7f3a/"},
    )
    assert result.stdout.split()[-1] == "/backoffice-7f3a/"


@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:6379/0"], ids=["no-redis", "redis"])
def test_production_settings_pass_check_deploy_without_any_message(signing_pair, redis_url):
    """`--fail-level DEBUG`: not even a warning, with the per-process cache or Redis (the
    rate limiter's cache checks included: its counters live in the default cache)."""
    env = {**PRODUCTION_ENV, **signing_pair, **({"REDIS_URL": redis_url} if redis_url else {})}
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# Every setting production gives the cookies and the transport, read from
# mall.settings.production itself and then applied to this process's settings.
PRODUCTION_TRANSPORT_SETTINGS = [
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SAMESITE",
    "LANGUAGE_COOKIE_SECURE",
    "LANGUAGE_COOKIE_SAMESITE",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
]


@pytest.fixture(scope="module")
def production_transport():
    code = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {PRODUCTION_TRANSPORT_SETTINGS!r}}}))"
    )
    result = manage("shell", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


@pytest.mark.django_db
def test_production_cookies_are_secure_httponly_and_same_site(production_transport, settings, client):
    from accounts.tests.factories import PASSWORD, UserFactory

    for name, value in production_transport.items():
        setattr(settings, name, value)
    user = UserFactory()
    behind_proxy = {"HTTP_X_FORWARDED_PROTO": "https"}

    page = client.get("/accounts/login/", **behind_proxy)
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    signed_in = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}, **behind_proxy)
    assert signed_in.status_code == 302
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/"}, **behind_proxy)
    assert switched.status_code == 302

    cookies = {**page.cookies, **signed_in.cookies, **switched.cookies}
    for name in ("sessionid", "csrftoken"):
        cookie = cookies[name]
        assert (cookie["secure"], cookie["httponly"], cookie["samesite"]) == (True, True, "Lax"), name
    assert cookies["django_language"]["secure"] is True

    plain = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="http")
    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")


LOCAL_PLAIN_HTTP_SETTINGS = [
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "LANGUAGE_COOKIE_SECURE",
]


def test_local_plain_http_on_loopback_hosts_turns_off_the_redirect_hsts_and_secure_cookies():
    code = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {LOCAL_PLAIN_HTTP_SETTINGS!r}}}))"
    )
    env = {**PRODUCTION_ENV, "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,[::1]", "LOCAL_PLAIN_HTTP": "1"}
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "LANGUAGE_COOKIE_SECURE": False,
    }


@pytest.mark.parametrize("hosts", ["shop.example.com", "127.0.0.1,shop.example.com", "*", "0.0.0.0", ""])
def test_local_plain_http_refuses_to_start_unless_every_host_is_loopback(hosts):
    result = manage("check", env={**PRODUCTION_ENV, "DJANGO_ALLOWED_HOSTS": hosts, "LOCAL_PLAIN_HTTP": "1"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "LOCAL_PLAIN_HTTP is for local scans and benchmarks only" in result.stderr


def test_check_deploy_warns_about_everything_local_plain_http_turns_off(signing_pair):
    env = {**PRODUCTION_ENV, **signing_pair, "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "LOCAL_PLAIN_HTTP": "1"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stdout + result.stderr, check
