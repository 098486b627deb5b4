"""Federated-learning pages: tasks (wizard, progress and charts), grant requests, the model registry,
batch labels and a press's predictions. Scoped reads come from the selectors (404 outside the user's
scope); actions are checked by the services (403 on a visible object)."""
from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from devices.models import Press, SensorBatch
from portal.views import apply_form_errors

from . import selectors, services
from .forms import BatchLabelForm, GrantAcceptForm, ReasonForm, TaskForm
from .models import BatchLabel, DataUseGrant, DatasetKind, FederatedTask, ModelVersion, TaskParticipant


def _plotly_url() -> str:
    from health.views import plotly_js_url

    return plotly_js_url()


def _task_or_404(request, pk) -> FederatedTask:
    try:
        return selectors.task_get(user=request.user, pk=pk)
    except FederatedTask.DoesNotExist as exc:
        raise Http404 from exc


def _grant_or_404(request, pk) -> DataUseGrant:
    try:
        return selectors.grant_get(user=request.user, pk=pk)
    except DataUseGrant.DoesNotExist as exc:
        raise Http404 from exc


def _version_or_404(request, pk) -> ModelVersion:
    try:
        return selectors.version_get(user=request.user, pk=pk)
    except ModelVersion.DoesNotExist as exc:
        raise Http404 from exc


def _press_or_404(request, pk) -> Press:
    from devices.selectors import press_health_list

    press = press_health_list(user=request.user).select_related("organization").filter(pk=pk).first()
    if press is None:
        raise Http404
    return press


@login_required
def task_list_view(request):
    tasks = Paginator(selectors.task_list(user=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "federation/task_list.html", {
        "tasks": tasks, "inbox": selectors.grant_inbox(user=request.user),
        "grants": selectors.grant_list(user=request.user).exclude(status=DataUseGrant.Status.PENDING)[:20],
        "can_create": services.is_acting_member(request.user),
        "is_manager": request.user.role == "enterprise_manager"})


@login_required
def task_create_view(request):
    if not services.is_acting_member(request.user):
        raise PermissionDenied
    form = TaskForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            task = services.task_create(actor=request.user, **form.service_kwargs())
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            messages.success(request, _("Task created; each enterprise got a data-use request."))
            return redirect("federation:task_detail", pk=task.pk)
    return render(request, "federation/task_form.html", {"form": form})


@login_required
def task_detail_view(request, pk: int):
    task = _task_or_404(request, pk)
    progress = selectors.task_progress(user=request.user, task=task)
    can_manage = request.user.has_perm(services.TASK_MANAGE, task)
    grants = selectors.grant_list(user=request.user).filter(task=task.compare_of or task)
    return render(request, "federation/task_detail.html", {
        "task": task, "progress": progress, "progress_json": json.dumps(progress),
        "participants": selectors.participants_of(task), "can_manage": can_manage and task.is_open,
        "can_start": can_manage and task.status == FederatedTask.Status.AWAITING_GRANTS,
        "grants": grants, "versions": task.versions.defer("weights", "loo_weights").order_by("-number"),
        "twin": task.comparisons.first() or task.compare_of, "reason_form": ReasonForm(),
        "progress_url": reverse("federatedtask-progress", args=[task.pk]), "plotly_url": _plotly_url()})


def _act(request, call, success: str, target):
    try:
        call()
        messages.success(request, success)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(target)


@login_required
@require_POST
def task_cancel_view(request, pk: int):
    task = _task_or_404(request, pk)
    if not request.user.has_perm(services.TASK_MANAGE, task):
        raise PermissionDenied
    return _act(request, lambda: services.task_cancel(actor=request.user, task=task,
                                                       reason=request.POST.get("reason", "")),
                _("The task is cancelled."), reverse("federation:task_detail", args=[task.pk]))


@login_required
@require_POST
def task_start_view(request, pk: int):
    task = _task_or_404(request, pk)
    if not request.user.has_perm(services.TASK_MANAGE, task):
        raise PermissionDenied
    return _act(request, lambda: services.task_start(actor=request.user, task=task),
                _("The task started with the enterprises that accepted."),
                reverse("federation:task_detail", args=[task.pk]))


@login_required
@require_POST
def participant_remove_view(request, pk: int, participant_id: int):
    task = _task_or_404(request, pk)
    participant = TaskParticipant.objects.filter(pk=participant_id, task=task).first()
    if participant is None:
        raise Http404
    if not request.user.has_perm(services.TASK_MANAGE, task):
        raise PermissionDenied
    return _act(request, lambda: services.participant_remove(actor=request.user, participant=participant,
                                                              reason=request.POST.get("reason", "")),
                _("The enterprise no longer takes part."), reverse("federation:task_detail", args=[task.pk]))


@login_required
def grant_detail_view(request, pk: int):
    grant = _grant_or_404(request, pk)
    can_decide = request.user.has_perm(services.GRANT_DECIDE, grant)
    accept_form = None
    if can_decide and grant.status == "pending":
        from .tabular_forms import GrantDatasetsForm

        tabular = grant.task.dataset_kind != DatasetKind.PRESS_HEALTH
        accept_form = GrantDatasetsForm(grant=grant) if tabular else GrantAcceptForm(grant=grant)
    return render(request, "federation/grant_detail.html", {
        "grant": grant, "can_decide": can_decide, "accept_form": accept_form,
        "reason_form": ReasonForm(), "live": grant.is_live(),
        "task_visible": selectors.task_list(user=request.user).filter(pk=grant.task_id).exists()})


@login_required
@require_POST
def grant_accept_view(request, pk: int):
    grant = _grant_or_404(request, pk)
    if not request.user.has_perm(services.GRANT_DECIDE, grant):
        raise PermissionDenied
    if grant.task.dataset_kind != DatasetKind.PRESS_HEALTH:
        from .tabular_views import grant_datasets_accept

        datasets = grant_datasets_accept(request, grant)
        if datasets is None:
            return redirect("federation:grant_detail", pk=grant.pk)
        return _act(request, lambda: services.grant_accept(actor=request.user, grant=grant, datasets=datasets),
                    _("Accepted: the task may train on the chosen uploads until you revoke or the grant expires."),
                    reverse("federation:grant_detail", args=[grant.pk]))
    form = GrantAcceptForm(request.POST, grant=grant)
    if not form.is_valid():
        messages.error(request, _("Choose at least one of your presses."))
        return redirect("federation:grant_detail", pk=grant.pk)
    return _act(request, lambda: services.grant_accept(actor=request.user, grant=grant,
                                                        presses=list(form.cleaned_data["presses"])),
                _("Accepted: the task may train on the chosen presses' data until you revoke or the grant expires."),
                reverse("federation:grant_detail", args=[grant.pk]))


@login_required
@require_POST
def grant_decline_view(request, pk: int):
    grant = _grant_or_404(request, pk)
    if not request.user.has_perm(services.GRANT_DECIDE, grant):
        raise PermissionDenied
    return _act(request, lambda: services.grant_decline(actor=request.user, grant=grant,
                                                         reason=request.POST.get("reason", "")),
                _("Declined."), reverse("federation:grant_detail", args=[grant.pk]))


@login_required
@require_POST
def grant_revoke_view(request, pk: int):
    grant = _grant_or_404(request, pk)
    if not request.user.has_perm(services.GRANT_DECIDE, grant):
        raise PermissionDenied
    return _act(request, lambda: services.grant_revoke(actor=request.user, grant=grant,
                                                        reason=request.POST.get("reason", "")),
                _("Revoked: no further step reads your data."), reverse("federation:grant_detail", args=[grant.pk]))


@login_required
def model_list_view(request):
    versions = Paginator(selectors.version_list(user=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "federation/model_list.html", {"versions": versions})


@login_required
def model_detail_view(request, pk: int):
    version = _version_or_404(request, pk)
    return render(request, "federation/model_detail.html", {
        "version": version, "can_activate": request.user.has_perm(services.TASK_MANAGE, version.task)
        and not version.is_active and version.task.dataset_kind == DatasetKind.PRESS_HEALTH,
        "lineage": list(_ancestors(request.user, version)),
        "evaluations": version.evaluations.select_related("organization")
        if selectors.is_initiator(request.user, version.task) else []})


def _ancestors(user, version):
    visible = set(selectors.version_list(user=user).values_list("pk", flat=True))
    current = version.parent
    while current is not None and current.pk in visible:
        yield current
        current = current.parent


@login_required
@require_POST
def model_activate_view(request, pk: int):
    version = _version_or_404(request, pk)
    if not request.user.has_perm(services.TASK_MANAGE, version.task):
        raise PermissionDenied
    return _act(request, lambda: services.model_version_activate(actor=request.user, version=version),
                _("This version now scores new health runs."), reverse("federation:model_detail", args=[version.pk]))


@login_required
def press_predictions_view(request, pk: int):
    press = _press_or_404(request, pk)
    predictions = selectors.prediction_list(user=request.user, press=press)
    history = [{"t": p.recorded_at.isoformat(), "risk": p.risk, "confidence": p.confidence, "class": p.class_name,
                "version": p.version.sha256[:10], "channel": p.channel}
               for p in predictions.order_by("recorded_at")[:2000]]
    return render(request, "federation/press_predictions.html", {
        "press": press, "latest": selectors.latest_prediction(press, user=request.user),
        "predictions": Paginator(predictions, 50).get_page(request.GET.get("page")),
        "history": history, "plotly_url": _plotly_url(),
        "can_rescore": request.user.has_perm("devices.change_press", press),
        "active_versions": services.applicable_versions(press)})


@login_required
@require_POST
def press_rescore_view(request, pk: int):
    press = _press_or_404(request, pk)
    if not request.user.has_perm("devices.change_press", press):
        raise PermissionDenied
    return _act(request, lambda: services.press_rescore(actor=request.user, press=press),
                _("The press's history is being re-scored on your worker."),
                reverse("federation:press_predictions", args=[press.pk]))


@login_required
def label_list_view(request):
    from devices.selectors import batch_list

    batches = batch_list(user=request.user).select_related("press", "federation_label")
    press_id = request.GET.get("press")
    if press_id and press_id.isdigit():
        batches = batches.filter(press_id=int(press_id))
    return render(request, "federation/labels.html", {
        "batches": Paginator(batches, 50).get_page(request.GET.get("page")),
        "conditions": BatchLabel.Condition.choices, "press_id": press_id})


@login_required
@require_POST
def batch_label_view(request, pk: int):
    from devices.selectors import batch_get

    try:
        batch = batch_get(user=request.user, pk=pk)
    except SensorBatch.DoesNotExist as exc:
        raise Http404 from exc
    if not request.user.has_perm("devices.change_press", batch.press):
        raise PermissionDenied
    form = BatchLabelForm(request.POST)
    target = request.POST.get("next") or reverse("federation:label_list")
    if not target.startswith("/"):
        target = reverse("federation:label_list")
    if not form.is_valid():
        messages.error(request, _("Choose a condition."))
        return redirect(target)
    return _act(request, lambda: services.batch_label_set(actor=request.user, batch=batch,
                                                           condition=form.cleaned_data["condition"],
                                                           note=form.cleaned_data["note"]),
                _("Label saved."), target)
