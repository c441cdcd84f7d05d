"""Catalog test data. Codes and names come from sequences, so rows made in one test
never clash with each other or with the seed_demo catalog."""

import re
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from catalog.models import Module, Platform, ProductLine, Service

HEX_BLOCK = re.compile(r"\[0-9A-F\]\{(\d+)\}")


def sample_key(product_line: ProductLine, n: int = 0) -> str:
    """A product key that `product_line.key_pattern` accepts, for patterns built from
    literal text and `[0-9A-F]{k}` blocks (every seeded and factory-made line).

    Raises ValueError for any other pattern: pass the key explicitly then.
    """
    pattern = product_line.key_pattern
    key = HEX_BLOCK.sub(lambda m: f"{n:0{m[1]}X}"[-int(m[1]) :], pattern).replace("\\", "")
    if not product_line.matches_key(key):
        raise ValueError(f"cannot derive a sample key from {pattern!r}; pass key= explicitly")
    return key


class ProductLineFactory(DjangoModelFactory):
    code = factory.Sequence(lambda n: f"line{n}")
    name = factory.Sequence(lambda n: f"测试产品{n}")
    # Prefixed by the code, so patterns of different lines never overlap.
    key_pattern = factory.LazyAttribute(lambda o: rf"{re.escape(o.code.upper())}-[0-9A-F]{{4}}-[0-9A-F]{{4}}")
    sort = factory.Sequence(lambda n: n)
    active = True

    class Meta:
        model = ProductLine


class PlatformFactory(DjangoModelFactory):
    code = factory.Sequence(lambda n: f"platform{n}")
    name = factory.Sequence(lambda n: f"测试平台{n}")
    refundable = True
    sort = factory.Sequence(lambda n: n)
    active = True

    class Meta:
        model = Platform


class ModuleFactory(DjangoModelFactory):
    code = factory.Sequence(lambda n: f"module{n}")
    name = factory.Sequence(lambda n: f"测试模块{n}服务")
    description = factory.Faker("sentence", locale="zh_CN")
    sort = factory.Sequence(lambda n: n)
    active = True

    class Meta:
        model = Module


class ServiceFactory(DjangoModelFactory):
    product_line = factory.SubFactory(ProductLineFactory)
    platform = factory.SubFactory(PlatformFactory)
    module = factory.SubFactory(ModuleFactory)
    name = factory.LazyAttribute(lambda o: f"{o.product_line.name}-{o.platform.name}{o.module.name}")
    standard_price = Decimal("2000.00")
    unit = "次"
    period_months = 12
    refund_window_days = 7
    tax_rate = Decimal("0.06")
    description = factory.Faker("paragraph", locale="zh_CN")
    featured = False
    active = True

    class Meta:
        model = Service

    class Params:
        one_off = factory.Trait(period_months=None)
