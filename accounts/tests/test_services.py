import pytest

from accounts import services
from accounts.exceptions import AccountError
from accounts.models import ProductKey, User
from accounts.tests.factories import ProductKeyFactory, UserFactory
from catalog.exceptions import MalformedProductKey, UnknownProductKey
from catalog.tests.factories import ProductLineFactory, sample_key

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Yun-Shi-Chang-2026!"


# --- user_register ----------------------------------------------------------------


def test_user_register_creates_a_customer_with_a_hashed_password():
    user = services.user_register(
        username="zhangsan",
        email="zhangsan@example.com",
        password=NEW_PASSWORD,
        real_name="张三",
        mobile="+8613800138000",
        company="张三网店",
    )

    user.refresh_from_db()
    assert (user.username, user.email, user.real_name, user.mobile, user.company) == (
        "zhangsan",
        "zhangsan@example.com",
        "张三",
        "+8613800138000",
        "张三网店",
    )
    assert user.password != NEW_PASSWORD
    assert user.check_password(NEW_PASSWORD)
    assert not user.is_staff and not user.is_superuser and user.is_active


def test_user_register_with_a_taken_username_raises_and_creates_nothing():
    UserFactory(username="zhangsan")

    with pytest.raises(AccountError):
        services.user_register(username="zhangsan", email="new@example.com", password=NEW_PASSWORD)

    assert User.objects.count() == 1


def test_user_register_with_a_taken_email_in_other_case_raises_and_creates_nothing():
    """The database constraint catches what a concurrent sign-up slips past the form."""
    UserFactory(email="zhangsan@example.com")

    with pytest.raises(AccountError):
        services.user_register(username="zhangsan", email="ZhangSan@Example.com", password=NEW_PASSWORD)

    assert User.objects.count() == 1


def test_user_register_allows_many_users_without_an_email():
    services.user_register(username="a", email="", password=NEW_PASSWORD)
    services.user_register(username="b", email="", password=NEW_PASSWORD)

    assert User.objects.filter(email="").count() == 2


# --- user_update_profile ----------------------------------------------------------


def test_user_update_profile_saves_the_fields():
    user = UserFactory()

    services.user_update_profile(
        user=user, real_name="李四", email="lisi@example.com", mobile="+8613912345678", company="李四商行"
    )

    user.refresh_from_db()
    assert (user.real_name, user.email, user.mobile, user.company) == (
        "李四",
        "lisi@example.com",
        "+8613912345678",
        "李四商行",
    )


def test_user_update_profile_with_another_users_email_raises_and_changes_nothing():
    other = UserFactory()
    user = UserFactory()
    saved = User.objects.get(pk=user.pk)

    with pytest.raises(AccountError):
        services.user_update_profile(
            user=user, real_name="改名", email=other.email.upper(), mobile=user.mobile, company=user.company
        )

    fresh = User.objects.get(pk=user.pk)
    assert (fresh.email, fresh.real_name) == (saved.email, saved.real_name)


# --- product_key_save -------------------------------------------------------------


@pytest.fixture
def line():
    return ProductLineFactory()


def test_product_key_save_normalises_the_key_and_stores_its_product_line(line):
    user = UserFactory()
    key = sample_key(line, 0xBEEF)

    saved = services.product_key_save(user=user, key=f"  {key.lower().replace('-', ' - ')} ", label="天猫店")

    assert (saved.user, saved.key, saved.product_line, saved.label) == (user, key, line, "天猫店")
    assert ProductKey.objects.count() == 1


def test_product_key_save_twice_keeps_one_row_and_updates_the_label(line):
    user = UserFactory()
    key = sample_key(line, 3)
    first = services.product_key_save(user=user, key=key, label="旧标签")

    second = services.product_key_save(user=user, key=key.lower(), label="新标签")

    assert second.pk == first.pk
    assert list(ProductKey.objects.values_list("key", "label")) == [(key, "新标签")]


def test_product_key_save_again_without_a_label_keeps_the_old_label(line):
    user = UserFactory()
    key = sample_key(line, 3)
    services.product_key_save(user=user, key=key, label="旧标签")

    services.product_key_save(user=user, key=key)

    assert ProductKey.objects.get().label == "旧标签"


def test_product_key_save_of_the_same_key_by_two_users_keeps_a_row_each(line):
    key = sample_key(line, 3)

    services.product_key_save(user=UserFactory(), key=key)
    services.product_key_save(user=UserFactory(), key=key)

    assert ProductKey.objects.filter(key=key).count() == 2


@pytest.mark.parametrize("raw", ["", "   ", "ab", "E3P_1A2B", "键-1234-5678", "A" * 65])
def test_product_key_save_malformed_key_raises_and_stores_nothing(line, raw):
    with pytest.raises(MalformedProductKey):
        services.product_key_save(user=UserFactory(), key=raw)

    assert not ProductKey.objects.exists()


def test_product_key_save_unknown_key_raises_and_stores_nothing(line):
    with pytest.raises(UnknownProductKey):
        services.product_key_save(user=UserFactory(), key="ZZZ-0000-0000")

    assert not ProductKey.objects.exists()


def test_product_key_save_of_an_inactive_lines_key_raises_unknown_and_stores_nothing():
    line = ProductLineFactory(active=False)

    with pytest.raises(UnknownProductKey):
        services.product_key_save(user=UserFactory(), key=sample_key(line, 1))

    assert not ProductKey.objects.exists()


def test_product_key_save_refuses_a_key_past_the_limit_and_stores_nothing(line):
    user = UserFactory()
    for n in range(services.PRODUCT_KEYS_MAX):
        ProductKeyFactory(user=user, product_line=line, key=sample_key(line, n))

    with pytest.raises(AccountError):
        services.product_key_save(user=user, key=sample_key(line, services.PRODUCT_KEYS_MAX))

    assert ProductKey.objects.filter(user=user).count() == services.PRODUCT_KEYS_MAX


def test_product_key_save_at_the_limit_still_updates_a_saved_key(line):
    user = UserFactory()
    for n in range(services.PRODUCT_KEYS_MAX):
        ProductKeyFactory(user=user, product_line=line, key=sample_key(line, n))

    services.product_key_save(user=user, key=sample_key(line, 0), label="改了")

    assert ProductKey.objects.get(user=user, key=sample_key(line, 0)).label == "改了"
    assert ProductKey.objects.filter(user=user).count() == services.PRODUCT_KEYS_MAX


# --- product_key_delete -----------------------------------------------------------


def test_product_key_delete_removes_only_that_key():
    key = ProductKeyFactory()
    kept = ProductKeyFactory(user=key.user)

    services.product_key_delete(user=key.user, pk=key.pk)

    assert list(ProductKey.objects.all()) == [kept]


def test_product_key_delete_of_another_users_key_raises_and_deletes_nothing():
    theirs = ProductKeyFactory()

    with pytest.raises(ProductKey.DoesNotExist):
        services.product_key_delete(user=UserFactory(), pk=theirs.pk)

    assert ProductKey.objects.filter(pk=theirs.pk).exists()
