"""Read-side queries for federated learning, scoped to what the user may see.

- tasks, grants and model versions: django-guardian object permissions given by the services (the
  initiator's organisation and the named enterprises see a task; the data owner and the requester see
  a grant; the initiator and the enterprises that took part see its model versions);
- updates: only the participant organisation's own members (an enterprise never sees another's);
- predictions: whoever may see the press's health (its own enterprise, or a lender with a live health
  share), through ``devices.selectors.press_health_list``.
"""
from __future__ import annotations

import math

from django.db.models import Prefetch, Q, QuerySet

from accounts.permissions import objects_for

from .models import (DataUseGrant, FederatedTask, ModelUpdate, ModelVersion, Prediction, TaskParticipant, TaskStep,
                     UpdateRejection)


def task_list(*, user) -> QuerySet[FederatedTask]:
    return objects_for(user, "federation.view_federatedtask",
                       FederatedTask.objects.select_related("initiator", "created_by", "compare_of")).order_by("-created_at")


def task_get(*, user, pk) -> FederatedTask:
    """The task if ``user`` may see it; raises FederatedTask.DoesNotExist otherwise."""
    return task_list(user=user).get(pk=pk)


def grant_list(*, user) -> QuerySet[DataUseGrant]:
    return objects_for(user, "federation.view_datausegrant", DataUseGrant.objects.select_related(
        "task", "organization", "requester", "requested_by")).order_by("-created_at")


def grant_get(*, user, pk) -> DataUseGrant:
    return grant_list(user=user).get(pk=pk)


def grant_inbox(*, user) -> QuerySet[DataUseGrant]:
    """Requests waiting for the user's decision."""
    return objects_for(user, "federation.decide_datausegrant", grant_list(user=user)).filter(
        status=DataUseGrant.Status.PENDING)


def version_list(*, user) -> QuerySet[ModelVersion]:
    """Versions of tasks the user sees, for the initiator's organisation and the enterprises that took
    part (derived from the task, so the aggregator never writes permissions)."""
    if not user.is_authenticated or user.organization_id is None:
        return ModelVersion.objects.none()
    org = user.organization_id
    took_part = TaskParticipant.objects.filter(organization_id=org, joined_at__isnull=False).values("task_id")
    tasks = task_list(user=user).filter(Q(initiator_id=org) | Q(pk__in=took_part)).values("pk")
    return ModelVersion.objects.filter(task__in=tasks).select_related("task__initiator", "parent").defer(
        "weights", "loo_weights").order_by("-created_at")


def version_get(*, user, pk) -> ModelVersion:
    return version_list(user=user).get(pk=pk)


def update_list(*, user, task: FederatedTask | None = None) -> QuerySet[ModelUpdate]:
    if not user.is_authenticated or user.organization_id is None:
        return ModelUpdate.objects.none()
    queryset = ModelUpdate.objects.filter(participant__organization_id=user.organization_id).select_related(
        "step__task", "participant__organization").defer("envelope").order_by("-step__task_id", "step__index")
    if task is not None:
        queryset = queryset.filter(step__task=task)
    return queryset


def prediction_list(*, user, press=None) -> QuerySet[Prediction]:
    from devices.selectors import press_health_list

    queryset = Prediction.objects.filter(press__in=press_health_list(user=user).values("pk")).select_related(
        "version", "press")
    if press is not None:
        queryset = queryset.filter(press=press)
    return queryset


def latest_prediction(press, *, user=None) -> Prediction | None:
    """The newest prediction of the press's active model(s) (of any model, if no active one applies);
    with ``user``, only when that user may see the press's health."""
    queryset = prediction_list(user=user, press=press) if user is not None else Prediction.objects.filter(press=press)
    queryset = queryset.select_related("version")
    return queryset.filter(version__is_active=True).first() or queryset.first()


def is_initiator(user, task: FederatedTask) -> bool:
    return user.organization_id is not None and user.organization_id == task.initiator_id


def _clean(value):
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value


def task_progress(*, user, task: FederatedTask) -> dict:
    """Status, per-step and per-participant progress, charts and the hierarchy tree of a task, shaped for
    the task page. The initiator sees every participant's series; a participant sees its own."""
    sees_all = is_initiator(user, task)
    own_org = user.organization_id
    participants = list(task.participants.select_related("organization", "grant"))
    steps = list(task.steps.order_by("index").prefetch_related(
        Prefetch("updates", queryset=ModelUpdate.objects.select_related("participant__organization").defer("envelope"))))
    done = sum(1 for s in steps if s.status == TaskStep.Status.DONE)
    visible_names = {p.name for p in participants if sees_all or p.organization_id == own_org}
    step_rows, local_series = [], {}
    for step in steps:
        updates = []
        for update in step.updates.all():
            name = update.participant.name
            updates.append({"participant": name, "status": update.status, "label": update.get_status_display()})
            if name in visible_names and update.local_metrics:
                local_series.setdefault(name, []).append({"round": step.index + 1, **update.local_metrics})
        step_rows.append({"index": step.index, "round": step.index + 1, "status": step.status,
                          "label": step.get_status_display(), "description": step.description,
                          "deadline": step.deadline_at.isoformat() if step.deadline_at else None,
                          "updates": updates, "flags": step.flags if sees_all else [
                              f for f in step.flags if f.get("participant") in visible_names]})
    versions = list(task.versions.defer("weights", "loo_weights").order_by("number"))

    def series(of_versions):
        return [{"round": v.lineage.get("round"), "version": v.number,
                 **{k: _clean(v.metrics.get(k)) for k in ("loss", "accuracy", "auc", "f1", "r2")}}
                for v in of_versions if v.metrics]

    comparison = []
    twin = task.comparisons.first() if task.compare_of_id is None else task.compare_of
    if twin is not None:
        comparison = [{"task": twin.pk, "aggregation": twin.strategy_name,
                       "series": series(twin.versions.defer("weights", "loo_weights").order_by("number"))}]
    latest = versions[-1] if versions else None
    contributions = {}
    if latest is not None:
        contributions = {name: value for name, value in latest.contributions.items() if name in visible_names}
    latest_sites = {}
    for step in steps:
        for update in step.updates.all():
            if update.sites:
                latest_sites[update.participant.name] = update.sites
    tree = {"name": "cloud", "aggregation": task.strategy_name, "children": [
        {"name": p.name, "label": p.organization.name, "status": p.status, "status_label": p.get_status_display(),
         "children": latest_sites.get(p.name, []) if p.name in visible_names else []}
        for p in participants if p.joined_at is not None]}
    rejections = UpdateRejection.objects.filter(task=task)
    if not sees_all:
        rejections = rejections.filter(claimed_participant__in=visible_names)
    return {
        "task": task.pk, "status": task.status, "status_label": task.get_status_display(),
        "status_message": task.status_message, "aggregation": task.strategy_name,
        "current_step": task.current_step, "planned_steps": task.planned_steps, "done_steps": done,
        "percent": round(100.0 * done / task.planned_steps, 1) if task.planned_steps else 0.0,
        "finished": not task.is_open,
        "participants": [{"name": p.name, "label": p.organization.name, "status": p.status,
                          "status_label": p.get_status_display(), "message": p.status_message,
                          "grant": p.grant.get_status_display()} for p in participants],
        "steps": step_rows,
        "global": series(versions),
        "local": local_series,
        "comparison": comparison,
        "layer_sizes": latest.layer_sizes if latest else [],
        "contributions": contributions,
        "versions": [{"number": v.number, "sha256": v.sha256, "round": v.lineage.get("round"),
                      "active": v.is_active, "final": v.is_final, "id": v.pk} for v in versions],
        "anomalies": [{"round": s["round"], **f} for s in step_rows for f in s["flags"]],
        "rejections": [{"step": r.step_index, "participant": r.claimed_participant, "reason": r.reason,
                        "message": r.message, "at": r.created_at.isoformat()} for r in rejections[:50]],
        "tree": tree,
    }


def participants_of(task: FederatedTask) -> QuerySet[TaskParticipant]:
    return task.participants.select_related("organization", "grant")
