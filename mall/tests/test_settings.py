"""Settings as operators meet them: the production checks and the documented environment."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

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
    from invoicing.signing import _self_signed_pair

    key_pem, cert_pem = _self_signed_pair("上海测试软件有限公司")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    key.write_bytes(key_pem)
    cert.write_bytes(cert_pem)
    return {"SIGNING_KEY": str(key), "SIGNING_CERT": str(cert)}


def test_production_settings_pass_check_deploy_without_warnings(signing_pair):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION_ENV, **signing_pair})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


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
    assert result.stdout.split()[-3:] == ["django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:6379/3", "False"]


def test_admin_path_comes_from_admin_url():
    result = manage(
        "shell",
        "-c",
        "from django.urls import reverse; print(reverse('admin:index'))",
        env={"DJANGO_SETTINGS_MODULE": "mall.settings.local", "ADMIN_URL": "backoffice-7f3a/"},
    )
    assert result.stdout.split()[-1] == "/backoffice-7f3a/"
