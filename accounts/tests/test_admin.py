import pytest
from django.urls import reverse

from accounts.models import ProductKey, User
from accounts.roles import GROUP_CATALOG
from accounts.tests.factories import PASSWORD, ProductKeyFactory, UserFactory
from catalog.tests.factories import ProductLineFactory, sample_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

USER_CHANGELIST = reverse("admin:accounts_user_changelist")
PRODUCT_KEY_ADD = reverse("admin:accounts_productkey_add")


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(superuser=True))
    return client


class TestUserAdmin:
    def test_changelist_shows_profile_columns(self, superuser_client):
        customer = UserFactory(real_name="张三", company="上海测试贸易有限公司")
        response = superuser_client.get(USER_CHANGELIST)
        assert response.status_code == 200
        for text in (customer.username, "张三", "上海测试贸易有限公司", customer.mobile):
            assert text in response.text

    @pytest.mark.parametrize("field", ["username", "email", "real_name", "company", "mobile"])
    def test_search(self, superuser_client, field):
        wanted = UserFactory(real_name="李四", company="杭州示例科技有限公司")
        UserFactory(real_name="王五", company="北京其他有限公司")
        response = superuser_client.get(USER_CHANGELIST, {"q": getattr(wanted, field)})
        assert list(response.context["cl"].result_list) == [wanted]

    def test_change_form_has_profile_fields(self, superuser_client):
        customer = UserFactory()
        response = superuser_client.get(reverse("admin:accounts_user_change", args=[customer.pk]))
        assert response.status_code == 200
        for field in ("real_name", "mobile", "company"):
            assert f'name="{field}"' in response.text

    def test_add_user(self, superuser_client):
        response = superuser_client.post(
            reverse("admin:accounts_user_add"),
            {
                "username": "newcomer",
                "usable_password": "true",
                "password1": PASSWORD,
                "password2": PASSWORD,
                "real_name": "赵六",
                "email": "newcomer@example.com",
                "mobile": "+8613900139000",
                "company": "新客户有限公司",
            },
        )
        assert response.status_code == 302
        user = User.objects.get(username="newcomer")
        assert (user.real_name, user.company) == ("赵六", "新客户有限公司")
        assert user.check_password(PASSWORD)

    def test_staff_without_user_permissions_is_refused(self, client):
        client.force_login(UserFactory(staff=True, groups=[GROUP_CATALOG]))
        assert client.get(USER_CHANGELIST).status_code == 403


class TestProductKeyAdmin:
    def test_changelist(self, superuser_client):
        key = ProductKeyFactory()
        response = superuser_client.get(reverse("admin:accounts_productkey_changelist"))
        assert response.status_code == 200
        assert key.key in response.text
        assert key.product_line.name in response.text

    def test_add_resolves_the_product_line_from_the_key(self, superuser_client):
        line, customer = ProductLineFactory(), UserFactory()
        key = sample_key(line, 7)
        response = superuser_client.post(
            PRODUCT_KEY_ADD, {"user": customer.pk, "key": key.lower(), "label": "旗舰店"}
        )
        assert response.status_code == 302
        saved = ProductKey.objects.get(user=customer)
        assert (saved.key, saved.product_line) == (key, line)

    def test_add_refuses_an_unknown_key(self, superuser_client):
        ProductLineFactory()
        customer = UserFactory()
        response = superuser_client.post(PRODUCT_KEY_ADD, {"user": customer.pk, "key": "ZZZZ-0000", "label": ""})
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["key"]
        assert not ProductKey.objects.exists()
