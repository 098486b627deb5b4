"""In the browser: a loan officer starts a federated task, each enterprise accepts its data-use request,
the real worker runs the task, and the task page shows the progress to completion and the charts."""
from __future__ import annotations

import re
import shutil

import pytest

from federation.models import DataUseGrant, FederatedTask
from tests.e2e.conftest import screenshot
from tests.e2e.test_foundation_browser import sign_in
from tests.federation.builders import labelled_batches, register_press
from tests.fixtures import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _isolated_storage(settings):
    """The worker process reads the batches: use the storage folder it shares with this process."""
    yield
    shutil.rmtree(settings.STORAGE_ROOT / "enterprises", ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_health_analysis(monkeypatch):
    from devices import services

    monkeypatch.setattr(services, "_enqueue_analysis", lambda batch: None)


def test_officer_starts_a_task_enterprises_accept_and_the_charts_appear(page, browser, live_server,
                                                                      celery_worker_process):
    world = build_world()
    for index, (key, fault) in enumerate((("ent_a", "outer_race"), ("ent_b", "inner_race"))):
        manager = world.users[f"{key}_manager"]
        press = register_press(manager, world.orgs[key], f"{key} line press", site=f"Plant {index + 1}")
        labelled_batches(manager, press, {"healthy": 2, fault: 2}, seed=index + 1)

    sign_in(page, "lender_a_officer", totp_user=world.lender_a_officer)
    page.click("nav >> text=Federated learning")
    page.click("text=Start a federated task")
    page.fill("textarea[name=purpose]", "Fault-state model for our financed presses")
    page.check("label:has-text('Enterprise A') input")
    page.check("label:has-text('Enterprise B') input")
    page.fill("input[name=hidden_sizes]", "8")
    page.fill("input[name=rounds]", "1")
    page.fill("input[name=local_epochs]", "5")
    page.check("input[name=compare]")
    screenshot(page, "federation-task-wizard")
    page.click("#task-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/federation/tasks/\d+/$"))
    assert "Waiting for data-use grants" in page.locator("#fl-status").inner_text()
    task = FederatedTask.objects.get(compare_of__isnull=True)
    task_url = page.url

    for key in ("ent_a", "ent_b"):  # each enterprise manager in a browser of their own
        context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": 1280, "height": 900})
        manager_page = context.new_page()
        manager_page.set_default_timeout(15000)
        sign_in(manager_page, f"{key}_manager")
        manager_page.click("nav >> text=Federated learning")
        manager_page.click("#grant-inbox >> text=Review")
        manager_page.wait_for_url(re.compile(r".*/federation/grants/\d+/$"))
        assert "Fault-state model for our financed presses" in manager_page.content()
        if key == "ent_a":
            screenshot(manager_page, "federation-grant-request")
        manager_page.click("#accept-button")
        manager_page.wait_for_selector("text=Accepted: the task may train")
        assert DataUseGrant.objects.get(task=task, organization=world.orgs[key]).status == "accepted"
        context.close()

    page.goto(task_url)
    page.wait_for_selector("body[data-fl-settled='1']", timeout=120_000)
    assert page.locator("#fl-status").inner_text() == "Finished"
    assert page.locator("#fl-progress").get_attribute("value") == "100"
    assert page.locator("#fl-steps tbody tr").count() == task.planned_steps
    for chart in ("chart-global", "chart-local", "chart-layers", "chart-contrib"):
        assert page.locator(f"#{chart} .main-svg").count() >= 1, chart
    assert page.locator("#chart-global .legendtext", has_text="fedavg").count() >= 1  # the comparison run
    assert page.locator("#fl-tree li").count() >= 3
    screenshot(page, "federation-task-finished")
    page.goto("/federation/models/")
    assert page.locator("table.list tbody tr").count() >= 2
    screenshot(page, "federation-model-registry")
    final = task.versions.get(is_final=True)
    page.click(f"a[href='/federation/models/{final.pk}/']")
    page.wait_for_url(f"**/federation/models/{final.pk}/")
    assert "active for inference" in page.content() and final.sha256 in page.content()
    assert "Contributions (leave one out)" in page.content()
    screenshot(page, "federation-model-version")

    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": 1280, "height": 900})
    manager_page = context.new_page()
    sign_in(manager_page, "ent_a_manager")
    manager_page.goto("/federation/labels/")
    assert manager_page.locator("select[name=condition]").count() == 4
    screenshot(manager_page, "federation-batch-labels")
    manager_page.goto(task_url)  # a participant sees the task, its own series and the global model
    manager_page.wait_for_selector("body[data-fl-settled='1']", timeout=30_000)
    assert manager_page.locator("#chart-local .legendtext", has_text="ent-b").count() == 0
    assert manager_page.locator("#chart-local .legendtext", has_text="ent-a").count() >= 1
    context.close()
