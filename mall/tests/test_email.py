"""Sending an email (mall.email) and its task (mall.tasks), in-process: Celery is eager
in mall.settings.test. On a real worker through Redis: accounts/tests/test_password_reset_worker.py."""

from django.core import mail

from mall.email import email_send
from mall.tasks import email_send_task


def test_email_send_sends_plain_text_with_an_html_alternative():
    email_send(
        subject="主题", body="正文", to=["a@example.com"], html_body="<p>正文</p>", from_email="shop@example.com"
    )

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert (message.subject, message.body, message.to, message.from_email) == (
        "主题",
        "正文",
        ["a@example.com"],
        "shop@example.com",
    )
    assert message.alternatives == [("<p>正文</p>", "text/html")]


def test_email_send_without_html_sends_plain_text_from_the_default_sender(settings):
    email_send(subject="主题", body="正文", to=["a@example.com"])

    assert len(mail.outbox) == 1
    assert mail.outbox[0].alternatives == []
    assert mail.outbox[0].from_email == settings.DEFAULT_FROM_EMAIL


def test_email_send_task_sends_plain_text_with_an_html_alternative():
    email_send_task.delay(subject="主题", body="正文", to=["a@example.com"], html_body="<p>正文</p>")

    assert len(mail.outbox) == 1
    assert (mail.outbox[0].subject, mail.outbox[0].body, mail.outbox[0].to) == ("主题", "正文", ["a@example.com"])
    assert mail.outbox[0].alternatives == [("<p>正文</p>", "text/html")]


def test_in_process_email_is_tried_once_and_a_failure_is_logged_not_raised(flaky_backend, caplog):
    """Without a broker a retry would run at once inside the request, with no backoff:
    in-process mode sends once, logs a failure and lets the request go on."""
    flaky_backend.failures = 100

    result = email_send_task.delay(subject="主题", body="正文", to=["a@example.com"])

    assert result.successful()
    assert flaky_backend.attempts == 1
    assert mail.outbox == []
    assert "not sent" in caplog.text


def test_in_process_email_is_sent_when_the_server_answers(flaky_backend):
    result = email_send_task.delay(subject="主题", body="正文", to=["a@example.com"])

    assert result.successful()
    assert flaky_backend.attempts == 1
    assert [m.subject for m in mail.outbox] == ["主题"]
