"""Simulation runs: the inputs snapshot and seed reproduce the results exactly; a re-run says so; what-ifs move the
numbers the right way with the same draws; execution is idempotent and audited; a failure is recorded; the status
endpoint reports progress; runs are queued only after commit."""
from __future__ import annotations

import copy

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from lending import abs_services
from lending.abs_models import SimulationRun
from tests.abs.conftest import STRUCTURE
from tests.abs.test_pools import api, ids
from tests.conftest import task_callbacks
from tests.factories import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(abs_world):
    w = abs_world
    pool = abs_services.pool_create(actor=w.lender_a_officer, name="SME 2026-1", facility_ids=ids(w.facilities))
    structure = abs_services.structure_create(actor=w.lender_a_officer, pool=pool, name="SME A/B/E",
                                              definition=STRUCTURE)
    w.objects.update(pool=pool, structure=structure)
    return w


def executed(run) -> SimulationRun:
    abs_services.simulation_run_execute(run_id=run.pk)
    return SimulationRun.objects.get(pk=run.pk)


def test_the_same_seed_reproduces_the_results_exactly(deal, django_capture_on_commit_callbacks):
    w = deal
    with django_capture_on_commit_callbacks() as callbacks:
        first = abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure,
                                         scenarios=3000, seed=42)
    assert len(task_callbacks(callbacks)) == 1  # queued after commit, not before
    assert first.status == "queued" and first.inputs["seed"] == 42 and first.inputs["scenarios"] == 3000
    assert [o["facilities"] for o in first.inputs["obligors"]][0] == ["A-1", "A-RC"]  # one row per obligor
    first = executed(first)
    assert (first.status, first.progress, first.stage, first.attempts) == ("done", 100, "done", 1)
    second = executed(abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure,
                                               scenarios=3000, seed=42))
    assert second.inputs_hash == first.inputs_hash and second.results == first.results
    rerun = executed(abs_services.run_rerun(actor=w.lender_a_officer, run=first))
    assert rerun.rerun_of == first and rerun.results == first.results
    other_seed = executed(abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure,
                                                   scenarios=3000, seed=43))
    assert other_seed.results["pool"]["loss_distribution"] != first.results["pool"]["loss_distribution"]

    results = first.results
    pool = results["pool"]
    assert pool["scenarios"] == 3000 and 0 < pool["expected_loss"] < pool["var_99"] <= pool["expected_shortfall_99"]
    assert sum(pool["loss_distribution"]["counts"]) == 3000
    assert pool["closed_form"]["expected_loss"] == pytest.approx(pool["expected_loss"], rel=0.25)
    assert [t["name"] for t in results["tranches"]] == ["A", "B", "Equity"]
    for tranche in results["tranches"]:
        assert {"expected_loss", "probability_of_loss", "loss_given_loss", "wal_years", "implied_rating",
                "expected_cashflows"} <= set(tranche)
        assert len(tranche["expected_cashflows"]["principal"]) == results["horizon_months"]
    assert results["tranches"][0]["expected_loss"] <= results["tranches"][2]["expected_loss"]
    assert results["rating_table"]["label"].startswith("illustrative")

    client = verified_login_client(w)
    page = client.get(reverse("abs:run_detail", args=[rerun.pk])).content.decode()
    assert 'id="identical"' in page and "Results identical" in page and 'id="loss-chart"' in page
    actions = list(AuditEvent.objects.filter(object_id=str(first.pk), object_type="lending.simulationrun")
                   .order_by("sequence").values_list("action", flat=True))
    assert actions == ["abs.run.request", "abs.run.start", "abs.run.finish"]


def verified_login_client(w):
    from django.test import Client

    client = Client()
    verified_login(client, w.lender_a_officer)
    return client


def test_execution_is_idempotent_and_resumes_a_run_left_running(deal):
    w = deal
    run = executed(abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure,
                                            scenarios=2000, seed=1))
    events = AuditEvent.objects.count()
    assert abs_services.simulation_run_execute(run_id=run.pk) == "done"  # redelivered: nothing changes
    assert AuditEvent.objects.count() == events and SimulationRun.objects.get(pk=run.pk).attempts == 1
    crashed = abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure, scenarios=2000,
                                       seed=1)
    SimulationRun.objects.filter(pk=crashed.pk).update(status="running", progress=10, stage="simulating", attempts=1)
    resumed = executed(crashed)
    assert resumed.status == "done" and resumed.attempts == 2 and resumed.results == run.results


def test_a_failing_run_is_recorded_as_failed(deal):
    w = deal
    run = abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure, scenarios=2000, seed=1)
    broken = copy.deepcopy(run.inputs)
    broken["obligors"][0]["lgd"] = 1.5  # an input the engine refuses
    SimulationRun.objects.filter(pk=run.pk).update(inputs=broken)
    run = executed(run)
    assert run.status == "failed" and "lgd" in run.error and run.results is None
    assert AuditEvent.objects.filter(action="abs.run.fail", object_id=str(run.pk)).exists()


def test_what_ifs_reuse_the_seed_and_move_the_numbers_the_right_way(deal):
    w = deal
    base = executed(abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure,
                                             scenarios=3000, seed=9))
    health = executed(abs_services.run_what_if(actor=w.lender_a_officer, run=base, health_notches=True))
    result = health.results
    assert health.kind == "what_if" and health.base_run == base and health.seed == base.seed
    # The base half of a what-if is the base run itself (same inputs, same seed).
    assert result["pool"]["base"]["expected_loss"] == base.results["pool"]["expected_loss"]
    # Only the facility on a pledged press (at level 1) worsens: its obligor's PD × 2.5/1.5.
    assert result["weighted_horizon_pd"]["shocked"] > result["weighted_horizon_pd"]["base"]
    assert result["pool"]["delta"]["expected_loss"] > 0
    correlated = executed(abs_services.run_what_if(actor=w.lender_a_officer, run=base, correlation=0.6))
    assert correlated.results["correlation"] == {"base": 0.2, "shocked": 0.6}
    assert correlated.results["pool"]["delta"]["var_99"] > 0
    assert correlated.results["pool"]["delta"]["expected_loss"] == pytest.approx(0.0, abs=0.01)
    lower = executed(abs_services.run_what_if(actor=w.lender_a_officer, run=base, pd_multiplier=0.5))
    assert lower.results["pool"]["delta"]["expected_loss"] < 0
    with pytest.raises(ValidationError):
        abs_services.run_what_if(actor=w.lender_a_officer, run=base)  # nothing changed
    with pytest.raises(ValidationError):
        abs_services.run_what_if(actor=w.lender_a_officer, run=base, correlation=1.2)
    with pytest.raises(ValidationError):
        abs_services.run_what_if(actor=w.lender_a_officer, run=health, pd_multiplier=2)
    page = verified_login_client(w).get(reverse("abs:run_detail", args=[base.pk])).content.decode()
    assert page.count('class="what-if-result"') == 3 and "every pledged press one alarm level worse" in page


def test_scenarios_and_seed_are_checked(deal):
    w = deal
    for scenarios, seed in ((10, 1), (2_000_000, 1), (5000, -3)):
        with pytest.raises(ValidationError):
            abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure,
                                     scenarios=scenarios, seed=seed)
    run = abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure)
    assert run.scenarios == 100_000 and 0 <= run.seed < 2**31  # the default, and a recorded random seed


def test_the_status_endpoints_report_progress(deal, client):
    w = deal
    run = abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure, scenarios=2000,
                                   seed=2)
    verified_login(client, w.lender_a_officer)
    queued = client.get(reverse("abs:run_status", args=[run.pk])).json()
    assert (queued["status"], queued["progress"], queued["finished"]) == ("queued", 0, False)
    page = client.get(reverse("abs:run_detail", args=[run.pk])).content.decode()
    assert 'id="run-progress"' in page and 'data-finished="0"' in page
    seen = []
    original = abs_services._set_stage

    def spy(run_id, stage, progress):
        original(run_id, stage, progress)
        seen.append(client.get(reverse("abs:run_status", args=[run_id])).json()["progress"])

    abs_services._set_stage = spy
    try:
        abs_services.simulation_run_execute(run_id=run.pk)
    finally:
        abs_services._set_stage = original
    assert seen == sorted(seen) and 0 < seen[0] < 100 and len(seen) >= 3
    done = api(w.lender_a_officer).get(reverse("abs-run-status", args=[run.pk])).json()
    assert (done["status"], done["progress"], done["finished"]) == ("done", 100, True)


def test_the_run_api(deal):
    w = deal
    client = api(w.lender_a_officer)
    created = client.post(reverse("abs-run-list"), {"pool": w.pool.pk, "structure": w.structure.pk,
                                                    "scenarios": 2000, "seed": 4}, format="json")
    assert created.status_code == 201 and created.json()["status"] == "queued"
    run = executed(SimulationRun.objects.get(pk=created.json()["id"]))
    detail = client.get(reverse("abs-run-detail", args=[run.pk])).json()
    assert detail["results"]["seed"] == 4 and detail["inputs"]["seed"] == 4
    what_if = client.post(reverse("abs-run-what-if", args=[run.pk]), {"grade_shift": 1}, format="json")
    assert what_if.status_code == 201 and what_if.json()["kind"] == "what_if"
    rerun = client.post(reverse("abs-run-rerun", args=[run.pk]))
    assert rerun.status_code == 201 and rerun.json()["seed"] == 4
    foreign = api(w.lender_b_officer).post(reverse("abs-run-list"), {"pool": w.pool.pk, "structure": w.structure.pk},
                                           format="json")
    assert foreign.status_code == 400 and "pool" in foreign.json()
    too_few = client.post(reverse("abs-run-list"), {"pool": w.pool.pk, "structure": w.structure.pk, "scenarios": 5},
                          format="json")
    assert too_few.status_code == 400 and "scenarios" in too_few.json()


def test_run_list_costs_the_same_queries_whatever_the_rows(deal):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    w = deal
    client = api(w.lender_a_officer)

    def count():
        with CaptureQueriesContext(connection) as queries:
            body = client.get(reverse("abs-run-list")).json()
        return len(queries), body

    abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure, scenarios=2000, seed=0)
    count()  # warms the content-type cache
    few, _body = count()
    for seed in range(1, 5):
        abs_services.run_request(actor=w.lender_a_officer, pool=w.pool, structure=w.structure, scenarios=2000,
                                 seed=seed)
    many, body = count()
    assert many == few
    assert body["count"] == 5 and "results" not in body["results"][0]  # the list stays light
