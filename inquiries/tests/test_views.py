"""咨询管理 in the user centre: customers ask, reply and close, and see only their own."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Message
from accounts.tests.factories import UserFactory
from catalog.tests.factories import ServiceFactory
from inquiries import services as inquiry_services
from inquiries.models import Inquiry, InquiryMessage
from inquiries.tests.conftest import (
    LIST,
    NEW,
    S,
    answer_url,
    ask,
    close_url,
    detail,
    last_message_id,
    reply_url,
    signed_in,
)
from orders.tests.factories import submitted_order

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
        inquiry_services.inquiry_answer(inquiry=inquiry, actor=reviewer, body="可以修改", after=last_message_id(inquiry))
        before = Inquiry.objects.get(pk=inquiry.pk).last_customer_message_at

        response = customer_client.post(reply_url(inquiry), {"body": "怎么改?", "after": last_message_id(inquiry)})

        assert response.status_code == 302 and response.url == detail(inquiry)
        inquiry.refresh_from_db()
        assert inquiry.status == S.OPEN
        assert inquiry.last_customer_message_at > before
        assert [m.from_staff for m in inquiry.messages.all()] == [False, True, False]

    def test_a_reply_reopens_a_closed_inquiry(self, customer_client, customer):
        inquiry = ask(customer)
        inquiry_services.inquiry_close(inquiry=inquiry, customer=customer)
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
        inquiry_services.inquiry_close(inquiry=inquiry, customer=customer)
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
        inquiry_services.inquiry_answer(inquiry=inquiry, actor=reviewer, body="已处理", after=last_message_id(inquiry))

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
        inquiry_services.inquiry_answer(inquiry=old, actor=reviewer, body="答", after=None)
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
                inquiry_services.inquiry_answer(inquiry=inquiry, actor=reviewer, body="答", after=None)
        assert count() == few

    def test_an_empty_list(self, customer_client):
        assert 'data-testid="empty-state"' in customer_client.get(LIST).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_pages_render_in_both_languages(customer_client, customer, reviewer, language):
    customer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    service = ServiceFactory()
    inquiry = ask(customer, service_id=service.pk)
    inquiry_services.inquiry_answer(inquiry=inquiry, actor=reviewer, body="答复", after=None)
    for url in (LIST, f"{NEW}?service={service.pk}", detail(inquiry)):
        response = customer_client.get(url)
        assert response.status_code == 200
        assert f'<html lang="{language}">' in response.content.decode()
    admin = signed_in(type(customer_client)(), reviewer)
    admin.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    for url in (
        reverse("admin:inquiries_inquiry_changelist"),
        reverse("admin:inquiries_inquiry_change", args=[inquiry.pk]),
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


