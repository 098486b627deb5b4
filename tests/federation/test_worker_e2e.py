"""Federated tasks end to end on real Celery worker processes (Redis and PostgreSQL in CI): participant
queues, fan-in without a result backend, crash and resume, revoked grants and stragglers."""
from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from federation import crypto, data, services
from federation.core.specs import spec_from_dict
from federation.core.training import evaluate, initial_weights, train_local
from federation.models import (DataUseGrant, FederatedTask, ModelUpdate, TaskParticipant, TaskStep,
                               UpdateRejection)
from tests.conftest import wait_for
from tests.fixtures import build_world

from .conftest import federation_world
from .workers import restart_worker

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ENTERPRISES = ("ent_a", "ent_b", "ent_c")


@pytest.fixture
def fed_world():
    return federation_world(build_world())


def _create(world, **options):
    kwargs = dict(actor=world.lender_a_officer, purpose="Press fault-state model",
                  model_kind="fault_state", enterprises=[world.orgs[k] for k in ENTERPRISES],
                  label_source="batch_label", aggregation="fedma", rounds=2, local_epochs=5, hidden_sizes=(12,),
                  min_participants=2, seed=11)
    kwargs.update(options)
    return services.task_create(**kwargs)


def _accept_all(world, task, keys=ENTERPRISES):
    for key in keys:
        grant = DataUseGrant.objects.get(task=task.compare_of or task, organization=world.orgs[key])
        services.grant_accept(actor=world.users[f"{key}_manager"], grant=grant)


WORKER = {}


@pytest.fixture(autouse=True)
def _remember_worker(request):
    if "celery_worker_process" in request.fixturenames:
        WORKER["handle"] = request.getfixturevalue("celery_worker_process")
    yield
    WORKER.clear()


def _finished(task, timeout=150):
    def done():
        task.refresh_from_db()
        return task.status if task.status in ("finished", "failed", "cancelled") else None

    try:
        status = wait_for(done, timeout=timeout, interval=0.5, message=f"task {task.pk} to end")
    except AssertionError as exc:
        log = WORKER["handle"].log()[-6000:] if WORKER.get("handle") else ""
        raise AssertionError(f"{exc}; steps: {list(task.steps.values_list('index', 'status'))}\n{log}") from None
    assert status == FederatedTask.Status.FINISHED, task.status_message
    return task


def _evaluated(version, timeout=60):
    def done():
        version.refresh_from_db()
        return version.metrics.get("accuracy") is not None and version.loo_weights is None

    wait_for(done, timeout=timeout, interval=0.5, message=f"evaluations of version {version.pk}")
    return version


def test_fedma_across_three_enterprises_beats_every_local_model(celery_worker_process, fed_world):
    world = fed_world
    task = _create(world)
    _accept_all(world, task)
    _finished(task)

    steps = list(task.steps.order_by("index"))
    assert [s.status for s in steps] == [TaskStep.Status.DONE] * task.planned_steps == ["done"] * 4
    assert ModelUpdate.objects.filter(step__task=task, status="received").count() == 3 * task.planned_steps
    # Each participant's update went through its own queue and was verified as its own.
    assert set(ModelUpdate.objects.filter(step__task=task).values_list("submitted_by", flat=True)) == {
        "worker:ent-a", "worker:ent-b", "worker:ent-c"}
    assert not UpdateRejection.objects.filter(task=task).exists()
    final = task.versions.get(is_final=True)
    assert final.is_active and final.number == task.rounds  # one complete global model per FedMA pass
    _evaluated(final)
    assert set(final.contributions) == {"ent-a", "ent-b", "ent-c"}

    spec = spec_from_dict(final.spec)
    global_weights = crypto.decode_weights(final.weights)
    holdout_x, holdout_y, local_accuracies = [], [], {}
    sets = {}
    for participant in task.participants.select_related("grant"):
        sets[participant.name] = data.participant_data(task, participant.grant)
        holdout_x.append(sets[participant.name].holdout_features)
        holdout_y.append(sets[participant.name].holdout_labels)
    features, labels = np.vstack(holdout_x), np.concatenate(holdout_y)
    assert set(labels) == {0, 1, 2, 3}
    task_spec = spec_from_dict(task.spec)
    training = services.strategy_for(task).training
    for name, dataset in sets.items():
        # Local-only: the same network, trained as long as the whole federated task trains each participant.
        weights, _report = train_local(task_spec, initial_weights(task_spec, task.seed), dataset.features,
                                       dataset.labels, config=training, seed=task.seed)
        for _ in range(task.planned_steps - 1):
            weights, _report = train_local(task_spec, weights, dataset.features, dataset.labels, config=training,
                                           seed=task.seed)
        local_accuracies[name] = evaluate(task_spec, weights, features, labels).accuracy
    global_accuracy = evaluate(spec, global_weights, features, labels).accuracy
    assert all(global_accuracy > accuracy for accuracy in local_accuracies.values()), (
        global_accuracy, local_accuracies)
    assert AuditEvent.objects.filter(action="federation.update.accept").count() == 3 * task.planned_steps
    assert AuditEvent.objects.filter(action="federation.task.finish", object_id=str(task.pk)).exists()


def test_worker_killed_mid_step_resumes_to_the_same_final_model(celery_worker_process, fed_world):
    world = fed_world
    options = dict(local_epochs=40, rounds=1)
    reference = _create(world, **options)
    _accept_all(world, reference)
    _finished(reference)

    resumed = _create(world, **options)
    _accept_all(world, resumed)

    def mid_step():
        received = ModelUpdate.objects.filter(step__task=resumed, status="received").count()
        pending = ModelUpdate.objects.filter(step__task=resumed, status="pending").exists()
        return received >= 1 and pending

    wait_for(mid_step, timeout=90, interval=0.05, message="the second task to be in the middle of a step")
    assert FederatedTask.objects.get(pk=resumed.pk).status == FederatedTask.Status.RUNNING
    restart_worker(celery_worker_process, kill=True)  # SIGKILL of the whole worker process group
    output = io.StringIO()
    call_command("federation_resume", stdout=output)
    assert f"task {resumed.pk}: " in output.getvalue()
    _finished(resumed)

    want = reference.versions.get(is_final=True)
    got = resumed.versions.get(is_final=True)
    assert got.sha256 == want.sha256
    assert resumed.steps.count() == resumed.planned_steps
    assert ModelUpdate.objects.filter(step__task=resumed, status="received").count() == 3 * resumed.planned_steps
    # Nothing completed was done twice: one accepted update per (step, participant), one version per pass.
    assert AuditEvent.objects.filter(action="federation.update.accept", payload__task=resumed.pk).count() == (
        3 * resumed.planned_steps)
    assert resumed.versions.count() == 1


def test_revoked_grant_stops_that_participant_and_the_task_continues(celery_worker_process, fed_world):
    world = fed_world
    task = _create(world, local_epochs=20, rounds=2)
    _accept_all(world, task)
    wait_for(lambda: TaskStep.objects.filter(task=task, index=1).exists(), timeout=90, interval=0.1,
             message="the first step to complete")
    grant = DataUseGrant.objects.get(task=task, organization=world.ent_c)
    services.grant_revoke(actor=world.ent_c_manager, grant=grant, reason="Audit of data use pending")
    revoked_at = DataUseGrant.objects.get(pk=grant.pk).revoked_at
    _finished(task)

    participant = TaskParticipant.objects.get(task=task, organization=world.ent_c)
    assert participant.status == TaskParticipant.Status.STOPPED
    assert "revoked" in participant.status_message
    assert "continues with 2 participants" in FederatedTask.objects.get(pk=task.pk).status_message
    assert not ModelUpdate.objects.filter(participant=participant, received_at__gt=revoked_at).exists()
    later = ModelUpdate.objects.filter(participant=participant, step__index__gte=2)
    assert set(later.values_list("status", flat=True)) <= {"skipped"}
    final = task.versions.get(is_final=True)
    assert "ent-c" not in final.lineage["participants"]
    assert AuditEvent.objects.filter(action="federation.grant.revoke", object_id=str(grant.pk)).exists()
    assert AuditEvent.objects.filter(action="federation.participant.stop", payload__participant="ent-c").exists()


def test_straggler_is_warned_then_dropped_and_the_step_goes_on(celery_worker_process, fed_world):
    world = fed_world
    # This worker does not serve ent-c's queue: ent-c never answers, like a site whose worker is down.
    restart_worker(celery_worker_process, queues="default,aggregation,participant.ent-a,participant.ent-b",
                   all_participants=False)
    try:
        task = _create(world, rounds=1, straggler_warning_s=2, straggler_timeout_s=5)
        _accept_all(world, task)
        _finished(task, timeout=120)
    finally:
        restart_worker(celery_worker_process)
    # Dropped from the first step after its deadline (warned first); FedMA finishes the pass with the
    # participants whose layers it matched, so ent-c is not asked again in this pass.
    ent_c = ModelUpdate.objects.filter(step__task=task, participant__organization=world.ent_c)
    assert list(ent_c.values_list("step__index", "status")) == [(0, "dropped")]
    assert ModelUpdate.objects.filter(step__task=task, status="received").count() == 2 * task.planned_steps
    assert AuditEvent.objects.filter(action="federation.update.late_warning").count() == 1
    assert AuditEvent.objects.filter(action="federation.update.drop", payload__reason="deadline").count() == 1
    participant = TaskParticipant.objects.get(task=task, organization=world.ent_c)
    assert participant.status == TaskParticipant.Status.ACTIVE  # dropped for the step, not from the task
    final = task.versions.get(is_final=True)
    assert final.lineage["participants"] == ["ent-a", "ent-b"]
