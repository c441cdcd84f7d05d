"""Mailing addresses (收货地址): the form, the one-default rule, the pages."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertRedirects, assertTemplateUsed

from accounts import selectors, services
from accounts.forms import AddressForm
from accounts.models import Address
from accounts.tests.factories import AddressFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("accounts:addresses")
ADD_URL = reverse("accounts:address-add")


def address_data(**overrides):
    data = {
        "recipient": "张三",
        "mobile": "139 0013 9000",
        "region": "上海市 闵行区",
        "detail": "号景路206弄10号",
        "postal_code": "201100",
    }
    data.update(overrides)
    return data


def defaults_of(user):
    return list(Address.objects.filter(user=user, is_default=True).values_list("pk", flat=True))


def url(name, address):
    return reverse(f"accounts:address-{name}", args=[address.pk])


class TestAddressForm:
    def test_complete_address_is_valid_with_the_mobile_in_e164(self):
        form = AddressForm(data=address_data())
        assert form.is_valid(), form.errors
        assert form.cleaned_data["mobile"] == "+8613900139000"

    @pytest.mark.parametrize("field", ["recipient", "mobile", "region", "detail"])
    def test_requires(self, field):
        form = AddressForm(data=address_data(**{field: ""}))
        assert list(form.errors) == [field]

    def test_postal_code_is_optional(self):
        assert AddressForm(data=address_data(postal_code="")).is_valid()

    @pytest.mark.parametrize("value", ["20110", "2011000", "2011OO"])
    def test_bad_postal_code_is_refused(self, value):
        assert list(AddressForm(data=address_data(postal_code=value)).errors) == ["postal_code"]

    @pytest.mark.parametrize("value", ["12345", "021-64000000", "+1 415 555 0100"])
    def test_bad_mobile_is_refused(self, value):
        assert list(AddressForm(data=address_data(mobile=value)).errors) == ["mobile"]


class TestAddressServices:
    def test_first_address_becomes_default(self, user):
        first = services.address_create(user=user, data=address_data())
        second = services.address_create(user=user, data=address_data(recipient="李四"))
        first.refresh_from_db(), second.refresh_from_db()
        assert first.is_default and not second.is_default
        assert first.mobile == "+8613900139000"

    def test_create_refuses_a_bad_mobile_and_creates_nothing(self, user):
        with pytest.raises(ValidationError) as caught:
            services.address_create(user=user, data=address_data(mobile="12345"))
        assert "mobile" in caught.value.message_dict
        assert not Address.objects.exists()

    def test_set_default_moves_it(self, user):
        first = services.address_create(user=user, data=address_data())
        second = services.address_create(user=user, data=address_data())
        services.address_set_default(address=second)
        assert defaults_of(user) == [second.pk]
        services.address_set_default(address=first)
        assert defaults_of(user) == [first.pk]

    def test_delete_default_promotes_another(self, user):
        default = services.address_create(user=user, data=address_data())
        other = services.address_create(user=user, data=address_data())
        services.address_delete(address=default)
        assert defaults_of(user) == [other.pk]

    def test_update_changes_fields_not_the_default(self, user):
        services.address_create(user=user, data=address_data())
        other = services.address_create(user=user, data=address_data())
        services.address_update(address=other, data=address_data(recipient="李四", postal_code=""))
        other.refresh_from_db()
        assert (other.recipient, other.postal_code, other.is_default) == ("李四", "", False)

    def test_selector_lists_only_the_users_addresses_default_first(self, user):
        AddressFactory()
        default = services.address_create(user=user, data=address_data())
        newer = services.address_create(user=user, data=address_data())
        assert list(selectors.address_list(user=user)) == [default, newer]


class TestAddressPages:
    def test_pages_need_sign_in(self, client):
        address = AddressFactory()
        for page in (LIST_URL, ADD_URL, url("edit", address), url("delete", address)):
            response = client.get(page)
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_list_shows_only_the_users_addresses(self, user_client, user):
        mine = AddressFactory(user=user, recipient="王小明", is_default=True)
        AddressFactory(recipient="赵别人")
        response = user_client.get(LIST_URL)
        assertTemplateUsed(response, "accounts/address_list.html")
        assert list(response.context["addresses"]) == [mine]
        assert "王小明" in response.text and "赵别人" not in response.text

    def test_add_creates_the_first_address_as_default(self, user_client, user):
        response = user_client.post(ADD_URL, address_data())
        assertRedirects(response, LIST_URL, fetch_redirect_response=False)
        address = Address.objects.get(user=user)
        assert address.is_default and address.mobile == "+8613900139000"

    @pytest.mark.parametrize(
        "data, field",
        [
            (address_data(recipient=""), "recipient"),
            (address_data(mobile="12345"), "mobile"),
            (address_data(region=""), "region"),
            (address_data(detail=""), "detail"),
            (address_data(postal_code="2011"), "postal_code"),
        ],
    )
    def test_add_with_an_error_shows_it_beside_the_field_and_creates_nothing(self, user_client, data, field):
        before = Address.objects.count()
        response = user_client.post(ADD_URL, data)
        assert response.status_code == 200
        assert field in response.context["form"].errors
        assert Address.objects.count() == before

    def test_edit_saves_changes(self, user_client, user):
        address = AddressFactory(user=user)
        response = user_client.post(url("edit", address), address_data(detail="新地址1号"))
        assertRedirects(response, LIST_URL, fetch_redirect_response=False)
        address.refresh_from_db()
        assert address.detail == "新地址1号"

    def test_delete_asks_for_confirmation_first(self, user_client, user):
        address = AddressFactory(user=user)
        assertTemplateUsed(user_client.get(url("delete", address)), "accounts/address_confirm_delete.html")
        assert Address.objects.filter(pk=address.pk).exists()

    def test_delete_default_promotes_another(self, user_client, user):
        default = AddressFactory(user=user, is_default=True)
        other = AddressFactory(user=user)
        assertRedirects(user_client.post(url("delete", default)), LIST_URL, fetch_redirect_response=False)
        assert defaults_of(user) == [other.pk]

    def test_set_default_moves_it(self, user_client, user):
        AddressFactory(user=user, is_default=True)
        other = AddressFactory(user=user)
        assertRedirects(user_client.post(url("default", other)), LIST_URL, fetch_redirect_response=False)
        assert defaults_of(user) == [other.pk]

    @pytest.mark.parametrize(
        "method, name", [("get", "edit"), ("post", "edit"), ("get", "delete"), ("post", "delete"), ("post", "default")]
    )
    def test_another_users_address_is_404(self, user_client, method, name):
        theirs = AddressFactory(is_default=True, recipient="赵别人")
        data = address_data(recipient="改掉") if name == "edit" else {}
        response = getattr(user_client, method)(url(name, theirs), data)
        assert response.status_code == 404
        theirs.refresh_from_db()
        assert theirs.recipient == "赵别人" and theirs.is_default


@pytest.fixture
def admin_client_(client):
    client.force_login(UserFactory(superuser=True), backend="django.contrib.auth.backends.ModelBackend")
    return client


class TestAddressAdmin:
    CHANGELIST = reverse("admin:accounts_address_changelist")

    def test_changelist_searches_by_recipient_and_mobile(self, admin_client_):
        AddressFactory(recipient="王小明", mobile="+8613700137000")
        AddressFactory(recipient="赵别人")
        for query in ("王小明", "+8613700137000"):
            response = admin_client_.get(self.CHANGELIST, {"q": query})
            assert "王小明" in response.text and "赵别人" not in response.text

    def test_staff_cannot_add(self, admin_client_):
        assert admin_client_.get(reverse("admin:accounts_address_add")).status_code == 403

    def test_deleting_the_default_in_the_admin_promotes_another(self, admin_client_, user):
        default = AddressFactory(user=user, is_default=True)
        other = AddressFactory(user=user)
        admin_client_.post(
            self.CHANGELIST, {"action": "delete_selected", "_selected_action": [default.pk], "post": "yes"}
        )
        assert defaults_of(user) == [other.pk]
