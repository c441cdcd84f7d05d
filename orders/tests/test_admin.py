"""The order admin: the read-only order, its review pages and bulk actions, and the
queue on the admin index, driven through their URLs as staff with exactly the
permissions of each role.

The admin is still being translated, so assertions check status codes, data,
database state and the services' effects, never the project's Chinese text.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.contrib import messages
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertTemplateUsed

from accounts.models import Message
from accounts.roles import GROUP_CATALOG, GROUP_FINANCE, GROUP_REVIEWERS
from accounts.tests.factories import UserFactory
from catalog.tests.factories import PlatformFactory, ServiceFactory
from orders import services
from orders.models import Order, OrderEvent
from orders.templatetags.order_admin import waiting_time
from orders.tests.factories import first_of_next_month, month_end_before, order_in, submitted_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

S = Order.Status
CHANGELIST = reverse("admin:orders_order_changelist")
VIEW = ["orders.view_order", "orders.view_orderline", "orders.view_orderevent"]


START = first_of_next_month()


def staff_with(*perms, **kwargs):
    user = UserFactory(staff=True, **kwargs)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


@pytest.fixture
def viewer_client(client):
    """Finance: may look at orders but not review or close them."""
    client.force_login(UserFactory(staff=True, groups=[GROUP_FINANCE]))
    return client


def url(name, order):
    return reverse(f"admin:orders_order_{name}", args=[order.pk])


def message_list(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in messages.get_messages(response.wsgi_request)]


def moves(order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).values_list("action", flat=True))


def post_action(client, action, orders, **data):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [o.pk for o in orders], **data})


class TestApprove:
    def test_page_defaults_to_the_total_and_today_and_shows_each_service_end(self, reviewer_client):
        order = submitted_order(services_and_quantities=[(ServiceFactory(period_months=12), 2), (ServiceFactory(one_off=True), 1)])
        response = reviewer_client.get(url("approve", order))
        assert response.status_code == 200
        form = response.context["form"]
        assert form.initial == {"paid_amount": order.total, "service_start": timezone.localdate(), "seen": order.updated_at}
        today = timezone.localdate()
        ends = [end for _line, end in response.context["lines"]]
        assert ends == [today + relativedelta(years=1) - timedelta(days=1), None]

    def test_preview_shows_the_ends_for_another_start_without_approving(self, reviewer_client):
        order = submitted_order(services_and_quantities=[(ServiceFactory(period_months=12), 1)])
        response = reviewer_client.post(
            url("approve", order), {"paid_amount": order.total, "service_start": "2026-01-31", "_preview": "1"}
        )
        assert response.status_code == 200
        assert [end for _line, end in response.context["lines"]] == [date(2027, 1, 30)]
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT

    def test_post_approves_with_the_amount_and_start_as_the_reviewer(
        self, reviewer_client, reviewer, mailoutbox, django_capture_on_commit_callbacks
    ):
        order = submitted_order(services_and_quantities=[(ServiceFactory(period_months=12), 1), (ServiceFactory(period_months=6), 1)])
        with django_capture_on_commit_callbacks(execute=True):
            response = reviewer_client.post(url("approve", order), {"paid_amount": "3999.50", "service_start": START.isoformat()})
        assert response.status_code == 302
        assert response.url == url("change", order)
        order.refresh_from_db()
        assert order.status == S.IN_TRADE
        assert order.paid_amount == Decimal("3999.50")
        event = order.events.get(action="approve")
        assert (event.actor, event.actor_kind, event.from_status) == (reviewer, "staff", S.AWAITING_PAYMENT)
        periods = list(order.lines.values_list("service_start", "service_end"))
        assert periods == [(START, month_end_before(START, 12)), (START, month_end_before(START, 6))]
        assert Message.objects.filter(user=order.customer, link=order.get_absolute_url()).count() == 2  # submit, approve
        assert [email.to for email in mailoutbox] == [[order.customer.email]]
        assert order.number in mailoutbox[0].subject
        assert [level for level, _text in message_list(response)] == [messages.SUCCESS]

    @pytest.mark.parametrize("amount", ["-0.01", "4000.01", "12.345", "abc"])
    def test_a_paid_amount_outside_0_to_the_total_is_refused(self, reviewer_client, amount):
        order = submitted_order(services_and_quantities=[(ServiceFactory(standard_price=Decimal("2000.00")), 2)])
        response = reviewer_client.post(url("approve", order), {"paid_amount": amount, "service_start": START.isoformat()})
        assert response.status_code == 200
        assert response.context["form"].errors["paid_amount"]
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT
        assert moves(order) == ["submit"]

    def test_zero_and_the_total_are_accepted(self, reviewer_client):
        free, full = submitted_order(), submitted_order()
        reviewer_client.post(url("approve", free), {"paid_amount": "0", "service_start": START.isoformat()})
        reviewer_client.post(url("approve", full), {"paid_amount": str(full.total), "service_start": START.isoformat()})
        free.refresh_from_db()
        full.refresh_from_db()
        assert (free.status, free.paid_amount) == (S.IN_TRADE, Decimal("0.00"))
        assert (full.status, full.paid_amount) == (S.IN_TRADE, full.total)

    def test_needs_a_csrf_token(self, reviewer):
        order = submitted_order()
        client = Client(enforce_csrf_checks=True)
        client.force_login(reviewer)
        response = client.post(url("approve", order), {"paid_amount": str(order.total), "service_start": START.isoformat()})
        assert response.status_code == 403
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT


class TestRejectAndClose:
    def test_reject_without_a_reason_is_refused_and_changes_nothing(self, reviewer_client):
        order = submitted_order()
        response = reviewer_client.post(url("reject", order), {"reason": "   "})
        assert response.status_code == 200
        assert response.context["form"].errors["reason"]
        order.refresh_from_db()
        assert (order.status, order.rejection_reason) == (S.AWAITING_PAYMENT, "")
        assert moves(order) == ["submit"]

    def test_reject_with_a_reason_stores_it_for_the_customer(
        self, reviewer_client, reviewer, mailoutbox, django_capture_on_commit_callbacks
    ):
        order = submitted_order()
        with django_capture_on_commit_callbacks(execute=True):
            response = reviewer_client.post(url("reject", order), {"reason": "店铺名称与平台不一致"})
        assert response.status_code == 302
        order.refresh_from_db()
        assert (order.status, order.rejection_reason) == (S.REJECTED, "店铺名称与平台不一致")
        event = order.events.get(action="reject")
        assert (event.actor, event.note) == (reviewer, "店铺名称与平台不一致")
        assert Message.objects.filter(user=order.customer, body="店铺名称与平台不一致").exists()
        [email] = mailoutbox
        assert email.to == [order.customer.email] and "店铺名称与平台不一致" in email.body

    def test_close_with_a_reason(self, reviewer_client, reviewer):
        order = order_in(S.IN_TRADE)
        response = reviewer_client.post(url("close", order), {"reason": "客户要求取消"})
        assert response.status_code == 302
        order.refresh_from_db()
        assert (order.status, order.close_reason) == (S.FAILED, "客户要求取消")
        assert order.events.get(action="close").actor == reviewer

    def test_close_without_a_reason_is_refused(self, reviewer_client):
        order = submitted_order()
        response = reviewer_client.post(url("close", order), {"reason": ""})
        assert response.status_code == 200
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT

    def test_the_reason_pages_render(self, reviewer_client):
        order = submitted_order()
        for name in ("reject", "close"):
            response = reviewer_client.get(url(name, order))
            assert response.status_code == 200
            assertTemplateUsed(response, "admin/orders/order/reason.html")


class TestPermissions:
    @pytest.mark.parametrize("name", ["approve", "reject", "close"])
    def test_a_viewer_gets_403_on_the_review_pages_and_their_posts(self, viewer_client, name):
        order = submitted_order()
        assert viewer_client.get(url(name, order)).status_code == 403
        data = {"paid_amount": str(order.total), "service_start": START.isoformat(), "reason": "x"}
        assert viewer_client.post(url(name, order), data).status_code == 403
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT

    def test_closing_needs_close_order_not_only_review_order(self, client):
        client.force_login(staff_with(*VIEW, "orders.review_order"))
        order = submitted_order()
        assert client.get(url("close", order)).status_code == 403
        assert client.get(url("reject", order)).status_code == 200

    def test_a_customer_is_sent_to_the_admin_login(self, client):
        order = submitted_order()
        client.force_login(order.customer)
        response = client.post(url("approve", order), {"paid_amount": "0", "service_start": START.isoformat()})
        assert response.status_code == 302
        assert "login" in response.url
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT

    def test_nobody_adds_edits_or_deletes_an_order_here(self, client):
        client.force_login(UserFactory(superuser=True))
        order = submitted_order()
        assert client.get(reverse("admin:orders_order_add")).status_code == 403
        assert client.post(url("change", order), {"store_name": "改名"}).status_code == 403
        assert client.post(url("delete", order), {"post": "yes"}).status_code == 403
        order.refresh_from_db()
        assert order.store_name != "改名"

    def test_the_viewer_is_not_offered_the_review_actions(self, viewer_client):
        order = submitted_order()
        response = viewer_client.get(CHANGELIST)
        assert response.context["action_form"] is None  # no action this user may take
        post_action(viewer_client, "approve_selected", [order])
        order.refresh_from_db()
        assert order.status == S.AWAITING_PAYMENT


class TestChangePage:
    def test_shows_everything_the_customer_entered_read_only(self, viewer_client):
        order = submitted_order(remarks="请尽快开通")
        response = viewer_client.get(url("change", order))
        assert response.status_code == 200
        text = response.text
        for value in (
            order.number,
            order.store_name,
            order.seller_nick,
            order.marketplace_order_no,
            order.contract_customer_name,
            order.reminder_email,
            "请尽快开通",
            order.invoice_title,
            order.invoice_taxpayer_id,
            order.agreement_version,
            order.agreement_accepted_ip,
            order.lines.get().serial,
            order.lines.get().service_name,
        ):
            assert value in text, value
        assert 'name="store_name"' not in text and 'name="_save"' not in text
        assert 'data-status="awaiting_payment"' in text

    def test_the_timeline_shows_who_did_what(self, viewer_client):
        order = order_in(S.REJECTED)
        response = viewer_client.get(url("change", order))
        events = response.context["inline_admin_formsets"][1].formset.queryset
        assert [event.action for event in events] == ["submit", "reject"]
        assert "店铺名称与平台不一致" in response.text

    def test_a_viewer_sees_no_review_buttons(self, viewer_client):
        order = submitted_order()
        response = viewer_client.get(url("change", order))
        assert response.context["review_buttons"] == []
        assert "data-move" not in response.text

    @pytest.mark.parametrize(
        ("status", "buttons"),
        [
            (S.AWAITING_PAYMENT, ["approve", "reject", "close"]),
            (S.REJECTED, ["close"]),
            (S.IN_TRADE, ["close"]),
            (S.SUCCESS, []),
            (S.FAILED, []),
        ],
    )
    def test_a_reviewer_sees_the_buttons_the_state_allows(self, reviewer_client, status, buttons):
        order = order_in(status)
        response = reviewer_client.get(url("change", order))
        assert [css for _url, _label, css in response.context["review_buttons"]] == buttons
        for move in buttons:
            assert f'data-move="{move}"' in response.text


class TestStaleButtons:
    """The reviewer's page was opened before another reviewer acted on the order."""

    def test_approve_page_of_an_order_approved_by_someone_else_redirects_with_a_message(self, reviewer_client):
        order = order_in(S.IN_TRADE)
        response = reviewer_client.get(url("approve", order))
        assert response.status_code == 302
        assert response.url == url("change", order)
        assert [level for level, _text in message_list(response)] == [messages.ERROR]

    def test_approve_post_of_an_order_approved_by_someone_else_changes_nothing(self, reviewer_client):
        order = submitted_order()
        other = UserFactory(staff=True, groups=[GROUP_REVIEWERS])
        services.order_approve(order=order, actor=other, paid_amount=Decimal("1.00"))
        response = reviewer_client.post(url("approve", order), {"paid_amount": str(order.total), "service_start": START.isoformat()})
        assert response.status_code == 302
        [(level, text)] = message_list(response)
        assert level == messages.ERROR and order.number in text
        order.refresh_from_db()
        assert order.paid_amount == Decimal("1.00")
        assert order.events.get(action="approve").actor == other

    def test_reject_post_of_an_approved_order_is_a_message_not_a_500(self, reviewer_client):
        order = order_in(S.IN_TRADE)
        response = reviewer_client.post(url("reject", order), {"reason": "迟到的驳回"})
        assert response.status_code == 302
        assert [level for level, _text in message_list(response)] == [messages.ERROR]
        order.refresh_from_db()
        assert order.status == S.IN_TRADE

    def test_a_refusal_raised_by_the_service_becomes_a_message(self, reviewer_client, monkeypatch):
        """The service, not the page, has the last word: it refuses under its row lock."""
        order = submitted_order()

        def refuse(**kwargs):
            raise services.OrderError("refused under the lock")

        monkeypatch.setattr(services, "order_reject", refuse)
        response = reviewer_client.post(url("reject", order), {"reason": "x"})
        assert response.status_code == 302
        assert message_list(response) == [(messages.ERROR, "refused under the lock")]

    def test_losing_a_race_to_the_same_move_says_someone_else_made_it(self, reviewer_client, monkeypatch):
        """Both reviewers saw the order awaiting review; the other's approval committed
        first, so the service finds it approved and changes nothing."""
        order = submitted_order()
        other = UserFactory(staff=True, groups=[GROUP_REVIEWERS])
        real_approve = services.order_approve

        def approved_first_by_other(*, order, **kwargs):
            real_approve(order=order, actor=other)
            return real_approve(order=order, **kwargs)

        monkeypatch.setattr(services, "order_approve", approved_first_by_other)
        response = reviewer_client.post(url("approve", order), {"paid_amount": str(order.total), "service_start": START.isoformat()})
        [(level, text)] = message_list(response)
        assert level == messages.WARNING and order.number in text
        assert order.events.filter(action="approve").count() == 1


class TestChangelist:
    def changelist_queries(self, client, **params):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(CHANGELIST, params)
        assert response.status_code == 200
        return len(queries)

    def test_query_count_does_not_grow_with_rows(self, reviewer_client):
        def make(count):
            for _ in range(count):
                submitted_order(services_and_quantities=[(ServiceFactory(), 1), (ServiceFactory(), 2)])

        make(3)
        with_3 = self.changelist_queries(reviewer_client)
        make(17)
        assert self.changelist_queries(reviewer_client) == with_3
        assert self.changelist_queries(reviewer_client, q="云测") == self.changelist_queries(reviewer_client, q="云")

    def test_lists_the_columns(self, reviewer_client):
        platform = PlatformFactory(name="京东")
        customer = UserFactory(real_name="赵六", company="上海云测贸易有限公司")
        order = submitted_order(customer=customer, services_and_quantities=[(ServiceFactory(platform=platform), 1)])
        response = reviewer_client.get(CHANGELIST)
        for text in (order.number, "赵六", "上海云测贸易有限公司", order.store_name, "京东", 'data-status="awaiting_payment"'):
            assert text in response.text

    def test_waiting_time_is_shown_for_orders_under_review_only(self):
        now = timezone.now()
        assert waiting_time(now - timedelta(days=3, hours=4, minutes=5), now) == "3 days 4 hours"
        assert waiting_time(now - timedelta(hours=5, minutes=12), now) == "5 hours 12 minutes"
        assert waiting_time(now - timedelta(seconds=30), now) == "0 minutes"

    def test_default_order_is_the_review_queue_oldest_first_then_the_rest_newest_first(self, reviewer_client):
        now = timezone.now()

        def at(order, hours_ago):
            Order.objects.filter(pk=order.pk).update(submitted_at=now - timedelta(hours=hours_ago))
            return order

        waiting_new = at(submitted_order(), 1)
        waiting_old = at(submitted_order(), 50)
        done_old = at(order_in(S.IN_TRADE), 100)
        done_new = at(order_in(S.REJECTED), 2)
        response = reviewer_client.get(CHANGELIST)
        assert list(response.context["cl"].result_list) == [waiting_old, waiting_new, done_new, done_old]

    def test_search_by_line_serial_finds_its_order(self, reviewer_client):
        wanted = submitted_order(services_and_quantities=[(ServiceFactory(), 1), (ServiceFactory(), 1)])
        submitted_order()
        serial = wanted.lines.last().serial
        response = reviewer_client.get(CHANGELIST, {"q": serial})
        assert list(response.context["cl"].result_list) == [wanted]

    @pytest.mark.parametrize("field", ["store_name", "seller_nick", "marketplace_order_no"])
    def test_search_by_what_the_customer_entered(self, reviewer_client, field):
        wanted = submitted_order(**{field: "独一无二ABC"})
        submitted_order()
        response = reviewer_client.get(CHANGELIST, {"q": "独一无二abc"})
        assert list(response.context["cl"].result_list) == [wanted]

    def test_search_by_customer_company(self, reviewer_client):
        wanted = submitted_order(customer=UserFactory(company="杭州特别科技有限公司"))
        submitted_order(customer=UserFactory(company="别家公司"))
        response = reviewer_client.get(CHANGELIST, {"q": "特别科技"})
        assert list(response.context["cl"].result_list) == [wanted]

    def test_filter_by_platform_of_a_line_lists_an_order_once(self, reviewer_client):
        platform = PlatformFactory()
        wanted = submitted_order(
            services_and_quantities=[(ServiceFactory(platform=platform), 1), (ServiceFactory(platform=platform), 1)]
        )
        submitted_order()
        response = reviewer_client.get(CHANGELIST, {"lines__service__platform__id__exact": platform.pk})
        assert list(response.context["cl"].result_list) == [wanted]

    def test_filter_by_status(self, reviewer_client):
        wanted = order_in(S.REJECTED)
        submitted_order()
        response = reviewer_client.get(CHANGELIST, {"status__exact": S.REJECTED})
        assert list(response.context["cl"].result_list) == [wanted]


class TestBulkApprove:
    def test_approves_only_orders_awaiting_review_and_names_the_skipped(self, reviewer_client, reviewer):
        waiting = [submitted_order(), submitted_order()]
        rejected, in_trade = order_in(S.REJECTED), order_in(S.IN_TRADE)
        response = post_action(reviewer_client, "approve_selected", [*waiting, rejected, in_trade])
        assert response.status_code == 302
        for order in waiting:
            order.refresh_from_db()
            assert (order.status, order.paid_amount) == (S.IN_TRADE, order.total)
            assert order.events.get(action="approve").actor == reviewer
            assert set(order.lines.values_list("service_start", flat=True)) == {timezone.localdate()}
        rejected.refresh_from_db()
        assert rejected.status == S.REJECTED
        assert in_trade.events.filter(action="approve").count() == 1
        (ok_level, ok_text), (skip_level, skip_text) = message_list(response)
        assert (ok_level, skip_level) == (messages.SUCCESS, messages.WARNING)
        assert "2" in ok_text
        assert rejected.number in skip_text and in_trade.number in skip_text
        assert not any(order.number in skip_text for order in waiting)


class TestBulkReject:
    def test_asks_for_the_reason_on_an_intermediate_page_first(self, reviewer_client):
        waiting, in_trade = submitted_order(), order_in(S.IN_TRADE)
        response = post_action(reviewer_client, "reject_selected", [waiting, in_trade])
        assert response.status_code == 200
        assertTemplateUsed(response, "admin/orders/order/reject_selected.html")
        assert response.context["eligible"] == 1
        assert f'name="_selected_action" value="{waiting.pk}"' in response.text
        waiting.refresh_from_db()
        assert waiting.status == S.AWAITING_PAYMENT

    def test_applying_without_a_reason_asks_again_and_changes_nothing(self, reviewer_client):
        waiting = submitted_order()
        response = post_action(reviewer_client, "reject_selected", [waiting], apply="1", reason=" ")
        assert response.status_code == 200
        assert response.context["form"].errors["reason"]
        waiting.refresh_from_db()
        assert waiting.status == S.AWAITING_PAYMENT

    def test_applying_with_a_reason_rejects_the_eligible_ones(self, reviewer_client, reviewer):
        waiting = [submitted_order(), submitted_order()]
        in_trade = order_in(S.IN_TRADE)
        response = post_action(reviewer_client, "reject_selected", [*waiting, in_trade], apply="1", reason="发票抬头有误")
        assert response.status_code == 302
        for order in waiting:
            order.refresh_from_db()
            assert (order.status, order.rejection_reason) == (S.REJECTED, "发票抬头有误")
            assert order.events.get(action="reject").actor == reviewer
        in_trade.refresh_from_db()
        assert in_trade.status == S.IN_TRADE
        (_ok_level, _ok_text), (skip_level, skip_text) = message_list(response)
        assert skip_level == messages.WARNING and in_trade.number in skip_text


class TestAdminIndexQueue:
    def test_shows_the_review_queue_with_the_oldest_age_and_a_link(self, viewer_client):
        oldest = submitted_order()
        Order.objects.filter(pk=oldest.pk).update(submitted_at=timezone.now() - timedelta(days=3, hours=4, minutes=1))
        submitted_order()
        order_in(S.IN_TRADE)
        response = viewer_client.get(reverse("admin:index"))
        assert response.status_code == 200
        assert f"{CHANGELIST}?status__exact=awaiting_payment" in response.text
        assert '<td class="count">2</td>' in response.text
        assert "3 days 4 hours" in response.text

    def test_an_empty_queue_shows_zero(self, viewer_client):
        response = viewer_client.get(reverse("admin:index"))
        assert '<td class="count">0</td>' in response.text

    def test_staff_who_cannot_view_orders_see_no_queue(self, client):
        submitted_order()
        client.force_login(UserFactory(staff=True, groups=[GROUP_CATALOG]))
        response = client.get(reverse("admin:index"))
        assert response.status_code == 200
        assert 'id="queues"' not in response.text

    def test_query_count_does_not_grow_with_the_queue(self, viewer_client):
        submitted_order()
        with CaptureQueriesContext(connection) as few:
            viewer_client.get(reverse("admin:index"))
        for _ in range(5):
            submitted_order()
        with CaptureQueriesContext(connection) as many:
            viewer_client.get(reverse("admin:index"))
        assert len(many) == len(few)


def test_order_page_links_nowhere_a_reviewer_cannot_go(client, reviewer):
    """Customer and agreement are shown as text; no "view on site" (the customer's page is 404 for staff)."""
    order = submitted_order()
    client.force_login(reviewer)
    page = client.get(url("change", order)).text
    assert reverse("admin:accounts_user_change", args=[order.customer_id]) not in page
    assert reverse("admin:orders_agreement_change", args=[order.agreement_id]) not in page
    assert "/r/" not in page  # the admin's view-on-site redirect
    assert order.customer.username in page


def test_a_published_agreement_is_view_only(admin_client):
    from orders.tests.factories import AgreementFactory

    agreement = AgreementFactory()
    response = admin_client.get(reverse("admin:orders_agreement_change", args=[agreement.pk]))
    assert response.status_code == 200
    assert 'name="_save"' not in response.text


def test_approving_an_order_the_customer_changed_after_the_page_opened_is_refused(client, reviewer):
    order = submitted_order()
    client.force_login(reviewer)
    page = client.get(url("approve", order))
    seen = page.context["form"]["seen"].value()
    services.order_edit(order=order, actor=order.customer, details={"store_name": "客户刚改过的店名"})
    response = client.post(
        url("approve", order),
        {"paid_amount": str(order.total), "service_start": first_of_next_month().isoformat(), "seen": seen},
    )
    assert response.status_code == 302
    assert [level for level, _text in message_list(response)] == [messages.ERROR]
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT


def test_approving_the_order_as_seen_works(client, reviewer):
    order = submitted_order()
    client.force_login(reviewer)
    seen = client.get(url("approve", order)).context["form"]["seen"].value()
    client.post(
        url("approve", order),
        {"paid_amount": str(order.total), "service_start": first_of_next_month().isoformat(), "seen": seen},
    )
    order.refresh_from_db()
    assert order.status == S.IN_TRADE
