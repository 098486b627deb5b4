"""In the browser: a faulty batch uploaded after healthy ones is analysed by a real worker; the batch page
follows the analysis, the fleet page shows the alarm, the press page draws its charts; a lender with a
share sees the reduced page."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from django.conf import settings
from django.test import override_settings

from devices import services as device_services
from health.models import HealthAlarm, HealthRun
from tests.conftest import wait_for
from tests.e2e.conftest import screenshot
from tests.e2e.test_foundation_browser import sign_in
from tests.fixtures import build_world
from tests.health.conftest import ingest, register_press, simulated

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_storage():
    root = settings.TEST_VAR_DIR / "storage"
    with override_settings(STORAGE_ROOT=root, MEDIA_ROOT=root):
        yield root
    shutil.rmtree(root / "enterprises" / "ent-a", ignore_errors=True)


def test_a_faulty_upload_ends_in_an_alarm_on_the_fleet_page(page, celery_worker_process, worker_storage, tmp_path):
    world = build_world()
    press = register_press(world, name="Line 7 press")
    device_services.health_share_grant(actor=world.ent_a_manager, press=press, lender=world.lender_a)
    for index in range(5):
        ingest(world, press, simulated(None, seed=index), index=index)
    wait_for(lambda: HealthRun.objects.filter(press=press, status="done").count() == 5, timeout=90,
             message="the healthy batches to be analysed")

    sign_in(page, "ent_a_manager")
    page.goto(f"/presses/{press.pk}/")
    faulty = tmp_path / "faulty.npy"
    np.save(faulty, simulated("outer", seed=42, severity=2.0)[:, None])
    page.set_input_files("input[name=file]", str(faulty))
    page.fill("input[name=sampling_rate_hz]", "20000")
    page.fill("input[name=started_at]", "2026-10-02T08:00")
    page.fill("input[name=stroke_rate_spm]", "30")
    page.fill("input[name=load_percent]", "70")
    page.click("#upload-button")
    page.wait_for_url(re.compile(r".*/presses/batches/\d+/$"))
    page.wait_for_selector('#batch-health[data-status="done"]', timeout=90000)  # polled, then reloaded
    assert "Outer-race defect" in page.locator("#batch-health").inner_text()
    screenshot(page, "health-batch-analysed")

    alarm = HealthAlarm.objects.get(press=press)
    page.click("nav >> text=Fleet health")
    page.wait_for_url("**/health/")
    row = page.locator("#open-alarms tr.alarm-row").first
    assert "Line 7 press" in row.inner_text() and "Outer-race defect" in row.inner_text()
    page.wait_for_selector('#fleet-table[data-charts-ready="true"]')
    page.wait_for_selector(".sparkline .main-svg")
    screenshot(page, "health-fleet")

    page.click("#fleet-table >> text=Line 7 press")
    page.wait_for_url(f"**/health/presses/{press.pk}/")
    page.wait_for_selector('#health-dashboard[data-charts-ready="true"]')
    for chart in ("#chart-index", "#chart-indicators", "#chart-ses", "#chart-kurtogram", "#chart-conditions"):
        page.wait_for_selector(f"{chart} .main-svg")
    assert "Health index z" in page.locator("#chart-index").inner_text()
    assert "BPFO" in page.locator("#chart-ses").inner_text()
    screenshot(page, "health-press")

    run = HealthRun.objects.get(batch__press=press, level__gte=2)
    page.click(f"a[href='/health/runs/{run.pk}/']")
    page.wait_for_selector("#chart-ses .main-svg")
    page.wait_for_selector("#chart-kurtogram .main-svg")
    # The heat map switches between the kurtogram and the two infograms.
    visible = "document.getElementById('chart-kurtogram').data.map(trace => trace.visible)"
    assert page.evaluate(visible).count(True) == 1 and len(page.evaluate(visible)) == 3
    page.click("#chart-kurtogram .updatemenu-button >> nth=1")
    page.wait_for_function(f"{visible}[1] === true")
    assert page.evaluate(visible) == [False, True, False]
    screenshot(page, "health-run")

    page.goto(f"/health/alarms/{alarm.pk}/")
    page.fill("#acknowledge-form textarea[name=comment]", "Bearing inspection booked for Friday")
    page.click("#acknowledge-form button[type=submit]")
    page.wait_for_selector("text=Alarm acknowledged.")
    alarm.refresh_from_db()
    assert alarm.status == "acknowledged"

    lender = page.context.browser.new_context(base_url=page.url.split("/health")[0], viewport={"width": 1280, "height": 900})
    other = lender.new_page()
    sign_in(other, "lender_a_officer", totp_user=world.lender_a_officer)
    other.goto(f"/health/presses/{press.pk}/")
    other.wait_for_selector('#health-trend[data-charts-ready="true"]')
    other.wait_for_selector("#chart-trend .main-svg")
    assert other.locator("#chart-ses").count() == 0 and other.locator("#press-alarms").count() == 0
    screenshot(other, "health-press-lender")
    lender.close()
