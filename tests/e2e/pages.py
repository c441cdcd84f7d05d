"""What the browser tests do on the shop's pages again and again: sign in through a login
form, find one main order in My Orders."""

from playwright.sync_api import Page, expect

from accounts.tests.factories import PASSWORD


def sign_in(page: Page, login_url: str, user, path: str, base: str) -> None:
    """Sign in as `user` (made with the factories' PASSWORD) on a login form, the shop's or
    the admin's, and come back to `path`."""
    page.goto(f"{base}{login_url}?next={path}")
    form = page.locator("form:has([name=password])")
    form.locator("[name=username]").fill(user.username)
    form.locator("[name=password]").fill(PASSWORD)
    form.locator("[type=submit]").click()
    expect(page).to_have_url(base + path)


def order_block(page: Page, order):
    """One main order in My Orders."""
    return page.locator(f"tbody[data-order='{order.number}']")
