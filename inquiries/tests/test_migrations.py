"""inquiries.0001 and accounts.0010 move the inquiry models out of the accounts app without
touching the data: the rows stay in their tables, and the content types (with the staff
groups' permissions on them) change label. Run with the real migrate command, both ways."""

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection

from accounts.roles import GROUP_FINANCE, GROUP_REVIEWERS
from accounts.tests.factories import UserFactory
from inquiries import services
from inquiries.models import Inquiry

pytestmark = pytest.mark.django_db(transaction=True)


def labels() -> set[tuple[str, str]]:
    return set(ContentType.objects.filter(model__in=["inquiry", "inquirymessage"]).values_list("app_label", "model"))


def rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return cursor.fetchone()[0]


def group_labels(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all() if "inquir" in p.codename}


def test_unapplying_and_applying_the_move_keeps_the_rows_and_the_groups_permissions():
    customer, reviewer = UserFactory(), UserFactory(staff=True, groups=[GROUP_REVIEWERS])
    inquiry = services.inquiry_create(customer=customer, subject="迁移前", body="这条问题要留下")
    services.inquiry_answer(inquiry=inquiry, actor=reviewer, body="答复也要留下", after=None)
    assert labels() == {("inquiries", "inquiry"), ("inquiries", "inquirymessage")}

    call_command("migrate", "inquiries", "zero", verbosity=0)

    assert labels() == {("accounts", "inquiry"), ("accounts", "inquirymessage")}
    assert (rows("accounts_inquiry"), rows("accounts_inquirymessage")) == (1, 2)
    assert group_labels(GROUP_FINANCE) == {"accounts.view_inquiry", "accounts.view_inquirymessage", "accounts.answer_inquiry"}

    call_command("migrate", verbosity=0)

    assert labels() == {("inquiries", "inquiry"), ("inquiries", "inquirymessage")}
    assert [m.body for m in Inquiry.objects.get(pk=inquiry.pk).messages.all()] == ["这条问题要留下", "答复也要留下"]
    for name in (GROUP_REVIEWERS, GROUP_FINANCE):
        assert group_labels(name) == {"inquiries.view_inquiry", "inquiries.view_inquirymessage", "inquiries.answer_inquiry"}
    assert reviewer.__class__.objects.get(pk=reviewer.pk).has_perm("inquiries.answer_inquiry")
