"""Tabular data for federated tasks: shared schemas, CSV validation, encoding, hold-out splits and metrics.

No Django here: text and arrays in, arrays and plain values out.

A **schema** is what the participants of a tabular task agree on before training: the features (name,
type, unit and how each is encoded) and the measured targets. Each participant maps its own CSV columns
to the schema's names (``column_map``); nothing about a participant's data leaves it but the trained
weights and the evaluation figures.

Encodings (fixed by the schema, so they need no exchange of data statistics between participants and are
the same at inference time):

- ``one_hot``: a categorical feature becomes one indicator per agreed category;
- ``bins``: a numeric feature becomes one indicator per bin of the agreed edges (``x <= edge`` closes a
  bin; the last bin is open above), the binned/encoded input of a credit scorecard (Siddiqi, "Intelligent
  Credit Scoring", 2nd ed. 2017, ch. 7) but with indicators instead of WoE, because WoE needs pooled
  outcome counts;
- ``scaled``: ``(x - centre) / scale`` with an agreed reference centre and scale in the feature's unit.

Targets: ``binary`` (1 = the event, e.g. default) or ``numeric`` (regression; scaled like a feature and
scaled back for metrics, which are in the target's unit).
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA_FORMAT_VERSION = 1
MAX_REPORTED_ROW_ERRORS = 20
TRUE_VALUES = ("1", "yes", "true", "bad", "default", "defaulted", "y")
FALSE_VALUES = ("0", "no", "false", "good", "performing", "n")


class TabularDataError(ValueError):
    """A CSV that does not fit a schema. ``code`` is ``schema_mismatch`` (columns) or ``bad_rows``;
    ``details`` lists what is wrong (missing columns, or ``(line, message)`` pairs)."""

    def __init__(self, code: str, message: str, details: list | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, list(details or [])


@dataclass(frozen=True)
class FeatureSpec:
    """One agreed input column."""

    name: str
    kind: str  # "categorical" | "numeric"
    encoding: str  # "one_hot" | "bins" | "scaled"
    label: str = ""
    unit: str = ""
    categories: tuple[str, ...] = ()
    bins: tuple[float, ...] = ()
    centre: float = 0.0
    scale: float = 1.0
    minimum: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("categorical", "numeric"):
            raise ValueError(f"{self.name}: kind must be categorical or numeric")
        allowed = ("one_hot",) if self.kind == "categorical" else ("bins", "scaled")
        if self.encoding not in allowed:
            raise ValueError(f"{self.name}: a {self.kind} feature is encoded as one of {allowed}")
        if self.encoding == "one_hot" and not self.categories:
            raise ValueError(f"{self.name}: list the agreed categories")
        if self.encoding == "bins" and list(self.bins) != sorted(set(self.bins)):
            raise ValueError(f"{self.name}: bin edges must increase strictly")
        if self.encoding == "scaled" and not self.scale > 0:
            raise ValueError(f"{self.name}: the scale must be positive")
        object.__setattr__(self, "categories", tuple(str(c) for c in self.categories))
        object.__setattr__(self, "bins", tuple(float(b) for b in self.bins))

    @property
    def width(self) -> int:
        if self.encoding == "one_hot":
            return len(self.categories)
        if self.encoding == "bins":
            return len(self.bins) + 1
        return 1

    def column_labels(self) -> list[str]:
        """Names of the encoded columns, e.g. ``duration_months <= 12``."""
        if self.encoding == "one_hot":
            return [f"{self.name} = {c}" for c in self.categories]
        if self.encoding == "bins":
            edges = [_format_number(b) for b in self.bins]
            labels = [f"{self.name} <= {edges[0]}"]
            labels += [f"{lo} < {self.name} <= {hi}" for lo, hi in zip(edges[:-1], edges[1:])]
            return labels + [f"{self.name} > {edges[-1]}"]
        return [self.name]

    def encode(self, values: np.ndarray) -> np.ndarray:
        """``(n, width)`` float64 encoding of parsed values (str codes or float64)."""
        if self.encoding == "one_hot":
            index = {c: i for i, c in enumerate(self.categories)}
            out = np.zeros((len(values), self.width))
            out[np.arange(len(values)), [index[v] for v in values]] = 1.0
            return out
        numbers = np.asarray(values, dtype=np.float64)
        if self.encoding == "bins":
            out = np.zeros((len(numbers), self.width))
            out[np.arange(len(numbers)), np.searchsorted(np.asarray(self.bins), numbers, side="left")] = 1.0
            return out
        return ((numbers - self.centre) / self.scale)[:, None]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "encoding": self.encoding, "label": self.label,
                "unit": self.unit, "categories": list(self.categories), "bins": list(self.bins),
                "centre": self.centre, "scale": self.scale, "minimum": self.minimum}


@dataclass(frozen=True)
class TargetSpec:
    """One measured outcome a model may predict. ``required``: every row must carry it (else rows
    without it are kept and left out of tasks that predict it)."""

    name: str
    kind: str  # "binary" | "numeric"
    label: str = ""
    unit: str = ""
    required: bool = True
    centre: float = 0.0
    scale: float = 1.0
    minimum: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("binary", "numeric"):
            raise ValueError(f"{self.name}: a target is binary or numeric")
        if not self.scale > 0:
            raise ValueError(f"{self.name}: the scale must be positive")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "label": self.label, "unit": self.unit,
                "required": self.required, "centre": self.centre, "scale": self.scale, "minimum": self.minimum}


@dataclass(frozen=True)
class TabularSchema:
    """The agreed features and targets of one kind of tabular data (``dataset_kind``)."""

    name: str
    dataset_kind: str  # "loan_book" | "production"
    features: tuple[FeatureSpec, ...]
    targets: tuple[TargetSpec, ...]
    description: str = ""

    def __post_init__(self) -> None:
        names = [f.name for f in self.features] + [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError("schema column names must be unique")
        if not self.features or not self.targets:
            raise ValueError("a schema needs features and at least one target")

    @property
    def encoded_width(self) -> int:
        return sum(f.width for f in self.features)

    def column_labels(self) -> list[str]:
        return [label for f in self.features for label in f.column_labels()]

    def target(self, name: str) -> TargetSpec:
        for target in self.targets:
            if target.name == name:
                return target
        raise ValueError(f"the schema has no target {name!r}")

    def columns(self) -> list[str]:
        return [f.name for f in self.features] + [t.name for t in self.targets]

    def to_dict(self) -> dict[str, Any]:
        return {"version": SCHEMA_FORMAT_VERSION, "name": self.name, "dataset_kind": self.dataset_kind,
                "description": self.description, "features": [f.to_dict() for f in self.features],
                "targets": [t.to_dict() for t in self.targets]}

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the schema's canonical JSON: participants of a task hold the same schema."""
        import json

        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


def schema_from_dict(data: dict[str, Any]) -> TabularSchema:
    if data.get("version") != SCHEMA_FORMAT_VERSION:
        raise ValueError(f"unsupported schema version {data.get('version')!r}")
    features = tuple(FeatureSpec(**{**f, "categories": tuple(f.get("categories", ())),
                                    "bins": tuple(f.get("bins", ()))}) for f in data["features"])
    targets = tuple(TargetSpec(**t) for t in data["targets"])
    return TabularSchema(name=data["name"], dataset_kind=data["dataset_kind"], features=features, targets=targets,
                         description=data.get("description", ""))


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --- Parsing a participant's CSV ------------------------------------------------------------------

@dataclass(frozen=True)
class TabularTable:
    """A parsed CSV in schema terms: ``features[name]`` (str codes or float64), ``targets[name]``
    (float64, ``nan`` where not measured)."""

    features: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    rows: int
    header: tuple[str, ...] = field(default=())

    def subset(self, indices: np.ndarray) -> TabularTable:
        return TabularTable({k: v[indices] for k, v in self.features.items()},
                            {k: v[indices] for k, v in self.targets.items()}, int(len(indices)), self.header)


def _parse_number(text: str) -> float:
    value = float(text.replace(",", "")) if text.count(",") and "." in text else float(text.replace(",", "."))
    if not math.isfinite(value):
        raise ValueError
    return value


class _RowError(ValueError):
    """One row's first problem, as a message naming the column."""


def _parse_quantity(name: str, cell: str, minimum: float | None) -> float:
    try:
        value = _parse_number(cell)
    except ValueError:
        raise _RowError(f"{name}: {cell!r} is not a number") from None
    if minimum is not None and value < minimum:
        raise _RowError(f"{name}: {cell} is below {_format_number(minimum)}")
    return value


def _parse_feature(feature: FeatureSpec, cell: str):
    if feature.kind == "categorical":
        if cell not in feature.categories:
            raise _RowError(f"{feature.name}: {cell!r} is not one of the agreed categories")
        return cell
    return _parse_quantity(feature.name, cell, feature.minimum)


def _parse_target(target: TargetSpec, cell: str) -> float:
    """A target's value; ``nan`` for a blank optional target."""
    if not cell:
        if target.required:
            raise _RowError(f"{target.name}: missing")
        return math.nan
    if target.kind == "binary":
        lowered = cell.lower()
        if lowered not in TRUE_VALUES + FALSE_VALUES:
            raise _RowError(f"{target.name}: {cell!r} is neither a default (1/yes/bad) nor not (0/no/good)")
        return 1.0 if lowered in TRUE_VALUES else 0.0
    return _parse_quantity(target.name, cell, target.minimum)


def parse_csv(text: str, schema: TabularSchema, column_map: dict[str, str] | None = None,
              *, max_rows: int = 100_000) -> TabularTable:
    """Read a CSV (header row, comma or semicolon separated) into schema columns.

    ``column_map`` maps schema names to the CSV's own column names (a schema name maps to itself when
    left out). Raises :class:`TabularDataError` ``schema_mismatch`` when a schema column has no CSV
    column (or the map names an unknown one), ``bad_rows`` listing up to 20 ``(line, message)`` pairs
    when rows do not parse (wrong field count, a number that is not one, an unknown category, a negative
    quantity, a missing required target). Nothing is returned unless every row is valid.
    """
    column_map = {k: v for k, v in (column_map or {}).items() if v}
    unknown = sorted(set(column_map) - set(schema.columns()))
    if unknown:
        raise TabularDataError("schema_mismatch", f"Unknown schema columns in the mapping: {', '.join(unknown)}.",
                               unknown)
    if not text.strip():
        raise TabularDataError("bad_rows", "The file is empty.")
    sample = text[:4096]
    delimiter = ";" if sample.splitlines()[0].count(";") > sample.splitlines()[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise TabularDataError("bad_rows", f"The header row cannot be read ({exc}).") from None
    positions = {name: i for i, name in enumerate(header)}
    wanted = {name: column_map.get(name, name) for name in schema.columns()}
    optional = {t.name for t in schema.targets if not t.required}
    missing = [f"{name} ({source})" if source != name else name for name, source in wanted.items()
               if source not in positions and name not in optional]
    if missing:
        raise TabularDataError(
            "schema_mismatch",
            f"The file has no column for: {', '.join(missing)}. Its columns are: {', '.join(header)}.",
            missing)
    features = {f.name: [] for f in schema.features}
    targets = {t.name: [] for t in schema.targets}
    errors: list[tuple[int, str]] = []
    error_count = rows = 0
    try:
        for line, record in enumerate(reader, start=2):
            if not record or all(not cell.strip() for cell in record):
                continue
            rows += 1
            if rows > max_rows:
                raise TabularDataError("bad_rows", f"The file has more than {max_rows} rows.")
            try:
                if len(record) != len(header):
                    raise _RowError(f"expected {len(header)} fields, found {len(record)}")
                parsed_features = {f.name: _parse_feature(f, record[positions[wanted[f.name]]].strip())
                                   for f in schema.features}
                parsed_targets = {t.name: _parse_target(t, record[positions[wanted[t.name]]].strip()
                                                        if wanted[t.name] in positions else "")
                                  for t in schema.targets}
            except _RowError as exc:
                error_count += 1
                if len(errors) < MAX_REPORTED_ROW_ERRORS:
                    errors.append((line, str(exc)))
                continue
            for name, value in parsed_features.items():
                features[name].append(value)
            for name, value in parsed_targets.items():
                targets[name].append(value)
    except csv.Error as exc:
        raise TabularDataError("bad_rows", f"The file is not valid CSV ({exc}).") from None
    if errors:
        shown = "; ".join(f"line {line}: {message}" for line, message in errors)
        more = f" (and {error_count - len(errors)} more)" if error_count > len(errors) else ""
        raise TabularDataError("bad_rows", f"{error_count} rows are not valid: {shown}{more}.", errors)
    if rows == 0:
        raise TabularDataError("bad_rows", "The file has a header but no data rows.")
    return TabularTable(
        features={f.name: np.array(features[f.name], dtype=object if f.kind == "categorical" else np.float64)
                  for f in schema.features},
        targets={name: np.array(values, dtype=np.float64) for name, values in targets.items()},
        rows=rows, header=tuple(header))


def encode_features(schema: TabularSchema, table: TabularTable) -> np.ndarray:
    """``(rows, schema.encoded_width)`` model inputs."""
    if not table.rows:
        return np.zeros((0, schema.encoded_width))
    return np.hstack([feature.encode(table.features[feature.name]) for feature in schema.features])


def training_arrays(schema: TabularSchema, table: TabularTable, target_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets for a task predicting ``target_name``: rows without the target are left out;
    binary targets become int labels 0/1, numeric ones are scaled by the schema's reference."""
    target = schema.target(target_name)
    values = table.targets[target_name]
    keep = np.isfinite(values)
    features = encode_features(schema, table.subset(np.flatnonzero(keep)))
    if target.kind == "binary":
        return features, values[keep].astype(np.int64)
    return features, (values[keep] - target.centre) / target.scale


def holdout_split(targets: np.ndarray, *, fraction: float, seed: int, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(train, holdout)`` row indices; stratified by class for a binary target, so a small
    loan book still has defaulters on both sides."""
    if not 0 < fraction < 1:
        raise ValueError("the hold-out fraction lies in (0, 1)")
    generator = np.random.default_rng(seed)
    groups = [np.flatnonzero(targets == v) for v in np.unique(targets)] if binary else [np.arange(len(targets))]
    held = [generator.permutation(g)[: int(round(fraction * g.size))] for g in groups]
    holdout = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    return np.setdiff1d(np.arange(len(targets)), holdout), holdout


def seed_for(seed: int, name: str) -> int:
    """A participant-specific seed derived from the task's seed and the participant's name."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:4], "little") & 0x7FFFFFFF


# --- Metrics and readable models ------------------------------------------------------------------

def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """R^2 = 1 - SS_res / SS_tot (coefficient of determination) and MSE, in the target's unit squared;
    R^2 is ``None`` when the actual values do not vary."""
    actual, predicted = np.asarray(actual, np.float64), np.asarray(predicted, np.float64)
    if actual.size == 0:
        return {"r2": None, "mse": None, "samples": 0}
    residual = float(np.sum((actual - predicted) ** 2))
    total = float(np.sum((actual - actual.mean()) ** 2))
    return {"r2": 1.0 - residual / total if total > 0 else None, "mse": residual / actual.size,
            "samples": int(actual.size)}


def linear_coefficients(schema: TabularSchema, target_name: str, weights) -> dict[str, Any]:
    """A one-layer model's coefficients in readable units.

    Regression (``scaled`` inputs): ``y = intercept + sum_j b_j x_j`` in the target's unit, with
    ``b_j = scale_y * w_j / scale_j`` (target unit per feature unit). Binary targets (two softmax
    outputs): the log-odds of the event per encoded column, ``w_1 - w_0``."""
    if len(weights) != 1:
        raise ValueError("only a model without hidden layers has coefficients")
    weight, bias = (np.asarray(a, np.float64) for a in weights[0])
    target = schema.target(target_name)
    rows = []
    if target.kind == "binary":
        logit = weight[1] - weight[0]
        for label, value in zip(schema.column_labels(), logit):
            rows.append({"feature": label, "coefficient": float(value), "unit": "log-odds"})
        return {"intercept": float(bias[1] - bias[0]), "intercept_unit": "log-odds", "rows": rows}
    w = weight[0]
    intercept = target.centre + target.scale * float(bias[0])
    position = 0
    for feature in schema.features:
        block = w[position: position + feature.width]
        position += feature.width
        if feature.encoding == "scaled":
            coefficient = target.scale * float(block[0]) / feature.scale
            intercept -= coefficient * feature.centre
            unit = f"{target.unit} / {feature.unit}" if feature.unit else target.unit
            rows.append({"feature": feature.name, "label": feature.label, "coefficient": coefficient, "unit": unit})
        else:
            for label, value in zip(feature.column_labels(), block):
                rows.append({"feature": label, "label": feature.label, "coefficient": target.scale * float(value),
                             "unit": target.unit})
    return {"intercept": intercept, "intercept_unit": target.unit, "rows": rows}


def encode_record(schema: TabularSchema, values: dict[str, Any]) -> np.ndarray:
    """One record (e.g. an applicant scored outside any data set) as a ``(encoded_width,)`` input. A missing
    value (``None``, ``nan``) or an unknown category leaves its feature's block at zero: the model then adds
    nothing for that feature (its intercept stands for it), like a scorecard's neutral missing bin."""
    blocks = []
    for feature in schema.features:
        value = values.get(feature.name)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if feature.kind == "categorical" and not missing and str(value) not in feature.categories:
            missing = True
        if missing:
            blocks.append(np.zeros(feature.width))
        else:
            cell = np.array([str(value)], dtype=object) if feature.kind == "categorical" else np.array([float(value)])
            blocks.append(feature.encode(cell)[0])
    return np.concatenate(blocks)
