"""Service logic of federated tasks, run synchronously through the same task functions (no broker)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from federation import queueing, selectors, services
from federation.core.privacy import epsilon_spent
from federation.models import (DataUseGrant, FederatedTask, ModelUpdate, ModelVersion, Prediction, TaskParticipant,
                               TaskStep)

from .builders import labelled_batches, register_press
from .conftest import federation_world

pytestmark = pytest.mark.django_db

ENTERPRISES = ("ent_a", "ent_b", "ent_c")


def _create(world, **options):
    kwargs = dict(actor=world.lender_a_officer, purpose="Fault-state model for the press fleet",
                  model_kind="fault_state", enterprises=[world.orgs[k] for k in ENTERPRISES],
                  label_source="batch_label", aggregation="fedma", rounds=1, local_epochs=3, hidden_sizes=(8,),
                  min_participants=2)
    kwargs.update(options)
    return services.task_create(**kwargs)


def _accept(world, task, keys=ENTERPRISES):
    for key in keys:
        services.grant_accept(actor=world.users[f"{key}_manager"], grant=task.grants.get(organization=world.orgs[key]))


@pytest.fixture
def fed(world):
    federation_world(world, per_class=2)
    with queueing.synchronous(immediate=True):
        yield world


def test_fedma_task_runs_to_an_active_version(fed):
    task = _create(fed)
    assert task.status == FederatedTask.Status.AWAITING_GRANTS
    assert set(DataUseGrant.objects.filter(task=task).values_list("status", flat=True)) == {"pending"}
    _accept(fed, task)
    queueing.drain()
    task.refresh_from_db()
    assert task.status == FederatedTask.Status.FINISHED, task.status_message
    assert task.steps.filter(status=TaskStep.Status.DONE).count() == task.planned_steps == 2
    version = ModelVersion.objects.get(task=task)
    assert version.is_active and version.is_final and version.metrics["accuracy"] is not None
    assert version.layer_sizes[0]["inputs"] == 26 and version.layer_sizes[-1]["units"] == 4
    assert set(version.contributions) == {"ent-a", "ent-b", "ent-c"}
    assert ModelUpdate.objects.filter(step__task=task, status="received").count() == 6
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"federation.task.create", "federation.grant.request", "federation.grant.accept", "federation.task.start",
            "federation.step.start", "federation.update.accept", "federation.step.aggregate",
            "federation.model.version", "federation.model.activate", "federation.task.finish"} <= actions


def test_a_crash_inside_aggregation_resumes_to_the_same_model(fed, monkeypatch):
    reference = _create(fed, seed=3)
    _accept(fed, reference)
    queueing.drain()
    want = ModelVersion.objects.get(task=reference, is_final=True).sha256

    task = _create(fed, seed=3)
    _accept(fed, task)
    original = services._version_create
    monkeypatch.setattr(services, "_version_create", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        queueing.drain()
    step = TaskStep.objects.get(task=task, status=TaskStep.Status.AGGREGATING)  # rolled back, still to do
    assert not ModelVersion.objects.filter(task=task).exists()
    monkeypatch.setattr(services, "_version_create", original)
    assert services.tasks_resume(task_id=task.pk) == [f"task {task.pk}: aggregate step {step.index}"]
    queueing.drain()
    task.refresh_from_db()
    assert task.status == FederatedTask.Status.FINISHED
    assert ModelVersion.objects.get(task=task, is_final=True).sha256 == want
    # A redelivered aggregation of a finished step does nothing.
    assert services.step_aggregate(task_id=task.pk, index=step.index) is None
    assert services.step_dispatch(task_id=task.pk, index=0) == 0


def test_declines_below_the_minimum_stop_the_task(fed):
    task = _create(fed, min_participants=3)
    services.grant_accept(actor=fed.ent_a_manager, grant=task.grants.get(organization=fed.ent_a))
    services.grant_decline(actor=fed.ent_b_manager, grant=task.grants.get(organization=fed.ent_b), reason="No")
    assert FederatedTask.objects.get(pk=task.pk).status == FederatedTask.Status.AWAITING_GRANTS
    services.grant_accept(actor=fed.ent_c_manager, grant=task.grants.get(organization=fed.ent_c))
    task.refresh_from_db()
    assert task.status == FederatedTask.Status.FAILED
    assert "Only 2 enterprises accepted" in task.status_message


def test_start_now_withdraws_open_requests(fed):
    task = _create(fed)
    _accept(fed, task, keys=("ent_a", "ent_b"))
    with pytest.raises(PermissionDenied):
        services.task_start(actor=fed.ent_a_manager, task=task)
    services.task_start(actor=fed.lender_a_officer2, task=task)
    assert task.grants.get(organization=fed.ent_c).status == DataUseGrant.Status.WITHDRAWN
    queueing.drain()
    task.refresh_from_db()
    assert task.status == FederatedTask.Status.FINISHED
    assert ModelVersion.objects.get(task=task).lineage["participants"] == ["ent-a", "ent-b"]


def test_only_the_data_owner_decides_and_only_officers_or_managers_start_tasks(fed):
    task = _create(fed)
    grant = task.grants.get(organization=fed.ent_a)
    for outsider in (fed.ent_b_manager, fed.ent_a_auditor, fed.lender_a_officer):
        with pytest.raises(PermissionDenied):
            services.grant_accept(actor=outsider, grant=grant)
    with pytest.raises(PermissionDenied):
        _create(fed, actor=fed.lender_a_auditor)
    with pytest.raises(ValidationError) as error:
        _create(fed, label_source="health_level")
    assert "label_source" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        _create(fed, presses=[fed.press_ent_a])  # a lender does not see ent-a's press without a share
    assert "presses" in error.value.message_dict


def test_revoke_mid_task_stops_the_participant_and_says_so(fed):
    task = _create(fed, rounds=2)
    _accept(fed, task)
    queueing.drain(limit=6)  # into the first steps
    services.grant_revoke(actor=fed.ent_c_manager, grant=task.grants.get(organization=fed.ent_c), reason="Enough")
    participant = TaskParticipant.objects.get(task=task, organization=fed.ent_c)
    assert participant.status == TaskParticipant.Status.STOPPED
    assert "continues with 2 participants (minimum 2)" in FederatedTask.objects.get(pk=task.pk).status_message
    queueing.drain()
    task.refresh_from_db()
    assert task.status == FederatedTask.Status.FINISHED
    assert "ent-c" not in task.versions.get(is_final=True).lineage["participants"]
    # Revoking a second one leaves one participant: below the minimum the task stops, audited.
    task2 = _create(fed, rounds=2)
    _accept(fed, task2)
    queueing.drain(limit=4)
    services.grant_revoke(actor=fed.ent_b_manager, grant=task2.grants.get(organization=fed.ent_b))
    services.grant_revoke(actor=fed.ent_c_manager, grant=task2.grants.get(organization=fed.ent_c))
    task2.refresh_from_db()
    assert task2.status == FederatedTask.Status.FAILED and "Only 1 participants remain" in task2.status_message
    assert AuditEvent.objects.filter(action="federation.task.stop", object_id=str(task2.pk)).exists()


def test_expired_grant_stops_its_participant_at_the_next_check(fed):
    task = _create(fed, rounds=2)
    _accept(fed, task)
    queueing.drain(limit=3)
    DataUseGrant.objects.filter(task=task, organization=fed.ent_b).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    counts = services.stragglers_check(task_id=task.pk)
    assert counts["expired"] == 1
    participant = TaskParticipant.objects.get(task=task, organization=fed.ent_b)
    assert participant.status == TaskParticipant.Status.STOPPED and "expired" in participant.status_message
    assert AuditEvent.objects.filter(action="federation.participant.stop", payload__code="grant_expired").exists()


def test_stragglers_are_warned_then_dropped_for_the_step(fed):
    task = _create(fed, straggler_warning_s=60, straggler_timeout_s=120)
    _accept(fed, task)
    queueing.drain(only={"dispatch_step"})
    step = TaskStep.objects.get(task=task, index=0)
    assert services.stragglers_check(task_id=task.pk, now=step.warn_at)["warned"] == 3
    assert set(step.updates.values_list("status", flat=True)) == {"warned"}
    queueing.drain(only={"local_train"}, limit=2)  # two participants answer late but in time
    counts = services.stragglers_check(task_id=task.pk, now=step.deadline_at)
    assert counts["dropped"] == 1
    step.refresh_from_db()
    assert step.status == TaskStep.Status.AGGREGATING
    assert step.updates.filter(status="dropped").count() == 1
    queueing.drain()  # the dropped participant's message then finds nothing to do; the task finishes
    assert FederatedTask.objects.get(pk=task.pk).status == FederatedTask.Status.FINISHED


def test_cancel_leaves_a_consistent_audited_state(fed):
    task = _create(fed, compare=True)
    twin = task.comparisons.get()
    _accept(fed, task, keys=("ent_a", "ent_b"))
    with pytest.raises(PermissionDenied):
        services.task_cancel(actor=fed.ent_a_manager, task=task)
    services.task_cancel(actor=fed.lender_a_officer, task=task, reason="Wrong period")
    for each in (task, twin):
        each.refresh_from_db()
        assert each.status == FederatedTask.Status.CANCELLED and each.status_message == "Wrong period"
    assert task.grants.get(organization=fed.ent_c).status == DataUseGrant.Status.WITHDRAWN
    assert AuditEvent.objects.filter(action="federation.task.cancel").count() == 2
    with pytest.raises(ValidationError):
        services.task_cancel(actor=fed.lender_a_officer, task=task)

    running = _create(fed)
    _accept(fed, running)
    queueing.drain(only={"dispatch_step"})
    services.task_cancel(actor=fed.lender_a_officer, task=running)
    assert set(ModelUpdate.objects.filter(step__task=running).values_list("status", flat=True)) == {"skipped"}
    assert TaskStep.objects.get(task=running, index=0).status == TaskStep.Status.CANCELLED
    queueing.drain()  # the local-train messages still queued find a cancelled task
    assert not ModelUpdate.objects.filter(step__task=running, status="received").exists()


def test_fedavg_twin_compares_on_the_same_grants_and_privacy_budget_holds(fed):
    task = _create(fed, compare=True, epsilon=50.0, delta=1e-5, rounds=1)
    twin = task.comparisons.get()
    assert twin.strategy_name == "fedavg" and twin.rounds == task.planned_steps and not twin.activate_on_finish
    assert set(twin.participants.values_list("grant_id", flat=True)) == set(task.grants.values_list("pk", flat=True))
    _accept(fed, task)
    queueing.drain()
    for each in (task, twin):
        each.refresh_from_db()
        assert each.status == FederatedTask.Status.FINISHED, each.status_message
        privacy = services.strategy_for(each).privacy
        assert epsilon_spent(privacy, each.planned_steps) <= privacy.epsilon_budget
    budgets = [services.strategy_for(t).privacy.epsilon_budget for t in (task, twin)]
    assert sum(budgets) == pytest.approx(50.0)
    progress = selectors.task_progress(user=fed.lender_a_officer, task=task)
    assert progress["comparison"][0]["aggregation"] == "fedavg"
    assert len(progress["comparison"][0]["series"]) == twin.versions.count() == twin.planned_steps
    assert ModelVersion.objects.get(task=task, is_final=True).is_active  # the FedAvg twin is not activated


@pytest.mark.parametrize("aggregation", ["fedavg", "robust_fedavg"])
def test_other_aggregations_run(fed, aggregation):
    task = _create(fed, aggregation=aggregation, rounds=2)
    _accept(fed, task)
    queueing.drain()
    task.refresh_from_db()
    assert task.status == FederatedTask.Status.FINISHED, task.status_message
    assert task.versions.count() == 2


def test_hierarchical_participant_averages_its_sites_first(fed):
    second_site = register_press(fed.ent_a_manager, fed.ent_a, "ent_a press 2", site="Plant 2")
    labelled_batches(fed.ent_a_manager, second_site, {"healthy": 2, "outer_race": 2}, seed=9)
    task = _create(fed, hierarchical=True)
    _accept(fed, task)
    queueing.drain()
    task.refresh_from_db()
    assert task.status == FederatedTask.Status.FINISHED, task.status_message
    update = ModelUpdate.objects.filter(step__task=task, participant__organization=fed.ent_a).first()
    assert [site["site"] for site in update.sites] == ["Plant 1", "Plant 2"]
    assert update.num_samples == sum(site["samples"] for site in update.sites)
    tree = selectors.task_progress(user=fed.lender_a_officer, task=task)["tree"]
    ent_a = next(child for child in tree["children"] if child["name"] == "ent-a")
    assert [site["site"] for site in ent_a["children"]] == ["Plant 1", "Plant 2"]


def test_participants_see_their_own_series_and_the_initiator_sees_all(fed):
    task = _create(fed)
    _accept(fed, task)
    queueing.drain()
    initiator = selectors.task_progress(user=fed.lender_a_officer, task=task)
    participant = selectors.task_progress(user=fed.ent_a_manager, task=task)
    assert set(initiator["local"]) == {"ent-a", "ent-b", "ent-c"}
    assert set(participant["local"]) == {"ent-a"} and set(participant["contributions"]) == {"ent-a"}
    assert participant["global"] == initiator["global"] and participant["global"][0]["accuracy"] is not None
    assert selectors.update_list(user=fed.ent_a_manager).count() == 2
    assert set(selectors.update_list(user=fed.ent_a_manager).values_list(
        "participant__organization__slug", flat=True)) == {"ent-a"}
    assert not selectors.update_list(user=fed.lender_a_officer).exists()


def test_health_level_labels_and_inference_for_a_health_run(fed):
    from devices import services as device_services
    from health.models import HealthRun

    for key in ENTERPRISES:
        for batch in fed.objects[f"batches_{key}"]:
            label = batch.federation_label.condition
            HealthRun.objects.create(batch=batch, press=batch.press, organization=batch.organization,
                                     channel_name="acc", recorded_at=batch.started_at, status=HealthRun.Status.DONE,
                                     level=0 if label == "healthy" else 2)
    task = _create(fed, model_kind="failure_risk", label_source="health_level")
    _accept(fed, task)
    queueing.drain()
    task.refresh_from_db()
    assert task.status == FederatedTask.Status.FINISHED, task.status_message
    version = task.versions.get(is_final=True)
    assert version.is_active and version.class_names == ["normal", "at_risk"]

    run = HealthRun.objects.filter(batch__press=fed.press_ent_a).order_by("pk").last()
    predictions = services.inference_for_health_run(run.pk)
    assert [(p.health_run_id, p.channel, p.version_id) for p in predictions] == [(run.pk, "acc", version.pk)]
    assert services.inference_for_health_run(run.pk)[0].pk == predictions[0].pk  # an upsert
    latest = selectors.latest_prediction(fed.press_ent_a)
    assert latest.class_name in ("normal", "at_risk") and 0.5 <= latest.confidence <= 1.0
    # The lender sees it only with a live health share; another enterprise never.
    assert selectors.latest_prediction(fed.press_ent_a, user=fed.lender_a_officer) is None
    device_services.health_share_grant(actor=fed.ent_a_manager, press=fed.press_ent_a, lender=fed.lender_a)
    assert selectors.latest_prediction(fed.press_ent_a, user=fed.lender_a_officer).pk == latest.pk
    assert selectors.latest_prediction(fed.press_ent_a, user=fed.ent_b_manager) is None

    from django.template import Context, Template
    from django.test import RequestFactory

    include = Template("{% load federation_tags %}{% press_prediction press %}")
    for user, shown in ((fed.lender_a_officer, True), (fed.ent_b_manager, False)):
        request = RequestFactory().get("/")
        request.user = user
        html = include.render(Context({"request": request, "press": fed.press_ent_a}))
        label = {"normal": "Normal", "at_risk": "At risk"}[latest.class_name]
        assert (f"<strong>{label}</strong>" in html) is shown and "Predicted condition" in html

    services.press_rescore(actor=fed.ent_a_manager, press=fed.press_ent_a)
    queueing.drain()
    assert Prediction.objects.filter(press=fed.press_ent_a, source="batch").count() == len(fed.batches_ent_a)
    assert Prediction.objects.get(pk=predictions[0].pk).health_run_id == run.pk
    with pytest.raises(PermissionDenied):
        services.press_rescore(actor=fed.lender_a_officer, press=fed.press_ent_a)


def test_model_activation_is_the_initiators_and_one_per_kind(fed):
    first = _create(fed)
    _accept(fed, first)
    second = _create(fed, seed=5)
    _accept(fed, second)
    queueing.drain()
    v1, v2 = (ModelVersion.objects.get(task=t, is_final=True) for t in (first, second))
    v1.refresh_from_db()
    assert v2.is_active and not v1.is_active
    with pytest.raises(PermissionDenied):
        services.model_version_activate(actor=fed.ent_a_manager, version=v1)
    services.model_version_activate(actor=fed.lender_a_officer, version=v1)
    assert list(ModelVersion.objects.filter(is_active=True).values_list("pk", flat=True)) == [v1.pk]
