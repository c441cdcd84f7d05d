"""Shared by the inquiry tests: URLs, a question asked through the service, signed-in
clients of a customer and of a reviewer."""

import pytest
from django.urls import reverse

from accounts.roles import GROUP_REVIEWERS
from accounts.tests.factories import UserFactory
from inquiries import services as inquiry_services
from inquiries.models import Inquiry

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
S = Inquiry.Status
LIST = reverse("inquiries:list")
NEW = reverse("inquiries:create")


def detail(inquiry):
    return reverse("inquiries:detail", args=[inquiry.pk])


def reply_url(inquiry):
    return reverse("inquiries:reply", args=[inquiry.pk])


def close_url(inquiry):
    return reverse("inquiries:close", args=[inquiry.pk])


def answer_url(inquiry):
    return reverse("admin:inquiries_inquiry_answer", args=[inquiry.pk])


def ask(customer, subject="发票抬头怎么改?", body="请问下单后还能改发票抬头吗?", **about) -> Inquiry:
    return inquiry_services.inquiry_create(customer=customer, subject=subject, body=body, **about)


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
