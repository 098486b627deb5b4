"""In the browser: a loan officer builds a pool from picked facilities, sees its stratification, is told what is
wrong with an overlapping tranche layout, tranches the pool, runs a simulation on a real worker while the page shows
its progress, sees the loss histogram with the tranche boundaries and the cash flows, and runs a health what-if."""
from __future__ import annotations

import re

import pytest

from lending.abs_models import AssetPool, SimulationRun
from tests.abs.conftest import make_abs_credit
from tests.conftest import wait_for
from tests.e2e.conftest import screenshot
from tests.e2e.test_foundation_browser import sign_in
from tests.fixtures import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_build_a_pool_tranche_it_run_it_and_see_the_charts(page, celery_worker_process):
    world = make_abs_credit(build_world())
    sign_in(page, "lender_a_officer", totp_user=world.lender_a_officer)
    page.click("nav >> text=ABS")
    page.wait_for_url("**/lending/abs/")
    page.click("#new-pool")
    # Filter, then pick: the other lender's facility is never offered.
    assert "B-1" not in page.locator("#candidates").inner_text()
    page.fill("input[name=name]", "Browser pool 2026-1")
    for facility in world.facilities:
        page.check(f"#pick-{facility.pk}")
    screenshot(page, "abs-pool-pick")
    page.click("#save-pool")
    page.wait_for_url(re.compile(r".*/lending/abs/pools/\d+/$"))
    page.wait_for_selector("#strata-chart .main-svg")
    assert "Automotive stamping" in page.locator("#stratum-sector").inner_text()
    page.select_option("#stratum-select", "health_band")
    page.wait_for_selector("#strata-chart .main-svg")
    screenshot(page, "abs-pool")
    pool = AssetPool.objects.get(name="Browser pool 2026-1")
    assert pool.facility_count == 5

    # An overlapping layout is refused with the reason; then a good one is saved.
    page.click("#design-structure")
    page.fill("input[name=name]", "Browser A/B/E")
    page.fill("input[name='tranches-0-attachment']", "10")
    page.click("#save-structure")
    page.wait_for_selector("#structure-errors")
    assert "overlap" in page.locator("#structure-errors").inner_text()
    screenshot(page, "abs-structure-error")
    page.fill("input[name='tranches-0-attachment']", "30")
    page.fill("input[name='tranches-1-detachment']", "30")
    page.click("#add-tranche")  # a fourth, mezzanine-junior tranche between B and the equity
    page.fill("input[name='tranches-3-name']", "C")
    page.fill("input[name='tranches-3-attachment']", "6")
    page.fill("input[name='tranches-3-detachment']", "12")
    page.fill("input[name='tranches-3-coupon']", "9")
    page.fill("input[name='tranches-2-detachment']", "6")
    page.fill("input[name='tranches-1-attachment']", "12")
    page.click("#save-structure")
    page.wait_for_url(re.compile(r".*/lending/abs/structures/\d+/$"))
    page.wait_for_selector("#stack-chart .main-svg")
    assert [row.split("\t")[0] for row in page.locator("#tranches tbody tr").all_inner_texts()] == ["A", "B", "C",
                                                                                                    "Equity"]
    screenshot(page, "abs-structure")

    # Run on the worker; the page polls the status and shows the results when done.
    page.fill("input[name=scenarios]", "5000")
    page.fill("input[name=seed]", "2026")
    page.click("#run-button")
    page.wait_for_url(re.compile(r".*/lending/abs/runs/\d+/$"))
    run = SimulationRun.objects.get(structure__name="Browser A/B/E")
    page.wait_for_selector("#loss-chart .main-svg", timeout=90000)
    assert SimulationRun.objects.get(pk=run.pk).status == "done"
    chart = page.locator("#loss-chart").inner_text()
    assert "attaches at" in chart and "Pool loss" in chart
    page.wait_for_selector("#cashflow-chart .main-svg")
    assert "Illustrative rating table" in page.locator("#tranche-results").inner_text()
    screenshot(page, "abs-run")

    # What-if: every pledged press one alarm level worse.
    page.check("input[name=health_notches]")
    page.click("#what-if-button")
    page.wait_for_selector("#what-if-results .what-if-deltas", timeout=90000)
    assert "one alarm level worse" in page.locator("#what-if-results").inner_text()
    screenshot(page, "abs-what-if")
    what_if = wait_for(lambda: SimulationRun.objects.filter(base_run=run, status="done").first(), timeout=30)
    assert what_if.results["pool"]["delta"]["expected_loss"] > 0

    # Sizing to targets from the pool page: the structure page shows what each tranche achieved.
    page.goto(f"/lending/abs/pools/{pool.pk}/")
    page.click("#size-structure")
    page.fill("input[name=name]", "Browser sized")
    page.fill("input[name=scenarios]", "4000")
    page.fill("input[name=seed]", "3")
    screenshot(page, "abs-sizing-form")
    page.click("#size-button")
    page.wait_for_url(re.compile(r".*/lending/abs/structures/\d+/$"))
    sizing = page.locator("#sizing").inner_text()
    assert "AAA" in sizing and "BBB" in sizing and "Illustrative rating table" in sizing
    screenshot(page, "abs-sized-structure")
