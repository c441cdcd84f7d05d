import pytest

from catalog.exceptions import MalformedProductKey, UnknownProductKey
from catalog.selectors import (
    ServiceFilters,
    module_list,
    platform_list,
    product_key_normalize,
    product_line_get_for_key,
    product_line_list,
    service_list,
)

from .factories import ModuleFactory, PlatformFactory, ProductLineFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    """Two lines: E3 sells on 京东 and 天猫, E3全渠道 only on 速卖通."""
    e3 = ProductLineFactory(name="E3", code="e3", key_pattern=r"E3-[0-9A-F]{4}-[0-9A-F]{4}")
    omni = ProductLineFactory(name="E3全渠道", code="e3o", key_pattern=r"E3O-[0-9A-F]{4}-[0-9A-F]{4}")
    jd, tmall, ali = PlatformFactory(name="京东"), PlatformFactory(name="天猫"), PlatformFactory(name="速卖通")
    open_api, orders = ModuleFactory(name="开放平台对接服务"), ModuleFactory(name="订单同步服务")
    services = {
        "e3_jd_open": ServiceFactory(product_line=e3, platform=jd, module=open_api),
        "e3_jd_orders": ServiceFactory(product_line=e3, platform=jd, module=orders),
        "e3_tmall_open": ServiceFactory(product_line=e3, platform=tmall, module=open_api),
        "omni_ali_open": ServiceFactory(product_line=omni, platform=ali, module=open_api),
    }
    return {"e3": e3, "omni": omni, "jd": jd, "tmall": tmall, "ali": ali, "open": open_api, "orders": orders, **services}


def names(services):
    return sorted(s.name for s in services)


class TestServiceList:
    def test_unfiltered_lists_every_service_on_sale(self, catalog):
        assert service_list().count() == 4

    def test_inactive_service_is_never_listed(self, catalog):
        ServiceFactory(product_line=catalog["omni"], platform=catalog["jd"], module=catalog["open"], active=False)
        assert service_list().count() == 4

    @pytest.mark.parametrize("part", ["product_line", "platform", "module"])
    def test_service_of_an_inactive_line_platform_or_module_is_not_listed(self, catalog, part):
        related = getattr(catalog["e3_jd_open"], part)
        related.active = False
        related.save()
        assert catalog["e3_jd_open"] not in service_list()

    def test_filters_by_product_platform_and_module(self, catalog):
        filters = ServiceFilters(product_line=catalog["e3"], platform=catalog["jd"], module=catalog["orders"])
        assert list(service_list(filters=filters)) == [catalog["e3_jd_orders"]]

    def test_keyword_matches_platform_name(self, catalog):
        assert names(service_list(filters=ServiceFilters(q="京东"))) == names(
            [catalog["e3_jd_open"], catalog["e3_jd_orders"]]
        )

    def test_every_keyword_term_must_match(self, catalog):
        assert list(service_list(filters=ServiceFilters(q="京东 订单"))) == [catalog["e3_jd_orders"]]

    def test_keyword_matching_nothing_gives_empty_list(self, catalog):
        assert not service_list(filters=ServiceFilters(q="不存在的服务")).exists()

    def test_markup_keyword_is_plain_text(self, catalog):
        assert not service_list(filters=ServiceFilters(q="<script>alert(1)</script>")).exists()


class TestNarrowing:
    def test_product_lines_without_services_are_not_offered(self, catalog):
        ProductLineFactory(name="空产品")
        assert names(product_line_list()) == ["E3", "E3全渠道"]

    def test_platforms_narrow_to_the_chosen_product(self, catalog):
        assert set(platform_list(product_line=catalog["e3"])) == {catalog["jd"], catalog["tmall"]}
        assert catalog["ali"] not in platform_list(product_line=catalog["e3"])
        assert list(platform_list(product_line=catalog["omni"])) == [catalog["ali"]]

    def test_modules_narrow_to_product_and_platform(self, catalog):
        assert list(module_list(product_line=catalog["e3"], platform=catalog["tmall"])) == [catalog["open"]]
        assert set(module_list(product_line=catalog["e3"])) == {catalog["open"], catalog["orders"]}

    def test_platform_whose_only_service_is_inactive_is_not_offered(self, catalog):
        catalog["omni_ali_open"].active = False
        catalog["omni_ali_open"].save()
        assert catalog["ali"] not in platform_list()


class TestProductKeyResolution:
    def test_key_resolves_to_the_line_whose_pattern_matches(self, catalog):
        assert product_line_get_for_key(key="E3O-1A2B-3C4D") == catalog["omni"]
        assert product_line_get_for_key(key="E3-1A2B-3C4D") == catalog["e3"]

    def test_key_is_normalised_before_matching(self, catalog):
        assert product_key_normalize("  e3o-1a2b -3c4d ") == "E3O-1A2B-3C4D"
        assert product_line_get_for_key(key=" e3o-1a2b-3c4d") == catalog["omni"]

    def test_spaces_stand_for_hyphens(self, catalog):
        assert product_key_normalize("E3O 1A2B  3C4D") == "E3O-1A2B-3C4D"
        assert product_line_get_for_key(key="e3o 1a2b 3c4d") == catalog["omni"]

    def test_pattern_must_match_the_whole_key(self, catalog):
        with pytest.raises(UnknownProductKey):
            product_line_get_for_key(key="E3O-1A2B-3C4D-FFFF")

    @pytest.mark.parametrize(
        "key", ["", "E3", "<script>alert(1)</script>", "E3O_1A2B", "X" * 65, "E3O-1A2B-3C4D\u202e", "京东-1234"]
    )
    def test_malformed_key_is_refused(self, catalog, key):
        with pytest.raises(MalformedProductKey):
            product_line_get_for_key(key=key)

    def test_well_formed_key_of_no_line_is_unknown(self, catalog):
        with pytest.raises(UnknownProductKey):
            product_line_get_for_key(key="ZZZ-0000-0000")

    def test_inactive_line_does_not_resolve(self, catalog):
        catalog["omni"].active = False
        catalog["omni"].save()
        with pytest.raises(UnknownProductKey):
            product_line_get_for_key(key="E3O-1A2B-3C4D")

    def test_overlapping_patterns_resolve_to_the_first_line_in_sort_order(self, catalog):
        # Sorts relative to E3全渠道's: the factory's sequence grows with every test before.
        omni = catalog["omni"]
        broad = ProductLineFactory(name="宽泛", key_pattern=r"E3O-.*", sort=omni.sort + 1)
        assert product_line_get_for_key(key="E3O-1A2B-3C4D") == omni
        broad.sort = omni.sort - 1
        broad.save()
        assert product_line_get_for_key(key="E3O-1A2B-3C4D") == broad
