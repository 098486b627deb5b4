"""In the browser: sign in with TOTP, onboard an organisation and invite a user, switch language."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from accounts.models import Organization, User
from tests.e2e.conftest import screenshot
from tests.factories import TEST_PASSWORD, totp_now
from tests.fixtures import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, username: str, *, totp_user=None) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    if totp_user is not None:
        page.wait_for_url(re.compile(r".*/accounts/login/verify/.*"))
        page.fill("input[name=token]", totp_now(totp_user))
        page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def test_admin_signs_in_with_totp_and_onboards_an_organisation(page):
    world = build_world()
    sign_in(page, "admin", totp_user=world.admin)
    assert page.locator("h1").inner_text().startswith("Welcome")
    screenshot(page, "home-admin")

    page.click("text=Organisations")
    page.wait_for_url("**/accounts/organisations/")
    screenshot(page, "organisations")
    page.click("text=New organisation")
    page.fill("input[name=name]", "Suzhou Precision Stamping")
    page.select_option("select[name=kind]", "enterprise")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/accounts/organisations/\d+/$"))
    assert "Suzhou Precision Stamping" in page.locator("h1").inner_text()
    assert page.locator("text=Ed25519").count() >= 1
    org = Organization.objects.get(name="Suzhou Precision Stamping")
    assert org.participant_keys.count() == 1

    page.fill("input[name=email]", "manager@suzhou.example.com")
    page.select_option("select[name=role]", "enterprise_manager")
    page.click("text=Invite >> nth=-1")
    link = page.locator("#invite-link").inner_text()
    screenshot(page, "organisation-detail")

    # The invited manager opens the link in another browser context and creates the account.
    invitee = page.context.browser.new_context(base_url=page.url.split("/accounts")[0])
    other = invitee.new_page()
    other.goto(link)
    other.fill("input[name=username]", "suzhou_manager")
    other.fill("input[name=password]", "suzhou-password-88")
    other.fill("input[name=password_again]", "suzhou-password-88")
    other.click("main button[type=submit]")
    other.wait_for_url("**/accounts/login/")
    assert User.objects.get(username="suzhou_manager").organization == org
    other.goto(link)  # the link works once
    assert "already been used" in other.content()
    invitee.close()


def test_wrong_totp_is_refused_in_the_browser(page):
    world = build_world()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "lender_a_officer")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main button[type=submit]")
    page.fill("input[name=token]", "000000")
    page.click("main button[type=submit]")
    page.wait_for_selector("p.error")
    assert "not correct" in page.locator("p.error").inner_text()
    time.sleep(1.1)  # django-otp's back-off after a wrong code
    page.fill("input[name=token]", totp_now(world.lender_a_officer))
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def test_user_switches_language_on_any_page(page):
    build_world()
    sign_in(page, "ent_a_manager")
    page.goto("/accounts/profile/")
    # Choosing a language submits the switcher's form: wait for that navigation to finish, not for
    # the current (old-language) page to go idle.
    with page.expect_navigation(url="**/accounts/profile/"):
        page.select_option("#language-select", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("h1")).to_contain_text("个人资料")
    screenshot(page, "profile-zh-hans")
    with page.expect_navigation(url="**/accounts/profile/"):
        page.select_option("#language-select", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Your profile")


def test_a_new_auditor_enrols_a_second_factor_by_qr_code_and_reads_the_api_docs(page):
    import base64

    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    world = build_world()
    TOTPDevice.objects.filter(user=world.firm_auditor).delete()  # a freshly invited auditor has none yet
    page.goto("/accounts/login/")
    screenshot(page, "login")
    page.fill("input[name=username]", "firm_auditor")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/accounts/login/enrol/.*"))
    assert page.locator(".qr svg").count() == 1
    screenshot(page, "totp-enrol")
    secret = page.locator("#totp-secret").inner_text()
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("input[name=token]", f"{TOTP(key).token():06d}")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))
    assert "Two-factor sign-in is set up." in page.content()
    assert TOTPDevice.objects.get(user=world.firm_auditor).confirmed

    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info")
    assert "PressTrust" in page.locator(".swagger-ui .info").inner_text()
    screenshot(page, "api-docs")
