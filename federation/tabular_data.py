"""What a participant's own worker reads for a tabular task: the data sets it granted, parsed with the task's
shared schema, encoded, and split into training and hold-out rows; and the figures it reports.

Like ``federation.data`` nothing here checks grants: the callers do, before calling. Only the
organisation's own rows are read; only metrics (never rows, predictions of single rows or data-set sizes
per target beyond counts) leave the organisation, except the pages its own users see.

Hold-out: per data set, a seeded share ``task.validation_fraction`` of its rows (stratified by outcome for
a binary target), seeded by the task's seed and the file's hash, so the same rows are held out for every
step, every evaluation and the lender's own validation page.
"""
from __future__ import annotations

import numpy as np

from .core.tabular import (TabularSchema, holdout_split, parse_csv, regression_metrics, schema_from_dict, seed_for,
                           training_arrays)
from .data import ParticipantData
from .models import DatasetKind, FederatedTask

TABULAR_KINDS = (DatasetKind.LOAN_BOOK, DatasetKind.PRODUCTION)


def is_tabular(task: FederatedTask) -> bool:
    return task.dataset_kind in TABULAR_KINDS


def task_schema(task_or_version) -> TabularSchema:
    return schema_from_dict(task_or_version.feature_config["schema"])


def task_target(task_or_version) -> str:
    return task_or_version.feature_config["target"]


def dataset_arrays(task: FederatedTask, dataset) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``((train_x, train_y), (holdout_x, holdout_y))`` of one data set for ``task``."""
    schema, target = task_schema(task), task_target(task)
    table = parse_csv(bytes(dataset.content).decode("utf-8-sig"), schema, dataset.column_map)
    features, labels = training_arrays(schema, table, target)
    binary = schema.target(target).kind == "binary"
    train, held = holdout_split(labels, fraction=task.validation_fraction,
                                seed=seed_for(task.seed, dataset.sha256), binary=binary)
    return (features[train], labels[train]), (features[held], labels[held])


def participant_data(task: FederatedTask, grant) -> ParticipantData:
    """The granted data sets of one participant for ``task``, stacked."""
    width = task_schema(task).encoded_width
    binary = task_schema(task).target(task_target(task)).kind == "binary"
    parts = [dataset_arrays(task, d) for d in grant.datasets.order_by("pk")]

    def stack(index: int, which: int) -> np.ndarray:
        arrays = [part[index][which] for part in parts]
        if arrays:
            return np.concatenate(arrays) if which else np.vstack(arrays)
        return np.zeros(0, dtype=np.int64 if binary else np.float64) if which else np.zeros((0, width))

    return ParticipantData(features=stack(0, 0), labels=stack(0, 1), holdout_features=stack(1, 0),
                           holdout_labels=stack(1, 1), batches=len(parts), holdout_batches=len(parts))


def unscale(task_or_version, values: np.ndarray) -> np.ndarray:
    """Scaled regression targets/predictions back in the target's unit."""
    target = task_schema(task_or_version).target(task_target(task_or_version))
    return np.asarray(values, np.float64) * target.scale + target.centre


def predictions(task_or_version, spec, weights, features: np.ndarray) -> np.ndarray:
    """P(event) for a binary target, the prediction in the target's unit for a numeric one."""
    from .core.training import predict_probabilities, predict_values

    if task_schema(task_or_version).target(task_target(task_or_version)).kind == "binary":
        return predict_probabilities(spec, weights, features)[:, 1]
    return unscale(task_or_version, predict_values(spec, weights, features))


def metrics_of(task_or_version, spec, weights, features: np.ndarray, labels: np.ndarray) -> dict:
    """The figures that may travel: loss/accuracy/AUC/KS (binary) or R^2 and MSE in the target's unit."""
    if not len(labels):
        return {}
    if task_schema(task_or_version).target(task_target(task_or_version)).kind == "binary":
        from .core.training import evaluate

        values = evaluate(spec, weights, features, labels).to_dict()
        values.pop("confusion", None)
        values["samples"] = int(len(labels))
        return {k: v for k, v in values.items() if v is not None}
    metrics = regression_metrics(unscale(task_or_version, labels), predictions(task_or_version, spec, weights, features))
    return {k: v for k, v in metrics.items() if v is not None}


def local_only_metrics(task: FederatedTask, dataset: ParticipantData) -> dict:
    """Train the task's model on this participant's training rows alone (same architecture, local
    training for as many epochs as the federated run gave it) and report it on the same hold-out, so the
    initiator can compare the global model with what each participant could do alone."""
    from .core.messages import TrainingConfig
    from .core.specs import spec_from_dict
    from .core.strategies import strategy_from_dict
    from .core.training import initial_weights, train_local

    if not len(dataset.labels) or not len(dataset.holdout_labels):
        return {}
    spec = spec_from_dict(task.spec)
    training = strategy_from_dict(task.strategy_config).training
    config = TrainingConfig(**{**training.to_dict(), "epochs": training.epochs * max(task.planned_steps, 1)})
    weights, _report = train_local(spec, initial_weights(spec, task.seed), dataset.features, dataset.labels,
                                   config=config, seed=task.seed)
    metrics = metrics_of(task, spec, weights, dataset.holdout_features, dataset.holdout_labels)
    return {f"local_{k}": v for k, v in metrics.items() if k != "samples"}


def granted_datasets(version, organization):
    """The data sets ``organization`` granted to the version's task (its own; for its own pages)."""
    from .tabular_models import TabularDataset

    return TabularDataset.objects.filter(organization=organization, grants__task_id=version.task_id).order_by("pk")


def own_holdout(version, organization) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The organisation's hold-out rows of a version's task: ``(features, labels, predictions)``."""
    from .core.specs import spec_from_dict
    from .crypto import decode_weights

    task = version.task
    parts = [dataset_arrays(task, d)[1] for d in granted_datasets(version, organization)]
    if not parts:
        return np.zeros((0, task_schema(task).encoded_width)), np.zeros(0), np.zeros(0)
    features = np.vstack([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    predicted = predictions(version, spec_from_dict(version.spec), decode_weights(version.weights), features)
    return features, labels, predicted


def lender_validation(version, organization) -> dict:
    """The lender's own validation of a PD model version on its hold-out: AUC, Gini, KS (lending.core.validation)
    and calibration by master-scale grade. Shown to that lender only."""
    from lending.core.validation import calibration_by_grade, gini_coefficient, ks_statistic, roc_auc

    _features, labels, pd = own_holdout(version, organization)
    if not len(labels):
        return {"samples": 0}
    result = {"samples": int(len(labels)), "defaults": int(labels.sum()), "default_rate": float(labels.mean()),
              "mean_pd": float(pd.mean())}
    if 0 < labels.sum() < len(labels):
        result.update(auc=roc_auc(labels, pd), gini=gini_coefficient(labels, pd), ks=ks_statistic(labels, pd))
    result["calibration"] = [vars(row) for row in calibration_by_grade(pd, labels)]
    return result


def enterprise_fit(version, organization) -> dict:
    """An enterprise's own hold-out periods against the federation's model: actual and predicted values in
    the target's unit, R^2 and MSE, and how far its actual total lies from what the model expects."""
    _features, labels, predicted = own_holdout(version, organization)
    actual = unscale(version, labels)
    result = {"actual": [float(v) for v in actual], "predicted": [float(v) for v in predicted],
              **regression_metrics(actual, predicted)}
    if len(actual) and predicted.sum() > 0:
        result["relative_to_model"] = float(actual.sum() / predicted.sum() - 1.0)
    return result
