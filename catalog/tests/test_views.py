import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import ProductKeyFactory, UserFactory
from catalog import selectors
from catalog.models import Service
from mall import pagecache
from orders.tests.factories import AgreementFactory

from .factories import ModuleFactory, PlatformFactory, ProductLineFactory, ServiceFactory

pytestmark = pytest.mark.django_db

LIST = reverse("catalog:service-list")


@pytest.fixture
def catalog():
    e3 = ProductLineFactory(name="E3", code="e3", key_pattern=r"E3-[0-9A-F]{4}-[0-9A-F]{4}")
    omni = ProductLineFactory(name="E3全渠道", code="e3o", key_pattern=r"E3O-[0-9A-F]{4}-[0-9A-F]{4}")
    jd, ali = PlatformFactory(name="京东", refundable=True), PlatformFactory(name="速卖通", refundable=False)
    open_api = ModuleFactory(name="开放平台对接服务")
    return {
        "e3": e3,
        "omni": omni,
        "jd": jd,
        "ali": ali,
        "e3_jd": ServiceFactory(product_line=e3, platform=jd, module=open_api, name="E3-京东开放平台对接服务", featured=True),
        "omni_ali": ServiceFactory(product_line=omni, platform=ali, module=open_api, name="E3全渠道-速卖通开放平台对接服务"),
        "hidden": ServiceFactory(product_line=omni, platform=jd, module=open_api, name="已下架的服务", active=False, featured=True),
    }


@pytest.fixture
def english(client):
    client.cookies["django_language"] = "en"
    return client


class TestPagesRenderInBothLanguages:
    @pytest.mark.parametrize(
        "url_name, args, chinese, english_text",
        [
            ("catalog:home", [], "请输入服务商品关键字", "Enter a service keyword"),
            ("catalog:service-list", [], "店铺订购商品", "Store ordering"),
            ("catalog:key-finder", [], "产品密钥", "Product key"),
            ("help", [], "热线", "Hotline"),
            ("accounts:login", [], "登录", "Sign in"),
            ("accounts:register", [], "注册", "Register"),
        ],
    )
    def test_page_is_chinese_by_default_and_english_on_request(self, client, catalog, url_name, args, chinese, english_text):
        url = reverse(url_name, args=args)
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en-US,en")
        assert response.status_code == 200
        assert '<html lang="zh-hans">' in response.text
        assert chinese in response.text
        client.cookies["django_language"] = "en"
        response = client.get(url)
        assert '<html lang="en">' in response.text
        assert english_text in response.text

    def test_service_detail_in_both_languages(self, client, catalog):
        url = catalog["e3_jd"].get_absolute_url()
        zh = client.get(url).text
        assert "立即购买" in zh and "首页" in zh and "此订购单完成后,可用于申请开票,无需实际支付" in zh
        client.cookies["django_language"] = "en"
        en = client.get(url).text
        assert "Buy now" in en and "Home" in en and "立即购买" not in en

    def test_language_switcher_sets_english(self, client, catalog):
        response = client.post(reverse("set_language"), {"language": "en", "next": LIST}, follow=True)
        assert response.redirect_chain[-1][0] == LIST
        assert '<html lang="en">' in response.text


class TestServiceListView:
    def test_lists_services_on_sale_with_count(self, client, catalog):
        response = client.get(LIST)
        assert [s.pk for s in response.context["services"]] == [catalog["e3_jd"].pk, catalog["omni_ali"].pk]
        assert response.context["page"].paginator.count == 2
        assert "已下架的服务" not in response.text

    def test_filters_by_product(self, client, catalog):
        response = client.get(LIST, {"product": catalog["omni"].pk})
        assert list(response.context["services"]) == [catalog["omni_ali"]]

    def test_filters_by_keyword(self, client, catalog):
        response = client.get(LIST, {"q": "速卖通"})
        assert list(response.context["services"]) == [catalog["omni_ali"]]

    def test_selector_offers_only_the_products_platforms(self, client, catalog):
        response = client.get(LIST, {"product": catalog["omni"].pk})
        assert list(response.context["platforms"]) == [catalog["ali"]]

    def test_empty_result_shows_empty_state(self, client, catalog):
        response = client.get(LIST, {"q": "没有这种服务"})
        assert response.status_code == 200
        assert 'data-testid="empty-state"' in response.text

    def test_paginates_twenty_per_page(self, client, catalog):
        line = catalog["e3"]
        ServiceFactory.create_batch(25, product_line=line)
        first = client.get(LIST, {"product": line.pk})
        second = client.get(LIST, {"product": line.pk, "page": 2})
        assert len(first.context["services"]) == 20
        assert len(second.context["services"]) == 6
        assert f"product={line.pk}&amp;page=2" in first.text

    def test_out_of_range_page_shows_last_page(self, client, catalog):
        response = client.get(LIST, {"page": "999"})
        assert response.status_code == 200
        assert response.context["page"].number == 1

    def test_query_count_does_not_grow_with_rows(self, client, catalog):
        def queries_for_list():
            with CaptureQueriesContext(connection) as queries:
                assert client.get(LIST).status_code == 200
            return len(queries)

        few = queries_for_list()
        ServiceFactory.create_batch(18)
        assert queries_for_list() == few


class TestCatalogChangesShowAtOnce:
    """Catalog reads are cached; every change must show on the next request."""

    def test_deactivated_service_leaves_list_and_selector(self, client, catalog):
        assert client.get(LIST).context["page"].paginator.count == 2
        catalog["omni_ali"].active = False
        catalog["omni_ali"].save()
        response = client.get(LIST)
        assert list(response.context["services"]) == [catalog["e3_jd"]]
        assert catalog["ali"] not in response.context["platforms"]

    def test_renamed_platform_shows_in_the_selector(self, client, catalog):
        client.get(reverse("catalog:home"))
        catalog["ali"].name = "全球速卖通"
        catalog["ali"].save()
        assert "全球速卖通" in client.get(reverse("catalog:home")).text

    def test_new_service_is_listed(self, client, catalog):
        client.get(LIST)
        ServiceFactory(product_line=catalog["e3"], platform=catalog["ali"], name="E3-新服务")
        assert "E3-新服务" in client.get(LIST).text

    def test_deleted_service_is_no_longer_listed(self, client, catalog):
        extra = ServiceFactory(product_line=catalog["e3"], platform=catalog["ali"], name="E3-将删除")
        assert "E3-将删除" in client.get(LIST).text
        extra.delete()
        assert "E3-将删除" not in client.get(LIST).text

    def test_admin_bulk_deactivation_shows_at_once(self, client, admin_client, catalog):
        assert catalog["e3_jd"] in client.get(reverse("catalog:home")).context["featured"]
        changelist = reverse("admin:catalog_service_changelist")
        admin_client.post(changelist, {"action": "deactivate_selected", "_selected_action": [catalog["e3_jd"].pk]})
        assert list(client.get(reverse("catalog:home")).context["featured"]) == []
        assert catalog["e3_jd"] not in client.get(LIST).context["services"]


class TestOneCatalogueVersion:
    """Whole pages, the storefront's fragments and the selectors' reads are all keyed by
    one version, the page cache's shared one; with the page cache off nothing is kept."""

    def rename_behind_the_signals(self, service, name):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE catalog_service SET name = %s WHERE id = %s", [name, service.pk])

    def test_it_is_the_page_caches_shared_version(self, catalog):
        version = selectors.catalog_version()
        assert version == pagecache.shared_version() is not None
        catalog["jd"].save()
        assert selectors.catalog_version() not in (None, version)

    def test_fragments_and_reads_follow_it(self, client, catalog):
        client.get(LIST, HTTP_HX_REQUEST="true")  # htmx: never a whole cached page, but fragments
        self.rename_behind_the_signals(catalog["e3_jd"], "E3-改名")
        assert "E3-改名" not in client.get(LIST, HTTP_HX_REQUEST="true").text, "the fragment was not kept"
        pagecache.shared_changed()
        assert "E3-改名" in client.get(LIST, HTTP_HX_REQUEST="true").text

    def test_one_service_is_read_by_it_too(self, catalog):
        service = catalog["e3_jd"]
        assert selectors.service_get_on_sale(pk=service.pk).name == "E3-京东开放平台对接服务"
        self.rename_behind_the_signals(service, "E3-改名")
        assert selectors.service_get_on_sale(pk=service.pk).name == "E3-京东开放平台对接服务", "the read was not kept"
        pagecache.shared_changed()
        assert selectors.service_get_on_sale(pk=service.pk).name == "E3-改名"
        Service.objects.filter(pk=service.pk).update(active=False)  # the queryset bumps the version
        with pytest.raises(Service.DoesNotExist):
            selectors.service_get_on_sale(pk=service.pk)

    def test_with_the_page_cache_off_nothing_is_kept(self, client, catalog, settings):
        settings.PAGE_CACHE_SECONDS = 0
        assert selectors.catalog_version() is None
        for url in (reverse("catalog:home"), LIST):
            assert "E3-京东开放平台对接服务" in client.get(url).text
        self.rename_behind_the_signals(catalog["e3_jd"], "E3-改名")
        for url in (reverse("catalog:home"), LIST):
            assert "E3-改名" in client.get(url).text


class TestBadInput:
    def test_thousand_character_query_is_reported_and_ignored(self, client, catalog):
        response = client.get(LIST, {"q": "京" * 1000})
        assert response.status_code == 200
        assert "关键字过长" in response.text
        assert response.context["page"].paginator.count == 2

    def test_markup_query_is_escaped(self, client, catalog):
        response = client.get(LIST, {"q": '<script>alert("x")</script>'})
        assert response.status_code == 200
        assert '<script>alert("x")</script>' not in response.text
        assert "&lt;script&gt;" in response.text

    @pytest.mark.parametrize("field", ["product", "platform", "module"])
    @pytest.mark.parametrize("value", ["999999", "abc", "-1", "1.5"])
    def test_unknown_filter_id_is_reported_and_ignored(self, client, catalog, field, value):
        response = client.get(LIST, {field: value})
        assert response.status_code == 200
        assert 'data-testid="filter-problem"' in response.text
        assert "不存在" in response.text
        assert response.context["page"].paginator.count == 2

    def test_unknown_filter_in_english_has_english_message(self, english, catalog):
        response = english.get(LIST, {"product": "999999"})
        assert "does not exist and was ignored" in response.text

    def test_home_with_bad_filters_still_renders(self, client, catalog):
        assert client.get(reverse("catalog:home"), {"product": "x", "q": "y" * 1000}).status_code == 200


class TestServiceDetailView:
    def test_shows_breadcrumb_price_period_refund_and_note(self, client, catalog):
        response = client.get(catalog["e3_jd"].get_absolute_url())
        text = response.text
        assert response.status_code == 200
        assert "店铺订购商品" in text and "E3-京东开放平台对接服务" in text
        assert "¥2000.00" in text and "次" in text
        assert "12 个月" in text
        assert "审核通过后 7 天内可申请退款" in text
        assert "online" in text  # the online-service link from settings

    def test_non_refundable_platform_says_so(self, client, catalog):
        assert "不可退款" in client.get(catalog["omni_ali"].get_absolute_url()).text

    def test_inactive_service_is_not_found(self, client, catalog):
        assert client.get(catalog["hidden"].get_absolute_url()).status_code == 404

    def test_unknown_service_is_not_found(self, client, catalog):
        assert client.get(reverse("catalog:service-detail", args=[999999])).status_code == 404

    def test_buy_now_sends_a_signed_out_visitor_to_sign_in_and_back(self, client, catalog):
        url = catalog["e3_jd"].get_absolute_url()
        response = client.get(url)
        assert f'href="{reverse("accounts:login")}?next={url}"' in response.text

    def test_buy_now_leads_a_customer_to_checkout(self, client, catalog):
        client.force_login(UserFactory())
        service = catalog["e3_jd"]
        response = client.get(service.get_absolute_url())
        checkout = reverse("orders:checkout", args=[service.pk])
        assert f'href="{checkout}"' in response.text
        AgreementFactory()
        page = client.get(checkout)
        assert page.status_code == 200
        assert 'data-testid="checkout-form"' in page.text

    def test_checkout_of_an_inactive_service_is_not_found(self, client, catalog):
        client.force_login(UserFactory())
        assert client.get(reverse("orders:checkout", args=[catalog["hidden"].pk])).status_code == 404


class TestProductKeyWarnings:
    def test_customer_with_an_omni_key_is_warned_on_an_e3_service(self, client, catalog):
        key = ProductKeyFactory(product_line=catalog["omni"])
        client.force_login(key.user)
        response = client.get(catalog["e3_jd"].get_absolute_url())
        assert 'data-testid="key-warning"' in response.text
        assert "E3全渠道" in response.text

    def test_no_warning_on_the_keys_own_line(self, client, catalog):
        key = ProductKeyFactory(product_line=catalog["omni"])
        client.force_login(key.user)
        assert 'data-testid="key-warning"' not in client.get(catalog["omni_ali"].get_absolute_url()).text
        assert 'data-testid="key-warning"' not in client.get(LIST, {"product": catalog["omni"].pk}).text

    def test_list_filtered_to_another_line_warns(self, client, catalog):
        client.force_login(ProductKeyFactory(product_line=catalog["omni"]).user)
        assert 'data-testid="key-warning"' in client.get(LIST, {"product": catalog["e3"].pk}).text

    def test_key_looked_up_in_the_session_warns_a_signed_out_visitor(self, client, catalog):
        client.get(reverse("catalog:key-finder"), {"key": "E3O-1A2B-3C4D"})
        assert 'data-testid="key-warning"' in client.get(catalog["e3_jd"].get_absolute_url()).text

    def test_no_key_no_warning(self, client, catalog):
        assert 'data-testid="key-warning"' not in client.get(catalog["e3_jd"].get_absolute_url()).text


class TestKeyFinder:
    URL = reverse("catalog:key-finder")

    def test_key_shows_its_lines_services(self, client, catalog):
        response = client.get(self.URL, {"key": "e3o-1a2b-3c4d"})
        assert response.context["product_line"] == catalog["omni"]
        assert list(response.context["services"]) == [catalog["omni_ali"]]
        assert "E3O-1A2B-3C4D" in response.text

    @pytest.mark.parametrize("key", ["<b>x</b>", "k" * 300, "E3"])
    def test_malformed_key_shows_a_message(self, client, catalog, key):
        response = client.get(self.URL, {"key": key})
        assert response.status_code == 200
        assert "product_line" not in response.context
        assert response.context["key_form"].errors["key"]
        assert "<b>x</b>" not in response.text

    def test_unknown_key_shows_a_message(self, client, catalog):
        response = client.get(self.URL, {"key": "ZZZ-0000-0000"})
        assert response.status_code == 200
        assert "未找到与该产品密钥匹配的产品" in response.text

    def test_signed_in_customer_can_save_the_key(self, client, catalog):
        user = UserFactory()
        client.force_login(user)
        response = client.get(self.URL, {"key": "E3O-1A2B-3C4D"})
        assert 'action="/account/product-keys/"' in response.text
        client.post(reverse("accounts:product-keys"), {"key": "E3O-1A2B-3C4D", "next": response.request["PATH_INFO"]})
        assert user.product_keys.get().product_line == catalog["omni"]
        assert client.get(self.URL, {"key": "E3O-1A2B-3C4D"}).context["saved"] is True


class TestSelectorPartial:
    URL = reverse("catalog:selector")

    def test_htmx_request_gets_the_narrowed_selector(self, client, catalog):
        response = client.get(self.URL, {"product": catalog["omni"].pk}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert "<html" not in response.text
        assert "速卖通" in response.text and "京东" not in response.text

    def test_switching_product_drops_a_platform_the_new_product_lacks(self, client, catalog):
        params = {"product": catalog["omni"].pk, "platform": catalog["jd"].pk}
        response = client.get(self.URL, params, HTTP_HX_REQUEST="true")
        assert response.context["filters"].platform is None
        assert list(response.context["modules"]) == [catalog["omni_ali"].module]
        listed = client.get(LIST, params)
        assert list(listed.context["services"]) == [catalog["omni_ali"]]

    def test_plain_request_is_sent_to_the_list(self, client, catalog):
        response = client.get(self.URL, {"product": catalog["omni"].pk})
        assert response.status_code == 302
        assert response["Location"] == f"{LIST}?product={catalog['omni'].pk}"


class TestHome:
    def test_shows_featured_services_on_sale_only(self, client, catalog):
        response = client.get(reverse("catalog:home"))
        assert list(response.context["featured"]) == [catalog["e3_jd"]]
        assert "已下架的服务" not in response.text

    def test_shows_the_sellers_contacts_in_the_footer(self, client, settings, catalog):
        settings.SELLER = {**settings.SELLER, "hotline": "400-820-0000", "duty_mobile": "13900000000"}
        text = client.get(reverse("catalog:home")).text
        assert "400-820-0000" in text and "13900000000" in text
