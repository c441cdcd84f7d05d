import pytest
from django.core import mail

from accounts.forms import PasswordResetRequestForm, ProfileForm, RegisterForm
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Yun-Shi-Chang-2026!"


def register_form(**overrides):
    data = {
        "username": "zhangsan",
        "email": "zhangsan@example.com",
        "real_name": "",
        "mobile": "",
        "company": "",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    data.update(overrides)
    return RegisterForm(data)


@pytest.mark.parametrize(
    "typed",
    ["13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000", "+8613800138000", "0086 13800138000"],
)
def test_register_form_normalises_a_mainland_mobile_to_e164(typed):
    form = register_form(mobile=typed)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["mobile"] == "+8613800138000"


@pytest.mark.parametrize(
    "typed",
    ["021 6234 5678", "+852 9123 4567", "+1 650 253 0000", "1380013800", "138001380001", "手机号"],
    ids=["shanghai-landline", "hong-kong-mobile", "us-number", "ten-digits", "twelve-digits", "not-digits"],
)
def test_register_form_refuses_anything_but_a_mainland_mobile(typed):
    form = register_form(mobile=typed)

    assert not form.is_valid()
    assert form.has_error("mobile", code="invalid_mobile")


def test_register_form_accepts_a_blank_mobile():
    form = register_form(mobile="   ")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["mobile"] == ""


def test_register_form_requires_an_email():
    form = register_form(email="")

    assert not form.is_valid()
    assert form.has_error("email", code="required")


def test_register_form_refuses_an_email_registered_in_another_case():
    UserFactory(email="zhangsan@example.com")

    form = register_form(email="ZHANGSAN@example.com")

    assert not form.is_valid()
    assert list(form.errors) == ["email"]


def test_register_form_refuses_a_username_taken_in_another_case():
    UserFactory(username="zhangsan")

    form = register_form(username="ZhangSan", email="other@example.com")

    assert not form.is_valid()
    assert form.has_error("username", code="unique")


def test_register_form_refuses_a_password_like_the_username():
    form = register_form(username="yunshichang2026", password1="yunshichang2026", password2="yunshichang2026")

    assert not form.is_valid()
    assert form.has_error("password2", code="password_too_similar")


def test_profile_form_keeps_the_users_own_email():
    user = UserFactory()

    form = ProfileForm({"real_name": "", "email": user.email.upper(), "mobile": "", "company": ""}, instance=user)

    assert form.is_valid(), form.errors


def test_profile_form_refuses_another_users_email_in_another_case():
    other = UserFactory()
    user = UserFactory()

    form = ProfileForm({"real_name": "", "email": other.email.upper(), "mobile": "", "company": ""}, instance=user)

    assert not form.is_valid()
    assert list(form.errors) == ["email"]


def test_profile_form_refuses_a_blank_email():
    """Password resets and order notices go to it, so it cannot be cleared."""
    user = UserFactory()

    form = ProfileForm({"real_name": "", "email": "", "mobile": "", "company": ""}, instance=user)

    assert not form.is_valid()
    assert "email" in form.errors


def test_profile_form_normalises_the_mobile():
    user = UserFactory()

    form = ProfileForm({"real_name": "", "email": user.email, "mobile": "139 1234 5678", "company": ""}, instance=user)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["mobile"] == "+8613912345678"


def reset_form_save(email, rf):
    form = PasswordResetRequestForm({"email": email})
    assert form.is_valid()
    form.save(
        request=rf.post("/accounts/password-reset/"),
        subject_template_name="accounts/emails/password_reset_subject.txt",
        email_template_name="accounts/emails/password_reset.txt",
        html_email_template_name="accounts/emails/password_reset.html",
    )


def test_password_reset_form_enqueues_the_email_only_on_commit(rf, django_capture_on_commit_callbacks):
    user = UserFactory()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reset_form_save(user.email, rf)

    assert len(callbacks) == 1
    assert mail.outbox == []
    callbacks[0]()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]


def test_password_reset_form_skips_an_inactive_user(rf, django_capture_on_commit_callbacks):
    user = UserFactory(is_active=False)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reset_form_save(user.email, rf)

    assert callbacks == []
    assert mail.outbox == []


def test_password_reset_form_matches_the_email_in_any_case_and_sends_to_the_stored_address(
    rf, django_capture_on_commit_callbacks
):
    user = UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        reset_form_save(user.email.upper(), rf)

    assert [m.to for m in mail.outbox] == [[user.email]]
