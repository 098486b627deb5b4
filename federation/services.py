"""Write-side services of federated learning (each keyword-only, transactional and audited).

Orchestration of a task (the aggregator's side; the participant's side is ``federation.participant``):

1. ``task_create`` records the task, one ``DataUseGrant`` per enterprise and the participants; a
   ``compare`` task gets a FedAvg twin that shares the grants.
2. ``grant_accept`` / ``grant_decline``; when no grant is pending and enough are accepted (or the
   initiator starts it with ``task_start``) the task begins: step 0 is created and dispatched.
3. ``step_dispatch`` (``aggregation`` queue) rebuilds the strategy state of the step, asks the core
   strategy for instructions, upserts one ``ModelUpdate`` per expected participant (key: step,
   participant) and sends each a local-train message on its own queue, with the straggler checks
   scheduled at the warning time and the deadline (``default`` queue).
4. Each participant answers through ``update_submit`` (the REST endpoint and the in-portal worker use
   it alike): the envelope is verified (registered signing key, task/step/participant binding,
   freshness, shapes, finite values) under a row lock on the step; refusals are recorded and audited.
   The update that completes the set, or the deadline, moves the step to ``aggregating`` and enqueues
   ``step_aggregate`` exactly once (the status change happens under the same lock).
5. ``step_aggregate`` opens the envelopes in memory, runs the strategy's aggregation, records any new
   global model version (with leave-one-out variants for contributions) and either finishes the task
   or persists the next step's state (encrypted) and dispatches that step in the same transaction.
   Evaluations of a new version run on the evaluators' own queues and come back through
   ``evaluation_submit``.

Lock order (to stay deadlock-free with the audit chain head, which ``record`` takes last): grant, tasks
(id order), steps, versions; every service takes its row locks before its first audit event.

Every step is idempotent (status checks under row locks, upserts), so redelivered or re-enqueued
messages (``tasks_resume``, the ``federation_resume`` command) never do completed work twice.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
import warnings
from datetime import timedelta

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.permissions import grant as grant_perms
from accounts.roles import OrganizationKind, Role
from audit.services import record
from portal.celery import AGGREGATION_QUEUE, DEFAULT_QUEUE

from . import crypto, data
from .core import envelope as core_envelope
from .core.messages import TrainingConfig
from .core.persistence import decode_state, encode_state
from .core.privacy import PrivacyBudgetExceeded, PrivacySettings, epsilon_spent
from .core.robust import RobustSettings
from .core.specs import MLPSpec, spec_from_dict
from .core.strategies import FedAvg, FedMA, FedMAState, RobustFedAvg, Strategy, strategy_from_dict
from .models import (Aggregation, BatchLabel, DataUseGrant, DatasetKind, Evaluation, FederatedTask, LabelSource,
                     ModelKind, ModelUpdate, ModelVersion, Prediction, TaskParticipant, TaskStep, UpdateRejection)
from .queueing import send

logger = logging.getLogger(__name__)

ACTING_ROLES = {OrganizationKind.ENTERPRISE: Role.ENTERPRISE_MANAGER, OrganizationKind.LENDER: Role.LOAN_OFFICER}
TASK_VIEW = "federation.view_federatedtask"
TASK_MANAGE = "federation.manage_federatedtask"
GRANT_VIEW = "federation.view_datausegrant"
GRANT_DECIDE = "federation.decide_datausegrant"
DEFAULT_CLIP_NORM = 1.0
MAX_HIDDEN_UNITS = 256


def _actor_label(actor) -> str:
    if isinstance(actor, str):
        return actor
    return f"user:{actor.get_username()}"


def _actor_org_slug(actor) -> str | None:
    if isinstance(actor, str):
        kind, _sep, slug = actor.partition(":")
        return slug if kind == "worker" else None
    return actor.organization.slug if actor.organization_id else None


def _acting_role(organization: Organization) -> str | None:
    return ACTING_ROLES.get(organization.kind)


def is_acting_member(user: User) -> bool:
    """Whether ``user`` is the role that starts tasks and decides grants for an active participant
    organisation (an enterprise's manager, a lender's loan officer)."""
    org = user.organization
    return org is not None and org.is_active and _acting_role(org) == user.role


def _require_manage(actor: User, task: FederatedTask) -> None:
    if not actor.has_perm(TASK_MANAGE, task):
        raise PermissionDenied(_("Only the task's initiator can do this."))


# --- Batch labels ---------------------------------------------------------------------------------

@transaction.atomic
def batch_label_set(*, actor: User, batch, condition: str, note: str = "") -> BatchLabel:
    """Set (or change) the condition an enterprise manager knows a batch was recorded in."""
    if not actor.has_perm("devices.change_press", batch.press):
        raise PermissionDenied(_("Only the enterprise's managers can label its batches."))
    if condition not in BatchLabel.Condition.values:
        raise ValidationError({"condition": _("Unknown condition.")})
    label = BatchLabel.objects.select_for_update().filter(batch=batch).first()
    before = {"condition": label.condition, "note": label.note} if label else None
    if label is None:
        label = BatchLabel(batch=batch, organization_id=batch.organization_id)
    label.condition, label.note, label.set_by = condition, note.strip()[:300], actor
    label.save()
    record(actor=actor, action="batch_label.set", obj=batch, organization=batch.organization, before=before,
           after={"condition": condition, "note": label.note})
    return label


# --- Task creation and grants --------------------------------------------------------------------

def _noise_for_budget(epsilon: float, delta: float, steps: int) -> float:
    """The smallest Gaussian noise multiplier (to 2 %) whose RDP accounting keeps ``steps`` releases
    within ``(epsilon, delta)``; raises ValidationError when no sensible multiplier does."""
    with warnings.catch_warnings():  # opacus warns when the best RDP order is at the edge of its range
        warnings.simplefilter("ignore", UserWarning)
        return _noise_search(epsilon, delta, steps)


def _noise_search(epsilon: float, delta: float, steps: int) -> float:
    low, high = 0.3, 200.0
    if epsilon_spent(PrivacySettings(DEFAULT_CLIP_NORM, high, epsilon, delta), steps) > epsilon:
        raise ValidationError({"epsilon": _("This privacy budget is too small for %(steps)d rounds; raise ε or "
                                            "run fewer rounds.") % {"steps": steps}})
    if epsilon_spent(PrivacySettings(DEFAULT_CLIP_NORM, low, epsilon, delta), steps) <= epsilon:
        return low
    while high / low > 1.02:
        middle = math.sqrt(low * high)
        if epsilon_spent(PrivacySettings(DEFAULT_CLIP_NORM, middle, epsilon, delta), steps) <= epsilon:
            high = middle
        else:
            low = middle
    return round(high, 4)


def _build_strategy(*, aggregation: str, rounds: int, training: TrainingConfig, privacy, seed: int) -> Strategy:
    if aggregation == Aggregation.FEDMA:
        # restart="global": participants continue each pass from the whole global model, which converged
        # higher on non-IID data in bench/fedma_quality.py than the paper's own-size restart.
        return FedMA(passes=rounds, training=training, privacy=privacy, seed=seed, restart="global")
    if aggregation == Aggregation.ROBUST_FEDAVG:
        return RobustFedAvg(rounds=rounds, robust=RobustSettings(), training=training, privacy=privacy, seed=seed)
    return FedAvg(rounds=rounds, training=training, privacy=privacy, seed=seed)


def planned_steps(aggregation: str, rounds: int, spec) -> int:
    """Communication rounds of a task: FedMA runs one step per layer and pass."""
    return rounds * spec.layer_count if aggregation == Aggregation.FEDMA else rounds


def strategy_for(task: FederatedTask) -> Strategy:
    return strategy_from_dict(task.strategy_config)


def _model_description(model_kind: str, aggregation: str, rounds: int, spec: MLPSpec, compare: bool) -> str:
    text = _("%(model)s; network %(layers)s over health features; %(aggregation)s; rounds: %(rounds)d") % {
        "model": ModelKind(model_kind).label,
        "layers": " → ".join(str(n) for n in (spec.input_dim, *spec.hidden_sizes, spec.num_classes)),
        "aggregation": Aggregation(aggregation).label, "rounds": rounds}
    if compare:
        text += _("; compared with a FedAvg run on the same data")
    return text[:500]


def _grant_task_perms(task: FederatedTask, enterprises: list[Organization]) -> None:
    grant_perms([TASK_VIEW], task, task.initiator)
    grant_perms([TASK_MANAGE], task, task.initiator, roles=[_acting_role(task.initiator)])
    for enterprise in enterprises:
        if enterprise.pk != task.initiator_id:
            grant_perms([TASK_VIEW], task, enterprise)


@transaction.atomic
def task_create(*, actor: User, purpose: str, model_kind: str, enterprises: list[Organization],
                label_source: str, presses=(), aggregation: str = Aggregation.FEDMA, rounds: int = 2,
                local_epochs: int = 5, hidden_sizes=(16,), learning_rate: float = 0.02, batch_size: int = 16,
                epsilon: float | None = None, delta: float | None = None, min_participants: int = 2,
                straggler_warning_s: int = 300, straggler_timeout_s: int = 900, hierarchical: bool = False,
                compare: bool = False, period_start=None, period_end=None, grant_expires_at=None,
                seed: int = 0, validation_fraction: float = 0.25, window_samples: int = 2048,
                max_windows_per_batch: int = 32, activate_on_finish: bool = True) -> FederatedTask:
    """Create a federated task and send every named enterprise a data-use grant request."""
    from devices.selectors import press_health_list

    org = actor.organization
    if org is None or not org.is_active or _acting_role(org) != actor.role:
        raise PermissionDenied(_("Only loan officers and enterprise managers can start federated tasks."))
    errors = {}
    purpose = (purpose or "").strip()
    if not purpose:
        errors["purpose"] = _("Say what the model is for.")
    if model_kind not in ModelKind.values:
        errors["model_kind"] = _("Choose a model.")
    if label_source not in LabelSource.values:
        errors["label_source"] = _("Choose a label source.")
    elif model_kind == ModelKind.FAULT_STATE and label_source == LabelSource.HEALTH_LEVEL:
        errors["label_source"] = _("Health levels do not say which fault a press has: a fault-state model needs "
                                   "batch labels.")
    if aggregation not in Aggregation.values:
        errors["aggregation"] = _("Choose an aggregation.")
    enterprises = list(dict.fromkeys(enterprises))
    if not enterprises:
        errors["enterprises"] = _("Name at least one enterprise.")
    for enterprise in enterprises:
        if enterprise.kind != OrganizationKind.ENTERPRISE or not enterprise.is_active:
            errors["enterprises"] = _("%(name)s is not an active enterprise.") % {"name": enterprise.name}
    if not 1 <= int(min_participants) <= max(len(enterprises), 1):
        errors["min_participants"] = _("The minimum must lie between 1 and the number of enterprises.")
    if not 1 <= int(rounds) <= 50:
        errors["rounds"] = _("Run between 1 and 50 rounds.")
    if not 1 <= int(local_epochs) <= 100:
        errors["local_epochs"] = _("Use between 1 and 100 local epochs.")
    hidden = tuple(int(h) for h in hidden_sizes)
    if not 1 <= len(hidden) <= 3 or any(not 1 <= h <= MAX_HIDDEN_UNITS for h in hidden):
        errors["hidden_sizes"] = _("Use 1 to 3 hidden layers of 1 to %(max)d units.") % {"max": MAX_HIDDEN_UNITS}
    if not (0 < float(learning_rate) <= 1) or not 1 <= int(batch_size) <= 4096:
        errors["learning_rate"] = _("The learning rate must lie in (0, 1] and the batch size in 1..4096.")
    if (epsilon is None) != (delta is None):
        errors["epsilon"] = _("Give both ε and δ for differential privacy, or neither.")
    elif epsilon is not None and not (float(epsilon) > 0 and 0 < float(delta) < 1):
        errors["epsilon"] = _("ε must be positive and δ between 0 and 1.")
    if not 2 <= int(straggler_timeout_s) <= 7 * 86400 or not 1 <= int(straggler_warning_s) < int(straggler_timeout_s):
        errors["straggler_timeout_s"] = _("The deadline must lie between 2 s and 7 days, after the warning.")
    if period_start and period_end and period_start > period_end:
        errors["period_end"] = _("The period ends before it starts.")
    if not 0 < float(validation_fraction) < 1:
        errors["validation_fraction"] = _("The hold-out share must lie between 0 and 1.")
    if compare and aggregation != Aggregation.FEDMA:
        errors["compare"] = _("The comparison runs FedAvg next to a FedMA task; choose FedMA.")
    now = timezone.now()
    grant_expires_at = grant_expires_at or now + timedelta(days=30)
    if grant_expires_at <= now:
        errors["grant_expires_at"] = _("The grants must expire in the future.")
    presses = list(presses)
    visible = set(press_health_list(user=actor).values_list("pk", flat=True))
    enterprise_ids = {e.pk for e in enterprises}
    for press in presses:
        if press.pk not in visible or press.organization_id not in enterprise_ids:
            errors["presses"] = _("Choose presses you can see, of the enterprises you name.")
    if errors:
        raise ValidationError(errors)

    feature_config = data.default_feature_config(window_samples=window_samples,
                                                 max_windows_per_batch=max_windows_per_batch)
    spec = MLPSpec(input_dim=data.feature_count(feature_config), hidden_sizes=hidden,
                   num_classes=len(data.class_names(model_kind)))
    training = TrainingConfig(epochs=int(local_epochs), learning_rate=float(learning_rate), batch_size=int(batch_size))
    steps = planned_steps(aggregation, int(rounds), spec)
    twin_steps = steps if compare else 0
    privacy = twin_privacy = None
    if epsilon is not None:
        # With a comparison twin the same data is released twice: the budget is split between the two
        # tasks in proportion to their rounds (basic composition), delta in halves.
        share = steps / (steps + twin_steps)
        task_epsilon, task_delta = float(epsilon) * share, float(delta) / (2 if compare else 1)
        noise = _noise_for_budget(task_epsilon, task_delta, steps)
        privacy = PrivacySettings(DEFAULT_CLIP_NORM, noise, task_epsilon, task_delta)
        if compare:
            twin_epsilon = float(epsilon) - task_epsilon
            twin_privacy = PrivacySettings(DEFAULT_CLIP_NORM, _noise_for_budget(twin_epsilon, task_delta, twin_steps),
                                           twin_epsilon, task_delta)
    strategy = _build_strategy(aggregation=aggregation, rounds=int(rounds), training=training, privacy=privacy,
                               seed=int(seed))
    common = dict(initiator=org, created_by=actor, purpose=purpose[:500], model_kind=model_kind, spec=spec.to_dict(),
                  local_epochs=int(local_epochs), label_source=label_source, period_start=period_start,
                  period_end=period_end, epsilon=epsilon, delta=delta, min_participants=int(min_participants),
                  straggler_warning_s=int(straggler_warning_s), straggler_timeout_s=int(straggler_timeout_s),
                  hierarchical=bool(hierarchical), feature_config=feature_config,
                  validation_fraction=float(validation_fraction), seed=int(seed), grant_expires_at=grant_expires_at)
    task = FederatedTask.objects.create(strategy_name=aggregation, strategy_config=strategy.to_dict(),
                                        rounds=int(rounds), planned_steps=steps,
                                        activate_on_finish=activate_on_finish, **common)
    tasks = [task]
    if compare:
        twin_strategy = _build_strategy(aggregation=Aggregation.FEDAVG, rounds=steps, training=training,
                                        privacy=twin_privacy, seed=int(seed))
        tasks.append(FederatedTask.objects.create(
            strategy_name=Aggregation.FEDAVG, strategy_config=twin_strategy.to_dict(), rounds=steps,
            planned_steps=steps, compare_of=task, activate_on_finish=False,
            **{**common, "purpose": (_("FedAvg comparison: %(purpose)s") % {"purpose": purpose})[:500]}))
    description = _model_description(model_kind, aggregation, int(rounds), spec, compare)
    for enterprise in enterprises:
        grant = DataUseGrant.objects.create(
            task=task, organization=enterprise, requester=org, requested_by=actor, purpose=purpose[:500],
            model_description=description, period_start=period_start, period_end=period_end, epsilon=epsilon,
            delta=delta, expires_at=grant_expires_at)
        grant.requested_presses.set([p for p in presses if p.organization_id == enterprise.pk])
        grant_perms([GRANT_VIEW], grant, enterprise)
        grant_perms([GRANT_VIEW], grant, org)
        grant_perms([GRANT_DECIDE], grant, enterprise, roles=[Role.ENTERPRISE_MANAGER])
        for each in tasks:
            TaskParticipant.objects.create(task=each, organization=enterprise, grant=grant)
        record(actor=actor, action="federation.grant.request", obj=grant, organization=enterprise,
               after=_grant_state(grant))
    for each in tasks:
        _grant_task_perms(each, enterprises)
        record(actor=actor, action="federation.task.create", obj=each, organization=org, after=_task_state(each),
               payload={"enterprises": [e.slug for e in enterprises], "compare_of": each.compare_of_id,
                        "noise_multiplier": (each.strategy_config.get("privacy") or {}).get("noise_multiplier")})
    return task


def _task_state(task: FederatedTask) -> dict:
    return {"status": task.status, "purpose": task.purpose, "model_kind": task.model_kind, "spec": task.spec,
            "strategy": task.strategy_config, "min_participants": task.min_participants,
            "label_source": task.label_source, "hierarchical": task.hierarchical,
            "period": [str(task.period_start or ""), str(task.period_end or "")],
            "privacy": [task.epsilon, task.delta], "current_step": task.current_step}


def _grant_state(grant: DataUseGrant) -> dict:
    state = {"status": grant.status, "task": grant.task_id, "purpose": grant.purpose, "model": grant.model_description,
            "requested_presses": sorted(grant.requested_presses.values_list("pk", flat=True)),
            "presses": sorted(grant.presses.values_list("pk", flat=True)),
            "period": [str(grant.period_start or ""), str(grant.period_end or "")],
            "privacy": [grant.epsilon, grant.delta], "expires_at": grant.expires_at.isoformat()}
    if grant.task.dataset_kind != DatasetKind.PRESS_HEALTH:
        state["datasets"] = sorted(str(u) for u in grant.datasets.values_list("uuid", flat=True))
    return state


def _tasks_of_grant(grant: DataUseGrant) -> list[FederatedTask]:
    return list(FederatedTask.objects.filter(Q(pk=grant.task_id) | Q(compare_of_id=grant.task_id)).order_by("pk"))


def _lock_tasks(primary_id: int) -> list[FederatedTask]:
    """Lock a task and its comparison twin (in id order) before anything else of theirs.

    Lock order in this module: grant, tasks, steps, versions; the audit chain head (taken by ``record``)
    comes last, so every service takes its row locks before its first audit event."""
    return list(FederatedTask.objects.select_for_update().filter(Q(pk=primary_id) | Q(compare_of_id=primary_id))
                .order_by("pk"))


def _lock_grant(actor: User, grant: DataUseGrant) -> DataUseGrant:
    grant = DataUseGrant.objects.select_for_update(of=("self",)).select_related("task", "organization").get(pk=grant.pk)
    if not actor.has_perm(GRANT_DECIDE, grant):
        raise PermissionDenied(_("Only the enterprise's managers decide on its data."))
    _lock_tasks(grant.task_id)
    return grant


@transaction.atomic
def grant_accept(*, actor: User, grant: DataUseGrant, presses=None, datasets=None) -> DataUseGrant:
    """Accept a grant request for ``presses`` (default: the requested ones, else all the enterprise's
    presses in service); for a tabular task, for ``datasets`` (its own uploads of the task's kind, checked
    against the task's schema: ``federation.tabular.grant_datasets_check``)."""
    from devices.models import Press

    grant = _lock_grant(actor, grant)
    if grant.status != DataUseGrant.Status.PENDING:
        raise ValidationError(_("This request was already decided."))
    if grant.expires_at <= timezone.now():
        raise ValidationError(_("This request has expired."))
    if grant.task.status != FederatedTask.Status.AWAITING_GRANTS:
        raise ValidationError(_("The task no longer waits for grants."))
    chosen_datasets = None
    if grant.task.dataset_kind != DatasetKind.PRESS_HEALTH:
        from .tabular import grant_datasets_check

        chosen, chosen_datasets = [], grant_datasets_check(grant=grant, datasets=datasets)
    else:
        own = Press.objects.filter(organization_id=grant.organization_id)
        if presses is None:
            chosen = list(grant.requested_presses.all()) or list(own.filter(status=Press.Status.ACTIVE))
        else:
            chosen = list(presses)
            if any(p.organization_id != grant.organization_id for p in chosen):
                raise ValidationError({"presses": _("Choose presses of your own enterprise.")})
        if not chosen:
            raise ValidationError({"presses": _("Choose at least one press whose data the task may use.")})
    before = _grant_state(grant)
    grant.status, grant.decided_by, grant.decided_at = DataUseGrant.Status.ACCEPTED, actor, timezone.now()
    grant.save(update_fields=["status", "decided_by", "decided_at"])
    grant.presses.set(chosen)
    if chosen_datasets is not None:
        grant.datasets.set(chosen_datasets)
    now = timezone.now()
    grant.participants.filter(status=TaskParticipant.Status.INVITED).update(
        status=TaskParticipant.Status.ACTIVE, joined_at=now)
    record(actor=actor, action="federation.grant.accept", obj=grant, organization=grant.organization, before=before,
           after=_grant_state(grant))
    for task in _tasks_of_grant(grant):
        _start_if_ready(task)
    return grant


@transaction.atomic
def grant_decline(*, actor: User, grant: DataUseGrant, reason: str = "") -> DataUseGrant:
    grant = _lock_grant(actor, grant)
    if grant.status != DataUseGrant.Status.PENDING:
        raise ValidationError(_("This request was already decided."))
    before = _grant_state(grant)
    grant.status, grant.decided_by, grant.decided_at = DataUseGrant.Status.DECLINED, actor, timezone.now()
    grant.reason = reason.strip()[:500]
    grant.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    grant.participants.update(status=TaskParticipant.Status.DECLINED, status_message=grant.reason)
    record(actor=actor, action="federation.grant.decline", obj=grant, organization=grant.organization, before=before,
           after=_grant_state(grant), payload={"reason": grant.reason})
    for task in _tasks_of_grant(grant):
        _start_if_ready(task)
    return grant


@transaction.atomic
def grant_revoke(*, actor: User, grant: DataUseGrant, reason: str = "") -> DataUseGrant:
    """Withdraw an accepted grant: no further step of its tasks reads the enterprise's data."""
    grant = _lock_grant(actor, grant)
    if grant.status != DataUseGrant.Status.ACCEPTED:
        raise ValidationError(_("Only an accepted grant can be revoked."))
    before = _grant_state(grant)
    grant.status, grant.revoked_by, grant.revoked_at = DataUseGrant.Status.REVOKED, actor, timezone.now()
    grant.reason = reason.strip()[:500]
    grant.save(update_fields=["status", "revoked_by", "revoked_at", "reason"])
    record(actor=actor, action="federation.grant.revoke", obj=grant, organization=grant.organization, before=before,
           after=_grant_state(grant), payload={"reason": grant.reason})
    for participant in grant.participants.select_related("task", "organization").filter(
            status=TaskParticipant.Status.ACTIVE):
        _participant_stop(participant, code="grant_revoked", actor=actor,
                          message=_("%(org)s revoked its data-use grant.") % {"org": participant.organization.name})
    return grant


def grant_lapse_check(participant: TaskParticipant) -> bool:
    """True when the participant's grant is live; otherwise stop the participant (audited) and say so."""
    grant = DataUseGrant.objects.get(pk=participant.grant_id)
    if grant.is_live():
        return True
    with transaction.atomic():
        FederatedTask.objects.select_for_update().get(pk=participant.task_id)
        locked = TaskParticipant.objects.select_for_update(of=("self",)).select_related("task", "organization").get(pk=participant.pk)
        if locked.status == TaskParticipant.Status.ACTIVE:
            expired = grant.status == DataUseGrant.Status.ACCEPTED and grant.expires_at <= timezone.now()
            _participant_stop(locked, code="grant_expired" if expired else "grant_not_live", actor=None,
                              message=(_("The data-use grant of %(org)s expired.") if expired else
                                       _("%(org)s has no live data-use grant.")) % {"org": locked.organization.name})
    return False


def participant_no_data(*, participant: TaskParticipant) -> None:
    """A participant's worker found no labelled windows in what it granted: it stops (audited)."""
    with transaction.atomic():
        FederatedTask.objects.select_for_update().get(pk=participant.task_id)
        locked = TaskParticipant.objects.select_for_update(of=("self",)).select_related("task", "organization").get(
            pk=participant.pk)
        if locked.status == TaskParticipant.Status.ACTIVE:
            _participant_stop(locked, code="no_data", actor=f"worker:{locked.name}",
                              message=_("%(org)s has no labelled data in the granted presses and period.")
                              % {"org": locked.organization.name})


def _start_if_ready(task: FederatedTask) -> None:
    task = FederatedTask.objects.select_for_update().get(pk=task.pk)
    if task.status != FederatedTask.Status.AWAITING_GRANTS:
        return
    statuses = list(task.participants.values_list("status", flat=True))
    accepted = statuses.count(TaskParticipant.Status.ACTIVE)
    if TaskParticipant.Status.INVITED in statuses:
        return
    if accepted >= task.min_participants:
        _task_begin(task, actor=None)
    else:
        _task_fail(task, _("Only %(accepted)d enterprises accepted; the task needs %(needed)d.")
                   % {"accepted": accepted, "needed": task.min_participants})


@transaction.atomic
def task_start(*, actor: User, task: FederatedTask) -> FederatedTask:
    """Start now with the enterprises that accepted; open requests are withdrawn (task and twin)."""
    _require_manage(actor, task)
    primary = task.compare_of or task
    for each in _lock_tasks(primary.pk):
        if each.status != FederatedTask.Status.AWAITING_GRANTS:
            raise ValidationError(_("The task is not waiting for grants."))
        if each.participants.filter(status=TaskParticipant.Status.ACTIVE).count() < each.min_participants:
            raise ValidationError(_("Fewer enterprises than the minimum have accepted so far."))
    for grant in primary.grants.filter(status=DataUseGrant.Status.PENDING):
        grant.status = DataUseGrant.Status.WITHDRAWN
        grant.save(update_fields=["status"])
        grant.participants.update(status=TaskParticipant.Status.WITHDRAWN)
        record(actor=actor, action="federation.grant.withdraw", obj=grant, organization=grant.organization,
               after=_grant_state(grant))
    for each in [primary, *primary.comparisons.all()]:
        _task_begin(FederatedTask.objects.select_for_update().get(pk=each.pk), actor=actor)
    return FederatedTask.objects.get(pk=task.pk)


def _task_begin(task: FederatedTask, *, actor) -> None:
    task.status, task.started_at, task.current_step = FederatedTask.Status.RUNNING, timezone.now(), 0
    task.save(update_fields=["status", "started_at", "current_step"])
    TaskStep.objects.get_or_create(task=task, index=0)
    names = list(task.participants.filter(status=TaskParticipant.Status.ACTIVE).values_list("organization__slug", flat=True))
    record(actor=actor, action="federation.task.start", obj=task, organization=task.initiator,
           after=_task_state(task), payload={"participants": names})
    send("dispatch_step", queue=AGGREGATION_QUEUE, kwargs={"task_id": task.pk, "index": 0})


def _task_fail(task: FederatedTask, message: str) -> None:
    task.status, task.status_message, task.finished_at = FederatedTask.Status.FAILED, message[:500], timezone.now()
    task.save(update_fields=["status", "status_message", "finished_at"])
    TaskStep.objects.filter(task=task).exclude(status=TaskStep.Status.DONE).update(
        status=TaskStep.Status.FAILED, note=message[:500])
    ModelUpdate.objects.filter(step__task=task, status__in=[ModelUpdate.Status.PENDING, ModelUpdate.Status.WARNED]).update(
        status=ModelUpdate.Status.SKIPPED, note=message[:500])
    record(actor=None, action="federation.task.stop", obj=task, organization=task.initiator, after=_task_state(task),
           payload={"reason": message})


def _task_finish(task: FederatedTask, version: ModelVersion | None, message: str = "") -> None:
    task.status, task.finished_at = FederatedTask.Status.FINISHED, timezone.now()
    if message:  # otherwise keep what the task last said (e.g. that it continued without someone)
        task.status_message = message[:500]
    task.save(update_fields=["status", "finished_at", "status_message"])
    if version is None:
        version = task.versions.order_by("-number").first()
    if version is not None:
        version.is_final = True
        version.save(update_fields=["is_final"])
        if task.activate_on_finish:
            _activate(version, actor=None)
    record(actor=None, action="federation.task.finish", obj=task, organization=task.initiator,
           after=_task_state(task), payload={"final_version": version.sha256 if version else None,
                                             "message": message})


@transaction.atomic
def task_cancel(*, actor: User, task: FederatedTask, reason: str = "") -> FederatedTask:
    """Cancel a task that has not ended (and its comparison twin): open steps and requests are closed."""
    _require_manage(actor, task)
    _lock_tasks(task.compare_of_id or task.pk)
    task = FederatedTask.objects.get(pk=task.pk)
    if not task.is_open:
        raise ValidationError(_("Only a task that is waiting or running can be cancelled."))
    message = (reason.strip() or _("Cancelled by the initiator."))[:500]
    for each in [task, *task.comparisons.filter(status__in=[FederatedTask.Status.AWAITING_GRANTS,
                                                             FederatedTask.Status.RUNNING])]:
        each = FederatedTask.objects.select_for_update().get(pk=each.pk)
        before = _task_state(each)
        each.status, each.status_message, each.finished_at = FederatedTask.Status.CANCELLED, message, timezone.now()
        each.save(update_fields=["status", "status_message", "finished_at"])
        TaskStep.objects.filter(task=each).exclude(status=TaskStep.Status.DONE).update(
            status=TaskStep.Status.CANCELLED, note=message)
        ModelUpdate.objects.filter(step__task=each, status__in=[ModelUpdate.Status.PENDING, ModelUpdate.Status.WARNED]
                                   ).update(status=ModelUpdate.Status.SKIPPED, note=message)
        each.participants.filter(status=TaskParticipant.Status.INVITED).update(status=TaskParticipant.Status.WITHDRAWN)
        record(actor=actor, action="federation.task.cancel", obj=each, organization=each.initiator, before=before,
               after=_task_state(each), payload={"reason": message})
    if task.compare_of_id is None:
        for grant in task.grants.filter(status=DataUseGrant.Status.PENDING):
            grant.status = DataUseGrant.Status.WITHDRAWN
            grant.save(update_fields=["status"])
            record(actor=actor, action="federation.grant.withdraw", obj=grant, organization=grant.organization,
                   after=_grant_state(grant))
    return task


@transaction.atomic
def participant_remove(*, actor: User, participant: TaskParticipant, reason: str = "") -> TaskParticipant:
    """The initiator takes an enterprise out of a task (and its twin); the rest continue if enough remain."""
    task = participant.task
    _require_manage(actor, task)
    primary = task.compare_of or task
    grant = DataUseGrant.objects.select_for_update().get(pk=participant.grant_id)  # lock order: grant, tasks
    _lock_tasks(primary.pk)
    rows = TaskParticipant.objects.select_for_update(of=("self",)).select_related("task", "organization").filter(
        Q(task=primary) | Q(task__compare_of=primary), organization_id=participant.organization_id)
    message = (reason.strip() or _("Removed by the initiator."))[:500]
    changed = False
    for row in rows:
        if row.status == TaskParticipant.Status.ACTIVE and row.task.status == FederatedTask.Status.RUNNING:
            _participant_stop(row, code="removed", actor=actor, message=message, status=TaskParticipant.Status.REMOVED)
            changed = True
        elif row.status in (TaskParticipant.Status.ACTIVE, TaskParticipant.Status.INVITED):
            row.status, row.status_message, row.stopped_at = TaskParticipant.Status.REMOVED, message, timezone.now()
            row.save(update_fields=["status", "status_message", "stopped_at"])
            record(actor=actor, action="federation.participant.remove", obj=row.task, organization=row.task.initiator,
                   payload={"participant": row.name, "reason": message})
            changed = True
    if not changed:
        raise ValidationError(_("This enterprise no longer takes part."))
    if grant.status == DataUseGrant.Status.PENDING:
        grant.status = DataUseGrant.Status.WITHDRAWN
        grant.save(update_fields=["status"])
        record(actor=actor, action="federation.grant.withdraw", obj=grant, organization=grant.organization,
               after=_grant_state(grant))
    for each in [primary, *primary.comparisons.all()]:
        _start_if_ready(each)
    return TaskParticipant.objects.get(pk=participant.pk)


def _participant_stop(participant: TaskParticipant, *, code: str, message: str, actor,
                      status: str = TaskParticipant.Status.STOPPED, recheck_steps: bool = True) -> None:
    """Stop a participant's further steps; the task continues if it keeps its minimum, and says so.

    Lock order everywhere: the task row, then its step rows."""
    task = FederatedTask.objects.select_for_update().get(pk=participant.task_id)
    now = timezone.now()
    participant.status, participant.status_message, participant.stopped_at = status, message[:500], now
    participant.save(update_fields=["status", "status_message", "stopped_at"])
    remaining = task.participants.filter(status=TaskParticipant.Status.ACTIVE).count()
    skipped = list(ModelUpdate.objects.filter(participant=participant, status__in=[
        ModelUpdate.Status.PENDING, ModelUpdate.Status.WARNED]).values_list("step_id", flat=True))
    ModelUpdate.objects.filter(participant=participant, status__in=[
        ModelUpdate.Status.PENDING, ModelUpdate.Status.WARNED]).update(status=ModelUpdate.Status.SKIPPED, note=message[:500])
    continues = task.status != FederatedTask.Status.RUNNING or remaining >= task.min_participants
    if task.status == FederatedTask.Status.RUNNING and continues:
        task.status_message = (_("%(message)s The task continues with %(remaining)d participants "
                                 "(minimum %(minimum)d).") % {"message": message, "remaining": remaining,
                                                             "minimum": task.min_participants})[:500]
        task.save(update_fields=["status_message"])
    record(actor=actor, action="federation.participant.stop", obj=task, organization=task.initiator,
           payload={"participant": participant.name, "code": code, "message": message, "remaining": remaining,
                    "continues": continues})
    if task.status != FederatedTask.Status.RUNNING:
        return
    if not continues:
        _task_fail(task, _("%(message)s Only %(remaining)d participants remain; the task needs %(minimum)d.")
                   % {"message": message, "remaining": remaining, "minimum": task.min_participants})
        return
    if recheck_steps:
        for step in TaskStep.objects.select_for_update().filter(pk__in=skipped):
            _maybe_enqueue_aggregate(step)


# --- Steps: dispatch, fan-in, aggregation --------------------------------------------------------

def load_state(task: FederatedTask, step: TaskStep):
    return decode_state(crypto.open_state(bytes(step.state_before), task_uuid=str(task.uuid), step_index=step.index))


def _seal_state(task: FederatedTask, index: int, state) -> bytes:
    return crypto.seal_state(encode_state(state), task_uuid=str(task.uuid), step_index=index)


def describe_step(strategy: Strategy, state) -> str:
    if isinstance(state, FedMAState) and isinstance(strategy, FedMA):
        layers = next(iter(state.participant_specs.values())).layer_count
        layer = _("output layer") if state.layer_index == layers - 1 else (
            _("layer %(n)d") % {"n": state.layer_index + 1})
        return _("Pass %(p)d of %(passes)d, %(layer)s") % {"p": state.pass_index + 1, "passes": strategy.passes,
                                                          "layer": layer}
    return _("Round %(r)d of %(rounds)d") % {"r": state.step + 1, "rounds": getattr(strategy, "rounds", 1)}


def _schedule_straggler_checks(task: FederatedTask, step: TaskStep) -> None:
    now = timezone.now()
    for moment in (step.warn_at, step.deadline_at):
        send("check_stragglers", queue=DEFAULT_QUEUE, kwargs={"task_id": task.pk},
             countdown=max(0.0, (moment - now).total_seconds()) + 0.5)


def step_dispatch(*, task_id: int, index: int) -> int:
    """Prepare step ``index`` and send a local-train message to every expected participant that has not
    answered yet (on a re-dispatch after a restart, only to those, with a fresh deadline). Returns how
    many messages were sent."""
    with transaction.atomic():
        task = FederatedTask.objects.select_for_update(of=("self",)).select_related("initiator").get(pk=task_id)
        step = TaskStep.objects.select_for_update().filter(task=task, index=index).first()
        if task.status != FederatedTask.Status.RUNNING or step is None or step.status not in (
                TaskStep.Status.PENDING, TaskStep.Status.COLLECTING):
            return 0
        strategy = strategy_for(task)
        if step.state_before is None:
            names = sorted(task.participants.filter(status=TaskParticipant.Status.ACTIVE).values_list(
                "organization__slug", flat=True))
            state = strategy.start(names, spec_from_dict(task.spec))
            step.state_before = _seal_state(task, index, state)
        else:
            state = load_state(task, step)
        return _dispatch(task, step, strategy, state)


def _dispatch(task: FederatedTask, step: TaskStep, strategy: Strategy, state) -> int:
    """The body of a dispatch, under the caller's locks on the task and the step (``step_dispatch``, or
    the aggregation that completed the previous step, which saves a round trip through the broker)."""
    index = step.index
    participants = {p.name: p for p in task.participants.select_related("organization", "grant")}
    try:
        instructions = strategy.instructions(state)
    except PrivacyBudgetExceeded as exc:
        step.status, step.note = TaskStep.Status.CANCELLED, str(exc)[:500]
        step.save(update_fields=["status", "note"])
        if task.versions.exists():
            _task_finish(task, None, message=_("Stopped early: the privacy budget is spent."))
        else:
            _task_fail(task, _("The privacy budget is spent before a global model exists."))
        return 0
    now = timezone.now()
    first_time = step.status == TaskStep.Status.PENDING
    step.status, step.description = TaskStep.Status.COLLECTING, describe_step(strategy, state)
    step.started_at = step.started_at or now
    step.warn_at = now + timedelta(seconds=task.straggler_warning_s)
    step.deadline_at = now + timedelta(seconds=task.straggler_timeout_s)
    if not first_time:
        step.note = _("Re-dispatched at %(time)s.") % {"time": now.isoformat(timespec="seconds")}
    step.save()
    outgoing = []
    for name, instruction in instructions.items():
        participant = participants.get(name)
        if participant is None:
            continue
        if participant.status == TaskParticipant.Status.ACTIVE and not participant.grant.is_live():
            _participant_stop(participant, code="grant_expired", actor=None, recheck_steps=False,
                              message=_("The data-use grant of %(org)s is no longer live.")
                              % {"org": participant.organization.name})
            task.refresh_from_db(fields=["status"])
            if task.status != FederatedTask.Status.RUNNING:
                return 0
        update, _created = ModelUpdate.objects.get_or_create(
            step=step, participant=participant,
            defaults={"expected_shapes": [list(s) for s in instruction.expected_update_shapes()]})
        if participant.status != TaskParticipant.Status.ACTIVE:
            if update.status in (ModelUpdate.Status.PENDING, ModelUpdate.Status.WARNED):
                update.status, update.note = ModelUpdate.Status.SKIPPED, participant.get_status_display()
                update.save(update_fields=["status", "note"])
            continue
        if update.status == ModelUpdate.Status.WARNED:
            update.status = ModelUpdate.Status.PENDING
        if update.status == ModelUpdate.Status.PENDING:
            update.dispatched_at = now
            update.save(update_fields=["status", "dispatched_at"])
            outgoing.append((participant, crypto.encode_instruction(instruction)))
    if first_time:
        record(actor=None, action="federation.step.start", obj=task, organization=task.initiator,
               payload={"step": index, "description": step.description,
                        "participants": [p.name for p, _i in outgoing]})
    for participant, text in outgoing:
        send("local_train", queue=participant.organization.queue_name,
             kwargs={"task_id": task.pk, "step_index": index, "participant_id": participant.pk,
                     "instruction": text})
    _schedule_straggler_checks(task, step)
    _maybe_enqueue_aggregate(step)
    return len(outgoing)


def _maybe_enqueue_aggregate(step: TaskStep) -> bool:
    """Under the caller's row lock on ``step``: when no expected update is outstanding, move the step to
    aggregating and enqueue its aggregation (exactly once: only from ``collecting``)."""
    step.refresh_from_db()
    if step.status != TaskStep.Status.COLLECTING:
        return False
    outstanding = step.updates.filter(status__in=[ModelUpdate.Status.PENDING, ModelUpdate.Status.WARNED]).exists()
    if outstanding:
        return False
    task = FederatedTask.objects.get(pk=step.task_id)
    if task.status != FederatedTask.Status.RUNNING:
        return False
    received = step.updates.filter(status=ModelUpdate.Status.RECEIVED).count()
    if received < task.min_participants:
        _task_fail(task, _("Only %(received)d updates arrived for step %(step)d; the task needs %(minimum)d.")
                   % {"received": received, "step": step.index + 1, "minimum": task.min_participants})
        return False
    step.status, step.aggregate_enqueued_at = TaskStep.Status.AGGREGATING, timezone.now()
    step.save(update_fields=["status", "aggregate_enqueued_at"])
    send("aggregate_step", queue=AGGREGATION_QUEUE, kwargs={"task_id": task.pk, "index": step.index})
    return True


class UpdateRejected(ValidationError):
    """An update envelope the aggregator refused (recorded and audited); ``reason`` is a short code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message, code=reason)
        self.reason = reason


class _Refusal(Exception):
    def __init__(self, reason: str, message: str, step_index: int | None = None):
        super().__init__(message)
        self.reason, self.message, self.step_index = reason, message, step_index


ENVELOPE_REASONS = {
    core_envelope.MalformedEnvelope: "malformed",
    core_envelope.TruncatedEnvelope: "malformed",
    core_envelope.BindingMismatch: "binding_mismatch",
    core_envelope.ReplayedEnvelope: "replayed",
    core_envelope.TamperedCiphertext: "tampered",
    core_envelope.ForgedSignature: "forged_signature",
    core_envelope.NonFiniteWeights: "non_finite",
    core_envelope.ShapeMismatch: "shape_mismatch",
}


def _reason_for(error: core_envelope.EnvelopeError) -> str:
    for cls in type(error).__mro__:
        if cls in ENVELOPE_REASONS:
            return ENVELOPE_REASONS[cls]
    return "malformed"


# Figures a participant may report: the model's on its hold-out, and (tabular tasks) its local-only model's.
_FIGURES = ("loss", "accuracy", "auc", "f1", "ks", "r2", "mse")
METRIC_KEYS = (*_FIGURES, "samples", *(f"local_{key}" for key in _FIGURES))


def _clean_metrics(metrics) -> dict:
    if not isinstance(metrics, dict):
        return {}
    clean = {}
    for key in METRIC_KEYS:
        value = metrics.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            clean[key] = float(value)
    return clean


def _clean_sites(sites) -> list:
    if not isinstance(sites, list):
        return []
    clean = []
    for site in sites[:100]:
        if isinstance(site, dict) and isinstance(site.get("site"), str):
            samples = site.get("samples")
            loss = site.get("loss")
            clean.append({"site": site["site"][:120],
                          "samples": int(samples) if isinstance(samples, int) and samples >= 0 else 0,
                          "loss": float(loss) if isinstance(loss, (int, float)) and math.isfinite(loss) else None})
    return clean


def update_submit(*, actor, task: FederatedTask, envelope: bytes, metrics: dict | None = None,
                  sites: list | None = None, training_seconds: float | None = None) -> ModelUpdate:
    """Verify and record a participant's sealed update for the task's open step.

    ``actor``: a member (enterprise manager or loan officer) of the participant organisation, or
    ``"worker:<org-slug>"`` for the in-portal worker. ``metrics``/``sites`` are the participant's own
    plain-text report (its model on its hold-out windows; per-site counts of a hierarchical step).
    Raises PermissionDenied, or UpdateRejected with a reason code (recorded and audited) for a
    malformed, foreign, forged, tampered, replayed, stale, duplicate or misshapen envelope.
    """
    if not isinstance(actor, str):
        org = actor.organization
        if org is None or actor.role != _acting_role(org) or not task.participants.filter(organization=org).exists():
            raise PermissionDenied(_("Only a participating organisation's own members submit its updates."))
    envelope = bytes(envelope)
    digest = hashlib.sha256(envelope).hexdigest()
    claimed = ""
    try:
        try:
            binding = core_envelope.read_binding(envelope)
        except core_envelope.EnvelopeError as exc:
            raise _Refusal(_reason_for(exc), str(exc)) from exc
        claimed = binding.participant
        if claimed != _actor_org_slug(actor):
            raise _Refusal("foreign_submitter", f"{_actor_label(actor)} may not submit updates of {claimed!r}",
                           binding.step)
        with transaction.atomic():
            return _accept_update(actor=actor, task=task, envelope=envelope, digest=digest, binding=binding,
                                  metrics=metrics, sites=sites, training_seconds=training_seconds)
    except _Refusal as refusal:
        with transaction.atomic():
            UpdateRejection.objects.create(task=task, step_index=refusal.step_index, claimed_participant=claimed[:120],
                                           submitted_by=_actor_label(actor)[:160], reason=refusal.reason,
                                           message=refusal.message[:500], envelope_sha256=digest)
            record(actor=actor, action="federation.update.reject", obj=task, organization=task.initiator,
                   payload={"reason": refusal.reason, "message": refusal.message[:300], "claimed": claimed[:120],
                            "step": refusal.step_index, "envelope_sha256": digest})
        raise UpdateRejected(refusal.reason, refusal.message) from None


def _accept_update(*, actor, task, envelope, digest, binding, metrics, sites, training_seconds) -> ModelUpdate:
    task = FederatedTask.objects.select_for_update().get(pk=task.pk)  # lock order: task, then step
    participant = task.participants.select_related("organization", "grant").filter(
        organization__slug=binding.participant).first()
    if participant is None:
        raise _Refusal("unknown_participant", f"{binding.participant!r} does not take part in this task", binding.step)
    if task.status != FederatedTask.Status.RUNNING:
        raise _Refusal("task_not_running", f"the task is {task.status}", binding.step)
    same = ModelUpdate.objects.filter(step__task=task, step__index=binding.step, participant=participant,
                                      status=ModelUpdate.Status.RECEIVED, envelope_sha256=digest,
                                      step__status__in=[TaskStep.Status.COLLECTING, TaskStep.Status.AGGREGATING]).first()
    if same is not None:
        return same  # the same envelope again while its step is open (a retried request): already recorded
    step = TaskStep.objects.select_for_update().filter(task=task, status=TaskStep.Status.COLLECTING).order_by(
        "-index").first()
    if step is None:
        raise _Refusal("stale", "no step of this task is collecting updates", binding.step)
    update = ModelUpdate.objects.filter(step=step, participant=participant).first()
    if update is None:
        if binding.step < step.index:
            raise _Refusal("replayed", f"envelope is for step {binding.step}; step {step.index} is being collected",
                           binding.step)
        raise _Refusal("not_expected", f"{participant.name} is not asked for step {step.index}", binding.step)
    if participant.status != TaskParticipant.Status.ACTIVE or update.status == ModelUpdate.Status.SKIPPED:
        raise _Refusal("no_live_grant", f"{participant.name} no longer takes part ({participant.status})", binding.step)
    if not participant.grant.is_live():
        raise _Refusal("no_live_grant", f"{participant.name}'s data-use grant is not live", binding.step)
    if update.status == ModelUpdate.Status.DROPPED:
        raise _Refusal("stale", f"{participant.name} was dropped from step {step.index} after its deadline",
                       binding.step)
    if update.status == ModelUpdate.Status.RECEIVED and binding.step == step.index:
        raise _Refusal("duplicate", f"{participant.name} already sent its update for step {step.index}", binding.step)
    verify_key = crypto.participant_verify_key(participant.organization)
    if verify_key is None:
        raise _Refusal("no_key", f"{participant.name} has no registered signing key", binding.step)
    try:
        opened = core_envelope.open_update(
            envelope, task_id=str(task.uuid), step=step.index, participant=participant.name,
            participant_key=verify_key, aggregator_key=crypto.aggregator_private_key(),
            expected_shapes=update.expected_shapes)
    except core_envelope.EnvelopeError as exc:
        raise _Refusal(_reason_for(exc), str(exc), binding.step) from exc
    update.status, update.envelope, update.envelope_sha256 = ModelUpdate.Status.RECEIVED, envelope, digest
    update.received_at, update.submitted_by = timezone.now(), _actor_label(actor)[:160]
    update.num_samples, update.class_counts = opened.num_samples, list(opened.class_counts)
    update.train_loss = opened.train_loss if math.isfinite(opened.train_loss) else None
    update.local_metrics, update.sites = _clean_metrics(metrics), _clean_sites(sites)
    update.training_seconds = float(training_seconds) if isinstance(training_seconds, (int, float)) else None
    update.save()
    del opened  # the decrypted weights go no further than this check
    record(actor=actor, action="federation.update.accept", obj=update, organization=participant.organization,
           payload={"task": task.pk, "step": step.index, "envelope_sha256": digest,
                    "samples": update.num_samples})
    _maybe_enqueue_aggregate(step)
    return update


def _metrics_dict(metrics) -> dict:
    values = metrics.to_dict()
    values.pop("confusion", None)
    return values


def _layer_sizes(weights) -> list[dict]:
    sizes = []
    for index, (weight, bias) in enumerate(weights):
        shape = np.shape(weight)
        sizes.append({"layer": index + 1, "inputs": int(np.prod(shape[1:])), "units": int(shape[0]),
                      "parameters": int(np.size(weight) + np.size(bias))})
    return sizes


def _leave_one_out(strategy: Strategy, state, updates: dict) -> dict:
    """Global weights of the same aggregation without each participant in turn (needs two or more)."""
    variants = {}
    if len(updates) < 2:
        return variants
    for name in updates:
        try:
            variant = strategy.aggregate(state, {k: v for k, v in updates.items() if k != name})
        except ValueError:
            continue
        if variant.global_weights is not None:
            variants[name] = variant.global_weights
    return variants


def _encode_variants(variants: dict) -> bytes | None:
    if not variants:
        return None
    from .core.envelope import encode_arrays
    from .core.specs import flatten_weights

    arrays, runs = [], {}
    for name, weights in variants.items():
        flat = flatten_weights(weights)
        runs[name] = {"start": len(arrays), "count": len(flat)}
        arrays.extend(flat)
    return encode_arrays(arrays, {"kind": "presstrust.loo-weights", "runs": runs})


def decode_variants(blob) -> dict:
    if not blob:
        return {}
    from .core.envelope import decode_arrays
    from .core.specs import unflatten_weights

    metadata, arrays = decode_arrays(bytes(blob))
    return {name: unflatten_weights(arrays[run["start"]: run["start"] + run["count"]])
            for name, run in metadata["runs"].items()}


def evaluators_for(task: FederatedTask) -> list[TaskParticipant]:
    """Who evaluates a version: the initiator when it is a participating enterprise (its own labelled
    hold-out is the validation set), else every active participant on its own hold-out."""
    active = list(task.participants.select_related("organization").filter(status=TaskParticipant.Status.ACTIVE))
    if task.dataset_kind != DatasetKind.PRESS_HEALTH:
        return active  # tabular tasks: every participant reports the model's figures on its own hold-out
    own = [p for p in active if p.organization_id == task.initiator_id]
    return own or active


def step_aggregate(*, task_id: int, index: int) -> ModelVersion | None:
    """Aggregate step ``index`` (idempotent: only a step in ``aggregating`` is processed, under its lock).

    The decrypted updates live only in this function's memory; everything is computed before the
    first write so that the row locks (task, step, active versions) are all taken before the audit
    chain head."""
    with transaction.atomic():
        task = FederatedTask.objects.select_for_update().get(pk=task_id)  # lock order: task, then step
        step = TaskStep.objects.select_for_update().filter(task_id=task_id, index=index).first()
        if step is None or step.status != TaskStep.Status.AGGREGATING or task.status != FederatedTask.Status.RUNNING:
            return None
        strategy = strategy_for(task)
        state = load_state(task, step)
        private_key = crypto.aggregator_private_key()
        updates, refused = {}, []
        for update in step.updates.select_related("participant__organization").filter(status=ModelUpdate.Status.RECEIVED):
            try:
                updates[update.participant.name] = core_envelope.open_update(
                    bytes(update.envelope), task_id=str(task.uuid), step=index, participant=update.participant.name,
                    participant_key=crypto.participant_verify_key(update.participant.organization),
                    aggregator_key=private_key, expected_shapes=update.expected_shapes)
            except (core_envelope.EnvelopeError, AttributeError) as exc:
                refused.append((update, str(exc)))
        started = time.perf_counter()
        new_state, failure = None, None
        if len(updates) < task.min_participants:
            failure = _("Only %(n)d valid updates for step %(step)d; the task needs %(minimum)d.") % {
                "n": len(updates), "step": index + 1, "minimum": task.min_participants}
        else:
            try:
                new_state = strategy.aggregate(state, updates)
            except ValueError as exc:
                failure = _("Aggregation of step %(step)d failed: %(error)s") % {"step": index + 1, "error": exc}
        new_version = variants = None
        if new_state is not None and new_state.global_weights is not None and (
                new_state.global_weights is not state.global_weights):
            new_version = new_state
            variants = _leave_one_out(strategy, state, updates)
        participants = sorted(updates)
        del updates
        finished = new_state is not None and strategy.is_finished(new_state)
        if finished and task.activate_on_finish:
            list(ModelVersion.objects.select_for_update().filter(model_kind=task.model_kind, is_active=True)
                 .order_by("pk"))
        aggregation_seconds = time.perf_counter() - started
        # --- writes (and audit events) from here on ---
        for update, reason in refused:
            update.status, update.note = ModelUpdate.Status.DROPPED, f"re-check failed: {reason}"[:500]
            update.save(update_fields=["status", "note"])
            record(actor=None, action="federation.update.drop", obj=update, organization=update.organization,
                   payload={"task": task.pk, "step": index, "reason": "recheck_failed"})
        if failure is not None:
            _task_fail(task, failure)
            return None
        step.flags = [{"participant": f.participant, "reason": f.reason} for f in new_state.flags[len(state.flags):]]
        version = None
        if new_version is not None:
            version = _version_create(task, step, new_state, strategy, participants, variants)
        step.aggregation_seconds = aggregation_seconds
        step.status, step.completed_at = TaskStep.Status.DONE, timezone.now()
        step.save(update_fields=["flags", "aggregation_seconds", "status", "completed_at"])
        record(actor=None, action="federation.step.aggregate", obj=task, organization=task.initiator,
               payload={"step": index, "participants": participants, "flags": step.flags,
                        "version": version.sha256 if version else None})
        task.current_step = index + 1
        task.save(update_fields=["current_step"])
        if finished:
            _task_finish(task, version)
        else:
            following = TaskStep.objects.create(task=task, index=index + 1,
                                                state_before=_seal_state(task, index + 1, new_state))
            _dispatch(task, following, strategy, new_state)
        if version is not None:
            for evaluator in version.expected_evaluators:
                participant = task.participants.select_related("organization").get(pk=evaluator)
                send("evaluate_version", queue=participant.organization.queue_name,
                     kwargs={"version_id": version.pk, "participant_id": participant.pk})
        return version


def _version_create(task, step, state, strategy, participants, variants) -> ModelVersion:
    from . import data as federation_data

    parent = task.versions.order_by("-number").first()
    weights = state.global_weights
    sha256 = crypto.weights_sha256(weights)
    version = ModelVersion.objects.create(
        task=task, step=step, number=(parent.number + 1) if parent else 1, model_kind=task.model_kind,
        sha256=sha256, spec=state.global_spec.to_dict(), weights=crypto.encode_weights(weights),
        feature_config=task.feature_config, class_names=list(federation_data.class_names(task.model_kind)),
        layer_sizes=_layer_sizes(weights), parent=parent,
        lineage={"strategy": strategy.name, "round": step.index + 1, "step_description": step.description,
                 "participants": participants, "parent_sha256": parent.sha256 if parent else None,
                 "task_uuid": str(task.uuid)},
        loo_weights=_encode_variants(variants),
        expected_evaluators=[p.pk for p in evaluators_for(task)])
    record(actor=None, action="federation.model.version", obj=version, organization=task.initiator,
           after={"sha256": sha256, "spec": version.spec, "lineage": version.lineage})
    return version


def _average_metrics(evaluations: list[dict]) -> dict:
    """Sample-weighted mean of evaluators' metrics (None where undefined everywhere)."""
    total = sum(e["samples"] for e in evaluations)
    result = {"samples": total}
    for key in (*_FIGURES, *(f"local_{key}" for key in _FIGURES)):
        pairs = [(e["metrics"].get(key), e["samples"]) for e in evaluations if e["metrics"].get(key) is not None]
        weight = sum(n for _v, n in pairs)
        if weight or key in _FIGURES:
            result[key] = sum(v * n for v, n in pairs) / weight if weight else None
    return result


@transaction.atomic
def evaluation_submit(*, actor, version: ModelVersion, organization: Organization, samples: int, metrics: dict,
                      loo_metrics: dict | None = None, seconds: float | None = None) -> Evaluation:
    """Record one evaluator's metrics of a version; once all expected evaluators reported, the version's
    metrics and each participant's contribution (metric of the version minus metric without it) follow."""
    if _actor_org_slug(actor) != organization.slug:
        raise PermissionDenied(_("Only the evaluator itself reports its evaluation."))
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    evaluation, created = Evaluation.objects.get_or_create(
        version=version, organization=organization,
        defaults={"samples": int(samples), "metrics": _clean_metrics(metrics),
                  "loo_metrics": {k: _clean_metrics(v) for k, v in (loo_metrics or {}).items()},
                  "seconds": float(seconds) if isinstance(seconds, (int, float)) else None})
    if not created:
        return evaluation
    rows = [{"samples": e.samples, "metrics": e.metrics, "loo": e.loo_metrics} for e in version.evaluations.all()]
    version.metrics = _average_metrics(rows)
    names = sorted({name for row in rows for name in row["loo"]})
    contributions = {}
    for name in names:
        without = _average_metrics([{"samples": r["samples"], "metrics": r["loo"].get(name, {})} for r in rows])
        entry = {}
        for key in ("accuracy", "auc", "f1"):
            if version.metrics.get(key) is not None and without.get(key) is not None:
                entry[key] = version.metrics[key] - without[key]  # what the model loses without it
        if version.metrics.get("loss") is not None and without.get("loss") is not None:
            entry["loss"] = without["loss"] - version.metrics["loss"]  # how much worse the loss is without it
        contributions[name] = entry
    version.contributions = contributions
    evaluated = set(version.evaluations.values_list("organization_id", flat=True))
    expected = set(TaskParticipant.objects.filter(pk__in=version.expected_evaluators).values_list(
        "organization_id", flat=True))
    if expected <= evaluated:
        version.loo_weights = None  # contributions are computed; the variants are no longer needed
    version.save(update_fields=["metrics", "contributions", "loo_weights"])
    record(actor=actor, action="federation.model.evaluate", obj=version, organization=version.task.initiator,
           payload={"evaluator": organization.slug, "samples": int(samples), "metrics": evaluation.metrics})
    return evaluation


def stragglers_check(*, task_id: int | None = None, now=None) -> dict:
    """Warn participants past a step's warning time, drop them (for that step) past its deadline, and
    stop participants whose grant expired. Run by the scheduled ``check_stragglers`` task and the
    ``federation_check_stragglers`` command. Returns counts."""
    now = now or timezone.now()
    counts = {"warned": 0, "dropped": 0, "expired": 0}
    steps = TaskStep.objects.filter(status=TaskStep.Status.COLLECTING, task__status=FederatedTask.Status.RUNNING)
    if task_id is not None:
        steps = steps.filter(task_id=task_id)
    for step_id in list(steps.values_list("pk", flat=True)):
        with transaction.atomic():
            task_pk = TaskStep.objects.filter(pk=step_id).values_list("task_id", flat=True).get()
            task = FederatedTask.objects.select_for_update(of=("self",)).select_related("initiator").get(
                pk=task_pk)  # lock order: task, then step
            step = TaskStep.objects.select_for_update().get(pk=step_id)
            if step.status != TaskStep.Status.COLLECTING or task.status != FederatedTask.Status.RUNNING:
                continue
            late = list(step.updates.select_related("participant__organization").filter(
                status__in=[ModelUpdate.Status.PENDING, ModelUpdate.Status.WARNED]))
            if step.deadline_at and now >= step.deadline_at:
                for update in late:
                    update.status, update.note = ModelUpdate.Status.DROPPED, _("No update before the deadline.")
                    update.save(update_fields=["status", "note"])
                    counts["dropped"] += 1
                    record(actor=None, action="federation.update.drop", obj=update, organization=update.organization,
                           payload={"task": task.pk, "step": step.index, "reason": "deadline",
                                    "deadline": step.deadline_at.isoformat()})
                    record(actor=None, action="federation.participant.drop", obj=task, organization=task.initiator,
                           payload={"participant": update.participant.name, "step": step.index})
                if late:
                    _maybe_enqueue_aggregate(step)
            elif step.warn_at and now >= step.warn_at:
                for update in late:
                    if update.status == ModelUpdate.Status.PENDING:
                        update.status, update.note = ModelUpdate.Status.WARNED, _("Late: dropped at %(time)s.") % {
                            "time": step.deadline_at.isoformat(timespec="seconds")}
                        update.save(update_fields=["status", "note"])
                        counts["warned"] += 1
                        record(actor=None, action="federation.update.late_warning", obj=update,
                               organization=update.organization,
                               payload={"task": task.pk, "step": step.index,
                                        "deadline": step.deadline_at.isoformat()})
    for participant in TaskParticipant.objects.select_related("grant").filter(
            status=TaskParticipant.Status.ACTIVE, task__status=FederatedTask.Status.RUNNING):
        if task_id is not None and participant.task_id != task_id:
            continue
        if not participant.grant.is_live(now):
            grant_lapse_check(participant)
            counts["expired"] += 1
    return counts


def tasks_resume(*, task_id: int | None = None) -> list[str]:
    """Re-enqueue the current step of every running task (after a crash or restart): a collecting step
    is re-dispatched to the participants that have not answered, an aggregating step is aggregated, and
    evaluations still missing are asked for again. Safe to run any time (every step is idempotent)."""
    actions = []
    tasks = FederatedTask.objects.filter(status=FederatedTask.Status.RUNNING)
    if task_id is not None:
        tasks = tasks.filter(pk=task_id)
    for task in tasks:
        step = task.steps.order_by("-index").first()
        if step is None:
            continue
        with transaction.atomic():
            if step.status in (TaskStep.Status.PENDING, TaskStep.Status.COLLECTING):
                send("dispatch_step", queue=AGGREGATION_QUEUE, kwargs={"task_id": task.pk, "index": step.index})
                actions.append(f"task {task.pk}: dispatch step {step.index}")
            elif step.status == TaskStep.Status.AGGREGATING:
                send("aggregate_step", queue=AGGREGATION_QUEUE, kwargs={"task_id": task.pk, "index": step.index})
                actions.append(f"task {task.pk}: aggregate step {step.index}")
    for version in ModelVersion.objects.filter(task__in=FederatedTask.objects.exclude(
            status=FederatedTask.Status.CANCELLED)).exclude(expected_evaluators=[]):
        if task_id is not None and version.task_id != task_id:
            continue
        done = set(version.evaluations.values_list("organization_id", flat=True))
        for participant in TaskParticipant.objects.select_related("organization").filter(
                pk__in=version.expected_evaluators).exclude(organization_id__in=done):
            with transaction.atomic():
                send("evaluate_version", queue=participant.organization.queue_name,
                     kwargs={"version_id": version.pk, "participant_id": participant.pk})
            actions.append(f"version {version.pk}: evaluate at {participant.name}")
    return actions


# --- Registry and inference ----------------------------------------------------------------------

def _activate(version: ModelVersion, *, actor) -> None:
    previous = list(ModelVersion.objects.select_for_update().filter(model_kind=version.model_kind, is_active=True)
                    .exclude(pk=version.pk))
    for old in previous:
        old.is_active = False
        old.save(update_fields=["is_active"])
    version.is_active, version.activated_at, version.activated_by = True, timezone.now(), actor
    version.save(update_fields=["is_active", "activated_at", "activated_by"])
    record(actor=actor, action="federation.model.activate", obj=version, organization=version.task.initiator,
           payload={"sha256": version.sha256, "model_kind": version.model_kind,
                    "replaced": [old.sha256 for old in previous]})


@transaction.atomic
def model_version_activate(*, actor: User, version: ModelVersion) -> ModelVersion:
    """Make ``version`` the one used for inference of its model kind."""
    version = ModelVersion.objects.select_for_update(of=("self",)).select_related("task").get(pk=version.pk)
    _require_manage(actor, version.task)
    if version.task.dataset_kind != DatasetKind.PRESS_HEALTH:
        raise ValidationError(_("Tabular models are adopted by each participant, not activated for presses."))
    if version.is_active:
        raise ValidationError(_("This version is already active."))
    _activate(version, actor=actor)
    return version


def applicable_versions(press) -> list[ModelVersion]:
    """Active versions whose task the press's enterprise took part in (it received that model)."""
    tasks = TaskParticipant.objects.filter(organization_id=press.organization_id, joined_at__isnull=False).values("task_id")
    return list(ModelVersion.objects.filter(is_active=True, task_id__in=tasks,
                                            task__dataset_kind=DatasetKind.PRESS_HEALTH).order_by("model_kind"))


def inference_for_batch(*, batch_id: int, channel: str | None = None, health_run_id: int | None = None,
                        source: str = Prediction.Source.ONLINE) -> list[Prediction]:
    """Score one stored batch (one channel, or each acceleration channel) with every applicable active
    model. Runs on the batch's enterprise's own worker (it reads the enterprise's samples)."""
    from devices.models import SensorBatch

    from .core.specs import spec_from_dict as rebuild_spec
    from .core.training import predict_probabilities

    batch = SensorBatch.objects.select_related("press", "organization").get(pk=batch_id)
    predictions = []
    for version in applicable_versions(batch.press):
        spec, weights = rebuild_spec(version.spec), crypto.decode_weights(version.weights)
        for name, features in data.batch_features(batch, version.feature_config, channel).items():
            if not len(features):
                continue
            mean = predict_probabilities(spec, weights, features).mean(axis=0)
            predicted = int(np.argmax(mean))
            with transaction.atomic():
                values = {"press": batch.press, "predicted_class": predicted,
                          "class_name": version.class_names[predicted], "confidence": float(mean[predicted]),
                          "risk": float(1.0 - mean[data.HEALTHY_CLASS]), "probabilities": [float(p) for p in mean],
                          "windows": int(len(features)), "source": source, "recorded_at": batch.started_at}
                if health_run_id is not None:  # a re-score keeps the link to the run it first scored
                    values["health_run_id"] = health_run_id
                prediction, _created = Prediction.objects.update_or_create(
                    version=version, batch=batch, channel=name, defaults=values)
                record(actor=f"worker:{batch.organization.slug}", action="federation.prediction", obj=prediction,
                       organization=batch.organization,
                       payload={"version": version.sha256, "batch": batch.pk, "channel": name,
                                "class": prediction.class_name, "confidence": prediction.confidence,
                                "source": source})
            predictions.append(prediction)
    if predictions and source == Prediction.Source.ONLINE:
        _review_credit_of(batch.press_id)
    return predictions


def _review_credit_of(press_id: int) -> None:
    """A new prediction may move the credit terms of facilities the press secures: ask the lending app
    to review them (it queues the reviews after this commit)."""
    from lending.services import facility_reviews_for_press

    with transaction.atomic():
        facility_reviews_for_press(press_id, "model_prediction")


def inference_for_health_run(run_id: int) -> list[Prediction]:
    """Score the data of one health run (its batch and channel) with the active models; synchronous,
    for the enterprise's own worker. ``prediction_enqueue_for_health_run`` queues it there."""
    from health.models import HealthRun

    run = HealthRun.objects.get(pk=run_id)
    return inference_for_batch(batch_id=run.batch_id, channel=run.channel_name, health_run_id=run.pk)


def prediction_enqueue_for_health_run(*, run_id: int) -> None:
    """After a health run is stored: score it on its enterprise's own queue. Call it inside the
    transaction that finishes the run (the message leaves on commit) or after it."""
    from health.models import HealthRun

    run = HealthRun.objects.select_related("organization").get(pk=run_id)
    send("score_health_run", queue=run.organization.queue_name, kwargs={"run_id": run_id})


@transaction.atomic
def press_rescore(*, actor: User, press) -> None:
    """Re-score a press's whole history with the active models (on its enterprise's queue)."""
    if not actor.has_perm("devices.change_press", press):
        raise PermissionDenied(_("Only the enterprise's managers can re-score its presses."))
    if not applicable_versions(press):
        raise ValidationError(_("No active model applies to this press yet."))
    record(actor=actor, action="federation.prediction.rescore", obj=press, organization=press.organization)
    send("rescore_press", queue=press.organization.queue_name, kwargs={"press_id": press.pk})


def press_rescore_run(*, press_id: int) -> int:
    from devices.models import SensorBatch

    count = 0
    for batch_id in SensorBatch.objects.filter(press_id=press_id).order_by("started_at").values_list("pk", flat=True):
        count += len(inference_for_batch(batch_id=batch_id, source=Prediction.Source.BATCH))
    return count
