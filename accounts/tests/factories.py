"""Accounts test data. Every factory user signs in with PASSWORD."""

import factory
from django.contrib.auth.models import Group
from factory.django import DjangoModelFactory

from accounts.models import ProductKey, User
from accounts.services import staff_groups_sync
from catalog.tests.factories import ProductLineFactory, sample_key

PASSWORD = "pass-1234-word"


class UserFactory(DjangoModelFactory):
    username = factory.Sequence(lambda n: f"user{n}")
    # Derived from the unique username: the email is unique too (case-insensitively).
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    # Hashed in the declaration, so no second save after creation.
    password = factory.django.Password(PASSWORD)
    real_name = factory.Faker("name", locale="zh_CN")
    mobile = factory.Sequence(lambda n: f"+86138{n:08d}")
    company = factory.Faker("company", locale="zh_CN")

    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:
        staff = factory.Trait(is_staff=True)
        superuser = factory.Trait(is_staff=True, is_superuser=True)

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        """`UserFactory(staff=True, groups=[GROUP_CATALOG])`: groups by name or instance."""
        if not create or not extracted:
            return
        names = {g for g in extracted if isinstance(g, str)}
        if Group.objects.filter(name__in=names).count() < len(names):
            staff_groups_sync()  # a transactional test flushed the migrations' groups
        self.groups.add(*(Group.objects.get(name=g) if isinstance(g, str) else g for g in extracted))


class ProductKeyFactory(DjangoModelFactory):
    user = factory.SubFactory(UserFactory)
    product_line = factory.SubFactory(ProductLineFactory)
    key = factory.LazyAttributeSequence(lambda o, n: sample_key(o.product_line, n))
    label = ""

    class Meta:
        model = ProductKey


class InvoiceProfileFactory(DjangoModelFactory):
    """A complete special-VAT-ready company profile (a valid unified social credit code)."""

    user = factory.SubFactory(UserFactory)
    kind = "ordinary"
    title_type = "company"
    title = factory.Faker("company", locale="zh_CN")
    taxpayer_id = "91310000134511148L"
    address = "上海市闵行区号景路206弄"
    phone = "021-64000000"
    bank = "招商银行上海分行"
    account = "1219 0000 0000 0001"
    contact = factory.Faker("name", locale="zh_CN")
    contact_phone = "+8613800138000"
    is_default = False

    class Meta:
        model = "accounts.InvoiceProfile"

    class Params:
        special = factory.Trait(kind="special")


class AddressFactory(DjangoModelFactory):
    user = factory.SubFactory(UserFactory)
    recipient = factory.Faker("name", locale="zh_CN")
    mobile = "+8613900139000"
    region = "上海市 闵行区"
    detail = "号景路206弄10号"
    postal_code = "201100"
    is_default = False

    class Meta:
        model = "accounts.Address"
