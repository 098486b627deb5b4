"""In the browser: a health alarm on a pledged press becomes an adjustment proposal (reviewed on a real worker),
one loan officer submits it, a second approves it, and the enterprise sees its new terms and why."""
from __future__ import annotations

import re

import pytest
from django.db import transaction

from lending import services
from lending.models import AdjustmentProposal, Facility, RiskAssessment
from tests.conftest import wait_for
from tests.e2e.conftest import screenshot
from tests.e2e.test_foundation_browser import sign_in
from tests.fixtures import build_world
from tests.lending import factories as f

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def sign_out(page) -> None:
    page.click("header button:has-text('Sign out')")
    page.wait_for_url(re.compile(r".*/accounts/login/.*"))


def test_alarm_becomes_a_proposal_a_second_officer_approves_and_the_enterprise_sees_it(page, celery_worker_process):
    world = build_world()
    press = f.make_press(world, "L1-400 servo press")
    unshared = f.make_press(world, "L2-250 transfer press")
    f.share(world, press)
    borrower = f.make_borrower(world)
    facility = f.make_facility(world, borrower, presses=[press, unshared], reference="EQ-2026-01",
                               facility_type="equipment_loan", margin_rate="0.0200")
    f.add_statement(world, borrower)
    wait_for(lambda: RiskAssessment.objects.filter(facility=facility).exists(), timeout=60,
             message="the review the new statement queued")
    assert not AdjustmentProposal.objects.exists()  # priced at its risk: nothing to propose
    # The health app raises an alarm on the shared press and asks for the reviews of its facilities.
    with transaction.atomic():
        f.set_press_health(press, level=2, zs=[0.8, 3.5, 6.0, 8.0, 9.5], alarm_days=1)
        f.set_press_health(unshared, level=3, zs=[1.0, 9.0, 14.0])
        services.facility_reviews_for_press(press.pk, "health_alarm")
        services.facility_reviews_for_press(unshared.pk, "health_alarm")
    proposal = wait_for(lambda: AdjustmentProposal.objects.filter(facility=facility).first(), timeout=60,
                        message="the worker's proposal")
    assert proposal.status == "draft" and proposal.reason_code == "health_deterioration"

    # Officer 1 submits the system's draft: they become its maker.
    sign_in(page, "lender_a_officer", totp_user=world.lender_a_officer)
    page.click("nav >> text=Credit")
    page.wait_for_url("**/lending/")
    screenshot(page, "lending-facilities")
    page.click("text=Borrowers")
    page.click("#borrowers >> text=Enterprise A")
    page.wait_for_selector("#statements")
    assert "2025-01-01 – 2025-12-31" in page.locator("#statements").inner_text()
    screenshot(page, "lending-borrower")
    page.click("text=EQ-2026-01")
    page.wait_for_selector("#assessment")
    assert "Not shared by the enterprise" in page.locator("#health-inputs").inner_text()
    page.wait_for_selector("#pd-chart .main-svg")
    screenshot(page, "lending-facility")
    page.click("#open-proposal")
    page.wait_for_selector("#terms-compare")
    page.wait_for_selector("#health-chart .main-svg")
    assert "Equipment health (overlay)" in page.locator("#pd-moves").inner_text()
    screenshot(page, "lending-proposal-draft")
    page.click("#submit-button")
    page.wait_for_selector("#proposal-status:has-text('Submitted')")
    assert page.locator("#approve-button").count() == 0 and page.locator("#maker-note").count() == 1
    page.goto("/lending/pd-model/")
    assert float(page.locator("#model-auc").inner_text()) >= 0.75
    screenshot(page, "lending-pd-model")
    sign_out(page)

    # Officer 2 approves it: the new terms apply today.
    sign_in(page, "lender_a_officer2", totp_user=world.lender_a_officer2)
    page.click("nav >> text=Credit")
    page.click(f"#awaiting >> text={proposal.pk}")
    page.wait_for_selector("#approve-button")
    page.wait_for_selector("#pd-chart .main-svg")
    screenshot(page, "lending-proposal-submitted")
    page.fill("textarea[name=comment]", "Alarm confirmed by the enterprise's maintenance report.")
    page.click("#approve-button")
    page.wait_for_selector("#proposal-status:has-text('Applied')")
    page.wait_for_selector("#health-chart .main-svg")
    assert "lender_a_officer2" in page.locator("#approvals").inner_text()
    assert "L2-250 transfer press" in page.locator("#not-shared-note").inner_text()
    screenshot(page, "lending-proposal-applied")
    sign_out(page)
    facility = Facility.objects.get(pk=facility.pk)
    proposal.refresh_from_db()
    assert facility.annual_rate == proposal.new_rate > proposal.old_rate

    # The enterprise sees the new terms, the date and the reason in plain words, nothing internal.
    sign_in(page, "ent_a_manager")
    page.click("nav >> text=Credit")
    page.wait_for_url("**/lending/my-terms/")
    box = page.locator(f"#terms-{facility.pk}")
    assert box.locator(".current-rate").inner_text() == f"{facility.annual_rate * 100:.2f} %"
    text = box.inner_text()
    assert "L1-400 servo press has deteriorated" in text and "L2-250" not in text
    assert "PD" not in text and "LGD" not in text
    screenshot(page, "lending-my-terms")
