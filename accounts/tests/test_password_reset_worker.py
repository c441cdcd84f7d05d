"""The password-reset email sent by a real Celery worker that takes the task from the
real Redis broker (the redis tier). The email task itself: mall/tests/test_email.py."""

import email
import email.policy
import os
import re
import time
import uuid

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from accounts.tests.factories import UserFactory
from mall.celery import app as celery_app
from tests.support.helpers import (
    celery_publishing_to,
    celery_worker_start,
    process_stop,
    redis_queue_delete,
    wait_for,
)

RESET_LINK = re.compile(r"http://testserver/accounts/password-reset/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)/")
WORKER_WAIT_SECONDS = 30


# --- A real worker on the real Redis ----------------------------------------------


@pytest.fixture
def redis_worker(tmp_path):
    """A Celery worker process consuming a queue of its own on the real Redis; the
    test process publishes to that queue. Yields (worker, queue, mail_dir, log_path)."""
    redis_url = os.environ["REDIS_URL"]
    queue = f"test-accounts-{uuid.uuid4().hex}"
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mall.settings.local",
        "REDIS_URL": redis_url,
        "EMAIL_URL": f"filemail:///{mail_dir}",  # four slashes: django-environ's absolute path
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
    }
    env.pop("CELERY_BROKER_URL", None)
    worker = celery_worker_start(queue=queue, env=env, log_path=log_path)
    try:
        with celery_publishing_to(celery_app, redis_url, queue):
            yield worker, queue, mail_dir, log_path
    finally:
        process_stop(worker)
        redis_queue_delete(redis_url, queue)


def _wait_for_email_file(worker, mail_dir, log_path):
    def written():
        files = sorted(mail_dir.glob("*.log"))
        return files if files and files[0].stat().st_size else None

    files = wait_for(
        written, WORKER_WAIT_SECONDS, "email from the worker", interval=0.2, processes=[worker],
        logs=lambda: log_path.read_text(errors="replace"),
    )
    time.sleep(0.2)  # the backend writes and closes the file in one go; let it finish
    return files


def _parse_email_file(path):
    raw = path.read_bytes().split(b"\n" + b"-" * 79 + b"\n")[0]
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.mark.redis
@pytest.mark.django_db
def test_password_reset_email_is_sent_by_a_real_worker_through_redis(
    client, redis_worker, django_capture_on_commit_callbacks
):
    import redis

    worker, queue, mail_dir, log_path = redis_worker
    user = UserFactory()
    assert celery_app.connection_for_write().transport.driver_type == "redis"

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post("/accounts/password-reset/", {"email": user.email})

    assert response.status_code == 302
    assert len(callbacks) == 1
    assert mail.outbox == [], "the task ran in the test process instead of on the worker"
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        assert broker.exists(f"_kombu.binding.{queue}"), "the task was not published to Redis"
    finally:
        broker.close()

    files = _wait_for_email_file(worker, mail_dir, log_path)

    assert len(files) == 1
    message = _parse_email_file(files[0])
    with translation.override(django_settings.LANGUAGE_CODE):
        expected_subject = "".join(render_to_string("accounts/emails/password_reset_subject.txt").splitlines())
    assert message["Subject"] == expected_subject
    assert message["To"] == user.email
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    link = RESET_LINK.search(plain)
    assert link, plain
    assert link[0] in html
    assert int(force_str(urlsafe_base64_decode(link["uid"]))) == user.pk
    assert default_token_generator.check_token(user, link["token"])
