"""Sending an email: every app's notices, receipts and password resets go through here
(mostly through mall.tasks.email_send_task, after the transaction commits)."""

from django.core.mail import EmailMultiAlternatives


def email_send(
    *, subject: str, body: str, to: list[str], html_body: str | None = None, from_email: str | None = None, cc: list[str] | None = None
) -> None:
    """Send one email now (plain text, with an HTML alternative when given; `cc` in copy)."""
    message = EmailMultiAlternatives(subject, body, from_email, to, cc=cc or None)
    if html_body:
        message.attach_alternative(html_body, "text/html")
    message.send()
