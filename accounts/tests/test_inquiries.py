"""咨询管理: customers ask and reply in the user centre; staff answer from the admin queue."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import inquiries
from accounts.models import Inquiry, InquiryMessage, Message
from accounts.roles import GROUP_CATALOG, GROUP_FINANCE, GROUP_REVIEWERS
from accounts.tests.factories import UserFactory
from catalog.tests.factories import ServiceFactory
from orders.tests.factories import submitted_order

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
S = Inquiry.Status
LIST = reverse("accounts:inquiries")
NEW = reverse("accounts:inquiry-create")


def detail(inquiry):
    return reverse("accounts:inquiry-detail", args=[inquiry.pk])


def reply_url(inquiry):
    return reverse("accounts:inquiry-reply", args=[inquiry.pk])


def close_url(inquiry):
    return reverse("accounts:inquiry-close", args=[inquiry.pk])


def answer_url(inquiry):
    return reverse("admin:accounts_inquiry_answer", args=[inquiry.pk])


def ask(customer, subject="发票抬头怎么改?", body="请问下单后还能改发票抬头吗?", **about) -> Inquiry:
    return inquiries.inquiry_create(customer=customer, subject=subject, body=body, **about)


def last_message_id(inquiry) -> int:
    return inquiry.messages.order_by("-id").values_list("pk", flat=True).first()


def signed_in(client, user):
    client.force_login(user, backend=MODEL_BACKEND)
    return client


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def customer_client(client, customer):
    return signed_in(client, customer)


@pytest.fixture
def reviewer(db):
    return UserFactory(staff=True, groups=[GROUP_REVIEWERS])


@pytest.fixture
def reviewer_client(client, reviewer):
    return signed_in(client, reviewer)


# --- The customer's side ------------------------------------------------------------


@pytest.mark.django_db
class TestAsk:
    def test_asking_about_a_service_creates_the_inquiry_and_its_first_message(self, customer_client, customer):
        service = ServiceFactory()
        page = customer_client.get(NEW, {"service": service.pk})
        assert page.status_code == 200
        assert 'data-testid="inquiry-service"' in page.content.decode()

        response = customer_client.post(
            f"{NEW}?service={service.pk}", {"subject": "开通要多久?", "body": "下单后多久能开通?"}
        )

        inquiry = Inquiry.objects.get(customer=customer)
        assert response.status_code == 302 and response.url == detail(inquiry)
        assert (inquiry.subject, inquiry.service, inquiry.order, inquiry.status) == ("开通要多久?", service, None, S.OPEN)
        assert list(inquiry.messages.values_list("body", "from_staff", "author")) == [("下单后多久能开通?", False, customer.pk)]
        assert inquiry.last_customer_message_at is not None

    def test_asking_about_an_own_order(self, customer_client, customer):
        order = submitted_order(customer=customer)
        page = customer_client.get(NEW, {"order": order.number})
        assert page.status_code == 200
        assert order.number in page.context["form"].initial["subject"]

        customer_client.post(f"{NEW}?order={order.number}", {"subject": "改信息", "body": "店铺名称填错了"})

        assert Inquiry.objects.get(customer=customer).order == order

    def test_the_thread_shows_the_question(self, customer_client, customer):
        inquiry = ask(customer, body="第一条问题")
        response = customer_client.get(detail(inquiry))
        assert response.status_code == 200
        assert [m.body for m in response.context["thread"]] == ["第一条问题"]
        assert 'data-from="customer"' in response.content.decode()

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"subject": "问题", "body": ""}, "body"),
            ({"subject": "问题", "body": "   "}, "body"),
            ({"subject": "", "body": "内容"}, "subject"),
            ({"subject": "问题", "body": "长" * 2001}, "body"),
            ({"subject": "长" * 121, "body": "内容"}, "subject"),
        ],
    )
    def test_bad_input_is_a_form_error_and_creates_nothing(self, customer_client, data, field):
        response = customer_client.post(NEW, data)
        assert response.status_code == 200
        assert response.context["form"].errors[field]
        assert not Inquiry.objects.exists() and not InquiryMessage.objects.exists()

    def test_the_longest_allowed_question_is_accepted(self, customer_client, customer):
        customer_client.post(NEW, {"subject": "题" * 120, "body": "长" * 2000})
        assert len(InquiryMessage.objects.get(inquiry__customer=customer).body) == 2000

    def test_another_customers_order_is_a_form_error_and_creates_nothing(self, customer_client):
        order = submitted_order(customer=UserFactory())
        response = customer_client.post(f"{NEW}?order={order.number}", {"subject": "问题", "body": "内容"})
        assert response.status_code == 200
        assert response.context["form"].non_field_errors()
        assert not Inquiry.objects.exists()

    def test_a_service_not_on_sale_is_a_form_error_and_creates_nothing(self, customer_client):
        service = ServiceFactory(active=False)
        response = customer_client.post(f"{NEW}?service={service.pk}", {"subject": "问题", "body": "内容"})
        assert response.status_code == 200
        assert response.context["form"].non_field_errors()
        assert not Inquiry.objects.exists()

    @pytest.mark.parametrize("query", ["service=999999", "service=abc", "order=BS-ZX000"])
    def test_the_form_about_a_missing_service_or_order_is_404(self, customer_client, query):
        assert customer_client.get(f"{NEW}?{query}").status_code == 404

    def test_the_form_about_another_customers_order_or_an_inactive_service_is_404(self, customer_client):
        order = submitted_order(customer=UserFactory())
        service = ServiceFactory(active=False)
        assert customer_client.get(NEW, {"order": order.number}).status_code == 404
        assert customer_client.get(NEW, {"service": service.pk}).status_code == 404

    def test_the_service_rules_hold_for_any_caller(self, customer):
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError) as error:
            ask(customer, subject="x" * 121, body="")
        assert set(error.value.message_dict) == {"subject", "body"}
        assert not Inquiry.objects.exists()


@pytest.mark.django_db
class TestReplyAndClose:
    def test_a_reply_reopens_an_answered_inquiry(self, customer_client, customer, reviewer):
        inquiry = ask(customer)
        inquiries.inquiry_answer(inquiry=inquiry, actor=reviewer, body="可以修改", after=last_message_id(inquiry))
        before = Inquiry.objects.get(pk=inquiry.pk).last_customer_message_at

        response = customer_client.post(reply_url(inquiry), {"body": "怎么改?", "after": last_message_id(inquiry)})

        assert response.status_code == 302 and response.url == detail(inquiry)
        inquiry.refresh_from_db()
        assert inquiry.status == S.OPEN
        assert inquiry.last_customer_message_at > before
        assert [m.from_staff for m in inquiry.messages.all()] == [False, True, False]

    def test_a_reply_reopens_a_closed_inquiry(self, customer_client, customer):
        inquiry = ask(customer)
        inquiries.inquiry_close(inquiry=inquiry, customer=customer)
        customer_client.post(reply_url(inquiry), {"body": "还有一个问题"})
        inquiry.refresh_from_db()
        assert inquiry.status == S.OPEN

    def test_a_resent_reply_adds_one_message(self, customer_client, customer):
        inquiry = ask(customer)
        data = {"body": "补充说明", "after": last_message_id(inquiry)}
        customer_client.post(reply_url(inquiry), data)
        customer_client.post(reply_url(inquiry), data)
        assert inquiry.messages.count() == 2

    @pytest.mark.parametrize("body", ["", "长" * 2001])
    def test_a_bad_reply_is_a_form_error_and_changes_nothing(self, customer_client, customer, body):
        inquiry = ask(customer)
        inquiries.inquiry_close(inquiry=inquiry, customer=customer)
        response = customer_client.post(reply_url(inquiry), {"body": body})
        assert response.status_code == 200
        assert response.context["form"].errors["body"]
        inquiry.refresh_from_db()
        assert inquiry.status == S.CLOSED
        assert inquiry.messages.count() == 1

    def test_close(self, customer_client, customer):
        inquiry = ask(customer)
        response = customer_client.post(close_url(inquiry))
        assert response.status_code == 302
        inquiry.refresh_from_db()
        assert inquiry.status == S.CLOSED
        assert customer_client.post(close_url(inquiry)).status_code == 302  # again: nothing changes
        inquiry.refresh_from_db()
        assert inquiry.status == S.CLOSED

    def test_close_and_reply_only_by_post(self, customer_client, customer):
        inquiry = ask(customer)
        assert customer_client.get(close_url(inquiry)).status_code == 405
        assert customer_client.get(reply_url(inquiry)).status_code == 405


@pytest.mark.django_db
class TestOwnInquiriesOnly:
    @pytest.fixture
    def others(self, db):
        return ask(UserFactory(), body="别人的问题")

    def test_another_customers_thread_is_404(self, customer_client, others):
        assert customer_client.get(detail(others)).status_code == 404

    def test_another_customers_inquiry_cannot_be_replied_to(self, customer_client, others):
        assert customer_client.post(reply_url(others), {"body": "插话"}).status_code == 404
        assert others.messages.count() == 1

    def test_another_customers_inquiry_cannot_be_closed(self, customer_client, others):
        assert customer_client.post(close_url(others)).status_code == 404
        others.refresh_from_db()
        assert others.status == S.OPEN

    def test_the_list_shows_only_own_inquiries(self, customer_client, customer, others):
        own = ask(customer)
        response = customer_client.get(LIST)
        assert [i.pk for i in response.context["page"]] == [own.pk]
        assert f'data-inquiry="{others.pk}"' not in response.content.decode()

    @pytest.mark.parametrize("name", ["list", "new", "detail"])
    def test_anonymous_visitors_are_sent_to_sign_in(self, client, others, name):
        url = {"list": LIST, "new": NEW, "detail": detail(others)}[name]
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))

    def test_anonymous_reply_and_close_change_nothing(self, client, others):
        assert client.post(reply_url(others), {"body": "x"}).status_code == 302
        assert client.post(close_url(others)).status_code == 302
        others.refresh_from_db()
        assert others.status == S.OPEN and others.messages.count() == 1


@pytest.mark.django_db
class TestCustomerList:
    def test_status_subject_about_and_the_unread_answer_marker(self, customer_client, customer, reviewer):
        order = submitted_order(customer=customer)
        inquiry = ask(customer, subject="订单问题", order_number=order.number)
        inquiries.inquiry_answer(inquiry=inquiry, actor=reviewer, body="已处理", after=last_message_id(inquiry))

        html = customer_client.get(LIST).content.decode()
        row = re.search(rf'<tr data-inquiry="{inquiry.pk}"[^>]*>.*?</tr>', html, re.S).group(0)
        assert 'data-unread="true"' in row
        assert 'data-status="answered"' in row
        assert order.number in row and "订单问题" in row

        customer_client.get(detail(inquiry))  # reading the thread reads the answer's notice
        html = customer_client.get(LIST).content.decode()
        assert 'data-unread="true"' not in html
        assert not Message.objects.filter(user=customer, read_at__isnull=True, link=detail(inquiry)).exists()

    def test_the_latest_activity_first(self, customer_client, customer, reviewer):
        old, new = ask(customer, subject="旧"), ask(customer, subject="新")
        Inquiry.objects.filter(pk=old.pk).update(last_customer_message_at=timezone.now() - timedelta(days=3))
        assert [i.pk for i in customer_client.get(LIST).context["page"]] == [new.pk, old.pk]
        inquiries.inquiry_answer(inquiry=old, actor=reviewer, body="答", after=None)
        assert [i.pk for i in customer_client.get(LIST).context["page"]] == [old.pk, new.pk]

    def test_the_query_count_does_not_grow_with_the_rows(self, customer_client, customer, reviewer):
        def count():
            with CaptureQueriesContext(connection) as queries:
                assert customer_client.get(LIST).status_code == 200
            return len(queries)

        service, order = ServiceFactory(), submitted_order(customer=customer)
        ask(customer, service_id=service.pk, order_number=order.number)
        few = count()
        for n in range(5):
            inquiry = ask(customer, service_id=ServiceFactory().pk, order_number=submitted_order(customer=customer).number)
            if n % 2:
                inquiries.inquiry_answer(inquiry=inquiry, actor=reviewer, body="答", after=None)
        assert count() == few

    def test_an_empty_list(self, customer_client):
        assert 'data-testid="empty-state"' in customer_client.get(LIST).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_pages_render_in_both_languages(customer_client, customer, reviewer, language):
    customer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    service = ServiceFactory()
    inquiry = ask(customer, service_id=service.pk)
    inquiries.inquiry_answer(inquiry=inquiry, actor=reviewer, body="答复", after=None)
    for url in (LIST, f"{NEW}?service={service.pk}", detail(inquiry)):
        response = customer_client.get(url)
        assert response.status_code == 200
        assert f'<html lang="{language}">' in response.content.decode()
    admin = signed_in(type(customer_client)(), reviewer)
    admin.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    for url in (
        reverse("admin:accounts_inquiry_changelist"),
        reverse("admin:accounts_inquiry_change", args=[inquiry.pk]),
        answer_url(inquiry),
    ):
        assert admin.get(url).status_code == 200


@pytest.mark.django_db
def test_service_and_order_pages_link_to_a_question(customer_client, customer):
    service = ServiceFactory()
    order = submitted_order(customer=customer)
    html = customer_client.get(reverse("catalog:service-detail", args=[service.pk])).content.decode()
    assert re.search(rf'href="{NEW}\?service={service.pk}"[^>]*data-testid="ask-service"', html)
    html = customer_client.get(reverse("orders:detail", args=[order.number])).content.decode()
    assert re.search(rf'href="{NEW}\?order={order.number}"[^>]*data-testid="ask-order"', html)


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
        assert response.url == reverse("admin:accounts_inquiry_change", args=[inquiry.pk])
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
        inquiries.inquiry_reply(inquiry=inquiry, customer=customer, body="又补充了一句")
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
        inquiries.inquiry_close(inquiry=inquiry, customer=customer)
        reviewer_client.post(answer_url(inquiry), {"body": "答复", "after": last_message_id(inquiry)})
        inquiry.refresh_from_db()
        assert inquiry.status == S.CLOSED and not inquiry.messages.filter(from_staff=True).exists()

    def test_the_change_page_shows_the_thread_and_the_answer_form(self, reviewer_client, customer):
        inquiry = ask(customer, body="线程里的问题")
        html = reviewer_client.get(reverse("admin:accounts_inquiry_change", args=[inquiry.pk])).content.decode()
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
        inquiries.inquiry_answer(inquiry=answered, actor=reviewer, body="答", after=None)
        inquiries.inquiry_close(inquiry=closed, customer=customer)

        response = reviewer_client.get(reverse("admin:accounts_inquiry_changelist"))

        assert [i.pk for i in response.context["cl"].result_list] == [older.pk, newer.pk]
        assert response.content.decode().count("data-age") == 2
        everything = reviewer_client.get(reverse("admin:accounts_inquiry_changelist"), {"status": "all"})
        assert {i.pk for i in everything.context["cl"].result_list} == {newer.pk, older.pk, answered.pk, closed.pk}

    def test_the_admin_index_shows_the_queue(self, reviewer_client, reviewer, customer):
        ask(customer)
        ask(customer)
        inquiries.inquiry_answer(inquiry=ask(customer), actor=reviewer, body="答", after=None)
        inquiries.inquiry_close(inquiry=ask(customer), customer=customer)
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
                assert reviewer_client.get(reverse("admin:accounts_inquiry_changelist")).status_code == 200
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
        assert client.get(reverse("admin:accounts_inquiry_changelist")).status_code == 403
        assert client.get(reverse("admin:accounts_inquiry_change", args=[inquiry.pk])).status_code == 403
        assert client.get(answer_url(inquiry)).status_code == 403
        assert client.post(answer_url(inquiry), {"body": "答复"}).status_code == 403
        assert Inquiry.objects.get(pk=inquiry.pk).status == S.OPEN

    def test_staff_who_may_only_view_see_no_answer_form_and_get_403(self, client, customer):
        from django.contrib.auth.models import Permission

        viewer = UserFactory(staff=True)
        viewer.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="accounts", codename__in=["view_inquiry", "view_inquirymessage"])
        )
        inquiry = ask(customer)
        signed_in(client, viewer)
        page = client.get(reverse("admin:accounts_inquiry_change", args=[inquiry.pk]))
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
        assert client.get(reverse("admin:accounts_inquiry_add")).status_code == 403
        assert client.post(reverse("admin:accounts_inquiry_delete", args=[inquiry.pk]), {"post": "yes"}).status_code == 403
        response = client.post(
            reverse("admin:accounts_inquiry_changelist"),
            {"action": "delete_selected", "_selected_action": [inquiry.pk], "post": "yes"},
        )
        assert Inquiry.objects.filter(pk=inquiry.pk).exists()
        assert response.status_code in (200, 302)
