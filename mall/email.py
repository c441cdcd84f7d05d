"""Sending an email: every app's notices, receipts and password resets go through here
(mostly through mall.tasks, after the transaction commits).

A notice to a customer carries both languages, Chinese first: the shop does not know which
one a customer reads. The request says what each language's version says
(`email_versions`); a worker renders the templates (`email_render`, through
mall.tasks.email_render_send_task), so the request that changed an order does not.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

EMAIL_LANGUAGES = ("zh-hans", "en")


def email_send(
    *, subject: str, body: str, to: list[str], html_body: str | None = None, from_email: str | None = None, cc: list[str] | None = None
) -> None:
    """Send one email now (plain text, with an HTML alternative when given; `cc` in copy)."""
    message = EmailMultiAlternatives(subject, body, from_email, to, cc=cc or None)
    if html_body:
        message.attach_alternative(html_body, "text/html")
    message.send()


def email_versions(texts: Callable[[], dict]) -> list[dict]:
    """What a notice says in each of EMAIL_LANGUAGES: `texts()` is called once per language,
    under it, and returns the template values that depend on the language, "headline" (the
    subject too) among them. Only plain values: the worker gets them as JSON."""
    versions = []
    for language in EMAIL_LANGUAGES:
        with translation.override(language):
            versions.append({**texts(), "language": language})
    return versions


def email_render(*, template: str, versions: list[dict], context: dict) -> dict:
    """The subject, text and HTML of a notice: `template`.txt and `template`.html rendered
    once per version (its language, its values over `context`, and the seller), joined."""
    subjects, texts, htmls = [], [], []
    for version in versions:
        with translation.override(version["language"]):
            values = {**context, **version, "seller": settings.SELLER}
            subjects.append(version["headline"])
            texts.append(render_to_string(f"{template}.txt", values))
            htmls.append(render_to_string(f"{template}.html", values))
    return {"subject": " / ".join(subjects), "body": "\n\n--------\n\n".join(texts), "html_body": "<hr>".join(htmls)}
