"""mall.admin_moves, the admin's "one page per move", through the admins that declare their
moves with it (orders, invoices, refunds): each move's URL, 403 before 404, the refusal and
repeat messages, a domain error as a message or on the form, "someone else made it", the
page's context, the change page's buttons, and the checks of a declaration.

Assertions check status codes, message levels, context and database state, never the
project's Chinese text.
"""

import pytest
from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertTemplateUsed

from accounts.roles import GROUP_CATALOG, GROUP_FINANCE, GROUP_REVIEWERS
from accounts.tests.factories import UserFactory
from invoicing import services as invoicing_services
from invoicing.models import Invoice
from mall.admin_moves import Move, MoveAdminMixin, ReadOnlyAdmin
from orders.models import Order
from orders.tests.factories import order_in, submitted_order
from refunds import services as refunds_services
from refunds.exceptions import RefundError
from refunds.models import RefundRequest
from refunds.tests.factories import finance_user, refund_requested, refundable_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

MOVES = [
    ("orders", "order", "approve"),
    ("orders", "order", "reject"),
    ("orders", "order", "close"),
    ("invoicing", "invoice", "issue"),
    ("invoicing", "invoice", "deliver"),
    ("refunds", "refundrequest", "approve"),
    ("refunds", "refundrequest", "reject"),
    ("refunds", "refundrequest", "complete"),
]
# Staff who see the rows of each app but may make none of its moves.
VIEWERS = {
    "orders": ["orders.view_order"],
    "invoicing": ["invoicing.view_invoice"],
    "refunds": ["refunds.view_refundrequest"],
}


def move_url(app, model, move, pk):
    return reverse(f"admin:{app}_{model}_{move}", args=[pk])


def change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def message_list(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in messages.get_messages(response.wsgi_request)]


def levels(response) -> list[int]:
    return [level for level, _text in message_list(response)]


def staff_with(*perms):
    user = UserFactory(staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


@pytest.fixture
def refund():
    return refund_requested(refundable_order())


class TestUrls:
    @pytest.mark.parametrize(("app", "model", "move"), MOVES)
    def test_each_move_has_its_page_under_the_row(self, app, model, move):
        assert move_url(app, model, move, 7).endswith(f"/{app}/{model}/7/{move}/")


class TestPermission:
    @pytest.mark.parametrize(("app", "model", "move"), MOVES)
    def test_staff_who_may_view_but_not_make_the_move_get_403_before_any_lookup(self, client, app, model, move):
        """403 even for a row that does not exist: the permission says nothing about rows."""
        client.force_login(staff_with(*VIEWERS[app]))
        assert client.get(move_url(app, model, move, 987654)).status_code == 403
        assert client.post(move_url(app, model, move, 987654), {"reason": "x"}).status_code == 403

    @pytest.mark.parametrize(("app", "model", "move"), MOVES)
    def test_a_superuser_gets_404_for_no_such_row(self, client, app, model, move):
        client.force_login(UserFactory(superuser=True))
        assert client.get(move_url(app, model, move, 987654)).status_code == 404

    def test_staff_of_the_wrong_group_change_nothing(self, client, refund):
        client.force_login(UserFactory(staff=True, groups=[GROUP_REVIEWERS]))
        assert client.post(move_url("refunds", "refundrequest", "approve", refund.pk)).status_code == 403
        refund.refresh_from_db()
        assert refund.status == RefundRequest.Status.PENDING

    def test_each_move_has_its_own_permission(self, client):
        """orders.review_order opens approve and reject, not close (orders.close_order)."""
        order = submitted_order()
        client.force_login(staff_with("orders.view_order", "orders.review_order"))
        assert client.get(move_url("orders", "order", "reject", order.pk)).status_code == 200
        assert client.get(move_url("orders", "order", "close", order.pk)).status_code == 403

    def test_a_customer_is_sent_to_the_admin_login(self, client, refund):
        client.force_login(refund.order.customer)
        response = client.post(move_url("refunds", "refundrequest", "approve", refund.pk))
        assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
        refund.refresh_from_db()
        assert refund.status == RefundRequest.Status.PENDING


class TestPage:
    def test_get_renders_the_moves_template_with_the_row_the_form_and_the_urls(self, finance_client, refund):
        response = finance_client.get(move_url("refunds", "refundrequest", "reject", refund.pk))
        assert response.status_code == 200
        assertTemplateUsed(response, "admin/refunds/refundrequest/reject.html")
        context = response.context
        assert context["refund"] == refund
        assert context["move"] == "reject"
        assert context["change_url"] == change_url(refund)
        assert context["opts"] == RefundRequest._meta
        assert refund.number in context["title"]
        assert not context["form"].is_bound
        assert "site_header" in context  # the admin's each_context

    def test_a_move_without_fields_is_a_confirmation_page(self, finance_client, refund):
        response = finance_client.get(move_url("refunds", "refundrequest", "approve", refund.pk))
        assert response.status_code == 200
        assert response.context["form"] is None
        refund.refresh_from_db()
        assert refund.status == RefundRequest.Status.PENDING

    def test_an_invalid_form_shows_the_page_again_and_calls_nothing(self, finance_client, refund):
        response = finance_client.post(move_url("refunds", "refundrequest", "reject", refund.pk), {"reason": " "})
        assert response.status_code == 200
        assert response.context["form"].errors["reason"]
        refund.refresh_from_db()
        assert refund.status == RefundRequest.Status.PENDING

    def test_a_valid_post_calls_the_service_as_the_user_and_shows_the_row(self, client, refund):
        finance = finance_user()
        client.force_login(finance)
        response = client.post(move_url("refunds", "refundrequest", "reject", refund.pk), {"reason": "不符合"})
        assert response.status_code == 302 and response.url == change_url(refund)
        assert levels(response) == [messages.SUCCESS]
        refund.refresh_from_db()
        assert (refund.status, refund.decided_by) == (RefundRequest.Status.REJECTED, finance)


class TestStateNoLongerAllowsTheMove:
    @pytest.mark.parametrize("method", ["get", "post"])
    def test_another_move_made_first_is_an_error_and_shows_the_row(self, finance_client, refund, method):
        refunds_services.refund_approve(refund=refund, actor=finance_user())
        url = move_url("refunds", "refundrequest", "reject", refund.pk)
        response = finance_client.get(url) if method == "get" else finance_client.post(url, {"reason": "太晚了"})
        assert response.status_code == 302 and response.url == change_url(refund)
        assert levels(response) == [messages.ERROR]
        refund.refresh_from_db()
        assert refund.status == RefundRequest.Status.APPROVED

    def test_a_repeat_of_the_submission_that_made_it_is_info(self, finance_client, refund):
        url = move_url("refunds", "refundrequest", "reject", refund.pk)
        finance_client.post(url, {"reason": "重复"})
        finance_client.get(change_url(refund))  # shows, and so consumes, the first message
        response = finance_client.post(url, {"reason": "重复"})
        assert response.status_code == 302 and response.url == change_url(refund)
        assert levels(response) == [messages.INFO]

    def test_a_repeat_is_told_by_what_was_submitted(self, finance_client):
        """The invoice issued with one number: the same number again is a repeat, another is not."""
        invoice = refundable_order().invoices.get()
        number = f"{timezone.localdate().year % 100:02d}31{1:016d}"
        invoicing_services.invoice_issue(
            invoice=invoice, actor=finance_user(), number=number, issued_on=timezone.localdate()
        )
        url = move_url("invoicing", "invoice", "issue", invoice.pk)
        data = {"issued_on": timezone.localdate().isoformat()}
        assert levels(finance_client.post(url, {**data, "number": number})) == [messages.INFO]
        finance_client.get(change_url(invoice))  # shows, and so consumes, the message
        other = f"{number[:-1]}2"
        assert levels(finance_client.post(url, {**data, "number": other})) == [messages.ERROR]
        invoice.refresh_from_db()
        assert (invoice.status, invoice.number) == (Invoice.Status.ISSUED, number)


class TestDomainErrors:
    def test_a_refusal_of_a_move_without_a_form_is_a_message(self, finance_client, refund, monkeypatch):
        def refuse(**kwargs):
            raise RefundError("refused under the lock")

        monkeypatch.setattr(refunds_services, "refund_approve", refuse)
        response = finance_client.post(move_url("refunds", "refundrequest", "approve", refund.pk))
        assert response.status_code == 302 and response.url == change_url(refund)
        assert message_list(response) == [(messages.ERROR, "refused under the lock")]

    def test_a_refusal_of_a_move_with_a_form_is_shown_on_the_form(self, finance_client, refund, monkeypatch):
        def refuse(**kwargs):
            raise RefundError("refused under the lock")

        monkeypatch.setattr(refunds_services, "refund_reject", refuse)
        response = finance_client.post(move_url("refunds", "refundrequest", "reject", refund.pk), {"reason": "x"})
        assert response.status_code == 200
        assert response.context["form"].non_field_errors() == ["refused under the lock"]
        assert message_list(response) == []

    def test_a_move_made_meanwhile_by_someone_else_is_a_warning(self, finance_client, refund, monkeypatch):
        """The other's approval committed first: the service finds it approved and changes nothing."""
        other = finance_user()
        real_approve = refunds_services.refund_approve

        def approved_first_by_other(*, refund, actor):
            real_approve(refund=refund, actor=other)
            return real_approve(refund=refund, actor=actor)

        monkeypatch.setattr(refunds_services, "refund_approve", approved_first_by_other)
        response = finance_client.post(move_url("refunds", "refundrequest", "approve", refund.pk))
        assert response.status_code == 302
        assert levels(response) == [messages.WARNING]
        refund.refresh_from_db()
        assert refund.decided_by == other


class TestButtons:
    def test_the_change_page_offers_the_moves_the_user_may_make_in_the_rows_state(self, client):
        order = submitted_order()
        client.force_login(staff_with("orders.view_order", "orders.review_order"))
        buttons = client.get(change_url(order)).context["review_buttons"]
        assert [(url, move) for url, _label, move in buttons] == [
            (move_url("orders", "order", "approve", order.pk), "approve"),
            (move_url("orders", "order", "reject", order.pk), "reject"),
        ]  # close needs orders.close_order
        in_trade = order_in(Order.Status.IN_TRADE)
        client.force_login(UserFactory(staff=True, groups=[GROUP_REVIEWERS]))
        assert [move for *_rest, move in client.get(change_url(in_trade)).context["review_buttons"]] == ["close"]

    def test_staff_of_another_group_get_no_buttons(self, client, refund):
        client.force_login(staff_with("refunds.view_refundrequest"))
        assert client.get(change_url(refund)).context["refund_buttons"] == []


class TestDeclaration:
    def test_an_unknown_keyword_is_refused(self):
        with pytest.raises(TypeError, match="nmae"):
            Move(nmae="approve")

    def test_a_move_without_its_permission_method_fails_the_admin_check(self):
        class Unchecked(MoveAdminMixin, ReadOnlyAdmin):
            moves = [Move(name="approve", permission="sign")]

        errors = Unchecked(Order, AdminSite()).check()
        assert [error.id for error in errors] == ["admin_moves.E001"]

    @pytest.mark.parametrize("model", [Order, Invoice, RefundRequest])
    def test_the_shops_admins_pass_the_check(self, model):
        model_admin = admin.site.get_model_admin(model)
        assert isinstance(model_admin, MoveAdminMixin)
        assert model_admin.check() == []


def test_the_catalog_manager_reaches_no_move(client, refund):
    client.force_login(UserFactory(staff=True, groups=[GROUP_CATALOG]))
    for app, model, move in MOVES:
        assert client.get(move_url(app, model, move, refund.pk)).status_code == 403, move


def test_finance_group_makes_the_finance_moves(client, refund):
    client.force_login(UserFactory(staff=True, groups=[GROUP_FINANCE]))
    assert client.get(move_url("refunds", "refundrequest", "approve", refund.pk)).status_code == 200
    assert client.get(move_url("orders", "order", "approve", refund.order.pk)).status_code == 403
