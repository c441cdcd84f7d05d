"""The Django details the page cache relies on (mall/pagecache/django_internals.py), each
checked against the installed Django. A failure here after a Django upgrade says which
function to change: the page cache would otherwise go wrong quietly (serve a page with a
flash message, miss a signed-in visitor's session, render a token into a kept page)."""

import pytest
from django.conf import settings
from django.contrib.messages import constants
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.messages.storage.session import SessionStorage
from django.contrib.sessions.backends.cached_db import SessionStore
from django.core.cache import caches
from django.db import transaction
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.template import Context, Template
from django.test import Client, RequestFactory, override_settings
from django.utils.html import format_html

from accounts.tests.factories import UserFactory
from mall.pagecache import django_internals
from orders.models import Order, OrderLine

pytestmark = pytest.mark.once  # Django's behaviour, whatever the database

UPGRADE = "Django changed what mall/pagecache/django_internals.py"


@pytest.mark.django_db
def test_the_signed_in_user_and_auth_hash_are_read_from_the_session():
    user = UserFactory()
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    assert str(django_internals.session_user_id(session)) == str(user.pk), f"{UPGRADE}.session_user_id assumes (SESSION_KEY)"
    assert django_internals.session_auth_hash(session) == user.get_session_auth_hash(), f"{UPGRADE}.session_auth_hash assumes"
    assert django_internals.session_user_id({}) is None and django_internals.session_auth_hash({}) == ""


@pytest.mark.django_db
def test_the_cached_db_engine_keeps_a_sessions_data_under_that_key():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    session = SessionStore()
    session["answer"] = 42
    session.save()
    data = caches[settings.SESSION_CACHE_ALIAS].get(django_internals.cached_session_key(session.session_key))
    assert isinstance(data, dict) and data.get("answer") == 42, (
        f"{UPGRADE}.cached_session_key assumes: cached_db sessions as a dict under "
        "SessionStore.cache_key_prefix + the session key"
    )
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.db"):
        assert django_internals.cached_session_key(session.session_key) is None


def test_a_pending_flash_message_is_seen_in_the_cookie_or_the_session():
    factory = RequestFactory()
    request = factory.get("/")
    storage = CookieStorage(request)
    storage.add(constants.INFO, "保存成功")
    response = HttpResponse()
    storage.update(response)
    assert CookieStorage.cookie_name in response.cookies, f"{UPGRADE}.carries_messages assumes (the cookie's name)"
    carrying = factory.get("/")
    carrying.COOKIES[CookieStorage.cookie_name] = response.cookies[CookieStorage.cookie_name].value
    assert django_internals.carries_messages(carrying, {})

    request = factory.get("/")
    request.session = SessionStore()
    storage = SessionStorage(request)
    storage.add(constants.INFO, "保存成功")
    storage.update(HttpResponse())
    assert django_internals.carries_messages(factory.get("/"), request.session), f"{UPGRADE}.carries_messages assumes (the session key)"
    assert not django_internals.carries_messages(factory.get("/"), {})


def test_a_relation_is_known_to_be_loaded_or_not():
    assert django_internals.relation_is_loaded(OrderLine(order=Order(pk=1)), OrderLine._meta.get_field("order")), (
        f"{UPGRADE}.relation_is_loaded assumes (Field.is_cached)"
    )
    assert not django_internals.relation_is_loaded(OrderLine(order_id=1), OrderLine._meta.get_field("order"))


def test_djangos_csrf_input_is_what_the_placeholder_imitates():
    rendered = django_internals.render_csrf_input(Context({"csrf_token": "abc123"}))
    assert rendered == format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', "abc123"), (
        f"{UPGRADE}.render_csrf_input assumes; mall/templatetags/pagecache.py renders the same input around its placeholder"
    )
    assert Template("{% csrf_token %}").render(Context({"csrf_token": "abc123"})) == rendered


def test_every_manager_of_a_model_is_listed():
    assert django_internals.model_managers(Order)[0] is Order._default_manager, f"{UPGRADE}.model_managers assumes"
    assert {manager.name for manager in django_internals.model_managers(Order)} == {"objects"}


def test_the_csrf_middleware_around_a_callable_reads_the_cookie_and_sets_it_after_a_token():
    """The page cache runs a copy of CsrfViewMiddleware around the filling of tokens, as
    middleware runs (MiddlewareMixin: process_request, the callable, process_response)."""
    secret = "a" * 32
    request = RequestFactory().get("/")
    request.COOKIES[settings.CSRF_COOKIE_NAME] = secret
    seen = {}

    def fill(request):
        seen["token"] = get_token(request)
        return HttpResponse()

    response = CsrfViewMiddleware(fill)(request)
    assert request.META["CSRF_COOKIE"] == secret, "the visitor's own secret is used"
    assert response.cookies[settings.CSRF_COOKIE_NAME].value == secret, "the cookie is set after get_token()"
    assert len(seen["token"]) == 64 and seen["token"] != secret
    untouched = CsrfViewMiddleware(lambda request: HttpResponse())(RequestFactory().get("/"))
    assert settings.CSRF_COOKIE_NAME not in untouched.cookies, "without get_token() no cookie is set"


def test_a_fast_csrf_token_is_one_djangos_csrf_middleware_accepts():
    """new_csrf_token stands in for get_token(): the same request.META keys, the same
    masking. Its token must pass Django's own check against the cookie the middleware sets,
    for a visitor with a CSRF cookie and for one without."""
    middleware = CsrfViewMiddleware(lambda request: HttpResponse("ok"))
    factory = RequestFactory()

    # A first visit: no cookie. The token's secret becomes the cookie the response sets.
    first = factory.get("/")
    middleware.process_request(first)
    token = django_internals.new_csrf_token(first)
    response = middleware.process_response(first, HttpResponse())
    secret = response.cookies[settings.CSRF_COOKIE_NAME].value
    assert first.META["CSRF_COOKIE"] == secret, f"{UPGRADE}.new_csrf_token assumes get_token's META keys"

    # A returning visitor: the same secret, a new mask each time.
    for _ in range(3):
        again = factory.get("/", HTTP_COOKIE=f"{settings.CSRF_COOKIE_NAME}={secret}")
        middleware.process_request(again)
        fresh = django_internals.new_csrf_token(again)
        assert fresh != token and len(fresh) == len(get_token(factory.get("/")))
        assert set(fresh) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        post = factory.post(
            "/", {"csrfmiddlewaretoken": fresh}, HTTP_COOKIE=f"{settings.CSRF_COOKIE_NAME}={secret}"
        )
        post._dont_enforce_csrf_checks = False
        middleware.process_request(post)
        assert middleware.process_view(post, lambda request: None, (), {}) is None, (
            f"{UPGRADE}.new_csrf_token assumes Django's token masking"
        )

    forged = factory.post("/", {"csrfmiddlewaretoken": token}, HTTP_COOKIE=f"{settings.CSRF_COOKIE_NAME}={'x' * 32}")
    middleware.process_request(forged)
    assert middleware.process_view(forged, lambda request: None, (), {}) is not None  # the check does refuse


@pytest.mark.django_db
def test_the_commit_hooks_still_to_run_are_listed():
    def kept():
        pass

    def rolled_back():
        pass

    with transaction.atomic():
        transaction.on_commit(kept)
        try:
            with transaction.atomic():
                transaction.on_commit(rolled_back)
                assert django_internals.commit_hooks()[-2:] == [kept, rolled_back], (
                    f"{UPGRADE}.commit_hooks assumes (connection.run_on_commit: savepoint ids, callable, robust)"
                )
                raise RuntimeError
        except RuntimeError:
            pass
        assert django_internals.commit_hooks()[-1] == kept
        assert rolled_back not in django_internals.commit_hooks()
