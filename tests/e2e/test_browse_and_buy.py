"""The storefront in a real browser: a new customer registers, finds a service by
keyword and the product → platform → module selector, presses 立即购买, signs in
and comes back to the service.

Elements are found by data-testid, name attributes and roles, not by UI text,
which is being translated; the only text asserted is catalog data.
"""

import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts.models import User
from catalog.tests.factories import ModuleFactory, PlatformFactory, ProductLineFactory, ServiceFactory

KEYWORD = "云测"
NEW_CUSTOMER = {
    "username": "newshop",
    "email": "newshop@example.com",
    "real_name": "王小明",
    "mobile": "138 0013 8000",
    "company": "上海云测贸易有限公司",
    "password1": "Lantern-Harbor-42",
    "password2": "Lantern-Harbor-42",
}


@pytest.fixture
def catalog(transactional_db):
    """Two product lines named with KEYWORD and one without it.

    Line A sells on P1 and P2, line B on P3 only, so choosing A must drop P3 from
    the platforms; within A × P1 only M1 and M2 are sold, so M3 must drop out of
    the modules once P1 is chosen.
    """
    a = ProductLineFactory(name=f"{KEYWORD}甲产品")
    b = ProductLineFactory(name=f"{KEYWORD}乙产品")
    other = ProductLineFactory(name="其他产品")
    p1 = PlatformFactory(name="测试京东")
    p2 = PlatformFactory(name="测试天猫")
    p3 = PlatformFactory(name="测试抖音")
    m1 = ModuleFactory(name="店铺对接服务")
    m2 = ModuleFactory(name="订单同步服务")
    m3 = ModuleFactory(name="库存同步服务")
    services = {
        "a_p1_m1": ServiceFactory(product_line=a, platform=p1, module=m1),
        "a_p1_m2": ServiceFactory(product_line=a, platform=p1, module=m2),
        "a_p2_m3": ServiceFactory(product_line=a, platform=p2, module=m3),
        "b_p3_m1": ServiceFactory(product_line=b, platform=p3, module=m1),
        "b_p3_m2": ServiceFactory(product_line=b, platform=p3, module=m2),
        "other_p1_m1": ServiceFactory(product_line=other, platform=p1, module=m1),
    }
    return SimpleNamespace(a=a, b=b, p1=p1, p2=p2, p3=p3, m1=m1, m2=m2, m3=m3, **services)


def card_titles(page: Page):
    return page.locator("main .service-card h3")


def choices(page: Page, field: str):
    """The real choices of a selector field, without its "all" option."""
    return page.locator(f"#selector select[name={field}] option:not([value=''])")


def wait_for_selector_ready(page: Page) -> None:
    """htmx is listening on the selector: the page has loaded (htmx is deferred)
    and the last swap has settled (htmx wires up swapped-in content only then,
    and marks it `htmx-added` until it has)."""
    page.wait_for_load_state("load")
    expect(page.locator("#selector")).not_to_have_class(re.compile(r"\bhtmx-added\b"))


def choose(page: Page, field: str, obj) -> None:
    """Pick `obj` in the selector and wait for htmx to swap in the narrowed form.

    Only the server's re-rendered form marks the choice with a `selected`
    attribute (picking an option sets the property, not the attribute), so its
    presence means the swap has happened.
    """
    wait_for_selector_ready(page)
    page.locator(f"#selector select[name={field}]").select_option(str(obj.pk))
    expect(page.locator(f"#selector select[name={field}] option[value='{obj.pk}'][selected]")).to_be_attached()
    wait_for_selector_ready(page)


def test_new_customer_searches_narrows_and_signs_in_to_buy(page: Page, live_server, catalog, artifacts_dir):
    base = live_server.url
    service = catalog.a_p1_m1
    service_path = reverse("catalog:service-detail", args=[service.pk])

    # Register. The browser asks for English; the shop answers in Chinese.
    page.goto(base + reverse("accounts:register"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    form = page.locator("main form")
    for name, value in NEW_CUSTOMER.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("user-menu")).to_be_visible()
    assert User.objects.filter(
        username=NEW_CUSTOMER["username"], email=NEW_CUSTOMER["email"], mobile="+8613800138000"
    ).exists()

    # Sign out from the user menu (a POST form in a Bootstrap dropdown, whose
    # script is deferred: a click before it runs would follow the link instead).
    page.wait_for_load_state("load")
    page.get_by_test_id("user-menu").click()
    page.locator(f"form[action='{reverse('accounts:logout')}'] button[type=submit]").click()
    expect(page).to_have_url(base + reverse("catalog:home"))
    expect(page.get_by_test_id("user-menu")).to_have_count(0)

    # Search by keyword from the header.
    search_box = page.get_by_role("search").locator("input[name=q]")
    search_box.fill(KEYWORD)
    search_box.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(base + reverse("catalog:service-list")) + r"\?q="))
    matching = [catalog.a_p1_m1, catalog.a_p1_m2, catalog.a_p2_m3, catalog.b_p3_m1, catalog.b_p3_m2]
    expect(card_titles(page)).to_have_text([s.name for s in matching])
    expect(page.locator("#selector [name=q]")).to_have_value(KEYWORD)
    expect(choices(page, "platform")).to_have_text([catalog.p1.name, catalog.p2.name, catalog.p3.name])

    # Narrow product → platform → module; each choice narrows the next select.
    choose(page, "product", catalog.a)
    expect(choices(page, "platform")).to_have_text([catalog.p1.name, catalog.p2.name])
    expect(choices(page, "module")).to_have_text([catalog.m1.name, catalog.m2.name, catalog.m3.name])
    choose(page, "platform", catalog.p1)
    expect(choices(page, "module")).to_have_text([catalog.m1.name, catalog.m2.name])
    choose(page, "module", catalog.m1)
    page.locator("#selector button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"[?&]module={catalog.m1.pk}(&|$)"))
    expect(card_titles(page)).to_have_text([service.name])

    # Open the service; 立即购买 sends a visitor to sign in first.
    page.locator("main").get_by_role("link", name=service.name).click()
    expect(page).to_have_url(base + service_path)
    expect(page.get_by_role("heading", level=1)).to_have_text(service.name)
    page.get_by_test_id("buy-now").click()
    expect(page).to_have_url(re.compile(re.escape(base + reverse("accounts:login")) + r"\?next="))
    assert parse_qs(urlsplit(page.url).query)["next"] == [service_path]

    # Signing in comes back to the service, where 立即购买 now leads to checkout.
    form = page.locator("main form")
    form.locator("[name=username]").fill(NEW_CUSTOMER["username"])
    form.locator("[name=password]").fill(NEW_CUSTOMER["password1"])
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(base + service_path)
    expect(page.get_by_test_id("user-menu")).to_be_visible()
    expect(page.get_by_test_id("buy-now")).to_have_attribute(
        "href", reverse("orders:checkout", kwargs={"service_id": service.pk})
    )
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.screenshot(path=artifacts_dir / "service-page.png", full_page=True)


def test_selector_narrows_without_javascript(browser, browser_context_args, live_server, catalog):
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    try:
        page = context.new_page()
        selector_path = reverse("catalog:selector")
        htmx_requests = []
        page.on("request", lambda request: selector_path in request.url and htmx_requests.append(request.url))
        page.goto(live_server.url + reverse("catalog:home"))
        expect(choices(page, "platform")).to_have_text([catalog.p1.name, catalog.p2.name, catalog.p3.name])

        page.locator("#selector select[name=product]").select_option(str(catalog.a.pk))
        page.locator("#selector button[type=submit]").click()

        list_url = re.escape(live_server.url + reverse("catalog:service-list"))
        expect(page).to_have_url(re.compile(rf"{list_url}\?(.*&)?product={catalog.a.pk}(&|$)"))
        expect(card_titles(page)).to_have_text([catalog.a_p1_m1.name, catalog.a_p1_m2.name, catalog.a_p2_m3.name])
        chosen = page.locator(f"#selector select[name=product] option[value='{catalog.a.pk}'][selected]")
        expect(chosen).to_be_attached()
        expect(choices(page, "platform")).to_have_text([catalog.p1.name, catalog.p2.name])
        assert htmx_requests == [], "with JavaScript off, htmx must not have run"
    finally:
        context.close()
