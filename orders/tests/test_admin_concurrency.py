"""Two reviewers acting on one order at once, on PostgreSQL where row locks are real:
one wins, the other changes nothing and is told so."""

import pytest
from django.conf import settings
from django.contrib import messages
from django.test import Client
from django.urls import reverse

from accounts.roles import GROUP_REVIEWERS
from accounts.tests.factories import UserFactory
from orders import services
from orders.exceptions import TransitionRefused
from orders.models import Order
from tests.support.helpers import run_concurrently

from .factories import first_of_next_month, submitted_order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

S = Order.Status


def reviewer():
    return UserFactory(staff=True, groups=[GROUP_REVIEWERS])


def test_concurrent_approve_and_reject_through_the_services_leave_exactly_one_winner():
    order = submitted_order()
    staff = [reviewer(), reviewer()]
    moves = [
        lambda: services.order_approve(order=order, actor=staff[0]),
        lambda: services.order_reject(order=order, actor=staff[1], reason="资料不全"),
    ]
    outcomes = run_concurrently(lambda i: moves[i](), 2)
    winners = [o for o in outcomes if isinstance(o, Order)]
    losers = [o for o in outcomes if not isinstance(o, Order)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], TransitionRefused)
    order.refresh_from_db()
    assert order.status == winners[0].status in (S.IN_TRADE, S.REJECTED)
    assert [e.action for e in order.events.exclude(action="submit")] == [
        "approve" if order.status == S.IN_TRADE else "reject"
    ]
    if order.status == S.REJECTED:
        assert order.lines.filter(service_start__isnull=False).count() == 0
    else:
        assert order.rejection_reason == ""


def test_two_reviewers_posting_approve_and_reject_in_the_admin_one_wins_the_other_is_told():
    order = submitted_order()
    clients = []
    for _ in range(2):
        client = Client()
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        client.force_login(reviewer())
        clients.append(client)
    posts = [
        lambda: clients[0].post(
            reverse("admin:orders_order_approve", args=[order.pk]),
            {"paid_amount": str(order.total), "service_start": first_of_next_month().isoformat()},
        ),
        lambda: clients[1].post(reverse("admin:orders_order_reject", args=[order.pk]), {"reason": "资料不全"}),
    ]
    responses = run_concurrently(lambda i: posts[i](), 2)
    assert [r.status_code for r in responses] == [302, 302], responses
    levels = [[m.level for m in messages.get_messages(r.wsgi_request)] for r in responses]
    assert sorted(levels) == [[messages.SUCCESS], [messages.ERROR]]
    order.refresh_from_db()
    assert order.status in (S.IN_TRADE, S.REJECTED)
    assert order.events.exclude(action="submit").count() == 1


def test_two_reviewers_approving_at_once_make_one_approval_and_the_second_is_told():
    order = submitted_order()
    staff = [reviewer(), reviewer()]
    clients = []
    for user in staff:
        client = Client()
        client.force_login(user)
        clients.append(client)
    url = reverse("admin:orders_order_approve", args=[order.pk])
    data = {"paid_amount": str(order.total), "service_start": first_of_next_month().isoformat()}
    responses = run_concurrently(lambda i: clients[i].post(url, data), 2)
    levels = sorted(m.level for r in responses for m in messages.get_messages(r.wsgi_request))
    # The loser either found the order moved before its form was checked (error) or lost
    # the row lock to the same move (warning): never a second success.
    assert levels in ([messages.SUCCESS, messages.WARNING], [messages.SUCCESS, messages.ERROR])
    assert order.events.filter(action="approve").count() == 1
