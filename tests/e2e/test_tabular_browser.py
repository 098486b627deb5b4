"""In the browser: two lenders each upload their loan book (German credit split by purpose), lender A's
officer starts a federated PD task, both accept their data-use requests, the real worker runs the task,
and each lender sees its own validation and adopts the model as its PD model."""
from __future__ import annotations

import re

import pytest

from federation.core.tabular_schemas import german_credit_csv
from federation.models import Evaluation, FederatedTask
from lending.adoption_models import FederatedPdAdoption
from tests.conftest import wait_for
from tests.e2e.conftest import screenshot
from tests.e2e.test_foundation_browser import sign_in
from tests.federation_tabular.builders import german_parts
from tests.fixtures import build_world

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _officer_page(browser, live_server, key, world):
    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    sign_in(page, f"{key}_officer", totp_user=world.users[f"{key}_officer"])
    return context, page


def test_two_lenders_run_a_pd_task_and_each_adopts_the_model(browser, live_server, celery_worker_process, tmp_path):
    world = build_world()
    parts = german_parts()
    pages = {}
    for key in ("lender_a", "lender_b"):
        context, page = _officer_page(browser, live_server, key, world)
        pages[key] = (context, page)
        path = tmp_path / f"{key}-loans.csv"
        path.write_text(german_credit_csv(parts[key]))
        page.goto("/federation/")
        page.click("#tabular-link")
        page.fill("#upload-form input[name=name]", f"Loan book of {key}")
        page.set_input_files("#upload-form input[name=file]", str(path))
        page.click("#upload-button")
        page.wait_for_url(re.compile(r".*/federation/tabular/datasets/\d+/$"))
        assert page.locator("#dataset-rows").inner_text() == str(len(parts[key]))
        if key == "lender_a":
            screenshot(page, "tabular-loan-book")

    page = pages["lender_a"][1]
    page.goto("/federation/tabular/")
    page.click("#tabular-task-create")
    page.fill("textarea[name=purpose]", "Shared PD model of two lenders")
    page.select_option("select[name=model_type]", "logistic")
    page.check("label:has-text('Lender B') input")
    page.fill("input[name=rounds]", "3")
    screenshot(page, "tabular-task-form")
    page.click("#tabular-task-submit")
    page.wait_for_url(re.compile(r".*/federation/tasks/\d+/$"))
    task = FederatedTask.objects.get(dataset_kind="loan_book")
    task_url = page.url

    for key in ("lender_a", "lender_b"):
        officer_page = pages[key][1]
        officer_page.goto("/federation/")
        officer_page.click("#grant-inbox >> text=Review")
        officer_page.wait_for_url(re.compile(r".*/federation/grants/\d+/$"))
        assert f"Loan book of {key}" in officer_page.content()
        officer_page.click("#accept-button")
        officer_page.wait_for_selector("text=Accepted: the task may train on the chosen uploads")

    page.goto(task_url)
    page.wait_for_selector("body[data-fl-settled='1']", timeout=120_000)
    assert page.locator("#fl-status").inner_text() == "Finished"
    # The participants' evaluations of the final model arrive after the task finished (their own queues).
    wait_for(lambda: Evaluation.objects.filter(version__task=task, version__is_final=True).count() == 2,
             timeout=120, interval=0.5, message="evaluations of the final model")
    page.click("#tabular-results-link")
    page.wait_for_selector("#federated-evaluation tbody tr[data-participant='lender-b']")
    for key in ("lender_a", "lender_b"):
        officer_page = pages[key][1]
        officer_page.goto(f"/federation/tabular/tasks/{task.pk}/results/")
        assert 0.6 < float(officer_page.locator("#own-auc").inner_text()) < 1
        officer_page.click("#adopt-champion")
        officer_page.wait_for_selector("#adopted-champion")
        if key == "lender_b":
            assert officer_page.locator("#federated-evaluation").count() == 0  # the initiator's view only
            screenshot(officer_page, "tabular-pd-adopted")
    assert set(FederatedPdAdoption.objects.filter(is_current=True, role="champion").values_list(
        "organization__slug", flat=True)) == {"lender-a", "lender-b"}
    for context, _page in pages.values():
        context.close()


def test_enterprise_sees_its_predicted_against_actual_chart_with_units(page, live_server):
    from tests.federation_tabular.builders import finished_energy_task

    world = build_world()
    task = finished_energy_task(world)
    assert task.status == "finished", task.status_message
    sign_in(page, "ent_b_manager")
    page.goto(f"/federation/tabular/tasks/{task.pk}/results/")
    page.wait_for_selector("#chart-fit .main-svg")
    titles = " ".join(page.locator("#chart-fit .g-xtitle, #chart-fit .g-ytitle").all_text_contents())
    assert "Actual Energy use (MWh)" in titles and "(MWh)" in titles.replace("Actual Energy use (MWh)", "")
    assert "MWh / t" in page.locator("#coefficients").inner_text()
    assert page.locator("#federated-evaluation").count() == 0
    screenshot(page, "tabular-energy-fit")
