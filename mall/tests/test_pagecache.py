"""The page cache (mall/pagecache/), through the test client.

`response.context is None` tells a page served from the cache (no template rendered)
from a rendered one: every invalidation test first proves the page WAS a hit, so a
stale page would be seen, and only then checks that the change shows.
"""

import re
import time
import uuid
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.cache import cache
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from accounts import services as account_services
from accounts.models import Message
from accounts.roles import GROUP_CATALOG
from accounts.tests.factories import PASSWORD, InvoiceProfileFactory, UserFactory
from catalog import views as catalog_views
from catalog.models import Service
from catalog.tests.factories import ModuleFactory, PlatformFactory, ProductLineFactory, ServiceFactory
from invoicing import services as invoicing_services
from invoicing.tests.conftest import configured_signing_key, signing_pair  # noqa: F401 (fixtures)
from mall import pagecache
from orders import services as order_services
from orders.models import Order
from orders.tests.factories import DETAILS, AgreementFactory, order_in
from orders.views import account as order_views

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
HOME = reverse("catalog:home")
LIST = reverse("catalog:service-list")
MY_ORDERS = reverse("orders:list")
S = Order.Status
CSRF_VALUE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CHECKOUT_TOKEN = re.compile(r'name="checkout_token" value="([^"]+)"')


# --- helpers ----------------------------------------------------------------------------


def rendered(response) -> bool:
    return response.context is not None


def cached(client, url, **extra):
    """GET `url` twice: the first renders, the second must come from the page cache."""
    first = client.get(url, **extra)
    assert first.status_code == 200 and rendered(first), f"{url}: the first GET should render"
    second = client.get(url, **extra)
    assert second.status_code == 200, url
    assert not rendered(second), f"{url}: the second GET was rendered again, not served from the page cache"
    return second


def fresh(client, url, **extra):
    """GET `url`, which must be rendered (a change made the cached page stale)."""
    response = client.get(url, **extra)
    assert rendered(response), f"{url}: a stale page was served from the page cache"
    return response


def hit(client, url, **extra):
    """GET `url`, which must come from the page cache."""
    response = client.get(url, **extra)
    assert response.status_code == 200 and not rendered(response), f"{url}: expected a page cache hit"
    return response


def forget_deleted_cookies(client):
    """Drop the cookies a response deleted (Max-Age=0), as a browser does; the test client
    keeps sending them empty, and an empty `messages` cookie turns the page cache off."""
    for name in [name for name, morsel in client.cookies.items() if not morsel.value]:
        del client.cookies[name]


def csrf_tokens(response) -> list[str]:
    return CSRF_VALUE.findall(response.text)


def without_tokens(response) -> str:
    text = CSRF_VALUE.sub('name="csrfmiddlewaretoken" value=""', response.text)
    return CHECKOUT_TOKEN.sub('name="checkout_token" value=""', text)


def statuses(response) -> list[str]:
    return re.findall(r'data-status="([^"]+)"', response.text)


def sign_in(user) -> Client:
    client = Client()
    client.force_login(user, backend=MODEL_BACKEND)
    return client


def order_url(order, name="detail"):
    return reverse(f"orders:{name}", args=[order.number])


class _FormFields(HTMLParser):
    """The values a browser would submit from the form marked `data-testid`."""

    def __init__(self, testid):
        super().__init__()
        self.testid, self.inside, self.fields, self.select, self.textarea = testid, False, {}, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("data-testid") == self.testid:
            self.inside = True
        if not self.inside or "name" not in a and tag != "option":
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value", "on")
            elif kind not in ("submit", "button", "file"):
                self.fields[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self.select = a["name"]
        elif tag == "option" and self.select and ("selected" in a or self.select not in self.fields):
            self.fields[self.select] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a["name"]
            self.fields[self.textarea] = ""

    def handle_data(self, data):
        if self.textarea:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_fields(response, testid) -> dict:
    parser = _FormFields(testid)
    parser.feed(response.text)
    assert parser.fields, f"no form {testid} on the page"
    return parser.fields


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def catalog():
    line = ProductLineFactory(name="E3", code="e3", key_pattern=r"E3-[0-9A-F]{4}-[0-9A-F]{4}")
    omni = ProductLineFactory(name="E3全渠道", code="e3o", key_pattern=r"E3O-[0-9A-F]{4}-[0-9A-F]{4}")
    platform, module = PlatformFactory(name="京东"), ModuleFactory(name="开放平台对接服务")
    service = ServiceFactory(
        product_line=line, platform=platform, module=module, name="E3-京东开放平台对接服务", featured=True
    )
    ServiceFactory(product_line=omni, platform=platform, module=module, name="E3全渠道-京东开放平台对接服务")
    return {"service": service, "line": line, "omni": omni}


@pytest.fixture
def service(catalog):
    return catalog["service"]


@pytest.fixture
def storefront(service):
    """The three anonymous storefront pages."""
    return [HOME, LIST, service.get_absolute_url()]


@pytest.fixture
def alice():
    return UserFactory(username="alice-pc", real_name="爱丽丝")


@pytest.fixture
def bob():
    return UserFactory(username="bob-pc", real_name="鲍勃")


@pytest.fixture
def as_alice(alice):
    return sign_in(alice)


@pytest.fixture
def staff():
    return UserFactory(staff=True)


# --- anonymous storefront ---------------------------------------------------------------


class TestAnonymousStorefront:
    @pytest.mark.parametrize("which", [0, 1, 2], ids=["home", "list", "detail"])
    def test_second_get_is_a_hit_with_the_same_page_and_a_new_csrf_token(self, client, storefront, which):
        url = storefront[which]
        first = client.get(url)
        assert rendered(first)
        hits = [client.get(url), client.get(url)]
        assert not any(rendered(hit) for hit in hits)
        for hit in hits:
            assert without_tokens(hit) == without_tokens(first)
            assert hit["Content-Type"] == first["Content-Type"]
            assert int(hit.get("Content-Length", len(hit.content))) == len(hit.content)
        tokens = [csrf_tokens(r) for r in (first, *hits)]
        assert all(tokens)
        assert len({t[0] for t in tokens}) == 3, "every response carries its own masked CSRF token"

    def test_a_token_from_a_cached_page_passes_the_csrf_check(self, client, storefront):
        cached(client, HOME)  # another visitor filled the cache
        browser = Client(enforce_csrf_checks=True)
        page = browser.get(HOME)
        assert not rendered(page), "the newcomer's first page should be a hit"
        assert settings.CSRF_COOKIE_NAME in page.cookies, "a hit sets the CSRF cookie the token belongs to"
        [token] = set(csrf_tokens(page))
        response = browser.post(reverse("set_language"), {"language": "en", "next": HOME, "csrfmiddlewaretoken": token})
        assert response.status_code == 302
        # The same visitor's next hit: cookie kept, new mask, still valid.
        again = browser.get(LIST)
        browser.get(LIST)
        hit = browser.get(LIST)
        assert not rendered(hit) and csrf_tokens(hit)[0] not in (token, csrf_tokens(again)[0])
        response = browser.post(
            reverse("set_language"), {"language": "zh-hans", "next": HOME, "csrfmiddlewaretoken": csrf_tokens(hit)[0]}
        )
        assert response.status_code == 302

    def test_a_token_that_is_not_the_visitors_is_refused(self, client, storefront):
        someone_elses = csrf_tokens(cached(client, HOME))[0]
        browser = Client(enforce_csrf_checks=True)
        page = browser.get(HOME)
        assert not rendered(page)
        for wrong in (someone_elses, "x" * 64, ""):
            response = browser.post(
                reverse("set_language"), {"language": "en", "next": HOME, "csrfmiddlewaretoken": wrong}
            )
            assert response.status_code == 403


# --- per visitor ------------------------------------------------------------------------


class TestPerCustomer:
    def test_my_orders_and_order_page_are_never_served_to_anyone_else(self, as_alice, alice, bob):
        alices = order_in(S.AWAITING_PAYMENT, customer=alice)
        bobs = order_in(S.IN_TRADE, customer=bob)
        mine = cached(as_alice, MY_ORDERS)
        assert alices.number in mine.text and bobs.number not in mine.text
        cached(as_alice, order_url(alices))

        as_bob = sign_in(bob)
        theirs = as_bob.get(MY_ORDERS)
        assert rendered(theirs)
        assert bobs.number in theirs.text and alices.number not in theirs.text
        assert str(alice) not in theirs.text
        assert as_bob.get(order_url(alices)).status_code == 404

        anonymous = Client()
        for url in (MY_ORDERS, order_url(alices)):
            response = anonymous.get(url)
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("accounts:login") + "?next=")

    def test_a_customers_storefront_page_is_not_shown_to_anonymous_visitors_or_others(
        self, as_alice, alice, bob, service
    ):
        assert str(alice) in cached(as_alice, HOME).text
        anonymous = Client().get(HOME)
        assert rendered(anonymous) and str(alice) not in anonymous.text
        as_bob = sign_in(bob).get(HOME)
        assert rendered(as_bob) and str(bob) in as_bob.text and str(alice) not in as_bob.text

    def test_signing_out_ends_the_customers_cached_pages(self, as_alice, alice, service):
        assert str(alice) in cached(as_alice, HOME).text
        as_alice.post(reverse("accounts:logout"))
        page = as_alice.get(HOME)
        assert str(alice) not in page.text
        assert as_alice.get(MY_ORDERS).status_code == 302

    def test_the_chinese_page_is_not_served_to_a_visitor_who_chose_english(self, client, storefront):
        for url in storefront:
            assert '<html lang="zh-hans">' in cached(client, url).text
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        for url in storefront:
            english = client.get(url)
            assert '<html lang="en">' in english.text
            assert "Enter a service keyword" in english.text
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
        assert '<html lang="zh-hans">' in client.get(HOME).text


# --- invalidation -----------------------------------------------------------------------


class TestOrderChangesShowAtOnce:
    @pytest.mark.parametrize(
        "review, status",
        [
            (lambda order, staff: order_services.order_approve(order=order, actor=staff), S.IN_TRADE),
            (lambda order, staff: order_services.order_reject(order=order, actor=staff, reason="店铺名称不符"), S.REJECTED),
            (lambda order, staff: order_services.order_close(order=order, actor=staff, reason="重复下单"), S.FAILED),
        ],
        ids=["approve", "reject", "close"],
    )
    def test_a_reviewers_decision(self, as_alice, alice, staff, review, status):
        order = order_in(S.AWAITING_PAYMENT, customer=alice)
        assert statuses(cached(as_alice, MY_ORDERS)) == [S.AWAITING_PAYMENT]
        assert statuses(cached(as_alice, order_url(order))) == [S.AWAITING_PAYMENT]

        review(order, staff)

        assert statuses(fresh(as_alice, MY_ORDERS)) == [status]
        assert statuses(fresh(as_alice, order_url(order))) == [status]

    def test_the_customers_own_cancel(self, as_alice, alice):
        order = order_in(S.AWAITING_PAYMENT, customer=alice)
        cached(as_alice, MY_ORDERS)
        cached(as_alice, order_url(order))
        as_alice.post(order_url(order, "cancel"), follow=True)  # the flash message is read on the way
        forget_deleted_cookies(as_alice)
        assert statuses(fresh(as_alice, order_url(order))) == [S.FAILED]
        assert statuses(fresh(as_alice, MY_ORDERS)) == [S.FAILED]

    def test_the_customers_own_confirm_receipt_and_then_the_documents(
        self, as_alice, alice, configured_signing_key, django_capture_on_commit_callbacks  # noqa: F811
    ):
        order = order_in(S.IN_TRADE, customer=alice)
        cached(as_alice, MY_ORDERS)
        cached(as_alice, order_url(order))
        as_alice.post(order_url(order, "confirm"), follow=True)
        forget_deleted_cookies(as_alice)
        detail = fresh(as_alice, order_url(order))
        assert statuses(detail) == [S.SUCCESS]
        assert 'data-testid="invoice-preparing"' in detail.text
        assert 'data-testid="contract-link"' not in cached(as_alice, MY_ORDERS).text
        hit(as_alice, order_url(order))

        # What the worker does after the commit: the invoice, its sheet and the contract.
        with django_capture_on_commit_callbacks(execute=True):
            invoicing_services.documents_generate(order_id=order.pk)

        detail = fresh(as_alice, order_url(order))
        assert 'data-testid="invoice-download"' in detail.text
        assert 'data-testid="contract-download"' in detail.text
        assert 'data-testid="invoice-preparing"' not in detail.text
        assert 'data-testid="contract-link"' in fresh(as_alice, MY_ORDERS).text

    def test_a_new_invoice_profile_shows_on_the_checkout_page(self, as_alice, alice, service):
        AgreementFactory()
        InvoiceProfileFactory(user=alice, is_default=True, title="上海旧抬头有限公司")
        checkout = reverse("orders:checkout", args=[service.pk])
        assert "杭州新抬头科技有限公司" not in cached(as_alice, checkout).text
        response = as_alice.post(
            reverse("accounts:invoice-profile-add"),
            {
                "kind": "ordinary",
                "title_type": "company",
                "title": "杭州新抬头科技有限公司",
                "taxpayer_id": "91310000134511148L",
                "contact": "张三",
                "contact_phone": "138 0013 8000",
            },
            follow=True,
        )
        assert response.status_code == 200
        forget_deleted_cookies(as_alice)
        assert "杭州新抬头科技有限公司" in fresh(as_alice, checkout).text

    def test_a_deactivated_customer_is_signed_out_of_cached_pages(self, as_alice, alice):
        cached(as_alice, MY_ORDERS)
        alice.is_active = False
        alice.save(update_fields=["is_active"])
        assert as_alice.get(MY_ORDERS).status_code == 302


class TestUnreadBadge:
    def badge(self, response):
        match = re.search(r'data-testid="unread-badge">(\d+)', response.text)
        return int(match.group(1)) if match else 0

    def test_a_new_message_shows_and_reading_all_clears_it(self, as_alice, alice, staff, service):
        pages = [HOME, MY_ORDERS]
        for url in pages:
            assert self.badge(cached(as_alice, url)) == 0

        account_services.message_send(user=alice, title="您的订单已审核")
        for url in pages:
            assert self.badge(fresh(as_alice, url)) == 1
            assert self.badge(hit(as_alice, url)) == 1

        order_in(S.REJECTED, customer=alice)  # messages for the submission and the rejection
        unread = Message.objects.filter(user=alice, read_at__isnull=True).count()
        assert unread > 1
        assert self.badge(fresh(as_alice, HOME)) == unread

        # Marked read with update(), no post_save: the customer's POST itself makes pages stale.
        as_alice.post(reverse("accounts:messages-read-all"), follow=True)
        forget_deleted_cookies(as_alice)
        for url in pages:
            assert self.badge(fresh(as_alice, url)) == 0


class TestCatalogChangesShowAtOnce:
    @pytest.fixture
    def operator(self):
        return sign_in(UserFactory(staff=True, groups=[GROUP_CATALOG]))

    def change_form(self, service, **changes):
        data = {
            "product_line": service.product_line_id,
            "platform": service.platform_id,
            "module": service.module_id,
            "name": service.name,
            "description": service.description,
            "standard_price": str(service.standard_price),
            "unit": service.unit,
            "period_months": service.period_months or "",
            "refund_window_days": service.refund_window_days,
            "tax_rate": str(service.tax_rate),
            "active": "on" if service.active else "",
            "featured": "on" if service.featured else "",
        }
        data.update(changes)
        return {name: value for name, value in data.items() if value != ""}

    def test_name_and_price_edited_in_the_admin(self, client, operator, storefront, service):
        for url in storefront:
            assert service.name in cached(client, url).text
        response = operator.post(
            reverse("admin:catalog_service_change", args=[service.pk]),
            self.change_form(service, name="E3-京东新版对接服务", standard_price="3456.00"),
        )
        assert response.status_code == 302, response.content[:2000]
        for url in storefront:
            page = fresh(client, url)
            assert "E3-京东新版对接服务" in page.text and "E3-京东开放平台对接服务" not in page.text
        assert "3456.00" in client.get(service.get_absolute_url()).text

    def test_deactivated_by_the_bulk_action(self, client, operator, storefront, service):
        for url in storefront:
            assert service.name in cached(client, url).text
        operator.post(
            reverse("admin:catalog_service_changelist"),
            {"action": "deactivate_selected", "_selected_action": [service.pk]},
        )
        assert not Service.objects.get(pk=service.pk).active
        assert service.name not in fresh(client, HOME).text
        assert service.name not in fresh(client, LIST).text
        assert client.get(service.get_absolute_url()).status_code == 404

    def test_a_new_agreement_shows_on_the_checkout_page(self, as_alice, alice, service):
        AgreementFactory(version="2026.old")
        checkout = reverse("orders:checkout", args=[service.pk])
        assert "2026.old" in cached(as_alice, checkout).text
        AgreementFactory(version="2026.new")
        page = fresh(as_alice, checkout)
        assert "2026.new" in page.text and "2026.old" not in page.text

    def test_an_agreement_scheduled_for_later_shows_once_its_time_comes(self, as_alice, service):
        AgreementFactory(version="2026.old")
        AgreementFactory(version="2026.scheduled", published_at=timezone.now() + timedelta(seconds=0.6))
        checkout = reverse("orders:checkout", args=[service.pk])
        assert "2026.old" in cached(as_alice, checkout).text
        time.sleep(0.7)
        assert "2026.scheduled" in as_alice.get(checkout).text


class TestPasswordChange:
    def test_other_sessions_of_the_customer_are_signed_out(self, alice):
        laptop, phone = sign_in(alice), sign_in(alice)
        cached(phone, MY_ORDERS)
        cached(phone, HOME)
        response = laptop.post(
            reverse("accounts:password"),
            {"old_password": PASSWORD, "new_password1": "brand-new-pass-2026", "new_password2": "brand-new-pass-2026"},
        )
        assert response.status_code == 302
        assert phone.get(MY_ORDERS).status_code == 302
        assert str(alice) not in phone.get(HOME).text
        # The session that changed it stays signed in (a new auth hash, so a new page).
        laptop.get(reverse("accounts:password"))  # reads the flash message
        forget_deleted_cookies(laptop)
        assert fresh(laptop, MY_ORDERS).status_code == 200


# --- checkout tokens --------------------------------------------------------------------


class TestCheckoutTokens:
    @pytest.fixture
    def checkout(self, alice, service):
        AgreementFactory()
        InvoiceProfileFactory(user=alice, is_default=True)
        return reverse("orders:checkout", args=[service.pk])

    def submission(self, page):
        data = form_fields(page, "checkout-form")
        data.update(DETAILS, reminder_mobile="138 0013 8000", agreement_accepted="on")
        return data

    def test_each_cached_page_has_its_own_token(self, as_alice, checkout):
        first = as_alice.get(checkout)
        assert rendered(first)
        hits = [as_alice.get(checkout), as_alice.get(checkout)]
        assert not any(rendered(hit) for hit in hits)
        tokens = [CHECKOUT_TOKEN.search(r.text).group(1) for r in (first, *hits)]
        assert len({uuid.UUID(t) for t in tokens}) == 3
        assert without_tokens(hits[0]) == without_tokens(first)

    def test_a_cached_pages_form_posted_twice_makes_one_order(self, as_alice, checkout):
        page = cached(as_alice, checkout)
        data = self.submission(page)
        first, second = as_alice.post(checkout, data), as_alice.post(checkout, data)
        assert first.status_code == second.status_code == 302
        assert Order.objects.filter(customer__username="alice-pc").count() == 1

    def test_two_cached_pages_make_two_orders(self, as_alice, checkout):
        pages = [cached(as_alice, checkout)]
        pages.append(as_alice.get(checkout))
        assert not rendered(pages[1])
        for page in pages:
            assert as_alice.post(checkout, self.submission(page)).status_code == 302
            as_alice.get(MY_ORDERS)  # reads the flash message
            forget_deleted_cookies(as_alice)
        assert Order.objects.filter(customer__username="alice-pc").count() == 2


# --- never cached -----------------------------------------------------------------------


class TestNotCached:
    def test_a_page_showing_a_flash_message_is_not_stored(self, as_alice):
        url = MY_ORDERS + "?start=not-a-date"  # each render warns that the search was not applied
        for _ in range(3):
            page = as_alice.get(url)
            assert rendered(page), "the page with the flash message was stored"
            assert 'class="messages"' in page.text
        cached(as_alice, MY_ORDERS)  # the control: the same page without a message is stored

    @pytest.mark.parametrize(
        "storage",
        [
            "django.contrib.messages.storage.fallback.FallbackStorage",  # a cookie
            "django.contrib.messages.storage.session.SessionStorage",
        ],
    )
    def test_a_request_with_a_pending_message_is_not_served_from_the_cache(self, as_alice, settings, storage):
        settings.MESSAGE_STORAGE = storage
        cached(as_alice, MY_ORDERS)
        # A GET (so nothing bumps) that leaves a message: the empty 清单 sends back to the list.
        response = as_alice.get(reverse("orders:checkout-cart"))
        assert response.status_code == 302
        page = as_alice.get(MY_ORDERS)
        assert rendered(page) and 'class="messages"' in page.text
        forget_deleted_cookies(as_alice)
        assert 'class="messages"' not in as_alice.get(MY_ORDERS).text

    def test_htmx_requests_are_not_served_from_the_cache(self, client, storefront):
        for url in storefront:
            cached(client, url)
            assert rendered(client.get(url, HTTP_HX_REQUEST="true"))

    def test_a_404_is_not_cached(self, client, service):
        url = reverse("catalog:service-detail", args=[service.pk + 1000])
        for _ in range(2):
            response = client.get(url)
            assert response.status_code == 404 and rendered(response)

    def test_a_post_is_never_answered_from_the_cache(self, as_alice, alice, service):
        AgreementFactory()
        checkout = reverse("orders:checkout", args=[service.pk])
        cached(as_alice, checkout)
        response = as_alice.post(checkout, {"checkout_token": str(uuid.uuid4())})
        assert response.status_code == 200 and rendered(response)
        assert response.context["form"].errors
        assert Order.objects.count() == 0
        assert Client().post(HOME).status_code == 405

    def test_page_cache_seconds_zero_turns_it_off(self, client, as_alice, settings, storefront):
        settings.PAGE_CACHE_SECONDS = 0
        for visitor, url in [(client, u) for u in storefront] + [(as_alice, MY_ORDERS)]:
            for _ in range(2):
                assert rendered(visitor.get(url)), url


# --- the product key looked up in this session -------------------------------------------


class TestKeyLookedUpInTheSession:
    """The service list and page warn a visitor whose key (saved, or looked up in this
    session) belongs to another product line; the looked-up one lives in the session."""

    def test_one_visitors_key_warning_is_not_served_to_another(self, catalog, service):
        looker = Client()
        looker.get(reverse("catalog:key-finder"), {"key": "E3O-1A2B-3C4D"})
        assert 'data-testid="key-warning"' in looker.get(service.get_absolute_url()).text
        assert 'data-testid="key-warning"' not in Client().get(service.get_absolute_url()).text

    @pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "customer"])
    def test_a_key_looked_up_after_the_page_was_cached_warns(self, catalog, service, signed_in):
        visitor = sign_in(UserFactory()) if signed_in else Client()
        cached(visitor, service.get_absolute_url())
        visitor.get(reverse("catalog:key-finder"), {"key": "E3O-1A2B-3C4D"})
        assert 'data-testid="key-warning"' in visitor.get(service.get_absolute_url()).text


# --- a change while the page renders -----------------------------------------------------


class TestChangeWhileRendering:
    """The middleware alone, around the real view, with a change committed after the view
    read its data but before the middleware stores the page."""

    def through_middleware(self, view, request, *, during=None):
        def get_response(request):
            response = view(request)
            if during:
                during()
            return response

        # What runs above the page cache in MIDDLEWARE (session, language) and below it (auth, messages).
        def inner(request):
            AuthenticationMiddleware(lambda r: None).process_request(request)
            MessageMiddleware(lambda r: None).process_request(request)
            return get_response(request)

        middleware = pagecache.PageCacheMiddleware(inner)
        with translation.override("zh-hans"):
            return middleware(request)

    def request(self, path, session_key=None):
        request = RequestFactory().get(path)
        if session_key:
            request.COOKIES[settings.SESSION_COOKIE_NAME] = session_key
        SessionMiddleware(lambda r: None).process_request(request)
        return request

    def test_a_catalog_change_during_rendering_is_not_followed_by_the_stale_page(self, service, storefront):
        url = service.get_absolute_url()

        def rename():
            Service.objects.filter(pk=service.pk).update(name="E3-改名后的服务")
            pagecache.shared_changed()

        def view(request):
            return catalog_views.service_detail(request, pk=service.pk)

        stale = self.through_middleware(view, self.request(url), during=rename)
        assert "E3-京东开放平台对接服务" in stale.content.decode()
        after = self.through_middleware(view, self.request(url))
        assert "E3-改名后的服务" in after.content.decode()

    def test_a_customer_change_during_rendering_is_not_followed_by_the_stale_page(self, as_alice, alice, staff):
        order = order_in(S.AWAITING_PAYMENT, customer=alice)
        session_key = as_alice.cookies[settings.SESSION_COOKIE_NAME].value

        def approve():  # the signals bump the customer's version
            order_services.order_approve(order=Order.objects.get(pk=order.pk), actor=staff)

        stale = self.through_middleware(order_views.order_list, self.request(MY_ORDERS, session_key), during=approve)
        assert statuses(stale) == [S.AWAITING_PAYMENT]
        after = self.through_middleware(order_views.order_list, self.request(MY_ORDERS, session_key))
        assert statuses(after) == [S.IN_TRADE]

    def test_without_a_change_the_next_request_is_a_hit(self, as_alice, alice):
        """The control: the middleware as wired here does store and serve the page."""
        order_in(S.AWAITING_PAYMENT, customer=alice)
        session_key = as_alice.cookies[settings.SESSION_COOKIE_NAME].value
        calls = []

        def view(request):
            calls.append(request)
            return order_views.order_list(request)

        first = self.through_middleware(view, self.request(MY_ORDERS, session_key))
        second = self.through_middleware(view, self.request(MY_ORDERS, session_key))
        assert len(calls) == 1
        assert statuses(first) == statuses(second) == [S.AWAITING_PAYMENT]


class TestBumpAtCommit:
    """A page another request stores while a transaction is open was rendered from the rows
    before it (another connection cannot see its changes): the commit makes such pages stale,
    for every customer the transaction changed, in savepoints too."""

    @pytest.mark.django_db(transaction=True)  # a real commit runs the hooks
    def test_every_customer_changed_in_one_transaction(self, alice, bob, staff):
        as_alice, as_bob = sign_in(alice), sign_in(bob)
        orders = [order_in(S.AWAITING_PAYMENT, customer=customer) for customer in (alice, bob, alice)]
        with transaction.atomic():
            order_services.order_approve(order=orders[0], actor=staff)  # a savepoint of its own
            order_services.order_reject(order=orders[1], actor=staff, reason="店铺名称不符")
            try:
                with transaction.atomic():  # rolled back: alice's version is bumped at commit all the same
                    order_services.order_approve(order=orders[2], actor=staff)
                    raise RuntimeError
            except RuntimeError:
                pass
            # Pages stored while the transaction is open (here they see its rows; another
            # connection would have rendered the old ones under the same versions).
            for client in (as_alice, as_bob):
                cached(client, MY_ORDERS)
        assert statuses(fresh(as_alice, MY_ORDERS)) == [S.AWAITING_PAYMENT, S.IN_TRADE]
        assert statuses(fresh(as_bob, MY_ORDERS)) == [S.REJECTED]

    @pytest.mark.django_db(transaction=True)
    def test_a_transactions_changes_are_bumped_when_it_commits_not_before(self, alice):
        # Until the commit no other connection sees the changes, so bumping before it would
        # be a Redis round trip per change for nothing: a checkout's order, lines, event and
        # message make one bump, at the commit.
        key = pagecache.versions.customer_version_key(alice.pk)
        before = cache.get(key)
        with transaction.atomic():
            for title in ("一", "二", "三"):
                account_services.message_send(user=alice, title=title)
            inside = cache.get(key)  # Redis itself, not a read of the page cache
        assert inside == before
        assert cache.get(key) != before
