"""What a participant's own worker reads: its granted batches, their labels, and health features.

Nothing here checks grants: the callers (the local-train, evaluation and inference steps) do, before
calling. Everything is read from the enterprise's own rows and storage area.

Feature pipeline (stored with every task and model version, so old models keep theirs):

- every acceleration channel of a batch (every column when the press declares no channels) is cut into
  non-overlapping windows of ``window_samples`` samples, at most ``max_windows_per_batch`` per channel,
  spread evenly over the recording;
- each window becomes ``health.core.features.window_features`` (SWNSES indicators, RMS, crest factor,
  SES and spectrum band shares; ``FEATURE_NAMES``), with the shaft frequency from the batch when known;
- each feature is passed through ``sign(x) * log(1 + |x|)`` (tames kurtosis-like tails) and then
  standardised with a **fixed reference** centre and scale computed from the health core's simulator
  (healthy and faulty bearings, :func:`reference_normalisation`). A fixed map needs no exchange of data
  statistics between enterprises and is the same at inference time.

Labels (``FederatedTask.label_source``):

- ``batch_label``: the :class:`~federation.models.BatchLabel` the enterprise set on the batch;
- ``health_level``: the level (0 Normal .. 3 Danger) of the health app's run of that batch and channel;
- ``label_then_level``: the batch label where one is set, else the health level.

``fault_state`` models have classes healthy / outer race / inner race / rolling element (batch labels
only); ``failure_risk`` models have classes normal (label healthy, level 0) / at risk (a fault label, or
level >= 1). Batches without a usable label are left out.

Hold-out: per label, a share ``validation_fraction`` of a participant's batches (at least one when it
has two or more batches of that label) is held out, chosen by a hash of the task seed and the batch's
content hash; whole batches, so adjacent windows of one recording never straddle the split. The hold-out
windows are what participants evaluate models on (their local metrics, the global model's metrics and
the leave-one-out contributions).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, time, timezone as dt_timezone
from functools import lru_cache

import numpy as np

from .models import BatchLabel, LabelSource, ModelKind

PIPELINE_NAME = "health.window_features"
PIPELINE_VERSION = 1

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    ModelKind.FAULT_STATE: tuple(BatchLabel.Condition.values),
    ModelKind.FAILURE_RISK: ("normal", "at_risk"),
    ModelKind.DEFAULT_RISK: ("performing", "defaulted"),  # tabular tasks (federation.tabular_data)
    ModelKind.ENERGY_USE: ("energy_mwh",),
    ModelKind.CO2_EMISSIONS: ("co2_t",),
}
HEALTHY_CLASS = 0  # index of the healthy / normal class in both kinds


def class_names(model_kind: str) -> tuple[str, ...]:
    return CLASS_NAMES[model_kind]


def _signed_log(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


@lru_cache(maxsize=1)
def reference_normalisation() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Centre and scale of the transformed features over simulated bearings (healthy, outer, inner and
    rolling-element faults at three shaft speeds, 20 kHz, 2048-sample windows); deterministic."""
    from health.core.features import window_features
    from health.core.simulate import simulate_bearing_signal

    rows = []
    for index, fault in enumerate((None, "outer", "inner", "ball")):
        for speed in range(3):
            signal = simulate_bearing_signal(20000.0, 1.0, fault=fault, severity=1.0 if fault else 0.0,
                                             shaft_hz=20.0 + 4.0 * speed, snr_db=-5.0, seed=7919 + 31 * index + speed)
            windows = signal[: signal.size // 2048 * 2048].reshape(-1, 2048)
            rows.append(_signed_log(window_features(windows, 20000.0)))
    stacked = np.vstack(rows)
    centre = stacked.mean(axis=0)
    scale = stacked.std(axis=0)
    scale[scale < 1e-3] = 1.0  # constant features (e.g. floored shares) stay where they are
    return tuple(float(v) for v in centre), tuple(float(v) for v in scale)


def default_feature_config(*, window_samples: int = 2048, max_windows_per_batch: int = 32) -> dict:
    from health.core.features import FEATURE_NAMES

    centre, scale = reference_normalisation()
    return {"name": PIPELINE_NAME, "version": PIPELINE_VERSION, "window_samples": int(window_samples),
            "max_windows_per_batch": int(max_windows_per_batch), "transform": "signed_log1p",
            "feature_names": list(FEATURE_NAMES), "centre": list(centre), "scale": list(scale)}


def feature_count(config: dict) -> int:
    return len(config["feature_names"])


# --- Reading batches ------------------------------------------------------------------------------

class _FeatureCache:
    """Raw window features per (batch, channel, windowing), kept in the worker process between steps
    (a FedMA task reads the same batches once per layer). Bounded; thread-safe."""

    def __init__(self, size: int = 2048):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_cache = _FeatureCache()


def _acceleration_channels(batch) -> list[str]:
    kinds = dict(batch.press.channels.values_list("name", "kind"))
    names = list(batch.channel_names)
    if not kinds:
        return names
    chosen = [name for name in names if kinds.get(name) == "acceleration"]
    return chosen or names


def raw_channel_features(batch, channel: str, config: dict) -> np.ndarray:
    """Untransformed ``window_features`` of one channel of a stored batch: ``(windows, features)``;
    empty when the recording is shorter than one window."""
    from devices.services import batch_samples_for_analysis
    from health.core.features import window_features

    window = int(config["window_samples"])
    key = (batch.pk, batch.content_hash, channel, window, int(config["max_windows_per_batch"]))
    cached = _cache.get(key)
    if cached is not None:
        return cached
    samples, names = batch_samples_for_analysis(batch)
    column = np.asarray(samples[:, list(names).index(channel)], dtype=np.float64)
    count = column.size // window
    if count == 0:
        features = np.zeros((0, len(config["feature_names"])))
    else:
        starts = np.arange(count) * window
        if count > config["max_windows_per_batch"]:
            starts = starts[np.linspace(0, count - 1, int(config["max_windows_per_batch"])).round().astype(int)]
        windows = column[starts[:, None] + np.arange(window)[None, :]]
        keep = np.ptp(windows, axis=1) > 0  # a dead stretch has no envelope to describe
        shaft_hz = batch.shaft_rpm / 60.0 if batch.shaft_rpm else None
        features = window_features(windows[keep], batch.sampling_rate_hz, shaft_hz=shaft_hz) if keep.any() else \
            np.zeros((0, len(config["feature_names"])))
    _cache.put(key, features)
    return features


def normalise(features: np.ndarray, config: dict) -> np.ndarray:
    centre = np.asarray(config["centre"], dtype=np.float64)
    scale = np.asarray(config["scale"], dtype=np.float64)
    return (_signed_log(np.asarray(features, dtype=np.float64)) - centre) / scale


def batch_features(batch, config: dict, channel: str | None = None) -> dict[str, np.ndarray]:
    """Model-ready features of a batch per channel (``{channel: (windows, features)}``)."""
    channels = [channel] if channel else _acceleration_channels(batch)
    return {name: normalise(raw_channel_features(batch, name, config), config) for name in channels
            if name in batch.channel_names}


# --- Labels -------------------------------------------------------------------------------------

def health_levels(batch_ids) -> dict[tuple[int, str | None], int]:
    """Levels (0 Normal .. 3 Danger) of the finished health runs of these batches:
    ``{(batch id, channel name): level}``."""
    from health.models import HealthRun

    runs = HealthRun.objects.filter(batch_id__in=list(batch_ids), status=HealthRun.Status.DONE, level__isnull=False)
    return {(batch_id, channel): int(level)
            for batch_id, channel, level in runs.values_list("batch_id", "channel_name", "level")}


def label_for(model_kind: str, label_source: str, *, condition: str | None, level: int | None) -> int | None:
    """The class index of a (batch, channel) for a task, or None when it has no usable label."""
    if label_source in (LabelSource.BATCH_LABEL, LabelSource.LABEL_THEN_LEVEL) and condition:
        if model_kind == ModelKind.FAULT_STATE:
            return CLASS_NAMES[ModelKind.FAULT_STATE].index(condition)
        return HEALTHY_CLASS if condition == BatchLabel.Condition.HEALTHY else 1
    if label_source in (LabelSource.HEALTH_LEVEL, LabelSource.LABEL_THEN_LEVEL) and level is not None:
        if model_kind == ModelKind.FAILURE_RISK:
            return HEALTHY_CLASS if level == 0 else 1
    return None


# --- A participant's data set --------------------------------------------------------------------

@dataclass
class ParticipantData:
    """A participant's windows for one task: training and hold-out, and the training part per site."""

    features: np.ndarray
    labels: np.ndarray
    holdout_features: np.ndarray
    holdout_labels: np.ndarray
    sites: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    batches: int = 0
    holdout_batches: int = 0


def _period_bounds(task):
    start = datetime.combine(task.period_start, time.min, tzinfo=dt_timezone.utc) if task.period_start else None
    end = datetime.combine(task.period_end, time.max, tzinfo=dt_timezone.utc) if task.period_end else None
    return start, end


def granted_batches(task, grant):
    """The batches a grant covers: its presses, within the task's period."""
    from devices.models import SensorBatch

    queryset = SensorBatch.objects.filter(press__in=grant.presses.all(), organization_id=grant.organization_id)
    start, end = _period_bounds(task)
    if start is not None:
        queryset = queryset.filter(started_at__gte=start)
    if end is not None:
        queryset = queryset.filter(started_at__lte=end)
    return queryset.select_related("press").order_by("started_at", "pk")


def _holdout_rank(seed: int, batch) -> str:
    return hashlib.sha256(f"{seed}:{batch.content_hash}".encode()).hexdigest()


def participant_data(task, grant) -> ParticipantData:
    """Read, label, featurise and split a participant's granted batches for ``task``."""
    config = task.feature_config
    batches = list(granted_batches(task, grant))
    conditions = dict(BatchLabel.objects.filter(batch__in=batches).values_list("batch_id", "condition"))
    levels = health_levels([b.pk for b in batches]) if task.label_source != LabelSource.BATCH_LABEL else {}
    labelled: list[tuple[object, list[tuple[str, int]]]] = []
    for batch in batches:
        parts = []
        for channel in _acceleration_channels(batch):
            level = levels.get((batch.pk, channel))
            label = label_for(task.model_kind, task.label_source, condition=conditions.get(batch.pk), level=level)
            if label is not None:
                parts.append((channel, label))
        if parts:
            labelled.append((batch, parts))
    by_label: dict[int, list] = {}
    for batch, parts in labelled:
        by_label.setdefault(max(label for _, label in parts), []).append(batch)
    held = set()
    for group in by_label.values():
        if len(group) < 2:
            continue
        count = max(1, int(round(task.validation_fraction * len(group))))
        held.update(b.pk for b in sorted(group, key=lambda b: _holdout_rank(task.seed, b))[:count])
    width = feature_count(config)
    train_x, train_y, hold_x, hold_y = [], [], [], []
    sites: dict[str, tuple[list, list]] = {}
    for batch, parts in labelled:
        for channel, label in parts:
            features = normalise(raw_channel_features(batch, channel, config), config)
            if not len(features):
                continue
            labels = np.full(len(features), label, dtype=np.int64)
            if batch.pk in held:
                hold_x.append(features)
                hold_y.append(labels)
            else:
                train_x.append(features)
                train_y.append(labels)
                site = sites.setdefault(batch.press.site or "-", ([], []))
                site[0].append(features)
                site[1].append(labels)

    def stack(xs, ys):
        if not xs:
            return np.zeros((0, width)), np.zeros(0, dtype=np.int64)
        return np.vstack(xs), np.concatenate(ys)

    features, labels = stack(train_x, train_y)
    holdout_features, holdout_labels = stack(hold_x, hold_y)
    return ParticipantData(features=features, labels=labels, holdout_features=holdout_features,
                           holdout_labels=holdout_labels,
                           sites={name: stack(*parts) for name, parts in sorted(sites.items())},
                           batches=len(labelled), holdout_batches=len(held))
