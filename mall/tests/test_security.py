"""Security sweep (issue 8, item 4), driven by the URL configuration itself so that a
new URL is checked without anyone remembering to add it:

- every customer URL taking an identifier answers 404 to another customer, for GET
  and POST, and changes nothing; a new such URL fails the crawl until its identifier
  is mapped below;
- every URL refuses a POST without a CSRF token (403) and accepts one with it;
- every page carries the Content-Security-Policy; the shop's own pages never allow
  inline script or style, and its templates contain none.
"""

import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponseForbidden
from django.test import Client, TestCase, override_settings
from django.urls import URLResolver, get_resolver
from PIL import Image

from accounts import services as account_services
from accounts.models import Address, InvoiceProfile, Message, ProductKey
from accounts.tests.factories import AddressFactory, InvoiceProfileFactory, ProductKeyFactory, UserFactory
from catalog.tests.factories import ServiceFactory
from inquiries import services as inquiry_services
from inquiries.models import Inquiry, InquiryMessage
from invoicing.models import Contract, Invoice
from orders import proofs
from orders import services as order_services
from orders.models import CartItem, Order, PaymentProof
from orders.tests.factories import order_in
from refunds.models import RefundRequest
from refunds.tests.factories import refund_requested, refundable_order

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"
ADMIN_PREFIX = settings.ADMIN_URL


@dataclass(frozen=True)
class Route:
    route: str  # as written in the URLconf, prefixes joined: "account/orders/<str:number>/"
    name: str | None  # "orders:detail"
    params: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.route.startswith(ADMIN_PREFIX)

    def url(self, values: dict) -> str:
        """The path with each parameter replaced by values[name]."""
        if self.route in REGEX_EXAMPLES:
            return REGEX_EXAMPLES[self.route]
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), self.route)
        return "/" + path

    def __str__(self):
        return f"{self.name or '(unnamed)'} /{self.route}"


def _walk(resolver, prefix="", namespace=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}".strip(":") if entry.namespace else namespace
            yield from _walk(entry, prefix + str(entry.pattern), inner)
        else:
            route = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}".strip(":") if entry.name else None
            params = tuple(re.findall(r"<(?:\w+:)?(\w+)>", route)) or tuple(entry.pattern.regex.groupindex)
            yield Route(route, name, params)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver()))


# The admin's two regular-expression routes, with a path each resolves.
REGEX_EXAMPLES = {
    f"{ADMIN_PREFIX}^(?P<app_label>auth|axes|accounts|catalog|orders|invoicing|refunds|inquiries)/$": f"/{ADMIN_PREFIX}orders/",
    f"{ADMIN_PREFIX}(?P<url>.*)$": f"/{ADMIN_PREFIX}no-such-page/",
}

# Routes whose identifiers are not a customer's: public objects or signed tokens.
NOT_CUSTOMER_OWNED = {
    "catalog:service-detail": "a service on sale is public",
    "orders:checkout": "the service being ordered is public",
    "orders:cart-add": "the service being added is public",
    "accounts:password-reset-confirm": "a signed, expiring token sent by email",
    "invoicing:contract-verify": "the public verification link printed on a contract",
}


class World:
    """Customer A's objects of every kind a customer URL names, each in a state where
    its owner could act on it."""

    def __init__(self):
        self.a = UserFactory()
        self.b = UserFactory()
        self.order_done = refundable_order(customer=self.a)  # 交易成功, with invoice and contract
        self.invoice = Invoice.objects.filter(order=self.order_done).first()
        self.refund = refund_requested(self.order_done)
        self.order_open = order_in(Order.Status.IN_TRADE, customer=self.a)
        self.proof = proofs.payment_proof_upload(
            order=self.order_open, actor=self.a, upload=SimpleUploadedFile("slip.png", png(), "image/png")
        )
        self.inquiry = inquiry_services.inquiry_create(customer=self.a, subject="发票抬头", body="能改吗?")
        self.message = account_services.message_send(user=self.a, title="通知")
        self.key = ProductKeyFactory(user=self.a)
        self.profile = InvoiceProfileFactory(user=self.a)
        self.address = AddressFactory(user=self.a)
        self.cart_item = order_services.cart_add(user=self.a, service_id=ServiceFactory().pk)
        self.service = ServiceFactory()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


# Customer A's identifiers for every customer URL that takes one. A new URL with an
# identifier fails test_another_customers_identifiers_are_404 until it is added here.
IDENTIFIERS = {
    "accounts:product-key-delete": lambda w: {"pk": w.key.pk},
    "accounts:invoice-profile-edit": lambda w: {"pk": w.profile.pk},
    "accounts:invoice-profile-delete": lambda w: {"pk": w.profile.pk},
    "accounts:invoice-profile-default": lambda w: {"pk": w.profile.pk},
    "accounts:address-edit": lambda w: {"pk": w.address.pk},
    "accounts:address-delete": lambda w: {"pk": w.address.pk},
    "accounts:address-default": lambda w: {"pk": w.address.pk},
    "accounts:message-read": lambda w: {"pk": w.message.pk},
    "inquiries:detail": lambda w: {"pk": w.inquiry.pk},
    "inquiries:reply": lambda w: {"pk": w.inquiry.pk},
    "inquiries:close": lambda w: {"pk": w.inquiry.pk},
    "orders:cart-update": lambda w: {"item_id": w.cart_item.pk},
    "orders:cart-remove": lambda w: {"item_id": w.cart_item.pk},
    "orders:detail": lambda w: {"number": w.order_open.number},
    "orders:edit": lambda w: {"number": w.order_open.number},
    "orders:cancel": lambda w: {"number": w.order_open.number},
    "orders:confirm": lambda w: {"number": w.order_open.number},
    "orders:payment-proof": lambda w: {"number": w.order_open.number},
    "orders:payment-proof-download": lambda w: {"number": w.order_open.number, "pk": w.proof.pk},
    "orders:renew": lambda w: {"number": w.order_done.number},
    "invoicing:download": lambda w: {"pk": w.invoice.pk},
    "invoicing:contract": lambda w: {"number": w.order_done.number},
    "invoicing:order-invoices": lambda w: {"number": w.order_done.number},
    "refunds:request": lambda w: {"number": w.order_done.number},
    "refunds:withdraw": lambda w: {"number": w.refund.number},
}

# Parameters of public routes (and dummies for the admin, whose object ids need not exist).
PUBLIC_VALUES = {"id": "1", "uidb64": "MQ", "token": "set-password", "object_id": "1", "content_type_id": "1", "pk": "1"}

# Everything a customer could own, compared before and after another customer's requests.
OWNED_MODELS = [
    Order, PaymentProof, Invoice, Contract, RefundRequest, Inquiry, InquiryMessage, Message,
    ProductKey, InvoiceProfile, Address, CartItem,
]


def snapshot():
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in OWNED_MODELS}


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user, backend=MODEL_BACKEND)
    return client


def customer_routes() -> list[Route]:
    return [r for r in all_routes() if r.params and not r.is_admin and r.name not in NOT_CUSTOMER_OWNED]


def values_for(route: Route, world: World) -> dict:
    """A's identifiers for a customer route, public ones for the rest."""
    if route.name in IDENTIFIERS:
        return IDENTIFIERS[route.name](world)
    values = dict(PUBLIC_VALUES)
    values.update(service_id=world.service.pk, url="x")
    if route.name == "catalog:service-detail":
        values["pk"] = world.service.pk
    return values


class CrossCustomerCrawlTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.world = World()

    def test_the_crawl_finds_the_customer_urls(self):
        """Guards the discovery itself: the walk sees the URLs known today."""
        names = {r.name for r in customer_routes()}
        assert {"orders:detail", "invoicing:download", "refunds:withdraw", "inquiries:detail"} <= names

    def test_every_customer_url_with_an_identifier_is_mapped(self):
        unmapped = [str(r) for r in customer_routes() if r.name not in IDENTIFIERS]
        assert not unmapped, f"add these to IDENTIFIERS (or NOT_CUSTOMER_OWNED, with a reason): {unmapped}"
        stale = set(IDENTIFIERS) - {r.name for r in customer_routes()}
        assert not stale, f"no such customer URL any more: {stale}"

    def test_another_customers_identifiers_are_404(self):
        """B asks for each of A's URLs, GET and POST: a 404 every time, nothing changes;
        A gets something other than a 404 for the same GET, so the identifiers are real.
        A 405 (a GET to a POST-only URL, a POST to a download) is accepted only when A
        gets it too for the same request: it is answered before any look-up, whoever
        owns the identifier, so it reveals nothing."""
        world, failures = self.world, []
        client_a, client_b = signed_in(world.a), signed_in(world.b)
        for route in customer_routes():
            if route.name not in IDENTIFIERS:
                continue  # reported by the test above
            url = route.url(values_for(route, world))
            before = snapshot()
            got_get = client_b.get(url).status_code
            got_post = client_b.post(url, {"quantity": 2, "body": "x", "subject": "x"}).status_code
            if snapshot() != before:
                failures.append(f"{route}: B's requests changed A's data")
            owner_get = client_a.get(url).status_code
            if owner_get == 404:
                failures.append(f"{route}: A's own GET is a 404, so the crawl proves nothing: fix IDENTIFIERS")
            if got_get != 404 and not (got_get == 405 and owner_get == 405):
                failures.append(f"{route}: B's GET answered {got_get}")
            if got_post == 405:
                owner_post = client_a.post(url).status_code  # GET-only: A's POST is refused as well
            if got_post != 404 and not (got_post == 405 and owner_post == 405):
                failures.append(f"{route}: B's POST answered {got_post}")
        assert not failures, "\n".join(failures)

    def test_As_slip_under_Bs_own_order_is_404(self):
        order_b = order_in(Order.Status.IN_TRADE, customer=self.world.b)
        url = Route("account/orders/<str:number>/payment-proof/<int:pk>/", "", ()).url(
            {"number": order_b.number, "pk": self.world.proof.pk}
        )
        assert signed_in(self.world.b).get(url).status_code == 404


CSRF_FAILURE_HEADER = "X-Test-Csrf-Failure"


def csrf_failure(request, reason=""):
    """Django's CSRF refusal, marked so that the tests tell it from other 403s (the
    admin's read-only models refuse adding and changing with a 403 of their own)."""
    response = HttpResponseForbidden(reason)
    response[CSRF_FAILURE_HEADER] = reason
    return response


@override_settings(CSRF_FAILURE_VIEW=f"{__name__}.csrf_failure")
@pytest.mark.once  # the CSRF check runs before any query: one database pass is enough
class CsrfTests(TestCase):
    """CsrfViewMiddleware runs before every view, so every URL is checked, the admin's
    included; a view that exempts itself fails here until listed with its reason."""

    CSRF_EXEMPT = {
        # Load-balancer probes, answered before the CSRF check; they change nothing.
        "healthz": "probe",
        "readyz": "probe",
    }

    @classmethod
    def setUpTestData(cls):
        cls.world = World()
        cls.staff = UserFactory(superuser=True)

    def test_a_post_without_a_token_is_refused_everywhere(self):
        failures = []
        for route in all_routes():
            if route.name in self.CSRF_EXEMPT:
                continue
            url = route.url(values_for(route, self.world))
            client = signed_in(self.staff if route.is_admin else self.world.a, enforce_csrf_checks=True)
            anonymous = Client(enforce_csrf_checks=True)
            for who, c in (("signed in", client), ("anonymous", anonymous)):
                response = c.post(url, {"username": "x", "password": "x"})
                if CSRF_FAILURE_HEADER not in response:
                    failures.append(f"{route} ({who}): {response.status_code} without a CSRF token")
        assert not failures, "\n".join(failures)

    def test_a_post_with_a_token_passes_the_check_everywhere(self):
        failures = []
        for route in all_routes():
            if route.name in self.CSRF_EXEMPT or route.name == "accounts:logout":
                continue
            url = route.url(values_for(route, self.world))
            user = self.staff if route.is_admin else self.world.a
            anonymous = route.name in {"accounts:login", "accounts:register", "accounts:password-reset",
                                       "accounts:password-reset-confirm", "admin:login"}
            client = Client(enforce_csrf_checks=True) if anonymous else signed_in(user, enforce_csrf_checks=True)
            token = csrf_token(client)
            response = client.post(url, {"csrfmiddlewaretoken": token})
            if CSRF_FAILURE_HEADER in response:
                failures.append(f"{route}: refused with a CSRF token ({response[CSRF_FAILURE_HEADER]})")
        assert not failures, "\n".join(failures)

    def test_sign_in_register_cart_and_checkout_work_with_the_token(self):
        """The forms of the shop, as a browser posts them: the token from the page."""
        client = Client(enforce_csrf_checks=True)
        password = "S3cure-pass-9"
        response = client.post(
            "/accounts/register/",
            {"csrfmiddlewaretoken": csrf_token(client, "/accounts/register/"), "username": "csrfuser",
             "email": "csrf@example.com", "password1": password, "password2": password},
        )
        assert response.status_code in (200, 302)
        client = Client(enforce_csrf_checks=True)
        response = client.post(
            "/accounts/login/",
            {"csrfmiddlewaretoken": csrf_token(client, "/accounts/login/"), "username": self.world.a.username,
             "password": "wrong"},
        )
        assert response.status_code == 200  # the form again, with its error: not a CSRF 403
        shopper = signed_in(self.world.a, enforce_csrf_checks=True)
        cart_add = f"/cart/add/{self.world.service.pk}/"
        assert CSRF_FAILURE_HEADER in shopper.post(cart_add)
        assert shopper.post(cart_add, {"csrfmiddlewaretoken": csrf_token(shopper, "/cart/")}).status_code == 302
        checkout = f"/checkout/{self.world.service.pk}/"
        assert CSRF_FAILURE_HEADER in shopper.post(checkout)
        assert shopper.post(checkout, {"csrfmiddlewaretoken": csrf_token(shopper, checkout)}).status_code == 200


def csrf_token(client: Client, page: str = "/accounts/password-reset/") -> str:
    """The token a page's form hands the browser (the page also sets the cookie).
    The default page has a form whether or not the client is signed in."""
    response = client.get(page)
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.content)
    assert match, f"no CSRF token on {page} ({response.status_code})"
    return match.group(1).decode()


# --- Content-Security-Policy -------------------------------------------------------

SHOP_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def is_stricter_file_policy(directives: dict[str, str]) -> bool:
    """An uploaded slip is served with its own, stricter policy (orders.proofs):
    nothing loads, nothing runs."""
    return directives.get("default-src") == "'none'" and "sandbox" in directives


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.I)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)
HANDLER_ATTRIBUTE = re.compile(r"\son[a-z]+\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"""=\s*["']?\s*javascript:""", re.I)


def policy(response) -> dict[str, str]:
    header = response.get("Content-Security-Policy", "")
    return dict((*part.strip().split(" ", 1), "")[:2] for part in header.split(";") if part.strip())


def inline_code(html: str) -> list[str]:
    """Inline script, style and event handlers in `html` (what the shop's CSP refuses)."""
    found = []
    for pattern in (INLINE_SCRIPT, STYLE_ATTRIBUTE, STYLE_ELEMENT, HANDLER_ATTRIBUTE, JAVASCRIPT_URL):
        found += [m.group(0) for m in pattern.finditer(html)]
    return found


def shop_templates() -> list[Path]:
    """The templates browsers render under the shop's policy: not the admin's (its own
    policy), not the PDFs (WeasyPrint), not the emails (mail clients need inline styles)."""
    return [
        path
        for path in TEMPLATES_DIR.rglob("*.html")
        if not {"admin", "pdf", "emails"} & set(path.relative_to(TEMPLATES_DIR).parts[:-1])
    ]


@pytest.mark.once  # headers and templates: one database pass is enough
class ContentSecurityPolicyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.world = World()
        cls.staff = UserFactory(superuser=True)

    def shop_pages(self) -> list[tuple[Route, str]]:
        return [
            (r, r.url(values_for(r, self.world)))
            for r in all_routes()
            if not r.is_admin and r.name not in {"accounts:logout", "healthz", "readyz"}
        ]

    def test_every_shop_page_has_the_shop_policy(self):
        failures = []
        anonymous, customer = Client(), signed_in(self.world.a)
        for route, url in self.shop_pages():
            for who, client in (("anonymous", anonymous), ("customer", customer)):
                response = client.get(url)
                if not response["Content-Type"].startswith("text/html") and is_stricter_file_policy(policy(response)):
                    continue
                if policy(response) != SHOP_POLICY:
                    failures.append(f"{route} ({who}, {response.status_code}): {response.get('Content-Security-Policy')}")
        assert not failures, "\n".join(failures)

    def test_every_rendered_shop_page_is_free_of_inline_code(self):
        """The rendered HTML, widgets and crispy forms included, not only the templates."""
        failures = []
        customer = signed_in(self.world.a)
        for route, url in self.shop_pages():
            response = customer.get(url)
            if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
                found = inline_code(response.content.decode())
                if found:
                    failures.append(f"{route}: {found}")
        assert not failures, "\n".join(failures)

    def test_not_found_and_error_pages_have_the_policy(self):
        response = signed_in(self.world.b).get(f"/account/orders/{self.world.order_open.number}/")
        assert response.status_code == 404
        assert policy(response) == SHOP_POLICY
        assert not inline_code((TEMPLATES_DIR / "500.html").read_text())

    def test_the_admin_has_a_policy_with_inline_styles_only(self):
        staff = signed_in(self.staff)
        admin_urls = [f"/{ADMIN_PREFIX}", f"/{ADMIN_PREFIX}login/"] + [
            r.url({}) for r in all_routes() if r.is_admin and (r.name or "").endswith("_changelist")
        ]
        for url in admin_urls:
            response = staff.get(url)
            assert response.status_code in (200, 302), url
            expected = {**SHOP_POLICY, "style-src": "'self' 'unsafe-inline'"}
            assert policy(response) == expected, url

    def test_the_htmx_indicator_styles_are_not_injected(self):
        """htmx would add them as an inline <style> the policy refuses; mall.css has them."""
        html = Client().get("/").content.decode()
        assert """<meta name="htmx-config" content='{"includeIndicatorStyles":false}'>""" in html
        assert ".htmx-indicator" in (Path(settings.BASE_DIR) / "static/css/mall.css").read_text()


def test_shop_templates_have_no_inline_script_style_or_handlers():
    templates = shop_templates()
    assert len(templates) > 50  # the walk found the templates
    failures = {str(p.relative_to(TEMPLATES_DIR)): inline_code(p.read_text()) for p in templates}
    failures = {name: found for name, found in failures.items() if found}
    assert not failures


def test_the_inline_code_check_catches_what_the_policy_refuses():
    assert inline_code('<script>alert(1)</script><script type="module">x</script>') == [
        "<script>",
        '<script type="module">',
    ]
    assert inline_code('<p style="color:red" onclick="x()"><a href="javascript:x()">')
    assert not inline_code('<script src="/static/x.js" defer></script><p class="styled" data-on="x">')
