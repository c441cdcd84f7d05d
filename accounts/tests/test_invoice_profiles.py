"""Invoice profiles (发票信息): the form's rules per kind, the one-default rule, the pages.

Assertions name the field in error, never the project's Chinese text (still being translated).
"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertRedirects, assertTemplateUsed

from accounts import selectors, services
from accounts.forms import InvoiceProfileForm
from accounts.models import InvoiceProfile
from accounts.tests.factories import InvoiceProfileFactory, UserFactory
from accounts.tests.test_validators import LETTER_LED, VALID_USCC
from tests.support.helpers import run_concurrently

pytestmark = pytest.mark.django_db

LIST_URL = reverse("accounts:invoice-profiles")
ADD_URL = reverse("accounts:invoice-profile-add")
SPECIAL_FIELDS = ["title", "taxpayer_id", "address", "phone", "bank", "account"]


def ordinary_data(**overrides):
    data = {
        "kind": "ordinary",
        "title_type": "company",
        "title": "上海测试贸易有限公司",
        "taxpayer_id": VALID_USCC,
        "address": "",
        "phone": "",
        "bank": "",
        "account": "",
        "contact": "张三",
        "contact_phone": "138 0013 8000",
    }
    data.update(overrides)
    return data


def special_data(**overrides):
    data = ordinary_data(
        kind="special",
        address="上海市闵行区号景路206弄",
        phone="021-64000000",
        bank="招商银行上海分行",
        account="1219 0000 0000 0001",
    )
    data.update(overrides)
    return data


def defaults_of(user):
    return list(InvoiceProfile.objects.filter(user=user, is_default=True).values_list("pk", flat=True))


def url(name, profile):
    return reverse(f"accounts:invoice-profile-{name}", args=[profile.pk])


# --- The form ---------------------------------------------------------------------------


class TestInvoiceProfileForm:
    def test_complete_ordinary_company_profile_is_valid(self):
        form = InvoiceProfileForm(data=ordinary_data())
        assert form.is_valid(), form.errors

    def test_complete_special_profile_is_valid(self):
        form = InvoiceProfileForm(data=special_data())
        assert form.is_valid(), form.errors

    @pytest.mark.parametrize("field", ["kind", "title_type", "title", "taxpayer_id"])
    def test_ordinary_company_requires(self, field):
        form = InvoiceProfileForm(data=ordinary_data(**{field: ""}))
        assert not form.is_valid()
        assert list(form.errors) == [field]

    def test_ordinary_individual_requires_only_a_title(self):
        form = InvoiceProfileForm(data=ordinary_data(title_type="individual", taxpayer_id="", title="张三"))
        assert form.is_valid(), form.errors
        form = InvoiceProfileForm(data=ordinary_data(title_type="individual", taxpayer_id="", title=""))
        assert list(form.errors) == ["title"]

    @pytest.mark.parametrize("field", SPECIAL_FIELDS)
    def test_special_requires(self, field):
        form = InvoiceProfileForm(data=special_data(**{field: "  "}))
        assert not form.is_valid()
        assert list(form.errors) == [field]

    def test_special_missing_bank_is_refused(self):
        form = InvoiceProfileForm(data=special_data(bank=""))
        assert not form.is_valid()
        assert "bank" in form.errors

    def test_special_with_an_individual_title_is_refused(self):
        form = InvoiceProfileForm(data=special_data(title_type="individual"))
        assert list(form.errors) == ["title_type"]

    def test_special_missing_everything_shows_an_error_beside_each_field(self):
        form = InvoiceProfileForm(data=special_data(**dict.fromkeys(SPECIAL_FIELDS, "")))
        assert set(form.errors) == set(SPECIAL_FIELDS)

    def test_wrong_uscc_check_digit_is_refused(self):
        form = InvoiceProfileForm(data=ordinary_data(taxpayer_id="91310000134511148M"))
        assert not form.is_valid()
        assert [error.code for error in form.errors.as_data()["taxpayer_id"]] == ["uscc_check_digit"]

    @pytest.mark.parametrize("code", LETTER_LED)
    def test_letter_led_valid_uscc_is_accepted(self, code):
        form = InvoiceProfileForm(data=special_data(taxpayer_id=code))
        assert form.is_valid(), form.errors
        assert form.cleaned_data["taxpayer_id"] == code

    def test_lower_case_uscc_with_spaces_is_normalised(self):
        form = InvoiceProfileForm(data=ordinary_data(taxpayer_id=" 9131 0000 1345 1114 8l "))
        assert form.is_valid(), form.errors
        assert form.cleaned_data["taxpayer_id"] == VALID_USCC

    def test_bad_contact_mobile_is_refused(self):
        form = InvoiceProfileForm(data=ordinary_data(contact_phone="021-64000000"))
        assert list(form.errors) == ["contact_phone"]

    def test_contact_mobile_is_optional_and_stored_in_e164(self):
        assert InvoiceProfileForm(data=ordinary_data(contact_phone="")).is_valid()
        form = InvoiceProfileForm(data=ordinary_data(contact_phone="138 0013 8000"))
        assert form.is_valid() and form.cleaned_data["contact_phone"] == "+8613800138000"

    def test_with_a_prefix_its_cleaned_data_creates_a_profile(self, user):
        """How checkout adds a profile on the spot beside its own form."""
        data = {f"invoice-{name}": value for name, value in special_data().items()}
        data["quantity"] = "1"  # the checkout form's own fields are none of its business
        form = InvoiceProfileForm(data=data, prefix="invoice")
        assert form.is_valid(), form.errors

        profile = services.invoice_profile_create(user=user, data=form.cleaned_data)

        assert profile.user == user and profile.kind == "special" and profile.is_default
        assert profile.contact_phone == "+8613800138000"

    def test_editing_keeps_the_instance(self):
        profile = InvoiceProfileFactory()
        form = InvoiceProfileForm(data=ordinary_data(title="新抬头"), instance=profile)
        assert form.is_valid(), form.errors
        assert form.cleaned_data["title"] == "新抬头"


# --- Services ---------------------------------------------------------------------------


class TestInvoiceProfileServices:
    def test_first_profile_becomes_default(self, user):
        first = services.invoice_profile_create(user=user, data=ordinary_data())
        second = services.invoice_profile_create(user=user, data=special_data())

        first.refresh_from_db(), second.refresh_from_db()
        assert first.is_default and not second.is_default

    def test_another_users_profiles_do_not_count(self, user):
        services.invoice_profile_create(user=UserFactory(), data=ordinary_data())
        assert services.invoice_profile_create(user=user, data=ordinary_data()).is_default

    def test_create_normalises_taxpayer_id_and_mobile(self, user):
        profile = services.invoice_profile_create(
            user=user, data=ordinary_data(taxpayer_id="9131 0000 1345 1114 8l", contact_phone="13800138000")
        )
        profile.refresh_from_db()
        assert (profile.taxpayer_id, profile.contact_phone) == (VALID_USCC, "+8613800138000")

    @pytest.mark.parametrize(
        "overrides, field",
        [
            ({"taxpayer_id": "91310000134511148M"}, "taxpayer_id"),
            ({"kind": "special", "bank": ""}, "bank"),
            ({"title": ""}, "title"),
            ({"contact_phone": "12345"}, "contact_phone"),
            ({"kind": "gift"}, "kind"),
        ],
    )
    def test_create_refuses_what_the_form_refuses_and_creates_nothing(self, user, overrides, field):
        data = special_data(**overrides) if overrides.get("kind") == "special" else ordinary_data(**overrides)
        with pytest.raises(ValidationError) as caught:
            services.invoice_profile_create(user=user, data=data)
        assert field in caught.value.message_dict
        assert not InvoiceProfile.objects.exists()

    def test_set_default_moves_it(self, user):
        first = services.invoice_profile_create(user=user, data=ordinary_data())
        second = services.invoice_profile_create(user=user, data=special_data())

        services.invoice_profile_set_default(profile=second)

        assert defaults_of(user) == [second.pk]
        services.invoice_profile_set_default(profile=first)
        assert defaults_of(user) == [first.pk]

    def test_set_default_twice_keeps_one_default(self, user):
        profile = services.invoice_profile_create(user=user, data=ordinary_data())
        services.invoice_profile_set_default(profile=profile)
        services.invoice_profile_set_default(profile=profile)
        assert defaults_of(user) == [profile.pk]

    def test_set_default_leaves_other_users_alone(self, user):
        other = UserFactory()
        others = services.invoice_profile_create(user=other, data=ordinary_data())
        mine = services.invoice_profile_create(user=user, data=ordinary_data())
        services.invoice_profile_set_default(profile=mine)
        assert defaults_of(other) == [others.pk]

    def test_delete_default_promotes_the_most_recently_updated_one(self, user):
        default = services.invoice_profile_create(user=user, data=ordinary_data(title="A"))
        older = services.invoice_profile_create(user=user, data=ordinary_data(title="B"))
        newer = services.invoice_profile_create(user=user, data=ordinary_data(title="C"))
        InvoiceProfile.objects.filter(pk=older.pk).update(updated_at=timezone.now() + timedelta(minutes=1))

        services.invoice_profile_delete(profile=default)

        assert defaults_of(user) == [older.pk]
        assert set(InvoiceProfile.objects.filter(user=user).values_list("pk", flat=True)) == {older.pk, newer.pk}

    def test_delete_other_than_default_keeps_the_default(self, user):
        default = services.invoice_profile_create(user=user, data=ordinary_data())
        other = services.invoice_profile_create(user=user, data=ordinary_data())
        services.invoice_profile_delete(profile=other)
        assert defaults_of(user) == [default.pk]

    def test_delete_the_last_one_leaves_none(self, user):
        profile = services.invoice_profile_create(user=user, data=ordinary_data())
        services.invoice_profile_delete(profile=profile)
        assert not InvoiceProfile.objects.filter(user=user).exists()

    def test_update_changes_fields_not_the_default(self, user):
        default = services.invoice_profile_create(user=user, data=ordinary_data())
        other = services.invoice_profile_create(user=user, data=ordinary_data())

        services.invoice_profile_update(profile=other, data=special_data(title="新抬头"))

        other.refresh_from_db()
        assert (other.title, other.kind, other.is_default) == ("新抬头", "special", False)
        assert defaults_of(user) == [default.pk]

    def test_update_refuses_bad_data_and_changes_nothing(self, user):
        profile = services.invoice_profile_create(user=user, data=special_data())
        with pytest.raises(ValidationError):
            services.invoice_profile_update(profile=profile, data={"bank": ""})
        profile.refresh_from_db()
        assert profile.bank == "招商银行上海分行"

    def test_selector_lists_only_the_users_profiles_default_first(self, user):
        services.invoice_profile_create(user=UserFactory(), data=ordinary_data())
        default = services.invoice_profile_create(user=user, data=ordinary_data())
        newer = services.invoice_profile_create(user=user, data=ordinary_data())
        assert list(selectors.invoice_profile_list(user=user)) == [default, newer]


# --- Pages ------------------------------------------------------------------------------


class TestInvoiceProfilePages:
    def test_pages_need_sign_in(self, client):
        profile = InvoiceProfileFactory()
        for page in (LIST_URL, ADD_URL, url("edit", profile), url("delete", profile)):
            response = client.get(page)
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_list_shows_only_the_users_profiles(self, user_client, user):
        mine = InvoiceProfileFactory(user=user, title="我的公司", is_default=True)
        InvoiceProfileFactory(title="别人的公司")

        response = user_client.get(LIST_URL)

        assertTemplateUsed(response, "accounts/invoiceprofile_list.html")
        assert list(response.context["profiles"]) == [mine]
        assert "我的公司" in response.text and "别人的公司" not in response.text
        assert 'data-testid="default-badge"' in response.text

    def test_empty_list_says_so(self, user_client):
        assert 'data-testid="empty-state"' in user_client.get(LIST_URL).text

    def test_add_creates_the_first_profile_as_default(self, user_client, user):
        response = user_client.post(ADD_URL, special_data(taxpayer_id="9131 0000 1345 1114 8l"))

        assertRedirects(response, LIST_URL, fetch_redirect_response=False)
        profile = InvoiceProfile.objects.get(user=user)
        assert profile.is_default and profile.taxpayer_id == VALID_USCC and profile.kind == "special"

    def test_add_returns_to_a_safe_next(self, user_client):
        response = user_client.post(ADD_URL + "?next=/checkout/1/", ordinary_data())
        assertRedirects(response, "/checkout/1/", fetch_redirect_response=False)
        response = user_client.post(ADD_URL + "?next=https://evil.example/", ordinary_data())
        assertRedirects(response, LIST_URL, fetch_redirect_response=False)

    @pytest.mark.parametrize(
        "data, field",
        [
            (ordinary_data(title=""), "title"),
            (ordinary_data(taxpayer_id=""), "taxpayer_id"),
            (ordinary_data(taxpayer_id="91310000134511148M"), "taxpayer_id"),
            (ordinary_data(taxpayer_id="91310000134511148"), "taxpayer_id"),
            (ordinary_data(taxpayer_id="9131000013451114OL"), "taxpayer_id"),
            (ordinary_data(contact_phone="12345"), "contact_phone"),
            (special_data(bank=""), "bank"),
            (special_data(account=""), "account"),
            (special_data(address=""), "address"),
            (special_data(phone=""), "phone"),
            (special_data(title_type="individual"), "title_type"),
            (ordinary_data(kind=""), "kind"),
        ],
    )
    def test_add_with_an_error_shows_it_beside_the_field_and_creates_nothing(self, user_client, data, field):
        before = InvoiceProfile.objects.count()

        response = user_client.post(ADD_URL, data)

        assert response.status_code == 200
        assert field in response.context["form"].errors
        assert InvoiceProfile.objects.count() == before
        assert "is-invalid" in response.text

    def test_edit_saves_changes(self, user_client, user):
        profile = InvoiceProfileFactory(user=user, is_default=True)
        response = user_client.post(url("edit", profile), special_data(title="新抬头"))
        assertRedirects(response, LIST_URL, fetch_redirect_response=False)
        profile.refresh_from_db()
        assert (profile.title, profile.kind, profile.is_default) == ("新抬头", "special", True)

    def test_edit_with_an_error_changes_nothing(self, user_client, user):
        profile = InvoiceProfileFactory(user=user, title="旧抬头")
        response = user_client.post(url("edit", profile), special_data(title="新抬头", bank=""))
        assert response.status_code == 200 and "bank" in response.context["form"].errors
        profile.refresh_from_db()
        assert profile.title == "旧抬头"

    def test_delete_asks_for_confirmation_first(self, user_client, user):
        profile = InvoiceProfileFactory(user=user)
        response = user_client.get(url("delete", profile))
        assertTemplateUsed(response, "accounts/invoiceprofile_confirm_delete.html")
        assert InvoiceProfile.objects.filter(pk=profile.pk).exists()

    def test_delete_default_promotes_another(self, user_client, user):
        default = InvoiceProfileFactory(user=user, is_default=True)
        other = InvoiceProfileFactory(user=user)

        response = user_client.post(url("delete", default))

        assertRedirects(response, LIST_URL, fetch_redirect_response=False)
        assert defaults_of(user) == [other.pk]

    def test_set_default_moves_it(self, user_client, user):
        default = InvoiceProfileFactory(user=user, is_default=True)
        other = InvoiceProfileFactory(user=user)

        response = user_client.post(url("default", other))

        assertRedirects(response, LIST_URL, fetch_redirect_response=False)
        assert defaults_of(user) == [other.pk]
        default.refresh_from_db()
        assert not default.is_default

    def test_set_default_needs_post(self, user_client, user):
        profile = InvoiceProfileFactory(user=user)
        assert user_client.get(url("default", profile)).status_code == 405
        assert defaults_of(user) == []

    @pytest.mark.parametrize(
        "method, name", [("get", "edit"), ("post", "edit"), ("get", "delete"), ("post", "delete"), ("post", "default")]
    )
    def test_another_users_profile_is_404(self, user_client, method, name):
        theirs = InvoiceProfileFactory(is_default=True, title="别人的公司")
        data = special_data(title="改掉") if name == "edit" else {}

        response = getattr(user_client, method)(url(name, theirs), data)

        assert response.status_code == 404
        theirs.refresh_from_db()
        assert theirs.title == "别人的公司" and theirs.is_default

    def test_unknown_profile_is_404(self, user_client):
        assert user_client.get(reverse("accounts:invoice-profile-edit", args=[999999])).status_code == 404


# --- PostgreSQL: row locks and the constraint under concurrency -------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestInvoiceProfileConcurrency:
    def test_concurrent_set_default_leaves_exactly_one_default(self):
        user = UserFactory()
        profiles = [services.invoice_profile_create(user=user, data=ordinary_data()) for _ in range(8)]

        outcomes = run_concurrently(
            lambda i: services.invoice_profile_set_default(profile=InvoiceProfile.objects.get(pk=profiles[i].pk)), 8
        )

        assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        assert len(defaults_of(user)) == 1

    def test_concurrent_first_profiles_make_exactly_one_default(self):
        user = UserFactory()

        outcomes = run_concurrently(lambda i: services.invoice_profile_create(user=user, data=ordinary_data()), 6)

        assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        assert InvoiceProfile.objects.filter(user=user).count() == 6
        assert len(defaults_of(user)) == 1

    def test_concurrent_delete_of_the_default_and_set_default_keep_one_default(self):
        user = UserFactory()
        profiles = [services.invoice_profile_create(user=user, data=ordinary_data()) for _ in range(4)]

        def act(i):
            profile = InvoiceProfile.objects.get(pk=profiles[i % 4].pk)
            if i == 0:
                return services.invoice_profile_delete(profile=profile)
            return services.invoice_profile_set_default(profile=profile)

        outcomes = run_concurrently(act, 4)

        assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        assert len(defaults_of(user)) == 1


# --- Admin ------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(client):
    client.force_login(UserFactory(superuser=True), backend="django.contrib.auth.backends.ModelBackend")
    return client


class TestInvoiceProfileAdmin:
    CHANGELIST = reverse("admin:accounts_invoiceprofile_changelist")

    def test_changelist_searches_by_taxpayer_id_and_user(self, admin_client_, django_assert_max_num_queries):
        wanted = InvoiceProfileFactory(title="上海测试贸易有限公司", taxpayer_id=LETTER_LED[0])
        InvoiceProfileFactory.create_batch(3, title="北京其他有限公司")
        for query in (LETTER_LED[0], wanted.user.username):
            response = admin_client_.get(self.CHANGELIST, {"q": query})
            assert response.status_code == 200
            assert "上海测试贸易有限公司" in response.text and "北京其他有限公司" not in response.text

    def test_changelist_query_count_does_not_grow_with_rows(self, admin_client_):
        InvoiceProfileFactory.create_batch(2)
        with CaptureQueriesContext(connection) as few:
            admin_client_.get(self.CHANGELIST)
        InvoiceProfileFactory.create_batch(10)
        with CaptureQueriesContext(connection) as many:
            admin_client_.get(self.CHANGELIST)
        assert len(many) == len(few)

    def test_staff_can_neither_add_nor_edit(self, admin_client_):
        profile = InvoiceProfileFactory(title="旧抬头")
        assert admin_client_.get(reverse("admin:accounts_invoiceprofile_add")).status_code == 403
        change = reverse("admin:accounts_invoiceprofile_change", args=[profile.pk])
        assert admin_client_.get(change).status_code == 200  # view only
        admin_client_.post(change, special_data(title="新抬头"))
        profile.refresh_from_db()
        assert profile.title == "旧抬头"

    def test_deleting_the_default_in_the_admin_promotes_another(self, admin_client_, user):
        default = InvoiceProfileFactory(user=user, is_default=True)
        other = InvoiceProfileFactory(user=user)
        response = admin_client_.post(
            self.CHANGELIST, {"action": "delete_selected", "_selected_action": [default.pk], "post": "yes"}
        )
        assert response.status_code == 302
        assert defaults_of(user) == [other.pk]
