"""A participant's own side of a federated task, run by its worker on ``participant.<org-slug>``.

It reads only its enterprise's stored batches (``federation.data``), trains what the instruction says,
seals the answer with its own Ed25519 key (unwrapped here and nowhere else) to the aggregator's X25519
key, and hands it to ``services.update_submit`` — the same service the REST endpoint
``POST /api/v1/federation/tasks/{id}/updates/`` calls for a site worker outside the portal.

Hierarchical tasks (cloud-edge-end): the participant trains one model per site (its presses grouped by
``Press.site``) from the same instruction and averages them, weighted by each site's windows (FedAvg
among its sites, on its own edge queue), before sealing; the cloud step then aggregates across
enterprises with the task's strategy.
"""
from __future__ import annotations

import hashlib
import logging
import time

import numpy as np

from .core.client import execute_instruction
from .core.envelope import seal_update
from .core.messages import ClientInstruction, ClientUpdate
from .core.privacy import privatise_update
from .core.training import evaluate, train_local

logger = logging.getLogger(__name__)


def _site_seed(seed: int, site: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{site}".encode()).digest()[:4], "little") & 0x7FFFFFFF


def train_hierarchical(instruction: ClientInstruction, sites: dict[str, tuple[np.ndarray, np.ndarray]]
                       ) -> tuple[ClientUpdate, list[dict]]:
    """Train one model per site from ``instruction`` and FedAvg them (by windows) into one update."""
    trained, reports = [], []
    for site, (features, labels) in sites.items():
        if not len(labels):
            continue
        weights, report = train_local(instruction.spec, instruction.weights, features, labels,
                                      config=instruction.training, seed=_site_seed(instruction.seed, site),
                                      frozen_layers=instruction.frozen_layers)
        trained.append(weights[instruction.frozen_layers:])
        reports.append((site, report))
    if not trained:
        raise ValueError("no site has labelled windows")
    counts = np.array([report.num_samples for _site, report in reports], dtype=np.float64)
    shares = counts / counts.sum()
    layers = [(sum(s * w[i][0] for s, w in zip(shares, trained)), sum(s * w[i][1] for s, w in zip(shares, trained)))
              for i in range(len(trained[0]))]
    if instruction.privacy is not None:
        layers, _norm = privatise_update(instruction.weights[instruction.frozen_layers:], layers,
                                         clip_norm=instruction.privacy.clip_norm,
                                         noise_multiplier=instruction.privacy.noise_multiplier,
                                         rng=np.random.default_rng())
    class_counts = tuple(int(sum(r.class_counts[k] for _s, r in reports)) for k in range(instruction.spec.num_classes))
    losses = [r.final_loss for _s, r in reports]
    update = ClientUpdate(participant=instruction.participant, step=instruction.step,
                          first_layer=instruction.frozen_layers, layers=layers, num_samples=int(counts.sum()),
                          class_counts=class_counts, train_loss=float(np.average(losses, weights=counts)))
    return update, [{"site": site, "samples": int(r.num_samples),
                     "loss": None if np.isnan(r.final_loss) else float(r.final_loss)} for site, r in reports]


def _metrics_of(spec, weights, features, labels) -> dict:
    if not len(labels):
        return {}
    values = evaluate(spec, weights, features, labels).to_dict()
    values.pop("confusion", None)
    values["samples"] = int(len(labels))
    return {k: v for k, v in values.items() if v is not None}


def _participant_data(task, grant):
    """The participant's data for ``task``: press batches, or the tabular data sets it granted."""
    from . import data, tabular_data

    if tabular_data.is_tabular(task):
        return tabular_data.participant_data(task, grant)
    return data.participant_data(task, grant)


def _task_metrics(task, spec, weights, features, labels) -> dict:
    from . import tabular_data

    if tabular_data.is_tabular(task):
        return tabular_data.metrics_of(task, spec, weights, features, labels)
    return _metrics_of(spec, weights, features, labels)


def local_train_run(*, task_id: int, step_index: int, participant_id: int, instruction_text: str) -> str:
    """One local-train step; returns what happened (for the log). Idempotent: does nothing once the
    participant's update for the step is in, or the step/task moved on."""
    from . import crypto, services
    from .models import FederatedTask, ModelUpdate, TaskParticipant, TaskStep

    participant = TaskParticipant.objects.select_related("task", "organization", "grant").get(pk=participant_id)
    task = participant.task
    update = ModelUpdate.objects.select_related("step").filter(
        step__task=task, step__index=step_index, participant=participant).first()
    if (task.status != FederatedTask.Status.RUNNING or update is None or update.step.status != TaskStep.Status.COLLECTING
            or update.status not in (ModelUpdate.Status.PENDING, ModelUpdate.Status.WARNED)
            or participant.status != TaskParticipant.Status.ACTIVE):
        return "nothing to do"
    if not participant.grant.is_live() and not services.grant_lapse_check(participant):
        return "grant not live: stopped"  # checked before any data is read
    instruction = crypto.decode_instruction(instruction_text)
    if instruction.participant != participant.name or instruction.step != step_index:
        raise ValueError("instruction does not match the message")
    started = time.perf_counter()
    dataset = _participant_data(task, participant.grant)
    if not len(dataset.labels):
        services.participant_no_data(participant=participant)
        return "no labelled data: stopped"
    sites = []
    if task.hierarchical:
        client_update, sites = train_hierarchical(instruction, dataset.sites)
    else:
        client_update = execute_instruction(instruction, dataset.features, dataset.labels)
    local_model = list(instruction.weights[:instruction.frozen_layers]) + list(client_update.layers)
    metrics = _task_metrics(task, instruction.spec, local_model, dataset.holdout_features, dataset.holdout_labels)
    training_seconds = time.perf_counter() - started
    signing_key, _version = crypto.participant_signing_key(participant.organization)
    envelope = seal_update(client_update, task_id=str(task.uuid), signing_key=signing_key,
                           aggregator_key=crypto.aggregator_public_key())
    del signing_key
    try:
        services.update_submit(actor=f"worker:{participant.name}", task=task, envelope=envelope, metrics=metrics,
                               sites=sites, training_seconds=training_seconds)
    except services.UpdateRejected as rejected:  # e.g. dropped for lateness while training: recorded, final
        logger.warning("update of %s for task %s step %s refused: %s", participant.name, task.pk, step_index,
                       rejected.reason)
        return f"refused: {rejected.reason}"
    return "submitted"


def evaluate_version_run(*, version_id: int, participant_id: int) -> str:
    """Evaluate a global model version (and its leave-one-out variants) on this participant's hold-out
    windows, and report the metrics (``services.evaluation_submit``)."""
    from . import crypto, services, tabular_data
    from .core.specs import spec_from_dict
    from .models import Evaluation, ModelVersion, TaskParticipant

    participant = TaskParticipant.objects.select_related("task", "organization", "grant").get(pk=participant_id)
    version = ModelVersion.objects.get(pk=version_id)
    if Evaluation.objects.filter(version=version, organization=participant.organization).exists():
        return "already evaluated"
    if not participant.grant.is_live():
        return "grant not live"
    started = time.perf_counter()
    task = participant.task
    dataset = _participant_data(task, participant.grant)
    features, labels = dataset.holdout_features, dataset.holdout_labels
    if not len(labels):  # no hold-out batch (too few batches per label): evaluate on what there is
        features, labels = dataset.features, dataset.labels
    if not len(labels):
        return "no labelled data"
    spec = spec_from_dict(version.spec)
    metrics = _task_metrics(task, spec, crypto.decode_weights(version.weights), features, labels)
    if tabular_data.is_tabular(task) and version.is_final:
        metrics.update(tabular_data.local_only_metrics(task, dataset))  # figures only: the local model stays here
    loo = {}
    for name, weights in services.decode_variants(version.loo_weights).items():
        variant_spec = spec.with_hidden_widths([np.shape(w)[0] for w, _b in weights[:-1]])
        loo[name] = _task_metrics(task, variant_spec, weights, features, labels)
    services.evaluation_submit(actor=f"worker:{participant.name}", version=version,
                               organization=participant.organization, samples=len(labels), metrics=metrics,
                               loo_metrics=loo, seconds=time.perf_counter() - started)
    return "evaluated"
