"""Finance's invoice queue in the admin (issue 5): the read-only invoice with its 开票 and
已寄出 pages, the contract and document-job admins, staff downloads and the queue on
the admin index, driven through their URLs as staff of each role.

The admin is still being translated: assertions check status codes, data, database
state, error codes and the services' effects, never the project's Chinese text.
"""

from datetime import timedelta

import pytest
from django.contrib import messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Message
from accounts.roles import GROUP_CATALOG, GROUP_FINANCE
from accounts.tests.factories import AddressFactory, UserFactory
from invoicing import services
from invoicing.models import Contract, DocumentJob, Invoice, InvoiceLine
from orders.models import Order, OrderEvent
from orders.tests.factories import order_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

S = Invoice.Status
CHANGELIST = reverse("admin:invoicing_invoice_changelist")
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def valid_number(serial: int = 1, *, year: int | None = None) -> str:
    """A 20-digit 数电发票 number issued this year in Shanghai (31)."""
    year = timezone.localdate().year if year is None else year
    return f"{year % 100:02d}312{serial:015d}"


def confirmed_order(**kwargs) -> Order:
    """An order whose receipt was confirmed, with its invoice and contract made."""
    order = order_in(Order.Status.SUCCESS, **kwargs)
    services.documents_generate(order_id=order.pk)
    return order


def invoice_of(order) -> Invoice:
    return order.invoices.get()


def url(name, obj, model="invoice"):
    return reverse(f"admin:invoicing_{model}_{name}", args=[obj.pk])


def message_list(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in messages.get_messages(response.wsgi_request)]


def events(order, action) -> list:
    return list(OrderEvent.objects.filter(order=order, action=action).values_list("actor_id", "note"))


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def invoice():
    return invoice_of(confirmed_order())


def issue(client, invoice, **data):
    form = {"number": valid_number(), "issued_on": timezone.localdate().isoformat(), **data}
    return client.post(url("issue", invoice), form)


class TestPagesRender:
    def test_changelist_change_and_issue_pages_for_finance(self, finance_client, invoice):
        response = finance_client.get(CHANGELIST)
        assert response.status_code == 200
        assert invoice.order.number in response.text
        assert 'data-status="pending"' in response.text

        response = finance_client.get(url("change", invoice))
        assert response.status_code == 200
        assert [move for _url, _label, move in response.context["invoice_buttons"]] == ["issue"]
        assert url("sheet", invoice) in response.text
        assert invoice.lines.get().item_name in response.text
        assert 'name="buyer_title"' not in response.text  # read-only: no inputs

        response = finance_client.get(url("issue", invoice))
        assert response.status_code == 200
        assert response.context["form"].initial["issued_on"] == timezone.localdate()
        assert 'enctype="multipart/form-data"' in response.text

    def test_deliver_page_shows_the_customers_default_mailing_address(self, finance_client, finance, invoice):
        customer = invoice.order.customer
        AddressFactory(user=customer, detail="另一条路1号")
        AddressFactory(user=customer, is_default=True, detail="号景路206弄10号", postal_code="201100")
        services.invoice_issue(invoice=invoice, actor=finance, number=valid_number(), issued_on=timezone.localdate())
        response = finance_client.get(url("deliver", invoice))
        assert response.status_code == 200
        assert response.context["address"].detail == "号景路206弄10号"
        assert "号景路206弄10号" in response.text and "201100" in response.text
        assert [move for *_rest, move in finance_client.get(url("change", invoice)).context["invoice_buttons"]] == [
            "deliver"
        ]

    def test_deliver_page_without_an_address_renders(self, finance_client, finance, invoice):
        services.invoice_issue(invoice=invoice, actor=finance, number=valid_number(), issued_on=timezone.localdate())
        response = finance_client.get(url("deliver", invoice))
        assert response.status_code == 200
        assert response.context["address"] is None

    def test_contract_and_document_job_pages(self, finance_client, invoice):
        contract = invoice.order.contract
        job = invoice.order.document_job
        for page in (
            reverse("admin:invoicing_contract_changelist"),
            url("change", contract, "contract"),
            reverse("admin:invoicing_documentjob_changelist"),
            url("change", job, "documentjob"),
        ):
            response = finance_client.get(page)
            assert response.status_code == 200, page
        response = finance_client.get(url("change", contract, "contract"))
        assert contract.get_verification_url() in response.text
        assert url("pdf", contract, "contract") in response.text

    def test_a_viewer_without_issue_permission_gets_no_buttons(self, client, invoice):
        viewer = UserFactory(staff=True)
        viewer.user_permissions.add(*_perms("view_invoice", "view_invoiceline"))
        client.force_login(viewer)
        response = client.get(url("change", invoice))
        assert response.status_code == 200
        assert response.context["invoice_buttons"] == []
        assert client.get(url("issue", invoice)).status_code == 403
        assert issue(client, invoice).status_code == 403
        invoice.refresh_from_db()
        assert invoice.status == S.PENDING


def _perms(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="invoicing", codename__in=codenames)


class TestIssue:
    @pytest.mark.parametrize(
        ("make", "code"),
        [
            pytest.param(lambda good: good[:19], "invoice_number_format", id="19-digits"),
            pytest.param(lambda good: good + "1", "invoice_number_format", id="21-digits"),
            pytest.param(lambda good: good[:17] + "A" + good[18:], "invoice_number_format", id="letters"),
            pytest.param(lambda good: good[:2] + "00" + good[4:], "invoice_number_province", id="no-such-province"),
        ],
    )
    def test_a_malformed_number_is_refused_beside_the_field_and_changes_nothing(
        self, finance_client, invoice, mailoutbox, make, code
    ):
        response = issue(finance_client, invoice, number=make(valid_number()))
        assert response.status_code == 200
        assert [error.code for error in response.context["form"].errors.as_data()["number"]] == [code]
        self.assert_unchanged(invoice, mailoutbox)

    def test_a_number_of_another_year_is_refused(self, finance_client, invoice, mailoutbox):
        last_year = timezone.localdate().year - 1
        response = issue(finance_client, invoice, number=valid_number(year=last_year))
        assert response.status_code == 200
        assert [e.code for e in response.context["form"].errors.as_data()["number"]] == ["invoice_number_year"]
        self.assert_unchanged(invoice, mailoutbox)

    def test_a_missing_number_or_date_is_refused(self, finance_client, invoice, mailoutbox):
        response = finance_client.post(url("issue", invoice), {"number": "", "issued_on": ""})
        assert response.status_code == 200
        assert set(response.context["form"].errors) == {"number", "issued_on"}
        self.assert_unchanged(invoice, mailoutbox)

    def test_a_date_in_the_future_is_refused_by_the_service(self, finance_client, invoice, mailoutbox):
        tomorrow = timezone.localdate() + timedelta(days=1)
        response = issue(finance_client, invoice, issued_on=tomorrow.isoformat(), number=valid_number(year=tomorrow.year))
        assert response.status_code == 200
        assert response.context["form"].non_field_errors()
        self.assert_unchanged(invoice, mailoutbox)

    def test_a_number_used_by_another_invoice_is_refused(self, finance_client, finance, invoice, mailoutbox):
        other = invoice_of(confirmed_order())
        services.invoice_issue(invoice=other, actor=finance, number=valid_number(7), issued_on=timezone.localdate())
        mailoutbox.clear()
        response = issue(finance_client, invoice, number=valid_number(7))
        assert response.status_code == 200
        assert response.context["form"].non_field_errors()
        self.assert_unchanged(invoice, mailoutbox)

    def test_a_file_that_is_not_a_pdf_is_refused(self, finance_client, invoice, mailoutbox):
        upload = SimpleUploadedFile("invoice.pdf", b"<html>not a pdf</html>", content_type="application/pdf")
        response = issue(finance_client, invoice, official_pdf=upload)
        assert response.status_code == 200
        assert response.context["form"].non_field_errors()
        self.assert_unchanged(invoice, mailoutbox)
        assert not Invoice.objects.get(pk=invoice.pk).official_pdf

    def test_issuing_stores_the_number_tells_the_customer_and_records_the_event(
        self, finance_client, finance, invoice, mailoutbox, django_capture_on_commit_callbacks
    ):
        customer = invoice.order.customer
        messages_before = Message.objects.filter(user=customer).count()
        with django_capture_on_commit_callbacks(execute=True):
            response = issue(finance_client, invoice, number=" ".join([valid_number(42)[:10], valid_number(42)[10:]]))
        assert response.status_code == 302
        assert response.url == url("change", invoice)
        [(level, _text)] = message_list(response)
        assert level == messages.SUCCESS
        invoice.refresh_from_db()
        assert invoice.status == S.ISSUED
        assert invoice.number == valid_number(42)  # the spaces typed are removed
        assert invoice.issued_on == timezone.localdate()
        assert events(invoice.order, "invoice_issue") == [(finance.pk, valid_number(42))]
        assert Message.objects.filter(user=customer).count() == messages_before + 1
        assert [mail.to for mail in mailoutbox] == [[customer.email]]
        assert valid_number(42) in mailoutbox[0].body

    def test_submitting_the_same_number_twice_issues_once(
        self, finance_client, invoice, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            first = issue(finance_client, invoice)
            second = issue(finance_client, invoice)
        assert first.status_code == second.status_code == 302
        assert message_list(second)[-1][0] == messages.INFO  # the first one's success is still queued
        assert len(events(invoice.order, "invoice_issue")) == 1
        assert len(mailoutbox) == 1

    def test_issuing_an_issued_invoice_with_another_number_is_a_message_not_a_500(self, finance_client, invoice):
        issue(finance_client, invoice, number=valid_number(1))
        response = issue(finance_client, invoice, number=valid_number(2))
        assert response.status_code == 302
        assert message_list(response)[-1][0] == messages.ERROR
        invoice.refresh_from_db()
        assert invoice.number == valid_number(1)
        assert finance_client.get(url("issue", invoice)).status_code == 302

    def test_the_uploaded_pdf_replaces_the_sheet_for_the_customer(self, finance_client, client, invoice):
        customer_download = reverse("invoicing:download", args=[invoice.pk])
        response = issue(finance_client, invoice, official_pdf=SimpleUploadedFile("fp.pdf", PDF, "application/pdf"))
        assert response.status_code == 302
        invoice.refresh_from_db()
        assert invoice.official_pdf

        client.force_login(invoice.order.customer)
        response = client.get(customer_download)
        assert response.status_code == 200
        assert body(response) == PDF
        assert valid_number() in response["Content-Disposition"]

    def test_a_reviewer_cannot_issue(self, reviewer_client, invoice):
        assert issue(reviewer_client, invoice).status_code == 403
        invoice.refresh_from_db()
        assert invoice.status == S.PENDING

    @staticmethod
    def assert_unchanged(invoice, mailoutbox):
        fresh = Invoice.objects.get(pk=invoice.pk)
        assert (fresh.status, fresh.number, fresh.issued_on) == (S.PENDING, None, None)
        assert events(invoice.order, "invoice_issue") == []
        assert mailoutbox == []


class TestDeliver:
    @pytest.fixture
    def issued(self, finance, invoice):
        return services.invoice_issue(invoice=invoice, actor=finance, number=valid_number(), issued_on=timezone.localdate())

    def test_marking_as_mailed_stores_the_tracking_number_and_tells_the_customer(
        self, finance_client, finance, issued, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = finance_client.post(url("deliver", issued), {"tracking_number": "SF1234567890"})
        assert response.status_code == 302
        issued.refresh_from_db()
        assert issued.status == S.DELIVERED
        assert issued.tracking_number == "SF1234567890"
        assert events(issued.order, "invoice_deliver") == [(finance.pk, "SF1234567890")]
        assert len(mailoutbox) == 1
        again = finance_client.post(url("deliver", issued), {"tracking_number": "SF1234567890"})
        assert message_list(again)[-1][0] == messages.INFO
        assert len(events(issued.order, "invoice_deliver")) == 1

    def test_an_empty_tracking_number_is_refused(self, finance_client, issued):
        response = finance_client.post(url("deliver", issued), {"tracking_number": "  "})
        assert response.status_code == 200
        assert "tracking_number" in response.context["form"].errors
        issued.refresh_from_db()
        assert issued.status == S.ISSUED

    def test_a_pending_invoice_cannot_be_marked_as_mailed(self, finance_client, invoice):
        response = finance_client.post(url("deliver", invoice), {"tracking_number": "SF1"})
        assert response.status_code == 302
        assert [level for level, _text in message_list(response)] == [messages.ERROR]
        invoice.refresh_from_db()
        assert (invoice.status, invoice.tracking_number) == (S.PENDING, "")


class TestNobodyDeletesOrEdits:
    @pytest.mark.parametrize("who", ["finance", "superuser"])
    def test_delete_page_and_its_post_are_refused(self, client, invoice, who):
        user = UserFactory(staff=True, groups=[GROUP_FINANCE]) if who == "finance" else UserFactory(superuser=True)
        client.force_login(user)
        assert client.get(url("delete", invoice)).status_code == 403
        assert client.post(url("delete", invoice), {"post": "yes"}).status_code == 403
        assert Invoice.objects.filter(pk=invoice.pk).exists()

    def test_the_bulk_delete_action_is_not_offered_nor_applied(self, finance_client, invoice):
        response = finance_client.get(CHANGELIST)
        assert "delete_selected" not in response.text
        response = finance_client.post(
            CHANGELIST, {"action": "delete_selected", "_selected_action": [invoice.pk], "post": "yes"}
        )
        assert response.status_code in (200, 302)
        assert Invoice.objects.filter(pk=invoice.pk).exists()
        assert InvoiceLine.objects.filter(invoice=invoice).exists()

    def test_no_add_and_no_edit_even_for_a_superuser(self, client, invoice):
        client.force_login(UserFactory(superuser=True))
        assert client.get(reverse("admin:invoicing_invoice_add")).status_code == 403
        response = client.post(url("change", invoice), {"buyer_title": "改掉的抬头"})
        assert response.status_code == 403
        invoice.refresh_from_db()
        assert invoice.buyer_title != "改掉的抬头"
        for model, obj in (("contract", invoice.order.contract), ("documentjob", invoice.order.document_job)):
            assert client.post(url("delete", obj, model), {"post": "yes"}).status_code == 403


class TestDownloads:
    def test_finance_downloads_the_sheet_and_the_contract(self, finance_client, invoice):
        sheet = finance_client.get(url("sheet", invoice))
        assert sheet.status_code == 200
        assert sheet["Content-Type"] == "application/pdf"
        assert body(sheet).startswith(b"%PDF-")
        contract = finance_client.get(url("pdf", invoice.order.contract, "contract"))
        assert contract.status_code == 200
        assert body(contract).startswith(b"%PDF-")
        assert invoice.order.contract.number in contract["Content-Disposition"]

    def test_no_official_pdf_yet_is_a_404(self, finance_client, invoice):
        assert finance_client.get(url("official", invoice)).status_code == 404

    def test_a_reviewer_downloads_the_contract_but_not_the_invoice(self, reviewer_client, invoice):
        contract = invoice.order.contract
        assert reviewer_client.get(url("pdf", contract, "contract")).status_code == 200
        assert reviewer_client.get(url("sheet", invoice)).status_code == 403
        assert reviewer_client.get(CHANGELIST).status_code == 403
        assert reviewer_client.get(url("change", invoice)).status_code == 403

    def test_a_catalog_manager_downloads_nothing(self, client, invoice):
        client.force_login(UserFactory(staff=True, groups=[GROUP_CATALOG]))
        assert client.get(url("pdf", invoice.order.contract, "contract")).status_code == 403
        assert client.get(url("sheet", invoice)).status_code == 403

    @pytest.mark.parametrize("who", ["customer", "anonymous"])
    def test_customers_and_strangers_are_sent_to_the_admin_login(self, client, invoice, who):
        if who == "customer":
            client.force_login(invoice.order.customer)
        for page in (url("sheet", invoice), url("pdf", invoice.order.contract, "contract")):
            response = client.get(page)
            assert response.status_code == 302, page
            assert response.url.startswith(reverse("admin:login"))

    def test_an_unknown_invoice_is_a_404(self, finance_client):
        assert finance_client.get(reverse("admin:invoicing_invoice_sheet", args=[999999])).status_code == 404


class TestChangelist:
    def queries(self, client, **params):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(CHANGELIST, params)
        assert response.status_code == 200
        return len(captured)

    def test_query_count_does_not_grow_with_rows(self, finance_client):
        confirmed_order()
        with_one = self.queries(finance_client)
        for _ in range(3):
            confirmed_order()
        assert Invoice.objects.count() == 4
        assert self.queries(finance_client) == with_one

    def test_pending_first_oldest_first_then_the_rest_newest_first(self, finance_client, finance):
        invoices = [invoice_of(confirmed_order()) for _ in range(4)]
        now = timezone.now()
        for days, invoice in zip((1, 5, 3, 2), invoices):
            Invoice.objects.filter(pk=invoice.pk).update(created_at=now - timedelta(days=days))
        for serial, invoice in enumerate(invoices[2:], start=1):
            services.invoice_issue(invoice=invoice, actor=finance, number=valid_number(serial), issued_on=timezone.localdate())
        listed = list(finance_client.get(CHANGELIST).context["cl"].result_list)
        # pending: 5 days, 1 day old; then issued: 2 days, 3 days old
        assert listed == [invoices[1], invoices[0], invoices[3], invoices[2]]

    def test_shows_the_age_of_pending_invoices(self, finance_client, invoice):
        Invoice.objects.filter(pk=invoice.pk).update(created_at=timezone.now() - timedelta(days=3, hours=2))
        assert "3 days 2 hours" in finance_client.get(CHANGELIST).text

    @pytest.mark.parametrize("field", ["number", "buyer_title", "buyer_taxpayer_id", "order"])
    def test_search(self, finance_client, finance, field):
        wanted, other = invoice_of(confirmed_order()), invoice_of(confirmed_order())
        Invoice.objects.filter(pk=other.pk).update(buyer_title="别的公司", buyer_taxpayer_id="91110000000000000X")
        services.invoice_issue(invoice=wanted, actor=finance, number=valid_number(9), issued_on=timezone.localdate())
        wanted.refresh_from_db()
        term = wanted.order.number if field == "order" else getattr(wanted, field)
        listed = list(finance_client.get(CHANGELIST, {"q": term}).context["cl"].result_list)
        assert listed == [wanted]

    def test_filters(self, finance_client, finance, invoice):
        services.invoice_issue(invoice=invoice, actor=finance, number=valid_number(), issued_on=timezone.localdate())
        pending = invoice_of(confirmed_order())
        for params, expected in (
            ({"status__exact": "pending"}, [pending]),
            ({"status__exact": "issued"}, [invoice]),
            ({"kind__exact": pending.kind}, [pending, invoice]),
            ({"purpose__exact": "red_letter"}, []),
        ):
            result = finance_client.get(CHANGELIST, params).context["cl"].result_list
            assert sorted(result, key=lambda i: i.pk) == sorted(expected, key=lambda i: i.pk), params


class TestDocumentJobs:
    def failed_job(self):
        order = order_in(Order.Status.SUCCESS)  # the job is recorded; no worker ran
        services.documents_attempt_failed(order_id=order.pk, error=RuntimeError("字体缺失"), final=True)
        return DocumentJob.objects.get(order=order)

    def test_a_failed_job_shows_its_error_and_can_be_filtered(self, finance_client):
        job = self.failed_job()
        response = finance_client.get(reverse("admin:invoicing_documentjob_changelist"), {"status__exact": "failed"})
        assert list(response.context["cl"].result_list) == [job]
        assert "RuntimeError: 字体缺失" in response.text

    def test_regenerate_makes_the_documents(self, finance_client):
        job = self.failed_job()
        response = finance_client.post(
            reverse("admin:invoicing_documentjob_changelist"),
            {"action": "retry_selected", "_selected_action": [job.pk]},
        )
        assert response.status_code == 302
        assert [level for level, _text in message_list(response)] == [messages.SUCCESS]
        job.refresh_from_db()
        assert job.status == DocumentJob.Status.DONE
        assert Invoice.objects.filter(order=job.order).count() == 1
        assert Contract.objects.filter(order=job.order).count() == 1

    def test_a_done_job_is_skipped(self, finance_client, invoice):
        job = DocumentJob.objects.get(order=invoice.order)
        assert job.status == DocumentJob.Status.DONE
        response = finance_client.post(
            reverse("admin:invoicing_documentjob_changelist"),
            {"action": "retry_selected", "_selected_action": [job.pk]},
        )
        assert [level for level, _text in message_list(response)] == [messages.INFO, messages.WARNING]
        assert job.attempts == DocumentJob.objects.get(pk=job.pk).attempts

    def test_staff_without_the_retry_permission_are_not_offered_it(self, client):
        job = self.failed_job()
        viewer = UserFactory(staff=True)
        viewer.user_permissions.add(*_perms("view_documentjob"))
        client.force_login(viewer)
        changelist = reverse("admin:invoicing_documentjob_changelist")
        assert "retry_selected" not in client.get(changelist).text
        client.post(changelist, {"action": "retry_selected", "_selected_action": [job.pk]})
        job.refresh_from_db()
        assert job.status == DocumentJob.Status.FAILED

    def test_a_reviewer_cannot_see_the_jobs(self, reviewer_client):
        assert reviewer_client.get(reverse("admin:invoicing_documentjob_changelist")).status_code == 403


class TestAdminIndexQueue:
    def test_finance_sees_the_invoice_queue_with_its_oldest_age(self, finance_client, invoice):
        Invoice.objects.filter(pk=invoice.pk).update(created_at=timezone.now() - timedelta(days=3, hours=4))
        confirmed_order()
        response = finance_client.get(reverse("admin:index"))
        assert response.status_code == 200
        assert f"{CHANGELIST}?status__exact=pending" in response.text
        assert 'data-queue="invoices"' in response.text
        queue = response.text.split('data-queue="invoices"', 1)[1]
        assert '<td class="count">2</td>' in queue
        assert "3 days 4 hours" in queue

    def test_a_reviewer_sees_the_review_queue_only(self, reviewer_client, invoice):
        response = reviewer_client.get(reverse("admin:index"))
        assert 'data-queue="review"' in response.text
        assert 'data-queue="invoices"' not in response.text

    def test_staff_who_may_only_view_invoices_see_the_invoice_queue_only(self, client, invoice):
        viewer = UserFactory(staff=True)
        viewer.user_permissions.add(*_perms("view_invoice"))
        client.force_login(viewer)
        response = client.get(reverse("admin:index"))
        assert 'data-queue="invoices"' in response.text
        assert 'data-queue="review"' not in response.text

    def test_query_count_does_not_grow_with_the_queue(self, finance_client, invoice):
        with CaptureQueriesContext(connection) as few:
            finance_client.get(reverse("admin:index"))
        for _ in range(3):
            confirmed_order()
        with CaptureQueriesContext(connection) as many:
            finance_client.get(reverse("admin:index"))
        assert len(many) == len(few)
