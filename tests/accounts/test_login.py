"""Sign-in: password, TOTP (wrong, replayed), lockout, suspended users and organisations, tokens."""
from __future__ import annotations

import time

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services
from audit.models import AuditEvent
from tests.factories import TEST_PASSWORD, totp_now

pytestmark = pytest.mark.django_db


def _login(client, username, password=TEST_PASSWORD):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def test_manager_signs_in_with_password_only(client, world):
    response = _login(client, "ent_a_manager")
    assert response.status_code == 302 and response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    assert AuditEvent.objects.filter(action="auth.login", actor_user="ent_a_manager").exists()


def test_wrong_password_is_refused_and_audited(client, world):
    response = _login(client, "ent_a_manager", "not-the-password")
    assert response.status_code == 401
    assert "not correct" in response.content.decode()
    assert client.get(reverse("home")).status_code == 302  # still anonymous
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.payload["reason"] == "bad_credentials"


def test_loan_officer_needs_totp_and_each_code_works_once(client, world):
    response = _login(client, "lender_a_officer")
    assert response.url.startswith(reverse("accounts:otp_verify"))
    # Until the second factor is passed, every page sends the officer back to it.
    assert client.get(reverse("home")).url == reverse("accounts:otp_verify")
    assert client.get("/api/v1/users/me/").status_code == 403
    # ...but the sign-in pages' own script catalog and icon still load.
    catalog = client.get(reverse("javascript-catalog"))
    assert catalog.status_code == 200 and catalog["Content-Type"].startswith("text/javascript")
    assert client.get("/favicon.ico").status_code in (200, 301, 302) and client.get("/favicon.ico").url.startswith("/static/")
    bad = client.post(reverse("accounts:otp_verify"), {"token": "000000"})
    assert bad.status_code == 401
    code = totp_now(world.lender_a_officer)
    throttled = client.post(reverse("accounts:otp_verify"), {"token": code})  # back-off after a wrong code
    assert "Wait a few seconds" in throttled.content.decode()
    time.sleep(1.1)
    assert client.post(reverse("accounts:otp_verify"), {"token": code}).status_code == 302
    assert client.get(reverse("home")).status_code == 200
    # The same code replayed in a new session is refused (django-otp remembers the last time step).
    client.logout()
    _login(client, "lender_a_officer")
    replay = client.post(reverse("accounts:otp_verify"), {"token": code})
    assert replay.status_code == 401
    assert "already used" in replay.content.decode()


def test_first_login_of_privileged_user_enrols_totp(client, world):
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=world.firm_auditor).delete()
    response = _login(client, "firm_auditor")
    assert response.url.startswith(reverse("accounts:otp_enrol"))
    page = client.get(reverse("accounts:otp_enrol"))
    assert b"<svg" in page.content  # the QR code
    device = TOTPDevice.objects.get(user=world.firm_auditor, confirmed=False)
    assert client.post(reverse("accounts:otp_enrol"), {"token": "123456"}).status_code == 200  # wrong: stays
    code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits).token():06d}"
    assert client.post(reverse("accounts:otp_enrol"), {"token": code}).status_code == 302
    assert TOTPDevice.objects.get(user=world.firm_auditor).confirmed
    assert AuditEvent.objects.filter(action="user.totp_enrol").exists()


def test_repeated_failures_lock_the_account(client, world, settings):
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "ent_b_manager", "wrong-password")
    locked = _login(client, "ent_b_manager")  # even the right password is refused while locked
    assert locked.status_code == 429
    assert "locked" in locked.content.decode()
    assert AuditEvent.objects.filter(action="auth.login_failed", payload__reason="locked_out").exists()
    # Other accounts are unaffected.
    assert _login(client, "ent_a_manager").status_code == 302


def test_suspended_user_gets_a_clear_message(client, world):
    services.user_set_active(actor=world.admin, user=world.ent_a_manager, active=False, reason="left the company")
    response = _login(client, "ent_a_manager")
    assert response.status_code == 401
    assert "suspended" in response.content.decode()


def test_members_of_a_suspended_organisation_are_signed_out(client, world):
    assert _login(client, "ent_b_manager").status_code == 302
    services.organization_set_status(actor=world.admin, organization=world.ent_b, status="suspended",
                                     reason="unpaid fees")
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url == reverse("accounts:login")
    assert "suspended" in _login(client, "ent_b_manager").content.decode()


def test_api_token_requires_totp_for_privileged_roles(world):
    api = APIClient()
    url = reverse("token-obtain")
    assert api.post(url, {"username": "ent_a_manager", "password": TEST_PASSWORD}).status_code == 200
    no_code = api.post(url, {"username": "lender_a_officer", "password": TEST_PASSWORD})
    assert no_code.status_code == 401 and "otp_token" in no_code.json()
    code = totp_now(world.lender_a_officer)
    ok = api.post(url, {"username": "lender_a_officer", "password": TEST_PASSWORD, "otp_token": code})
    assert ok.status_code == 200
    api.credentials(HTTP_AUTHORIZATION="Token " + ok.json()["token"])
    assert api.get("/api/v1/users/me/").json()["username"] == "lender_a_officer"
    replay = APIClient().post(url, {"username": "lender_a_officer", "password": TEST_PASSWORD, "otp_token": code})
    assert replay.status_code == 401
    assert APIClient().post(url, {"username": "lender_a_officer", "password": "nope"}).status_code == 401
