"""Application/behavioural scorecard PD model: binning, weight of evidence, logistic regression.

Method (Siddiqi, "Intelligent Credit Scoring", 2nd ed. 2017, ch. 10; Thomas, Edelman & Crook,
"Credit Scoring and Its Applications", 2nd ed. 2017; Anderson, "The Credit Scoring Toolkit", 2007):

1. Binning. A numeric variable is cut into quantile pre-bins, small bins are merged into a
   neighbour, and adjacent bins are pooled (pool-adjacent-violators) until the weight of evidence
   is strictly monotone in the requested direction ("increasing": higher values are better,
   "decreasing": worse, "auto": whichever gives the larger information value, "none": no
   constraint). Missing values (NaN) get a bin of their own. A categorical variable has one bin
   per category; categories rarer than the minimum bin size are pooled into one "other" bin.
2. Weight of evidence per bin WoE = ln(%good / %bad), with additive smoothing
   %good_i = (g_i + a) / (G + a k) (and likewise for bads) so that bins without goods or bads stay
   finite; information value IV = sum_i (%good_i - %bad_i) WoE_i. Variables below a minimum IV are
   left out (Siddiqi's rule of thumb: IV < 0.02 is unpredictive).
3. Logistic regression of ln(odds of good) = b0 + sum_j b_j WoE_j, fitted by L-BFGS-B
   (scipy.optimize) on the mean log-loss plus (l2/2) |b|^2 (intercept not penalised); by default
   b_j >= 0 so that each variable's points follow its WoE (a negative sign would reverse the
   binning's meaning, a symptom of collinearity).
4. Scaling: score = offset + factor ln(odds of good), factor = PDO / ln 2, offset = base score -
   factor ln(base odds). Variable j's points in bin i are factor (b_j WoE_ij + b0/p) + offset/p, so
   the points of an applicant add up to the score.

Unseen values at prediction time: a missing numeric value with no missing bin in training, or a
category never seen and no "other" bin, gets WoE 0 (the population average, a neutral input).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

SCORECARD_FORMAT = "presstrust.scorecard"
SCORECARD_FORMAT_VERSION = 1
MISSING_LABEL = "missing"
OTHER_CATEGORY_LABEL = "other"


class VariableKind(StrEnum):
    """Numeric variables are cut into ordered bins; categorical ones get a bin per category."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class Monotonicity(StrEnum):
    """Direction of the WoE (log good/bad odds) as a numeric variable's value increases."""

    AUTO = "auto"
    INCREASING = "increasing"
    DECREASING = "decreasing"
    NONE = "none"


@dataclass(frozen=True)
class VariableSpec:
    """A scorecard input: its column name, kind, and (numeric only) the required WoE trend.

    Example: ``VariableSpec("health_index", monotone="increasing")`` (a healthier press is a
    better risk), ``VariableSpec("alarm_level", monotone="decreasing")``,
    ``VariableSpec("purpose", kind="categorical")``.
    """

    name: str
    kind: VariableKind = VariableKind.NUMERIC
    monotone: Monotonicity = Monotonicity.AUTO

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", VariableKind(self.kind))
        object.__setattr__(self, "monotone", Monotonicity(self.monotone))


@dataclass(frozen=True)
class ScoreScaling:
    """Points scaling: ``base_score`` points at good:bad odds ``base_odds``; odds double every
    ``points_to_double_odds`` points (PDO)."""

    points_to_double_odds: float = 20.0
    base_score: float = 600.0
    base_odds: float = 50.0

    def __post_init__(self) -> None:
        if self.points_to_double_odds <= 0 or self.base_odds <= 0:
            raise ValueError("points_to_double_odds and base_odds must be positive")

    @property
    def factor(self) -> float:
        """Points per unit of ln(odds): PDO / ln 2."""
        return self.points_to_double_odds / math.log(2.0)

    @property
    def offset(self) -> float:
        """Score at ln(odds) = 0: base_score - factor ln(base_odds)."""
        return self.base_score - self.factor * math.log(self.base_odds)


def _is_missing_category(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _plain_value(value):
    """A numpy scalar as the equivalent Python value (so explanations serialise to JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def _format_edge(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:g}"


@dataclass(frozen=True)
class VariableBinning:
    """Fitted bins of one variable and their WoE.

    Numeric: ``edges`` are the interior cut points e_1 < ... < e_m; bin 0 is (-inf, e_1], bin i is
    (e_i, e_{i+1}], the last (e_m, inf). Categorical: ``category_groups[i]`` lists the categories
    of bin i (a pooled group of rare ones is labelled "other"). ``woe``, ``good_counts``,
    ``bad_counts`` per bin; ``missing_*`` for the missing-value bin (WoE 0 and no counts when
    training had no missing values). ``direction`` is the WoE trend the bins satisfy.
    """

    name: str
    kind: VariableKind
    woe: tuple[float, ...]
    good_counts: tuple[int, ...]
    bad_counts: tuple[int, ...]
    information_value: float
    edges: tuple[float, ...] = ()
    category_groups: tuple[tuple[str, ...], ...] = ()
    other_bin: int | None = None
    missing_woe: float = 0.0
    missing_good_count: int = 0
    missing_bad_count: int = 0
    direction: Monotonicity = Monotonicity.NONE

    @property
    def n_bins(self) -> int:
        """Number of bins, excluding the missing-value bin."""
        return len(self.woe)

    def bin_labels(self) -> list[str]:
        """Readable label of each bin, e.g. "(12, 24]" or "A11, A12"."""
        if self.kind is VariableKind.NUMERIC:
            bounds = (-math.inf, *self.edges, math.inf)
            return [
                f"({_format_edge(lower)}, {_format_edge(upper)}{')' if math.isinf(upper) else ']'}"
                for lower, upper in itertools.pairwise(bounds)
            ]
        return [
            OTHER_CATEGORY_LABEL if index == self.other_bin else ", ".join(group)
            for index, group in enumerate(self.category_groups)
        ]

    def bin_index(self, values) -> np.ndarray:
        """Bin of each value: 0..n_bins-1, -1 for missing, -2 for an unseen category."""
        if self.kind is VariableKind.NUMERIC:
            numbers = np.atleast_1d(np.asarray(values, dtype=float))
            index = np.searchsorted(np.asarray(self.edges, dtype=float), numbers, side="left")
            return np.where(np.isnan(numbers), -1, index)
        lookup = {category: bin_id for bin_id, group in enumerate(self.category_groups) for category in group}
        unseen_bin = -2 if self.other_bin is None else self.other_bin
        return np.array(
            [
                -1 if _is_missing_category(value) else lookup.get(str(value), unseen_bin)
                for value in np.atleast_1d(np.asarray(values, dtype=object))
            ],
            dtype=int,
        )

    def woe_values(self, values) -> np.ndarray:
        """WoE of each value (missing -> missing WoE, unseen category -> 0)."""
        index = self.bin_index(values)
        table = np.asarray(self.woe, dtype=float)
        woe = table[np.clip(index, 0, None)]
        woe = np.where(index == -1, self.missing_woe, woe)
        return np.where(index == -2, 0.0, woe)

    def label_of(self, value) -> str:
        """Label of the bin ``value`` falls in ("missing" / "unseen category" included)."""
        index = int(self.bin_index([value])[0])
        if index == -1:
            return MISSING_LABEL
        if index == -2:
            return "unseen category"
        return self.bin_labels()[index]

    def to_dict(self) -> dict:
        """JSON-able dict of the bins (see ``Scorecard.to_dict``)."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "woe": list(self.woe),
            "good_counts": list(self.good_counts),
            "bad_counts": list(self.bad_counts),
            "information_value": self.information_value,
            "edges": list(self.edges),
            "category_groups": [list(group) for group in self.category_groups],
            "other_bin": self.other_bin,
            "missing_woe": self.missing_woe,
            "missing_good_count": self.missing_good_count,
            "missing_bad_count": self.missing_bad_count,
            "direction": self.direction.value,
        }

    @classmethod
    def from_dict(cls, values: Mapping) -> VariableBinning:
        """Inverse of ``to_dict``."""
        return cls(
            name=str(values["name"]),
            kind=VariableKind(values["kind"]),
            woe=tuple(float(v) for v in values["woe"]),
            good_counts=tuple(int(v) for v in values["good_counts"]),
            bad_counts=tuple(int(v) for v in values["bad_counts"]),
            information_value=float(values["information_value"]),
            edges=tuple(float(v) for v in values["edges"]),
            category_groups=tuple(tuple(str(c) for c in group) for group in values["category_groups"]),
            other_bin=None if values["other_bin"] is None else int(values["other_bin"]),
            missing_woe=float(values["missing_woe"]),
            missing_good_count=int(values["missing_good_count"]),
            missing_bad_count=int(values["missing_bad_count"]),
            direction=Monotonicity(values["direction"]),
        )


def weight_of_evidence(good_counts, bad_counts, smoothing: float = 0.5) -> tuple[np.ndarray, float]:
    """Smoothed WoE per bin and the information value.

    Inputs: goods and bads per bin (counts, same length k); additive ``smoothing`` a >= 0.
    Output: (WoE array, IV) with %good_i = (g_i + a) / (G + a k), %bad_i likewise,
    WoE_i = ln(%good_i / %bad_i), IV = sum (%good_i - %bad_i) WoE_i.
    """
    goods = np.asarray(good_counts, dtype=float)
    bads = np.asarray(bad_counts, dtype=float)
    if smoothing < 0:
        raise ValueError("smoothing must not be negative")
    good_share = (goods + smoothing) / (goods.sum() + smoothing * goods.size)
    bad_share = (bads + smoothing) / (bads.sum() + smoothing * bads.size)
    with np.errstate(divide="ignore"):
        woe = np.log(good_share) - np.log(bad_share)
    if not np.all(np.isfinite(woe)):
        raise ValueError("a bin has no goods or no bads; use a positive smoothing")
    return woe, float(np.sum((good_share - bad_share) * woe))


def _merge_adjacent(goods: list[float], bads: list[float], edges: list[float], left: int) -> None:
    """Merge bin ``left`` with bin ``left + 1`` in place (dropping the edge between them)."""
    goods[left] += goods.pop(left + 1)
    bads[left] += bads.pop(left + 1)
    edges.pop(left)


def _merge_small_bins(goods: list[float], bads: list[float], edges: list[float], min_count: float) -> None:
    """Merge each bin with fewer than ``min_count`` observations into its smaller neighbour."""
    while len(goods) > 1:
        sizes = np.add(goods, bads)
        smallest = int(np.argmin(sizes))
        if sizes[smallest] >= min_count:
            return
        if smallest == 0:
            neighbour = 1
        elif smallest == len(goods) - 1:
            neighbour = smallest - 1
        else:
            neighbour = smallest - 1 if sizes[smallest - 1] <= sizes[smallest + 1] else smallest + 1
        _merge_adjacent(goods, bads, edges, min(smallest, neighbour))


def _enforce_monotone(
    goods: list[float], bads: list[float], edges: list[float], sign: int, smoothing: float
) -> None:
    """Pool adjacent bins until the smoothed WoE is strictly monotone (sign +1 increasing, -1
    decreasing): pool-adjacent-violators, merging at each step the violating pair whose WoE
    differs least (the cheapest merge in information)."""
    while len(goods) > 1:
        woe, _ = weight_of_evidence(goods, bads, smoothing)
        steps = sign * np.diff(woe)
        violations = np.flatnonzero(steps <= 0)
        if violations.size == 0:
            return
        left = int(violations[np.argmin(np.abs(steps[violations]))])
        _merge_adjacent(goods, bads, edges, left)


def _numeric_prebins(values: np.ndarray, n_prebins: int) -> list[float]:
    """Interior cut points at the quantiles of ``values``, snapped to observed values so that
    every pre-bin (e_{i-1}, e_i] holds data; the top edge below the maximum keeps the last bin
    non-empty."""
    levels = np.linspace(0.0, 1.0, n_prebins + 1)[1:-1]
    cuts = np.unique(np.quantile(values, levels, method="lower"))
    return [float(cut) for cut in cuts if cut < values.max()]


def _bin_numeric(
    spec: VariableSpec,
    values: np.ndarray,
    defaulted: np.ndarray,
    n_prebins: int,
    min_bin_count: float,
    smoothing: float,
) -> VariableBinning:
    present = ~np.isnan(values)
    if not present.any():
        raise ValueError(f"variable {spec.name!r} has no non-missing values")
    x, bad = values[present], defaulted[present]
    initial_edges = _numeric_prebins(x, n_prebins)
    bin_of = np.searchsorted(np.asarray(initial_edges), x, side="left")
    n_initial = len(initial_edges) + 1
    initial_bads = np.bincount(bin_of, weights=bad, minlength=n_initial)
    initial_goods = np.bincount(bin_of, minlength=n_initial) - initial_bads

    missing_good = int((~defaulted[~present]).sum())
    missing_bad = int(defaulted[~present].sum())

    if spec.monotone is Monotonicity.AUTO:
        directions = (Monotonicity.INCREASING, Monotonicity.DECREASING)
    else:
        directions = (spec.monotone,)
    best = None
    for direction in directions:
        goods, bads, edges = list(initial_goods), list(initial_bads), list(initial_edges)
        _merge_small_bins(goods, bads, edges, min_bin_count)
        if direction is not Monotonicity.NONE:
            _enforce_monotone(
                goods, bads, edges, 1 if direction is Monotonicity.INCREASING else -1, smoothing
            )
        all_goods = goods + ([missing_good] if missing_good + missing_bad else [])
        all_bads = bads + ([missing_bad] if missing_good + missing_bad else [])
        woe, information_value = weight_of_evidence(all_goods, all_bads, smoothing)
        candidate = (information_value, direction, goods, bads, edges, woe)
        if best is None or information_value > best[0]:
            best = candidate
    information_value, direction, goods, bads, edges, woe = best
    has_missing_bin = missing_good + missing_bad > 0
    return VariableBinning(
        name=spec.name,
        kind=VariableKind.NUMERIC,
        woe=tuple(float(w) for w in woe[: len(goods)]),
        good_counts=tuple(int(g) for g in goods),
        bad_counts=tuple(int(b) for b in bads),
        information_value=information_value,
        edges=tuple(edges),
        missing_woe=float(woe[-1]) if has_missing_bin else 0.0,
        missing_good_count=missing_good,
        missing_bad_count=missing_bad,
        direction=direction if len(goods) > 1 else Monotonicity.NONE,
    )


def _bin_categorical(
    spec: VariableSpec, values: np.ndarray, defaulted: np.ndarray, min_bin_count: float, smoothing: float
) -> VariableBinning:
    missing = np.array([_is_missing_category(value) for value in values], dtype=bool)
    labels = np.array([str(value) for value in values[~missing]], dtype=object)
    bad = defaulted[~missing]
    categories, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse, minlength=categories.size)
    category_bads = np.bincount(inverse, weights=bad, minlength=categories.size)
    frequent = counts >= min_bin_count

    groups = [(str(category),) for category in categories[frequent]]
    goods = list(counts[frequent] - category_bads[frequent])
    bads = list(category_bads[frequent])
    other_bin = None
    if (~frequent).any():
        other_bin = len(groups)
        groups.append(tuple(str(category) for category in categories[~frequent]))
        goods.append(counts[~frequent].sum() - category_bads[~frequent].sum())
        bads.append(category_bads[~frequent].sum())
    missing_good = int((~defaulted[missing]).sum())
    missing_bad = int(defaulted[missing].sum())
    has_missing_bin = missing_good + missing_bad > 0
    woe, information_value = weight_of_evidence(
        goods + ([missing_good] if has_missing_bin else []),
        bads + ([missing_bad] if has_missing_bin else []),
        smoothing,
    )
    return VariableBinning(
        name=spec.name,
        kind=VariableKind.CATEGORICAL,
        woe=tuple(float(w) for w in woe[: len(goods)]),
        good_counts=tuple(int(g) for g in goods),
        bad_counts=tuple(int(b) for b in bads),
        information_value=information_value,
        category_groups=tuple(groups),
        other_bin=other_bin,
        missing_woe=float(woe[-1]) if has_missing_bin else 0.0,
        missing_good_count=missing_good,
        missing_bad_count=missing_bad,
    )


def bin_variable(
    spec: VariableSpec,
    values,
    defaulted,
    *,
    n_prebins: int = 10,
    min_bin_fraction: float = 0.05,
    woe_smoothing: float = 0.5,
) -> VariableBinning:
    """Fit the bins and WoE of one variable (see the module docstring for the method).

    Inputs: the spec; the variable's values (numbers, NaN for missing; or category labels, None or
    "" for missing); 0/1 default flags; number of quantile pre-bins; the smallest bin as a
    fraction of the sample; WoE smoothing. Output: ``VariableBinning``.
    """
    bad = _default_flags(defaulted)
    if not 0 <= min_bin_fraction < 0.5:
        raise ValueError("min_bin_fraction must lie in [0, 0.5)")
    if n_prebins < 2:
        raise ValueError("n_prebins must be at least 2")
    min_bin_count = min_bin_fraction * bad.size
    if spec.kind is VariableKind.NUMERIC:
        numbers = np.asarray(values, dtype=float)
        if numbers.shape != bad.shape:
            raise ValueError(f"variable {spec.name!r} has {numbers.size} values for {bad.size} outcomes")
        if np.any(np.isinf(numbers)):
            raise ValueError(f"variable {spec.name!r} contains infinite values")
        return _bin_numeric(spec, numbers, bad, n_prebins, min_bin_count, woe_smoothing)
    objects = np.asarray(values, dtype=object)
    if objects.shape != bad.shape:
        raise ValueError(f"variable {spec.name!r} has {objects.size} values for {bad.size} outcomes")
    return _bin_categorical(spec, objects, bad, min_bin_count, woe_smoothing)


def _default_flags(defaulted) -> np.ndarray:
    flags = np.asarray(defaulted)
    if flags.ndim != 1 or not np.all(np.isin(flags, (0, 1))):
        raise ValueError("defaulted must be a 1-D array of 0/1 or booleans")
    flags = flags.astype(bool)
    if flags.all() or not flags.any():
        raise ValueError("need both defaulted and non-defaulted observations")
    return flags


def fit_logistic_l2(
    features: np.ndarray, target: np.ndarray, l2_penalty: float, nonnegative: bool
) -> tuple[float, np.ndarray]:
    """L2-regularised logistic regression by L-BFGS-B.

    Minimises mean_i [ln(1 + e^{z_i}) - y_i z_i] + (l2/2) |b|^2, z = b0 + X b, intercept b0 not
    penalised; ``nonnegative`` bounds b >= 0. Inputs: X (n, p), y in {0, 1} (n,). Output
    (b0, b). Raises ``RuntimeError`` when the optimiser fails to converge.
    """
    n_obs, n_features = features.shape
    y = target.astype(float)

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        intercept, coefficients = theta[0], theta[1:]
        z = intercept + features @ coefficients
        loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2_penalty * coefficients @ coefficients
        residual = (expit(z) - y) / n_obs
        gradient = np.concatenate(([residual.sum()], features.T @ residual + l2_penalty * coefficients))
        return float(loss), gradient

    base_rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    start = np.concatenate(([math.log(base_rate / (1 - base_rate))], np.ones(n_features)))
    bounds = [(None, None)] + [(0.0, None) if nonnegative else (None, None)] * n_features
    result = minimize(
        loss_and_gradient,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 1000, "gtol": 1e-8},
    )
    if not result.success:
        _, gradient = loss_and_gradient(result.x)
        # Projected gradient: components pinned at the zero bound may point outward.
        projected = gradient.copy()
        if nonnegative:
            at_bound = (result.x[1:] <= 0) & (gradient[1:] > 0)
            projected[1:][at_bound] = 0.0
        if np.max(np.abs(projected)) > 1e-5:
            raise RuntimeError(f"logistic regression did not converge: {result.message}")
    return float(result.x[0]), np.asarray(result.x[1:], dtype=float)


@dataclass(frozen=True)
class DriverContribution:
    """How one input moved an applicant's PD.

    logit_contribution  b_j WoE_j on ln(odds of good); positive = this input lowered the PD.
    points              the variable's scorecard points (they add up to the score).
    points_vs_neutral   factor b_j WoE_j: points relative to a population-average input (WoE 0).
    pd_without          the PD with this input set to the population average (WoE 0).
    pd_change           PD - pd_without: positive when this input raised the PD (fraction).
    """

    variable: str
    value: object
    bin_label: str
    woe: float
    logit_contribution: float
    points: float
    points_vs_neutral: float
    pd_without: float
    pd_change: float


@dataclass(frozen=True)
class ApplicantExplanation:
    """PD, score and drivers of one applicant, drivers ordered by |pd_change| (largest first)."""

    pd: float
    score: float
    log_odds_good: float
    drivers: list[DriverContribution]


@dataclass(frozen=True)
class Scorecard:
    """A fitted scorecard: bins and WoE per variable, logistic coefficients, points scaling."""

    binnings: tuple[VariableBinning, ...]
    intercept: float
    coefficients: tuple[float, ...]
    scaling: ScoreScaling = field(default_factory=ScoreScaling)
    l2_penalty: float = 0.0
    excluded_variables: dict[str, float] = field(default_factory=dict)
    training_good_count: int = 0
    training_bad_count: int = 0

    @property
    def variable_names(self) -> list[str]:
        """Names of the variables in the model, in coefficient order."""
        return [binning.name for binning in self.binnings]

    @property
    def information_values(self) -> dict[str, float]:
        """IV of each variable in the model (excluded variables: ``excluded_variables``)."""
        return {binning.name: binning.information_value for binning in self.binnings}

    def woe_matrix(self, data: Mapping) -> np.ndarray:
        """WoE of each observation (rows) and model variable (columns); ``data`` maps names to
        1-D arrays (or scalars for one applicant)."""
        missing = [name for name in self.variable_names if name not in data]
        if missing:
            raise KeyError(f"data lacks scorecard variables: {missing}")
        columns = [binning.woe_values(data[binning.name]) for binning in self.binnings]
        lengths = {column.size for column in columns}
        if len(lengths) > 1:
            raise ValueError("all variables must have the same number of observations")
        return np.column_stack(columns) if columns else np.zeros((1, 0))

    def log_odds_good(self, data: Mapping) -> np.ndarray:
        """ln(odds of good) = b0 + sum_j b_j WoE_j per observation."""
        return self.intercept + self.woe_matrix(data) @ np.asarray(self.coefficients, dtype=float)

    def predict_pd(self, data: Mapping) -> np.ndarray:
        """Probability of default (bad) per observation: 1 / (1 + odds of good)."""
        return expit(-self.log_odds_good(data))

    def score(self, data: Mapping) -> np.ndarray:
        """Scorecard points per observation: offset + factor ln(odds of good)."""
        return self.scaling.offset + self.scaling.factor * self.log_odds_good(data)

    def points_table(self) -> list[dict]:
        """Points per bin of each variable (the printed scorecard), incl. the missing bin."""
        n_variables = max(len(self.binnings), 1)
        share = self.intercept / n_variables * self.scaling.factor + self.scaling.offset / n_variables
        rows = []
        for binning, coefficient in zip(self.binnings, self.coefficients, strict=True):
            labels = binning.bin_labels()
            for label, woe in zip([*labels, MISSING_LABEL], [*binning.woe, binning.missing_woe], strict=True):
                rows.append(
                    {
                        "variable": binning.name,
                        "bin": label,
                        "woe": woe,
                        "points": share + self.scaling.factor * coefficient * woe,
                    }
                )
        return rows

    def explain(self, applicant: Mapping) -> ApplicantExplanation:
        """PD, score and each input's contribution for one applicant (a mapping name -> value).

        Shows which inputs moved the PD and by how much: each variable's logit contribution
        b_j WoE_j, its points, and the PD change against a population-average value (WoE 0).
        """
        # An input absent from ``applicant`` is treated as missing (e.g. no health data grant).
        woe = self.woe_matrix({name: [applicant.get(name)] for name in self.variable_names})[0]
        coefficients = np.asarray(self.coefficients, dtype=float)
        contributions = coefficients * woe
        log_odds = self.intercept + contributions.sum()
        pd = float(expit(-log_odds))
        n_variables = max(len(self.binnings), 1)
        share = self.intercept / n_variables * self.scaling.factor + self.scaling.offset / n_variables
        drivers = []
        for binning, variable_woe, contribution in zip(self.binnings, woe, contributions, strict=True):
            pd_without = float(expit(-(log_odds - contribution)))
            drivers.append(
                DriverContribution(
                    variable=binning.name,
                    value=_plain_value(applicant.get(binning.name)),
                    bin_label=binning.label_of(applicant.get(binning.name)),
                    woe=float(variable_woe),
                    logit_contribution=float(contribution),
                    points=float(share + self.scaling.factor * contribution),
                    points_vs_neutral=float(self.scaling.factor * contribution),
                    pd_without=pd_without,
                    pd_change=pd - pd_without,
                )
            )
        drivers.sort(key=lambda driver: abs(driver.pd_change), reverse=True)
        return ApplicantExplanation(
            pd=pd,
            score=float(self.scaling.offset + self.scaling.factor * log_odds),
            log_odds_good=float(log_odds),
            drivers=drivers,
        )

    def to_dict(self) -> dict:
        """A JSON-able dict of the whole model (floats, ints, strings, lists, None only)."""
        return {
            "format": SCORECARD_FORMAT,
            "format_version": SCORECARD_FORMAT_VERSION,
            "variables": [binning.to_dict() for binning in self.binnings],
            "intercept": self.intercept,
            "coefficients": list(self.coefficients),
            "scaling": {
                "points_to_double_odds": self.scaling.points_to_double_odds,
                "base_score": self.scaling.base_score,
                "base_odds": self.scaling.base_odds,
            },
            "l2_penalty": self.l2_penalty,
            "excluded_variables": dict(self.excluded_variables),
            "training_good_count": self.training_good_count,
            "training_bad_count": self.training_bad_count,
        }

    @classmethod
    def from_dict(cls, values: Mapping) -> Scorecard:
        """Rebuild a scorecard from ``to_dict`` output; rejects other formats or versions."""
        if (
            values.get("format") != SCORECARD_FORMAT
            or values.get("format_version") != SCORECARD_FORMAT_VERSION
        ):
            raise ValueError(
                f"not a {SCORECARD_FORMAT} v{SCORECARD_FORMAT_VERSION} document: "
                f"{values.get('format')!r} v{values.get('format_version')!r}"
            )
        binnings = tuple(VariableBinning.from_dict(item) for item in values["variables"])
        coefficients = tuple(float(c) for c in values["coefficients"])
        if len(coefficients) != len(binnings):
            raise ValueError("one coefficient per variable is required")
        return cls(
            binnings=binnings,
            intercept=float(values["intercept"]),
            coefficients=coefficients,
            scaling=ScoreScaling(**values["scaling"]),
            l2_penalty=float(values["l2_penalty"]),
            excluded_variables={str(k): float(v) for k, v in values["excluded_variables"].items()},
            training_good_count=int(values["training_good_count"]),
            training_bad_count=int(values["training_bad_count"]),
        )


def fit_scorecard(
    data: Mapping,
    defaulted,
    variables: Sequence[VariableSpec],
    *,
    n_prebins: int = 10,
    min_bin_fraction: float = 0.05,
    woe_smoothing: float = 0.5,
    min_information_value: float = 0.02,
    l2_penalty: float = 1e-2,
    nonnegative_coefficients: bool = True,
    scaling: ScoreScaling | None = None,
) -> Scorecard:
    """Fit a WoE logistic scorecard (see the module docstring for the method).

    Inputs: ``data`` maps each variable name to a 1-D array (numeric with NaN for missing, or
    category labels); ``defaulted`` 0/1 outcome per row (1 = bad); ``variables`` the candidate
    inputs, which may include equipment-health covariates such as ``health_index`` (monotone
    "increasing"), ``alarm_level`` or ``model_failure_risk`` ("decreasing"); binning settings;
    variables with IV below ``min_information_value`` are excluded (reported in
    ``excluded_variables`` with their IV); ``l2_penalty`` on the WoE coefficients.
    Output: a fitted ``Scorecard``.
    """
    bad = _default_flags(defaulted)
    names = [spec.name for spec in variables]
    if len(set(names)) != len(names):
        raise ValueError("variable names must be unique")
    binnings, excluded = [], {}
    for spec in variables:
        if spec.name not in data:
            raise KeyError(f"data has no column {spec.name!r}")
        binning = bin_variable(
            spec,
            data[spec.name],
            bad,
            n_prebins=n_prebins,
            min_bin_fraction=min_bin_fraction,
            woe_smoothing=woe_smoothing,
        )
        if binning.information_value < min_information_value:
            excluded[spec.name] = binning.information_value
        else:
            binnings.append(binning)
    if not binnings:
        raise ValueError("no variable reaches the minimum information value")
    features = np.column_stack([binning.woe_values(data[binning.name]) for binning in binnings])
    intercept, coefficients = fit_logistic_l2(features, ~bad, l2_penalty, nonnegative_coefficients)
    return Scorecard(
        binnings=tuple(binnings),
        intercept=intercept,
        coefficients=tuple(float(c) for c in coefficients),
        scaling=scaling or ScoreScaling(),
        l2_penalty=l2_penalty,
        excluded_variables=excluded,
        training_good_count=int((~bad).sum()),
        training_bad_count=int(bad.sum()),
    )
