"""In the browser: an auditor opens the log, runs verify on a real worker, sees the result."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_foundation_browser import sign_in
from tests.fixtures import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_auditor_verifies_the_chain(page, celery_worker_process):
    world = build_world()
    from audit import services

    services.audit_access_grant(actor=world.admin, organization=world.ent_a, audit_firm=world.firm)
    sign_in(page, "firm_auditor", totp_user=world.firm_auditor)
    page.click("nav >> text=Audit log")
    page.wait_for_url("**/audit/")
    assert page.locator("table.list tbody tr").count() > 0
    page.click("#verify-button")
    page.wait_for_selector(".verification .v-status.active", timeout=60000)
    assert "intact" in page.locator(".verification .v-message").first.inner_text()
    screenshot(page, "audit-log-verified")
    page.click("table.list tbody tr >> nth=0 >> a")
    page.wait_for_url("**/audit/events/*/")
    page.wait_for_selector("dl.facts")
    assert "Previous MAC" in page.locator("dl.facts").inner_text()
    screenshot(page, "audit-event")
