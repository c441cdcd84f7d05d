"""My messages (我的消息): the list, marking read, and the unread badge in the header."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertRedirects, assertTemplateUsed

from accounts import selectors, services
from accounts.models import Message
from accounts.tests.factories import UserFactory
from mall.context_processors import unread_messages

pytestmark = pytest.mark.django_db

LIST_URL = reverse("accounts:messages")
READ_ALL_URL = reverse("accounts:messages-read-all")
PAGE_URL = reverse("help")  # any page on base.html


def send(user, n=1, title="消息", **fields):
    return [services.message_send(user=user, title=f"{title} {i}", **fields) for i in range(n)]


def read_url(message):
    return reverse("accounts:message-read", args=[message.pk])


def badge(response):
    match = re.search(r'data-testid="unread-badge">([^<]*)<', response.text)
    return match.group(1) if match else None


def message_queries(queries):
    return [query["sql"] for query in queries if "accounts_message" in query["sql"]]


class TestMessageServices:
    def test_mark_read_sets_read_at_once(self, user):
        (message,) = send(user)
        services.message_mark_read(message=message)
        first = Message.objects.get(pk=message.pk).read_at
        assert first is not None

        services.message_mark_read(message=Message.objects.get(pk=message.pk))

        assert Message.objects.get(pk=message.pk).read_at == first

    def test_mark_all_read_marks_only_the_users_unread_messages(self, user):
        other = UserFactory()
        send(user, 3)
        send(other, 2)

        assert services.message_mark_all_read(user=user) == 3

        assert selectors.message_unread_count(user=user) == 0
        assert selectors.message_unread_count(user=other) == 2

    def test_unread_count_counts_only_unread(self, user):
        messages = send(user, 3)
        services.message_mark_read(message=messages[0])
        assert selectors.message_unread_count(user=user) == 2


class TestMessageList:
    def test_needs_sign_in(self, client):
        response = client.get(LIST_URL)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_shows_only_the_users_messages_newest_first(self, user_client, user):
        old, new = send(user, 2)
        Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1))
        send(UserFactory(), title="别人的消息")

        response = user_client.get(LIST_URL)

        assertTemplateUsed(response, "accounts/message_list.html")
        assert list(response.context["page"]) == [new, Message.objects.get(pk=old.pk)]
        assert "别人的消息" not in response.text

    def test_is_paginated_by_20(self, user_client, user):
        send(user, 25)
        first = user_client.get(LIST_URL)
        second = user_client.get(LIST_URL, {"page": 2})
        assert len(first.context["page"]) == 20 and len(second.context["page"]) == 5
        assert first.text.count('data-testid="message"') == 20

    def test_unread_messages_are_highlighted(self, user_client, user):
        messages = send(user, 3)
        services.message_mark_read(message=messages[0])
        assert user_client.get(LIST_URL).text.count('data-unread="true"') == 2

    def test_a_local_link_is_offered_an_outside_one_is_not(self, user_client, user):
        (local,) = send(user, link="/account/orders/BS-ZX1/")
        send(user, link="https://evil.example/")
        text = user_client.get(LIST_URL).text
        assert text.count('name="go" value="1"') == 1
        assert f'action="{read_url(local)}"' in text
        assert "evil.example" not in text

    def test_empty_list_says_so(self, user_client):
        assert 'data-testid="empty-state"' in user_client.get(LIST_URL).text


class TestMarkRead:
    def test_marks_one_read_and_returns_to_the_list(self, user_client, user):
        message, other = send(user, 2)

        response = user_client.post(read_url(message))

        assertRedirects(response, LIST_URL, fetch_redirect_response=False)
        assert Message.objects.get(pk=message.pk).read_at is not None
        assert Message.objects.get(pk=other.pk).read_at is None

    def test_go_continues_to_a_local_link(self, user_client, user):
        (message,) = send(user, link="/account/orders/BS-ZX1/")
        response = user_client.post(read_url(message), {"go": "1"})
        assertRedirects(response, "/account/orders/BS-ZX1/", fetch_redirect_response=False)
        assert Message.objects.get(pk=message.pk).read_at is not None

    def test_go_as_a_query_parameter_works_too(self, user_client, user):
        (message,) = send(user, link="/account/orders/BS-ZX1/")
        response = user_client.post(read_url(message) + "?go=1")
        assertRedirects(response, "/account/orders/BS-ZX1/", fetch_redirect_response=False)

    @pytest.mark.parametrize("link", ["https://evil.example/", "//evil.example/", "/\\evil.example", ""])
    def test_go_never_leaves_the_site(self, user_client, user, link):
        (message,) = send(user, link=link)
        response = user_client.post(read_url(message), {"go": "1"})
        assertRedirects(response, LIST_URL, fetch_redirect_response=False)

    def test_returns_to_a_safe_next(self, user_client, user):
        message, other = send(user, 2)
        response = user_client.post(read_url(message), {"next": LIST_URL + "?page=2"})
        assertRedirects(response, LIST_URL + "?page=2", fetch_redirect_response=False)
        response = user_client.post(read_url(other), {"next": "https://evil.example/"})
        assertRedirects(response, LIST_URL, fetch_redirect_response=False)

    def test_needs_post(self, user_client, user):
        (message,) = send(user)
        assert user_client.get(read_url(message)).status_code == 405
        assert Message.objects.get(pk=message.pk).read_at is None

    def test_another_users_message_is_404(self, user_client):
        (theirs,) = send(UserFactory(), link="/account/orders/BS-ZX1/")
        assert user_client.post(read_url(theirs), {"go": "1"}).status_code == 404
        assert Message.objects.get(pk=theirs.pk).read_at is None

    def test_read_all(self, user_client, user):
        send(user, 3)
        (theirs,) = send(UserFactory())

        response = user_client.post(READ_ALL_URL)

        assertRedirects(response, LIST_URL, fetch_redirect_response=False)
        assert selectors.message_unread_count(user=user) == 0
        assert Message.objects.get(pk=theirs.pk).read_at is None

    def test_read_all_needs_post(self, user_client, user):
        send(user)
        assert user_client.get(READ_ALL_URL).status_code == 405
        assert selectors.message_unread_count(user=user) == 1


class TestUnreadBadge:
    def test_header_shows_the_unread_count(self, user_client, user):
        messages = send(user, 3)
        send(UserFactory(), 5)
        services.message_mark_read(message=messages[0])
        assert badge(user_client.get(PAGE_URL)) == "2"

    def test_no_badge_when_everything_is_read(self, user_client, user):
        send(user, 2)
        services.message_mark_all_read(user=user)
        assert badge(user_client.get(PAGE_URL)) is None

    def test_badge_goes_when_all_are_read(self, user_client, user):
        send(user, 2)
        assert badge(user_client.get(PAGE_URL)) == "2"
        user_client.post(READ_ALL_URL)
        assert badge(user_client.get(PAGE_URL)) is None

    def test_more_than_99_shows_99_plus(self, user_client, user):
        Message.objects.bulk_create(Message(user=user, title=f"消息 {i}") for i in range(100))
        assert badge(user_client.get(PAGE_URL)) == "99+"

    def test_signed_in_pages_count_once(self, user_client, user):
        send(user, 2)
        with CaptureQueriesContext(connection) as queries:
            response = user_client.get(PAGE_URL)
        assert badge(response) == "2"
        assert len(message_queries(queries)) == 1

    def test_anonymous_pages_run_no_extra_query(self, client, settings):
        send(UserFactory(), 2)
        with CaptureQueriesContext(connection) as with_badge:
            response = client.get(PAGE_URL)
        assert response.status_code == 200 and badge(response) is None
        assert message_queries(with_badge) == []

        processors = settings.TEMPLATES[0]["OPTIONS"]["context_processors"]
        settings.TEMPLATES = [
            {
                **settings.TEMPLATES[0],
                "OPTIONS": {
                    **settings.TEMPLATES[0]["OPTIONS"],
                    "context_processors": [p for p in processors if p != "mall.context_processors.unread_messages"],
                },
            }
        ]
        with CaptureQueriesContext(connection) as without_badge:
            client.get(PAGE_URL)
        assert len(with_badge) == len(without_badge)

    def test_context_processor_is_lazy(self, django_assert_num_queries, user):
        request = RequestFactory().get("/")
        request.user = user
        with django_assert_num_queries(0):
            context = unread_messages(request)
        send(user, 1)
        with django_assert_num_queries(1):
            assert context["unread_message_count"] == 1 and int(str(context["unread_message_count"])) == 1

    def test_context_processor_never_queries_for_anonymous(self, django_assert_num_queries):
        request = RequestFactory().get("/")
        request.user = AnonymousUser()
        with django_assert_num_queries(0):
            assert not unread_messages(request)["unread_message_count"]

    def test_is_registered(self):
        assert "mall.context_processors.unread_messages" in settings.TEMPLATES[0]["OPTIONS"]["context_processors"]


class TestMessageAdmin:
    CHANGELIST = reverse("admin:accounts_message_changelist")

    @pytest.fixture
    def admin_client_(self, client):
        client.force_login(UserFactory(superuser=True), backend="django.contrib.auth.backends.ModelBackend")
        return client

    def test_changelist_searches_and_filters_unread(self, admin_client_, user):
        read, unread = send(user, 2, title="订单已提交")
        services.message_mark_read(message=read)
        send(UserFactory(), title="别的通知")

        response = admin_client_.get(self.CHANGELIST, {"q": "订单已提交"})
        assert "订单已提交 0" in response.text and "订单已提交 1" in response.text and "别的通知" not in response.text

        response = admin_client_.get(self.CHANGELIST, {"read_at__isempty": "1"})
        assert response.status_code == 200
        assert "订单已提交 1" in response.text and "订单已提交 0" not in response.text

    def test_staff_cannot_add(self, admin_client_):
        assert admin_client_.get(reverse("admin:accounts_message_add")).status_code == 403
