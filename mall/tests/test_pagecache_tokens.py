"""What the page cache never stores: a visitor's tokens, and responses that say they are
private, set cookies or vary on a header (mall/pagecache/middleware.py, tokens.py).

The pages here are test views declared as cached for the test's duration, so each case
is one template line: a token in a form (the placeholder), in an attribute, in a header's
JSON, in a meta tag, the raw secret, a token the view itself asked for.
"""

import re

import pytest
from django.apps import apps
from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.template import engines
from django.test import Client
from django.urls import include, path

from mall.pagecache import cacheable, contract

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

PAGE = """<!doctype html><html><body>
<form method="post" action="/pc/post/">{% csrf_token %}<button>Send</button></form>
{% if "attribute" in leak %}<button data-csrf="{{ csrf_token }}">Go</button>{% endif %}
{% if "header" in leak %}<div hx-headers='{"X-CSRFToken": "{{ csrf_token }}"}'></div>{% endif %}
{% if "meta" in leak %}<meta name="csrf-token" content="{{ csrf_token }}">{% endif %}
{% if "secret" in leak %}<p>{{ request.COOKIES.csrftoken }}</p>{% endif %}
{% if "session" in leak %}<p>{{ request.session.session_key }}</p>{% endif %}
{% if token %}<script type="application/json" id="token">{"token": "{{ token }}"}</script>{% endif %}
<p>rendered for {{ request.headers.x_device|default:"anyone" }}</p>
</body></html>"""


@cacheable
def page(request):
    leak = request.GET.get("leak", "")
    context = {"leak": leak, "token": get_token(request) if "view" in leak else ""}
    response = HttpResponse(engines["django"].from_string(PAGE).render(context, request))
    if request.GET.get("vary"):
        response["Vary"] = request.GET["vary"]
    if request.GET.get("cache-control"):
        response["Cache-Control"] = request.GET["cache-control"]
    if request.GET.get("cookie"):
        response.set_cookie("seen", "1")
    return response


def post(request):
    return HttpResponse("accepted")


urlpatterns = [path("pc/", include(([path("", page, name="page"), path("post/", post, name="post")], "mall")))]

PAGE_URL = "/pc/"
TOKEN_LIKE = re.compile(r"[A-Za-z0-9]{32,64}")


@pytest.fixture(autouse=True)
def page_is_declared(monkeypatch):
    monkeypatch.setattr(apps.get_app_config("mall"), "page_cache_views", ("page",), raising=False)
    contract.forget()
    yield
    contract.forget()


def rendered(response) -> bool:
    return response.context is not None


def visitor() -> Client:
    """A browser that has been here before: it has its CSRF cookie."""
    client = Client(enforce_csrf_checks=True)
    client.get(PAGE_URL)
    assert settings.CSRF_COOKIE_NAME in client.cookies
    return client


def secrets_in(response, client) -> set[str]:
    """Every token-like value in `response`, and the visitor's own CSRF secret."""
    values = set(TOKEN_LIKE.findall(response.text))
    values.add(client.cookies[settings.CSRF_COOKIE_NAME].value)
    return values


def form_token(response) -> str:
    [token] = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
    return token


class TestTokens:
    def test_the_form_token_is_a_placeholder_filled_in_per_visitor(self):
        alice, bob = visitor(), visitor()
        first = alice.get(PAGE_URL + "?n=1")
        assert rendered(first)
        for client in (bob, alice):
            page = client.get(PAGE_URL + "?n=1")
            assert not rendered(page), "a page whose only token is the placeholder is kept"
            assert "pagecache-" not in page.text
            token = form_token(page)
            assert token != form_token(first)
            assert client.post("/pc/post/", {"csrfmiddlewaretoken": token}).status_code == 200
        assert "pagecache-" not in first.text
        assert alice.post("/pc/post/", {"csrfmiddlewaretoken": form_token(first)}).status_code == 200

    @pytest.mark.parametrize("leak", ["attribute", "header", "meta", "attribute,header,meta", "secret", "view"])
    def test_no_token_rendered_any_other_way_is_served_to_a_second_visitor(self, leak):
        url = f"{PAGE_URL}?leak={leak}"
        alice, bob = visitor(), visitor()
        first = alice.get(url)
        seen = secrets_in(first, alice)
        assert len(seen) >= 2, "the page shows alice's token"
        for page in (bob.get(url), bob.get(url)):
            assert rendered(page), f"the page with a token in it ({leak}) was kept"
            assert not seen & set(TOKEN_LIKE.findall(page.text)), f"alice's token ({leak}) was served to bob"
            assert not any(value in page.text for value in seen)
        assert alice.post("/pc/post/", {"csrfmiddlewaretoken": form_token(first)}).status_code == 200

    @pytest.mark.parametrize("leak", ["", "meta", "session"])
    def test_a_customers_tokens_are_not_served_to_their_other_browser(self, leak):
        from accounts.tests.factories import UserFactory

        alice = UserFactory()
        laptop, phone = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
        laptop.force_login(alice)
        phone.force_login(alice)
        url = f"{PAGE_URL}?leak={leak}"
        laptop_page = laptop.get(url)
        seen = secrets_in(laptop_page, laptop) | {laptop.cookies[settings.SESSION_COOKIE_NAME].value}
        phone_page = phone.get(url)
        assert rendered(phone_page) == bool(leak), "the same customer's page is kept unless it shows a secret"
        assert not any(value in phone_page.text for value in seen)
        assert phone.post("/pc/post/", {"csrfmiddlewaretoken": form_token(phone_page)}).status_code == 200


class TestResponsesNotKept:
    @pytest.mark.parametrize("value", ["private", "no-store", "max-age=0, no-cache", "private, max-age=60"])
    def test_cache_control_private_no_store_or_no_cache(self, client, value):
        url = f"{PAGE_URL}?cache-control={value}"
        assert all(rendered(client.get(url)) for _ in range(3))

    def test_a_response_that_sets_a_cookie(self, client):
        url = f"{PAGE_URL}?cookie=1"
        assert all(rendered(client.get(url)) for _ in range(3))

    def test_the_control_is_kept(self, client):
        assert rendered(client.get(PAGE_URL)) and not rendered(client.get(PAGE_URL))


class TestVary:
    def test_a_page_is_kept_per_value_of_the_headers_it_varies_on(self, client):
        url = f"{PAGE_URL}?vary=X-Device"
        phone = client.get(url, HTTP_X_DEVICE="phone")
        assert rendered(phone) and "rendered for phone" in phone.text
        desktop = client.get(url, HTTP_X_DEVICE="desktop")
        assert rendered(desktop) and "rendered for desktop" in desktop.text
        for device in ("phone", "desktop", "phone"):
            again = client.get(url, HTTP_X_DEVICE=device)
            assert not rendered(again) and f"rendered for {device}" in again.text
        none = client.get(url)
        assert rendered(none) and "rendered for anyone" in none.text

    def test_cookie_and_language_are_in_the_key_already(self, client):
        url = f"{PAGE_URL}?vary=Cookie, Accept-Language"
        assert rendered(client.get(url)) and not rendered(client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans"))

    def test_vary_star_is_never_kept(self, client):
        url = f"{PAGE_URL}?vary=*"
        assert all(rendered(client.get(url)) for _ in range(3))
