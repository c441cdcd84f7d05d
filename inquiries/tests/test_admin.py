"""咨询管理 in the admin: the staff queue, answering, and who may do what."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Message
from accounts.roles import GROUP_CATALOG, GROUP_FINANCE, GROUP_REVIEWERS
from accounts.tests.factories import UserFactory
from catalog.tests.factories import ServiceFactory
from inquiries import services as inquiry_services
from inquiries.models import Inquiry
from inquiries.tests.conftest import (
    S,
    answer_url,
    ask,
    detail,
    last_message_id,
    signed_in,
)
from orders.tests.factories import submitted_order

# --- The staff side -----------------------------------------------------------------


@pytest.mark.django_db
class TestAnswer:
    def test_an_answer_is_added_the_inquiry_answered_and_the_customer_told(
        self, reviewer_client, reviewer, customer, mailoutbox, django_capture_on_commit_callbacks
    ):
        inquiry = ask(customer, subject="开票问题")
        with django_capture_on_commit_callbacks(execute=True):
            response = reviewer_client.post(answer_url(inquiry), {"body": "可以开专票", "after": last_message_id(inquiry)})

        assert response.status_code == 302
        assert response.url == reverse("admin:inquiries_inquiry_change", args=[inquiry.pk])
        inquiry.refresh_from_db()
        assert inquiry.status == S.ANSWERED and inquiry.answered_at is not None
        staff = inquiry.messages.get(from_staff=True)
        assert (staff.body, staff.author) == ("可以开专票", reviewer)
        notice = Message.objects.get(user=customer)
        assert notice.link == detail(inquiry) and "开票问题" in notice.title
        assert len(mailoutbox) == 1
        email = mailoutbox[0]
        assert email.to == [customer.email]
        assert " / " in email.subject  # Chinese, then English
        assert "Your inquiry “开票问题” was answered" in email.subject
        assert "可以开专票" in email.body and f"{settings.SITE_URL.rstrip('/')}{detail(inquiry)}" in email.body
        html, mimetype = email.alternatives[0]
        assert mimetype == "text/html" and f'href="{settings.SITE_URL.rstrip("/")}{detail(inquiry)}"' in html

    def test_a_double_post_makes_one_staff_message(
        self, reviewer_client, customer, mailoutbox, django_capture_on_commit_callbacks
    ):
        inquiry = ask(customer)
        data = {"body": "答复一次", "after": last_message_id(inquiry)}
        with django_capture_on_commit_callbacks(execute=True):
            reviewer_client.post(answer_url(inquiry), data)
            reviewer_client.post(answer_url(inquiry), data)
        assert inquiry.messages.filter(from_staff=True).count() == 1
        assert Message.objects.filter(user=customer).count() == 1
        assert len(mailoutbox) == 1

    def test_an_answer_to_a_thread_that_changed_meanwhile_is_refused(self, reviewer_client, customer):
        inquiry = ask(customer)
        seen = last_message_id(inquiry)
        inquiry_services.inquiry_reply(inquiry=inquiry, customer=customer, body="又补充了一句")
        response = reviewer_client.post(answer_url(inquiry), {"body": "答复", "after": seen})
        assert response.status_code == 302
        inquiry.refresh_from_db()
        assert inquiry.status == S.OPEN
        assert not inquiry.messages.filter(from_staff=True).exists()

    @pytest.mark.parametrize("body", ["", "长" * 2001])
    def test_a_bad_answer_is_a_form_error_and_changes_nothing(self, reviewer_client, customer, body):
        inquiry = ask(customer)
        response = reviewer_client.post(answer_url(inquiry), {"body": body, "after": last_message_id(inquiry)})
        assert response.status_code == 200
        assert response.context["form"].errors["body"]
        inquiry.refresh_from_db()
        assert inquiry.status == S.OPEN and inquiry.messages.count() == 1
        assert not Message.objects.exists()

    def test_a_closed_inquiry_is_not_answered(self, reviewer_client, customer):
        inquiry = ask(customer)
        inquiry_services.inquiry_close(inquiry=inquiry, customer=customer)
        reviewer_client.post(answer_url(inquiry), {"body": "答复", "after": last_message_id(inquiry)})
        inquiry.refresh_from_db()
        assert inquiry.status == S.CLOSED and not inquiry.messages.filter(from_staff=True).exists()

    def test_the_change_page_shows_the_thread_and_the_answer_form(self, reviewer_client, customer):
        inquiry = ask(customer, body="线程里的问题")
        html = reviewer_client.get(reverse("admin:inquiries_inquiry_change", args=[inquiry.pk])).content.decode()
        assert "线程里的问题" in html
        assert 'data-testid="answer-form"' in html and f'action="{answer_url(inquiry)}"' in html
        assert f'name="after" value="{last_message_id(inquiry)}"' in html


@pytest.mark.django_db
class TestQueue:
    def test_the_queue_shows_only_open_inquiries_oldest_first(self, reviewer_client, reviewer, customer):
        now = timezone.now()
        newer, older, answered, closed = (ask(customer, subject=s) for s in ("newer", "older", "answered", "closed"))
        for inquiry, days in ((newer, 1), (older, 5), (answered, 9), (closed, 9)):
            Inquiry.objects.filter(pk=inquiry.pk).update(last_customer_message_at=now - timedelta(days=days))
        inquiry_services.inquiry_answer(inquiry=answered, actor=reviewer, body="答", after=None)
        inquiry_services.inquiry_close(inquiry=closed, customer=customer)

        response = reviewer_client.get(reverse("admin:inquiries_inquiry_changelist"))

        assert [i.pk for i in response.context["cl"].result_list] == [older.pk, newer.pk]
        assert response.content.decode().count("data-age") == 2
        everything = reviewer_client.get(reverse("admin:inquiries_inquiry_changelist"), {"status": "all"})
        assert {i.pk for i in everything.context["cl"].result_list} == {newer.pk, older.pk, answered.pk, closed.pk}

    def test_the_admin_index_shows_the_queue(self, reviewer_client, reviewer, customer):
        ask(customer)
        ask(customer)
        inquiry_services.inquiry_answer(inquiry=ask(customer), actor=reviewer, body="答", after=None)
        inquiry_services.inquiry_close(inquiry=ask(customer), customer=customer)
        html = reviewer_client.get(reverse("admin:index")).content.decode()
        row = re.search(r'<tr data-queue="inquiries">.*?</tr>', html, re.S).group(0)
        assert re.search(r'class="count">2<', row)

    def test_the_admin_index_hides_the_queue_from_catalog_managers(self, client, customer):
        ask(customer)
        signed_in(client, UserFactory(staff=True, groups=[GROUP_CATALOG]))
        assert 'data-queue="inquiries"' not in client.get(reverse("admin:index")).content.decode()

    def test_the_query_count_does_not_grow_with_the_rows(self, reviewer_client, customer):
        def count():
            with CaptureQueriesContext(connection) as queries:
                assert reviewer_client.get(reverse("admin:inquiries_inquiry_changelist")).status_code == 200
            return len(queries)

        ask(customer, service_id=ServiceFactory().pk, order_number=submitted_order(customer=customer).number)
        few = count()
        for _n in range(5):
            other = UserFactory()
            ask(other, service_id=ServiceFactory().pk, order_number=submitted_order(customer=other).number)
        assert count() == few


@pytest.mark.django_db
class TestStaffPermissions:
    @pytest.mark.parametrize("group", [GROUP_REVIEWERS, GROUP_FINANCE])
    def test_reviewers_and_finance_may_answer(self, client, customer, group):
        inquiry = ask(customer)
        signed_in(client, UserFactory(staff=True, groups=[group]))
        assert client.get(answer_url(inquiry)).status_code == 200
        response = client.post(answer_url(inquiry), {"body": "答复", "after": last_message_id(inquiry)})
        assert response.status_code == 302
        assert Inquiry.objects.get(pk=inquiry.pk).status == S.ANSWERED

    def test_catalog_managers_get_403_and_change_nothing(self, client, customer):
        inquiry = ask(customer)
        signed_in(client, UserFactory(staff=True, groups=[GROUP_CATALOG]))
        assert client.get(reverse("admin:inquiries_inquiry_changelist")).status_code == 403
        assert client.get(reverse("admin:inquiries_inquiry_change", args=[inquiry.pk])).status_code == 403
        assert client.get(answer_url(inquiry)).status_code == 403
        assert client.post(answer_url(inquiry), {"body": "答复"}).status_code == 403
        assert Inquiry.objects.get(pk=inquiry.pk).status == S.OPEN

    def test_staff_who_may_only_view_see_no_answer_form_and_get_403(self, client, customer):
        from django.contrib.auth.models import Permission

        viewer = UserFactory(staff=True)
        viewer.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="inquiries", codename__in=["view_inquiry", "view_inquirymessage"])
        )
        inquiry = ask(customer)
        signed_in(client, viewer)
        page = client.get(reverse("admin:inquiries_inquiry_change", args=[inquiry.pk]))
        assert page.status_code == 200 and 'data-testid="answer-form"' not in page.content.decode()
        assert client.post(answer_url(inquiry), {"body": "答复"}).status_code == 403

    def test_customers_are_sent_to_the_admin_sign_in(self, customer_client, customer):
        inquiry = ask(customer)
        response = customer_client.post(answer_url(inquiry), {"body": "自问自答"})
        assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
        assert not inquiry.messages.filter(from_staff=True).exists()

    def test_nobody_adds_edits_or_deletes_inquiries_in_the_admin(self, client, customer):
        inquiry = ask(customer)
        signed_in(client, UserFactory(superuser=True))
        assert client.get(reverse("admin:inquiries_inquiry_add")).status_code == 403
        assert client.post(reverse("admin:inquiries_inquiry_delete", args=[inquiry.pk]), {"post": "yes"}).status_code == 403
        response = client.post(
            reverse("admin:inquiries_inquiry_changelist"),
            {"action": "delete_selected", "_selected_action": [inquiry.pk], "post": "yes"},
        )
        assert Inquiry.objects.filter(pk=inquiry.pk).exists()
        assert response.status_code in (200, 302)
