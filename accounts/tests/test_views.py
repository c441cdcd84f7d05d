"""The accounts pages, driven through their URLs with the test client.

The shop speaks Chinese by default. The project's own messages are still being
translated, so assertions name the form field in error, or Django's own Chinese
strings (from Django's zh_Hans catalog), never the project's Chinese text.
"""

import re

import pytest
from django.core import mail
from django.utils import translation
from django.utils.html import escape
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects, assertTemplateUsed

from accounts.models import ProductKey, User
from accounts.tests.factories import PASSWORD, ProductKeyFactory, UserFactory
from catalog.exceptions import MalformedProductKey, UnknownProductKey
from catalog.tests.factories import ProductLineFactory, sample_key

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Yun-Shi-Chang-2026!"
LOGIN_URL = "/accounts/login/"

# Django's own zh_Hans strings (django/contrib/auth/locale/zh_Hans/LC_MESSAGES/django.po).
DJANGO_ZH_USERNAME_TAKEN = "已存在一位使用该名字的用户。"
DJANGO_ZH_PASSWORDS_DIFFER = "输入的两个密码不一致。"
DJANGO_ZH_BAD_CREDENTIALS = "请输入一个正确的用户名和密码。注意，两者都区分大小写。"
DJANGO_ZH_OLD_PASSWORD_WRONG = "你的旧密码不正确。请重新输入。"


def signed_in_user_id(client):
    value = client.session.get("_auth_user_id")
    return int(value) if value is not None else None


def register_data(**overrides):
    data = {
        "username": "zhangsan",
        "email": "zhangsan@example.com",
        "real_name": "张三",
        "mobile": "138 0013 8000",
        "company": "张三网店",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    data.update(overrides)
    return data


def sign_in(client, username, password, *, ip="10.0.0.1", **data):
    return client.post(LOGIN_URL, {"username": username, "password": password, **data}, REMOTE_ADDR=ip)


def project_message(lazy_message):
    """A project message as the page shows it: in the shop's default language, escaped."""
    with translation.override("zh-hans"):
        return escape(str(lazy_message))


# --- Registration -----------------------------------------------------------------


def test_register_page_renders_in_chinese_by_default(client):
    response = client.get("/accounts/register/")

    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    assertTemplateUsed(response, "accounts/register.html")


def test_register_creates_the_user_signs_them_in_and_redirects_to_the_services(client):
    response = client.post("/accounts/register/", register_data())

    assertRedirects(response, "/services/", fetch_redirect_response=False)
    user = User.objects.get(username="zhangsan")
    assert user.email == "zhangsan@example.com"
    assert user.real_name == "张三"
    assert user.company == "张三网店"
    assert user.check_password(NEW_PASSWORD)
    assert signed_in_user_id(client) == user.pk
    assert client.get("/account/profile/").status_code == 200


def test_register_stores_the_mobile_in_e164(client):
    client.post("/accounts/register/", register_data(mobile="138-0013-8000"))

    assert User.objects.get(username="zhangsan").mobile == "+8613800138000"


def test_register_without_a_mobile_stores_an_empty_mobile(client):
    client.post("/accounts/register/", register_data(mobile=""))

    assert User.objects.get(username="zhangsan").mobile == ""


def test_register_with_taken_username_shows_djangos_chinese_message_and_creates_nothing(client):
    UserFactory(username="zhangsan")
    users_before = User.objects.count()

    response = client.post("/accounts/register/", register_data(email="other@example.com"))

    assert response.status_code == 200
    assert response.context["form"].has_error("username")
    assertContains(response, DJANGO_ZH_USERNAME_TAKEN)
    assert User.objects.count() == users_before
    assert signed_in_user_id(client) is None


def test_register_with_taken_username_in_other_case_shows_message_and_creates_nothing(client):
    UserFactory(username="zhangsan")
    users_before = User.objects.count()

    response = client.post("/accounts/register/", register_data(username="ZhangSan", email="other@example.com"))

    assert response.status_code == 200
    assertContains(response, DJANGO_ZH_USERNAME_TAKEN)
    assert User.objects.count() == users_before


def test_register_with_taken_email_in_other_case_shows_message_and_creates_nothing(client):
    UserFactory(username="lisi", email="zhangsan@example.com")
    users_before = User.objects.count()

    response = client.post("/accounts/register/", register_data(email="ZhangSan@Example.COM"))

    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["email"]
    assertContains(response, 'id="error_1_id_email"')
    assert User.objects.count() == users_before
    assert signed_in_user_id(client) is None


@pytest.mark.parametrize(
    "mobile",
    ["12345", "021 6234 5678", "+1 650 253 0000", "138 0013 800", "not a number"],
    ids=["too-short", "landline", "us-mobile", "one-digit-short", "letters"],
)
def test_register_with_invalid_mobile_shows_message_and_creates_nothing(client, mobile):
    response = client.post("/accounts/register/", register_data(mobile=mobile))

    assert response.status_code == 200
    assert response.context["form"].has_error("mobile", code="invalid_mobile")
    assertContains(response, 'id="error_1_id_mobile"')
    assert not User.objects.exists()


def test_register_with_mismatched_passwords_shows_djangos_chinese_message_and_creates_nothing(client):
    response = client.post("/accounts/register/", register_data(password2=NEW_PASSWORD + "x"))

    assert response.status_code == 200
    assert response.context["form"].has_error("password2", code="password_mismatch")
    assertContains(response, DJANGO_ZH_PASSWORDS_DIFFER)
    assert not User.objects.exists()


def test_register_follows_a_safe_local_next(client):
    assertContains(client.get("/accounts/register/?next=/services/1/"), 'name="next" value="/services/1/"')

    response = client.post("/accounts/register/", register_data(next="/services/1/"))

    assertRedirects(response, "/services/1/", fetch_redirect_response=False)


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "http://testserver.evil.example/", "javascript:alert(1)"],
)
def test_register_ignores_a_next_to_another_site(client, next_url):
    response = client.post("/accounts/register/", register_data(next=next_url))

    assertRedirects(response, "/services/", fetch_redirect_response=False)
    assert User.objects.filter(username="zhangsan").exists()


def test_register_page_does_not_carry_an_unsafe_next_into_the_form(client):
    response = client.get("/accounts/register/?next=https://evil.example/")

    assert response.context["next"] == ""
    assertNotContains(response, 'name="next" value="https://evil.example/"')


def test_register_when_signed_in_redirects_to_the_user_centre(user_client):
    response = user_client.get("/accounts/register/")

    assertRedirects(response, "/account/", fetch_redirect_response=False)


# --- Sign in and sign out ---------------------------------------------------------


def test_sign_in_with_the_right_password_signs_in_and_redirects_to_the_services(client, user):
    response = sign_in(client, user.username, PASSWORD)

    assertRedirects(response, "/services/", fetch_redirect_response=False)
    assert signed_in_user_id(client) == user.pk


def test_sign_in_with_a_wrong_password_shows_djangos_chinese_message(client, user):
    response = sign_in(client, user.username, "wrong-password")

    assert response.status_code == 200
    assertContains(response, DJANGO_ZH_BAD_CREDENTIALS)
    assert signed_in_user_id(client) is None


def test_sign_in_with_next_redirects_there(client, user):
    response = sign_in(client, user.username, PASSWORD, next="/services/1/")

    assertRedirects(response, "/services/1/", fetch_redirect_response=False)
    assert signed_in_user_id(client) == user.pk


def test_sign_in_with_next_to_another_site_redirects_to_the_services(client, user):
    response = sign_in(client, user.username, PASSWORD, next="https://evil.example/")

    assertRedirects(response, "/services/", fetch_redirect_response=False)


def test_sign_in_page_keeps_next_for_the_form(client):
    response = client.get(f"{LOGIN_URL}?next=/services/1/")

    assertContains(response, 'name="next" value="/services/1/"')


def test_sign_out_by_get_is_refused_and_keeps_the_user_signed_in(user_client, user):
    response = user_client.get("/accounts/logout/")

    assert response.status_code == 405
    assert signed_in_user_id(user_client) == user.pk


def test_sign_out_by_post_signs_out_and_redirects_home(user_client):
    response = user_client.post("/accounts/logout/")

    assertRedirects(response, "/", fetch_redirect_response=False)
    assert signed_in_user_id(user_client) is None


def test_five_failed_sign_ins_lock_the_username_from_that_ip_even_for_the_right_password(client, user):
    for _ in range(5):
        response = sign_in(client, user.username, "wrong-password", ip="10.0.0.1")
        assert signed_in_user_id(client) is None

    response = sign_in(client, user.username, PASSWORD, ip="10.0.0.1")

    assert response.status_code == 429
    assertTemplateUsed(response, "accounts/locked_out.html")
    assertContains(response, 'data-testid="locked-out"', status_code=429)
    assert signed_in_user_id(client) is None


def test_four_failed_sign_ins_do_not_lock_the_username(client, user):
    for _ in range(4):
        assert sign_in(client, user.username, "wrong-password", ip="10.0.0.1").status_code == 200

    response = sign_in(client, user.username, PASSWORD, ip="10.0.0.1")

    assertRedirects(response, "/services/", fetch_redirect_response=False)
    assert signed_in_user_id(client) == user.pk


def test_a_locked_username_can_still_sign_in_from_another_ip(client, user):
    for _ in range(5):
        sign_in(client, user.username, "wrong-password", ip="10.0.0.1")
    assert sign_in(client, user.username, PASSWORD, ip="10.0.0.1").status_code == 429

    response = sign_in(client, user.username, PASSWORD, ip="10.0.0.2")

    assertRedirects(response, "/services/", fetch_redirect_response=False)
    assert signed_in_user_id(client) == user.pk


def test_a_locked_username_does_not_lock_other_usernames_from_the_same_ip(client, user):
    other = UserFactory()
    for _ in range(5):
        sign_in(client, user.username, "wrong-password", ip="10.0.0.1")

    response = sign_in(client, other.username, PASSWORD, ip="10.0.0.1")

    assertRedirects(response, "/services/", fetch_redirect_response=False)
    assert signed_in_user_id(client) == other.pk


# --- Password reset ---------------------------------------------------------------

RESET_LINK = re.compile(r"http://testserver(/accounts/password-reset/[^/\s]+/[^/\s]+/)")


def test_password_reset_for_a_known_email_sends_one_email_with_a_working_link(
    client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post("/accounts/password-reset/", {"email": user.email.upper()})

    assertRedirects(response, "/accounts/password-reset/sent/", fetch_redirect_response=False)
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert message.subject and "\n" not in message.subject
    assert len(message.alternatives) == 1
    html_body, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    link = RESET_LINK.search(message.body)
    assert link, message.body
    assert link[0] in html_body
    assert user.username in message.body

    confirm = client.get(link[1])
    set_password_url = f"{link[1].rsplit('/', 2)[0]}/set-password/"
    assertRedirects(confirm, set_password_url, fetch_redirect_response=False)
    assert client.get(set_password_url).context["validlink"] is True
    done = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assertRedirects(done, "/accounts/password-reset/complete/", fetch_redirect_response=False)

    assert sign_in(client, user.username, PASSWORD).status_code == 200
    assert signed_in_user_id(client) is None
    assertRedirects(sign_in(client, user.username, NEW_PASSWORD), "/services/", fetch_redirect_response=False)
    assert signed_in_user_id(client) == user.pk


def test_password_reset_lifts_a_sign_in_lock_out(client, user, django_capture_on_commit_callbacks):
    for _ in range(5):
        sign_in(client, user.username, "wrong-password", ip="10.0.0.1")
    assert sign_in(client, user.username, PASSWORD, ip="10.0.0.1").status_code == 429
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password-reset/", {"email": user.email})
    set_password_url = client.get(RESET_LINK.search(mail.outbox[0].body)[1])["Location"]
    client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    response = sign_in(client, user.username, NEW_PASSWORD, ip="10.0.0.1")

    assertRedirects(response, "/services/", fetch_redirect_response=False)
    assert signed_in_user_id(client) == user.pk


def test_lock_out_page_states_the_configured_cool_off(client, user, settings):
    settings.AXES_COOLOFF_TIME = 0.5  # hours
    for _ in range(5):
        response = sign_in(client, user.username, "wrong-password", ip="10.0.0.1")
    assertContains(response, "30", status_code=429)


def test_password_reset_link_works_only_once(client, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password-reset/", {"email": user.email})
    path = RESET_LINK.search(mail.outbox[0].body)[1]
    set_password_url = client.get(path)["Location"]
    client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    response = client.get(path, follow=True)

    assert response.context["validlink"] is False
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_for_an_unknown_email_sends_nothing_but_shows_the_same_done_page(
    client, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})

    assertRedirects(response, "/accounts/password-reset/sent/", fetch_redirect_response=False)
    assert callbacks == []
    assert mail.outbox == []
    assertTemplateUsed(client.get(response["Location"]), "accounts/password_reset_done.html")


def test_password_reset_email_is_sent_only_after_the_request_commits(client, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post("/accounts/password-reset/", {"email": user.email})

    assert len(callbacks) == 1
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_password_reset_with_the_mail_server_down_still_shows_the_done_page(client, flaky_backend):
    """Without Redis the task runs in-process as soon as the request commits; a failing
    mail server must not turn the page into a server error."""
    flaky_backend.failures = 100
    user = UserFactory()
    client.raise_request_exception = False

    response = client.post("/accounts/password-reset/", {"email": user.email})

    assertRedirects(response, "/accounts/password-reset/sent/", fetch_redirect_response=False)
    assert flaky_backend.attempts >= 1
    assert mail.outbox == []


# --- User centre: password and profile --------------------------------------------


def test_password_change_sets_the_new_password_and_keeps_the_user_signed_in(user_client, user):
    response = user_client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assertRedirects(response, "/account/password/", fetch_redirect_response=False)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert user_client.get("/account/profile/").status_code == 200


def test_password_change_with_a_wrong_old_password_shows_djangos_chinese_message_and_changes_nothing(
    user_client, user
):
    response = user_client.post(
        "/account/password/",
        {"old_password": "wrong-password", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assertContains(response, DJANGO_ZH_OLD_PASSWORD_WRONG)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def profile_data(user, **overrides):
    data = {"real_name": user.real_name, "email": user.email, "mobile": user.mobile, "company": user.company}
    data.update(overrides)
    return data


def test_profile_edit_saves_the_fields_and_stores_the_mobile_in_e164(user_client, user):
    response = user_client.post(
        "/account/profile/",
        profile_data(user, real_name="李四", email="lisi@example.com", mobile="139 1234 5678", company="李四商行"),
    )

    assertRedirects(response, "/account/profile/", fetch_redirect_response=False)
    user.refresh_from_db()
    assert (user.real_name, user.email, user.mobile, user.company) == (
        "李四",
        "lisi@example.com",
        "+8613912345678",
        "李四商行",
    )


def test_profile_edit_keeps_the_users_own_email_in_another_case(user_client, user):
    response = user_client.post("/account/profile/", profile_data(user, email=user.email.upper()))

    assertRedirects(response, "/account/profile/", fetch_redirect_response=False)
    user.refresh_from_db()
    assert user.email == user.email.upper()


def test_profile_edit_with_another_users_email_shows_message_and_changes_nothing(user_client, user):
    other = UserFactory()
    before = (user.email, user.real_name)

    response = user_client.post("/account/profile/", profile_data(user, email=other.email.upper(), real_name="改名"))

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["email"]
    user.refresh_from_db()
    assert (user.email, user.real_name) == before


def test_profile_edit_with_an_invalid_mobile_shows_message_and_changes_nothing(user_client, user):
    mobile_before = user.mobile

    response = user_client.post("/account/profile/", profile_data(user, mobile="021 6234 5678"))

    assert response.status_code == 200
    assert response.context["form"].has_error("mobile", code="invalid_mobile")
    user.refresh_from_db()
    assert user.mobile == mobile_before


def test_user_centre_redirects_to_the_profile(user_client):
    assertRedirects(user_client.get("/account/"), "/account/profile/")


# --- Product keys -----------------------------------------------------------------


@pytest.fixture
def line(db):
    return ProductLineFactory()


def test_product_key_add_normalises_a_lower_case_key_with_spaces(user_client, user, line):
    key = sample_key(line, 0x1A2B)
    typed = " " + key.lower().replace("-", " - ") + " "

    response = user_client.post("/account/product-keys/", {"key": typed, "label": "天猫旗舰店"})

    assertRedirects(response, "/account/product-keys/", fetch_redirect_response=False)
    saved = ProductKey.objects.get()
    assert (saved.user, saved.key, saved.product_line, saved.label) == (user, key, line, "天猫旗舰店")


def test_product_key_add_follows_a_safe_next(user_client, line):
    response = user_client.post("/account/product-keys/", {"key": sample_key(line, 1), "next": "/services/1/"})

    assertRedirects(response, "/services/1/", fetch_redirect_response=False)


def test_product_key_add_ignores_a_next_to_another_site(user_client, line):
    response = user_client.post("/account/product-keys/", {"key": sample_key(line, 1), "next": "//evil.example/"})

    assertRedirects(response, "/account/product-keys/", fetch_redirect_response=False)


def test_product_key_add_malformed_key_shows_message_and_stores_nothing(user_client, line):
    response = user_client.post("/account/product-keys/", {"key": "!?"})

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["key"]
    assertContains(response, project_message(MalformedProductKey.message))
    assert not ProductKey.objects.exists()


def test_product_key_add_unknown_key_shows_message_and_stores_nothing(user_client, line):
    response = user_client.post("/account/product-keys/", {"key": "ZZZ-0000-0000"})

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["key"]
    assertContains(response, project_message(UnknownProductKey.message))
    assert not ProductKey.objects.exists()


def test_product_key_add_empty_key_shows_djangos_required_message_and_stores_nothing(user_client, line):
    response = user_client.post("/account/product-keys/", {"key": ""})

    assert response.status_code == 200
    assertContains(response, "这个字段是必填项。")
    assert not ProductKey.objects.exists()


def test_product_key_saved_twice_keeps_one_row(user_client, user, line):
    key = sample_key(line, 7)
    user_client.post("/account/product-keys/", {"key": key, "label": "京东店"})

    response = user_client.post("/account/product-keys/", {"key": key.lower(), "label": ""})

    assertRedirects(response, "/account/product-keys/", fetch_redirect_response=False)
    assert ProductKey.objects.filter(user=user).count() == 1
    assert ProductKey.objects.get().label == "京东店"


def test_product_key_list_shows_only_the_signed_in_users_keys(user_client, user):
    mine = ProductKeyFactory(user=user, label="我的店")
    theirs = ProductKeyFactory(label="别人的店")

    response = user_client.get("/account/product-keys/")

    assert response.status_code == 200
    assert list(response.context["keys"]) == [mine]
    assertContains(response, mine.key)
    assertContains(response, "我的店")
    assertNotContains(response, theirs.key)
    assertNotContains(response, "别人的店")
    assertNotContains(response, f"/account/product-keys/{theirs.pk}/delete/")


def test_product_key_list_without_keys_shows_the_empty_state(user_client):
    assertContains(user_client.get("/account/product-keys/"), 'data-testid="empty-state"')


def test_product_key_delete_removes_the_users_key(user_client, user):
    key = ProductKeyFactory(user=user)
    other = ProductKeyFactory(user=user)

    response = user_client.post(f"/account/product-keys/{key.pk}/delete/")

    assertRedirects(response, "/account/product-keys/", fetch_redirect_response=False)
    assert list(ProductKey.objects.all()) == [other]


def test_product_key_delete_of_another_users_key_is_404_and_deletes_nothing(user_client):
    theirs = ProductKeyFactory()

    response = user_client.post(f"/account/product-keys/{theirs.pk}/delete/")

    assert response.status_code == 404
    assert ProductKey.objects.filter(pk=theirs.pk).exists()


def test_product_key_delete_by_get_is_refused_and_deletes_nothing(user_client, user):
    key = ProductKeyFactory(user=user)

    response = user_client.get(f"/account/product-keys/{key.pk}/delete/")

    assert response.status_code == 405
    assert ProductKey.objects.filter(pk=key.pk).exists()


# --- Sign-in required -------------------------------------------------------------

ACCOUNT_PAGES = [
    "/account/",
    "/account/profile/",
    "/account/password/",
    "/account/product-keys/",
    "/account/addresses/",
    "/account/invoice-profiles/",
    "/account/messages/",
    "/account/inquiries/",
    "/account/orders/",
    "/account/refunds/",
    "/account/invoices/",
]


@pytest.mark.parametrize("path", ACCOUNT_PAGES)
def test_account_page_redirects_an_anonymous_visitor_to_sign_in(client, path):
    response = client.get(path)

    assertRedirects(response, f"{LOGIN_URL}?next={path}", fetch_redirect_response=False)


@pytest.mark.parametrize("path", ["/account/profile/", "/account/password/", "/account/product-keys/"])
def test_account_form_post_by_an_anonymous_visitor_redirects_to_sign_in_and_changes_nothing(client, path):
    users_before = User.objects.count()

    response = client.post(path, {"key": "ZZZ-0000-0000", "email": "x@example.com"})

    assertRedirects(response, f"{LOGIN_URL}?next={path}", fetch_redirect_response=False)
    assert User.objects.count() == users_before
    assert not ProductKey.objects.exists()


def test_product_key_delete_by_an_anonymous_visitor_redirects_to_sign_in_and_deletes_nothing(client):
    key = ProductKeyFactory()
    path = f"/account/product-keys/{key.pk}/delete/"

    response = client.post(path)

    assertRedirects(response, f"{LOGIN_URL}?next={path}", fetch_redirect_response=False)
    assert ProductKey.objects.filter(pk=key.pk).exists()


# --- The user-centre menu ------------------------------------------------------------

CENTRE_PAGES = [
    "/account/orders/",
    "/account/invoices/",
    "/account/inquiries/",
    "/account/refunds/",
    "/account/messages/",
]
MENU_LINKS = [
    "/account/orders/",
    "/account/inquiries/",
    "/account/refunds/",
    "/account/profile/",
    "/account/addresses/",
    "/account/invoice-profiles/",
    "/account/product-keys/",
    "/account/password/",
    "/account/messages/",
]


@pytest.mark.parametrize("path", CENTRE_PAGES)
def test_user_centre_pages_render_with_the_menu(user_client, path):
    response = user_client.get(path)

    assert response.status_code == 200
    assertTemplateUsed(response, "accounts/centre_base.html")
    assertContains(response, 'class="col-md-3 centre-menu"')
    for link in MENU_LINKS:
        assertContains(response, f'href="{link}"')


@pytest.mark.parametrize("path", sorted(set(CENTRE_PAGES) & set(MENU_LINKS)))
def test_a_centre_page_marks_its_menu_item_active(user_client, path):
    response = user_client.get(path)

    assertContains(response, f'list-group-item-action active" href="{path}"', count=1)


@pytest.mark.parametrize(
    "path",
    [
        "/account/profile/",
        "/account/password/",
        "/account/product-keys/",
        "/account/addresses/",
        "/account/invoice-profiles/",
        "/account/messages/",
    ],
)
def test_user_centre_form_page_renders_with_the_menu_for_a_signed_in_user(user_client, path):
    response = user_client.get(path)

    assert response.status_code == 200
    assertTemplateUsed(response, "accounts/centre_base.html")
    assertContains(response, f'list-group-item-action active" href="{path}"', count=1)


def test_a_client_sent_x_forwarded_for_does_not_dodge_the_lock_out(client, user):
    """Without trusted proxies the header is the client's to forge: it is ignored."""
    for n in range(5):
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"},
                    REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD},
                           REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert response.status_code == 429


def test_behind_one_proxy_the_forwarded_client_address_counts(client, user, settings):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
    for _ in range(5):
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"},
                    REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7, 10.0.0.1")
    other_client = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD},
                               REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.8, 10.0.0.1")
    assert other_client.status_code == 302  # a different customer behind the same proxy is not locked
