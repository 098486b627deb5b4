"""Tabular tasks end to end on the real Celery worker process: the same steps, envelopes, fan-in,
evaluations and audit as press-health tasks; then each lender adopts the PD model."""
from __future__ import annotations

import pytest

from audit.models import AuditEvent
from federation import services, tabular
from federation.models import DataUseGrant, Evaluation, FederatedTask, ModelUpdate
from lending.adoption_models import FederatedPdAdoption
from lending.federated_pd import federated_pd_adopt
from tests.conftest import wait_for
from tests.fixtures import build_world

from .builders import german_parts, upload_loan_book, upload_production

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _finished(task, timeout=120):
    def done():
        task.refresh_from_db()
        return task.status if task.status in ("finished", "failed", "cancelled") else None

    assert wait_for(done, timeout=timeout, interval=0.5, message=f"task {task.pk}") == "finished", task.status_message
    return task


def _evaluated(version, count, timeout=120):
    wait_for(lambda: Evaluation.objects.filter(version=version).count() >= count, timeout=timeout, interval=0.5,
             message="evaluations")
    version.refresh_from_db()
    return version


def test_two_lenders_train_a_pd_model_and_each_adopts_it(celery_worker_process):
    world = build_world()
    parts = german_parts()
    upload_loan_book(world.lender_a_officer, parts["lender_a"])
    upload_loan_book(world.lender_b_officer, parts["lender_b"])
    task = tabular.tabular_task_create(actor=world.lender_a_officer, dataset_kind="loan_book",
                                       purpose="Shared PD model", organizations=[world.lender_a, world.lender_b],
                                       model_type="logistic", target="defaulted", rounds=2)
    for key in ("lender_a", "lender_b"):
        services.grant_accept(actor=world.users[f"{key}_officer"],
                              grant=DataUseGrant.objects.get(task=task, organization=world.orgs[key]))
    _finished(task)
    assert set(ModelUpdate.objects.filter(step__task=task).values_list("submitted_by", flat=True)) == {
        "worker:lender-a", "worker:lender-b"}
    final = task.versions.get(is_final=True)
    assert not final.is_active  # tabular models are adopted per lender, not activated for presses
    final = _evaluated(final, 2)
    evaluations = {e.organization.slug: e.metrics for e in Evaluation.objects.filter(version=final)}
    assert set(evaluations) == {"lender-a", "lender-b"}
    for metrics in evaluations.values():  # figures only: the global model and the local-only model
        assert 0.6 < metrics["auc"] <= 1 and 0 < metrics["local_auc"] <= 1
    for key in ("lender_a", "lender_b"):
        adoption = federated_pd_adopt(actor=world.users[f"{key}_officer"], version=final, role="champion")
        assert adoption.validation["samples"] > 50 and 0.6 < adoption.validation["auc"] < 1
        assert adoption.validation["calibration"]
    assert FederatedPdAdoption.objects.filter(is_current=True, role="champion").count() == 2
    assert AuditEvent.objects.filter(action="lending.pd_model.adopt_federated").count() == 2
    with pytest.raises(Exception):  # an enterprise cannot adopt a PD model
        federated_pd_adopt(actor=world.ent_a_manager, version=final, role="challenger")


def test_two_enterprises_train_an_energy_model(celery_worker_process):
    world = build_world()
    upload_production(world.ent_a_manager, heavy_share=0.1, seed=1)
    upload_production(world.ent_b_manager, heavy_share=0.9, seed=2)
    task = tabular.tabular_task_create(actor=world.ent_a_manager, dataset_kind="production", purpose="Energy model",
                                       organizations=[world.ent_a, world.ent_b], model_type="linear",
                                       target="energy_mwh", rounds=4)
    for key in ("ent_a", "ent_b"):
        services.grant_accept(actor=world.users[f"{key}_manager"],
                              grant=DataUseGrant.objects.get(task=task, organization=world.orgs[key]))
    _finished(task)
    assert task.status == FederatedTask.Status.FINISHED
    final = _evaluated(task.versions.get(is_final=True), 2)
    assert final.metrics["r2"] > 0.85 and final.metrics["mse"] > 0
    for evaluation in Evaluation.objects.filter(version=final):
        assert evaluation.metrics["r2"] > 0.8 and "local_r2" in evaluation.metrics
