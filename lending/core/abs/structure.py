"""Deal structure: tranches, waterfall rules, reserve, coverage tests and collateral assumptions.

Tranches are slices [attachment, detachment] of the pool's closing balance, as fractions; together they
must tile [0, 1] exactly (the equity tranche attaches at 0, the most senior detaches at 1). Everything is
validated on construction and every problem raises ``StructureError`` naming the tranche and field.
``structure_from_dict`` reads the JSON layout documented in ``lending.core.abs.cli``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from .errors import StructureError

WATERFALLS = ("sequential", "pro_rata")
MAX_HORIZON_MONTHS = 1200   # 100 years; also bounds the month indices the engine sorts as 16-bit keys
_TILING_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Tranche:
    """One class of notes: the pool-loss slice [attachment, detachment] (fractions of the closing pool
    balance) and its annual coupon (fraction; 0 for an equity piece that lives on the residual)."""

    name: str
    attachment: float
    detachment: float
    coupon: float = 0.0

    @property
    def size(self) -> float:
        """Thickness D - A, fraction of the pool."""
        return self.detachment - self.attachment


@dataclass(frozen=True)
class ReserveSpec:
    """Cash reserve: funded at closing with ``initial_fraction`` of the pool balance; topped up from
    excess spread to max(``target_fraction`` × performing pool balance, ``floor_fraction`` × closing
    balance); amounts above the target are released to the revenue waterfall; drawn for senior fees and
    note interest shortfalls; released in full in the last period."""

    target_fraction: float = 0.0
    floor_fraction: float = 0.0
    initial_fraction: float = 0.0


@dataclass(frozen=True)
class CopulaSpec:
    """Gaussian copula parameters (Li 2000; one-factor form as in Vasicek 2002).

    Facility i in sector k defaults when sqrt(rho_k)·Y_k + sqrt(1 - rho_k)·e_i < G(PD_i), where the
    sector factor Y_k = sqrt(w_k)·Z + sqrt(1 - w_k)·eta_k mixes the global factor Z with a sector-specific
    one. ``rho`` is the asset correlation of sectors not listed in ``sector_rho``; ``global_factor_weight``
    (w, in [0, 1]) is the share of a sector factor's variance explained by Z, overridable per sector in
    ``sector_global_weight``. w = 1 everywhere is the one-factor model the closed forms cover.
    """

    rho: float = 0.15
    sector_rho: Mapping[str, float] = field(default_factory=dict)
    global_factor_weight: float = 1.0
    sector_global_weight: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _unit_interval(self.rho, "correlation", upper_open=True)
        for sector, value in self.sector_rho.items():
            _unit_interval(value, f"sector_correlation[{sector!r}]", upper_open=True)
        _unit_interval(self.global_factor_weight, "global_factor_weight")
        for sector, value in self.sector_global_weight.items():
            _unit_interval(value, f"sector_global_weight[{sector!r}]")
        object.__setattr__(self, "sector_rho", MappingProxyType(dict(self.sector_rho)))
        object.__setattr__(self, "sector_global_weight", MappingProxyType(dict(self.sector_global_weight)))

    def rho_for(self, sectors: np.ndarray) -> np.ndarray:
        """Asset correlation of each facility, from its sector."""
        return np.array([self.sector_rho.get(s, self.rho) for s in sectors], dtype=float)

    def global_weight_for(self, sectors: np.ndarray) -> np.ndarray:
        """Global-factor weight w of each facility's sector factor."""
        return np.array([self.sector_global_weight.get(s, self.global_factor_weight) for s in sectors], float)

    @property
    def is_one_factor(self) -> bool:
        """True when every sector factor is the global factor (w = 1), so one Z drives all defaults."""
        return self.global_factor_weight == 1.0 and all(v == 1.0 for v in self.sector_global_weight.values())

    def with_correlation(self, rho: float) -> "CopulaSpec":
        """The same spec with every sector's asset correlation set to ``rho``."""
        return replace(self, rho=float(rho), sector_rho={})


@dataclass(frozen=True)
class Assumptions:
    """Collateral assumptions: constant prepayment rate ``cpr`` (annual fraction), recovery lag in
    months (recoveries arrive this many months after the default month) and the copula."""

    cpr: float = 0.0
    recovery_lag_months: int = 6
    copula: CopulaSpec = field(default_factory=CopulaSpec)

    def __post_init__(self) -> None:
        if not (_is_number(self.cpr) and 0.0 <= self.cpr < 1.0):
            raise StructureError(f"assumption 'cpr' = {self.cpr!r} must be in [0, 1)", field="cpr")
        if not (isinstance(self.recovery_lag_months, (int, np.integer)) and self.recovery_lag_months >= 0):
            raise StructureError(f"assumption 'recovery_lag_months' = {self.recovery_lag_months!r} must be a "
                                 f"whole number >= 0", field="recovery_lag_months")


@dataclass(frozen=True)
class Structure:
    """A validated deal: tranches senior first, waterfall rules, reserve, tests and assumptions.

    ``horizon_months`` None means "the pool's longest maturity". ``senior_fee_rate`` is an annual
    fraction of the performing pool balance paid before any note interest. ``oc_triggers`` and
    ``ic_triggers`` map tranche names to the minimum over-collateralisation ratio (collateral / notes
    senior to and including the class) and interest-cover ratio (interest collections net of fees /
    interest due on those notes).
    """

    tranches: tuple[Tranche, ...]
    waterfall: str = "sequential"
    horizon_months: int | None = None
    senior_fee_rate: float = 0.0
    reserve: ReserveSpec = field(default_factory=ReserveSpec)
    oc_triggers: Mapping[str, float] = field(default_factory=dict)
    ic_triggers: Mapping[str, float] = field(default_factory=dict)
    assumptions: Assumptions = field(default_factory=Assumptions)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tranches", validate_tranches(self.tranches))
        if self.waterfall not in WATERFALLS:
            raise StructureError(f"waterfall {self.waterfall!r} unknown; expected 'sequential' or 'pro_rata'",
                                 field="waterfall")
        horizon = self.horizon_months
        if horizon is not None and not (isinstance(horizon, (int, np.integer)) and 0 < horizon <= MAX_HORIZON_MONTHS):
            raise StructureError(f"horizon_months = {self.horizon_months!r} must be a whole number in "
                                 f"1..{MAX_HORIZON_MONTHS}", field="horizon_months")
        if not (_is_number(self.senior_fee_rate) and 0.0 <= self.senior_fee_rate < 1.0):
            raise StructureError(f"senior_fee_rate = {self.senior_fee_rate!r} must be in [0, 1)",
                                 field="senior_fee_rate")
        for name in ("target_fraction", "floor_fraction", "initial_fraction"):
            value = getattr(self.reserve, name)
            if not (_is_number(value) and 0.0 <= value <= 1.0):
                raise StructureError(f"reserve {name} = {value!r} must be in [0, 1]", field=f"reserve.{name}")
        names = {t.name for t in self.tranches}
        for label, triggers in (("oc", self.oc_triggers), ("ic", self.ic_triggers)):
            for name, value in triggers.items():
                if name not in names:
                    raise StructureError(f"{label} trigger names tranche {name!r}, which is not in the "
                                         f"structure ({', '.join(sorted(names))})", tranche=name, field=label)
                if not (_is_number(value) and value > 0):
                    raise StructureError(f"tranche {name!r}: {label} trigger {value!r} must be a number > 0",
                                         tranche=name, field=label)
            object.__setattr__(self, f"{label}_triggers", MappingProxyType(dict(triggers)))

    @property
    def names(self) -> list[str]:
        """Tranche names, senior first."""
        return [t.name for t in self.tranches]

    def horizon_for(self, pool_max_maturity_months: int) -> int:
        """The deal horizon in months: ``horizon_months`` or, when unset, the pool's longest maturity."""
        return int(self.horizon_months) if self.horizon_months is not None else int(pool_max_maturity_months)

    def with_attachments(self, attachments: list[float]) -> "Structure":
        """The same deal with new attachment points (senior first, one per tranche; the most junior
        must be 0); each tranche detaches where the one above attaches."""
        if len(attachments) != len(self.tranches):
            raise StructureError(f"{len(attachments)} attachment points for {len(self.tranches)} tranches")
        detachments = [1.0] + list(attachments[:-1])
        tranches = tuple(replace(t, attachment=float(a), detachment=float(d))
                         for t, a, d in zip(self.tranches, attachments, detachments))
        return replace(self, tranches=tranches)


def validate_tranches(tranches) -> tuple[Tranche, ...]:
    """Check that tranches tile [0, 1] exactly and return them senior first (highest attachment first).

    Raises ``StructureError`` naming the tranche and field for: a missing/empty/duplicate name, an
    attachment or detachment outside [0, 1], attachment >= detachment (zero or negative size), a
    negative coupon, overlapping or gapped neighbours, or no tranche at 0 or at 1.
    """
    tranches = tuple(tranches)
    if not tranches:
        raise StructureError("the structure has no tranches", field="tranches")
    seen = set()
    for t in tranches:
        if not isinstance(t.name, str) or not t.name.strip():
            raise StructureError(f"a tranche has an empty name ({t!r})", field="name")
        if t.name in seen:
            raise StructureError(f"tranche name {t.name!r} is used twice", tranche=t.name, field="name")
        seen.add(t.name)
        for name in ("attachment", "detachment", "coupon"):
            value = getattr(t, name)
            if not _is_number(value) or not math.isfinite(value):
                raise StructureError(f"tranche {t.name!r}: field {name!r} = {value!r} is not a finite number",
                                     tranche=t.name, field=name)
        for name in ("attachment", "detachment"):
            value = getattr(t, name)
            if not 0.0 <= value <= 1.0:
                raise StructureError(f"tranche {t.name!r}: {name} {value!r} is outside [0, 1]",
                                     tranche=t.name, field=name)
        if t.attachment >= t.detachment:
            raise StructureError(f"tranche {t.name!r}: attachment {t.attachment!r} must be below detachment "
                                 f"{t.detachment!r} (its size {t.detachment - t.attachment!r} is not positive)",
                                 tranche=t.name, field="attachment")
        if t.coupon < 0:
            raise StructureError(f"tranche {t.name!r}: coupon {t.coupon!r} must be >= 0",
                                 tranche=t.name, field="coupon")
        if t.coupon > 1:
            raise StructureError(f"tranche {t.name!r}: coupon {t.coupon!r} is above 1; give an annual fraction "
                                 f"(0.045 for 4.5 %)", tranche=t.name, field="coupon")
    ordered = sorted(tranches, key=lambda t: t.attachment)
    if abs(ordered[0].attachment) > _TILING_TOLERANCE:
        raise StructureError(f"gap at the bottom: no tranche attaches at 0 (the most junior, "
                             f"{ordered[0].name!r}, attaches at {ordered[0].attachment!r})",
                             tranche=ordered[0].name, field="attachment")
    if abs(ordered[-1].detachment - 1.0) > _TILING_TOLERANCE:
        raise StructureError(f"gap at the top: no tranche detaches at 1 (the most senior, "
                             f"{ordered[-1].name!r}, detaches at {ordered[-1].detachment!r})",
                             tranche=ordered[-1].name, field="detachment")
    for low, high in zip(ordered[:-1], ordered[1:]):
        if low.detachment > high.attachment + _TILING_TOLERANCE:
            raise StructureError(f"tranches {low.name!r} [{low.attachment!r}, {low.detachment!r}] and "
                                 f"{high.name!r} [{high.attachment!r}, {high.detachment!r}] overlap between "
                                 f"{high.attachment!r} and {min(low.detachment, high.detachment)!r}",
                                 tranche=low.name, field="detachment")
        if low.detachment < high.attachment - _TILING_TOLERANCE:
            raise StructureError(f"gap between tranche {low.name!r} (detaches at {low.detachment!r}) and "
                                 f"tranche {high.name!r} (attaches at {high.attachment!r})",
                                 tranche=low.name, field="detachment")
    # Snap to the exact grid so that tranche losses telescope to the pool loss without rounding residue.
    snapped, below = [], 0.0
    for t in ordered:
        top = 1.0 if t is ordered[-1] else t.detachment
        snapped.append(replace(t, attachment=float(below), detachment=float(top), coupon=float(t.coupon)))
        below = top
    return tuple(reversed(snapped))


# ---------------------------------------------------------------------- JSON
_TOP_KEYS = {"name", "description", "tranches", "waterfall", "horizon_months", "senior_fee_rate", "reserve",
             "oc", "ic", "assumptions"}
_TRANCHE_KEYS = {"name", "attachment", "detachment", "coupon"}
_RESERVE_KEYS = {"target_fraction", "floor_fraction", "initial_fraction"}
_ASSUMPTION_KEYS = {"cpr", "recovery_lag_months", "correlation", "sector_correlation", "global_factor_weight",
                    "sector_global_weight"}


def structure_from_dict(data: Mapping[str, Any]) -> Structure:
    """Build a validated ``Structure`` from the STRUCTURE.json layout (see ``lending.core.abs.cli``).

    Unknown keys are rejected (a misspelt ``attachement`` must not be silently ignored). Raises
    ``StructureError`` naming the tranche and field.
    """
    if not isinstance(data, Mapping):
        raise StructureError("the structure must be a JSON object")
    _no_unknown(data, _TOP_KEYS, "structure")
    raw = data.get("tranches")
    if not isinstance(raw, list) or not raw:
        raise StructureError("field 'tranches' must be a non-empty list", field="tranches")
    tranches = []
    for k, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise StructureError(f"tranche #{k + 1} must be an object", field="tranches")
        name = item.get("name")
        label = repr(name) if name is not None else f"#{k + 1}"
        if not isinstance(name, str) or not name.strip():
            raise StructureError(f"tranche {label}: field 'name' is missing or empty", field="name")
        _no_unknown(item, _TRANCHE_KEYS, f"tranche {name!r}")
        values = {}
        for key in ("attachment", "detachment", "coupon"):
            if key not in item:
                if key == "coupon":
                    values[key] = 0.0
                    continue
                raise StructureError(f"tranche {name!r}: field {key!r} is missing", tranche=name, field=key)
            values[key] = _number(item[key], f"tranche {name!r}: field {key!r}", tranche=name, field=key)
        tranches.append(Tranche(name=name, **values))
    reserve_raw = data.get("reserve") or {}
    if not isinstance(reserve_raw, Mapping):
        raise StructureError("field 'reserve' must be an object", field="reserve")
    _no_unknown(reserve_raw, _RESERVE_KEYS, "reserve")
    reserve = ReserveSpec(**{k: _number(v, f"reserve {k}", field=f"reserve.{k}") for k, v in reserve_raw.items()})
    triggers = {}
    for label in ("oc", "ic"):
        raw_triggers = data.get(label) or {}
        if not isinstance(raw_triggers, Mapping):
            raise StructureError(f"field {label!r} must be an object of tranche name -> trigger", field=label)
        triggers[label] = {str(k): _number(v, f"tranche {k!r}: {label} trigger", tranche=str(k), field=label)
                           for k, v in raw_triggers.items()}
    horizon = data.get("horizon_months")
    if horizon is not None:
        horizon = _whole(horizon, "horizon_months")
    return Structure(
        tranches=tuple(tranches), waterfall=data.get("waterfall", "sequential"), horizon_months=horizon,
        senior_fee_rate=_number(data.get("senior_fee_rate", 0.0), "senior_fee_rate", field="senior_fee_rate"),
        reserve=reserve, oc_triggers=triggers["oc"], ic_triggers=triggers["ic"],
        assumptions=assumptions_from_dict(data.get("assumptions") or {}))


def assumptions_from_dict(data: Mapping[str, Any]) -> Assumptions:
    """Parse the ``assumptions`` object: cpr, recovery_lag_months, correlation, sector_correlation,
    global_factor_weight, sector_global_weight (all optional)."""
    if not isinstance(data, Mapping):
        raise StructureError("field 'assumptions' must be an object", field="assumptions")
    _no_unknown(data, _ASSUMPTION_KEYS, "assumptions")

    def mapping(key):
        value = data.get(key) or {}
        if not isinstance(value, Mapping):
            raise StructureError(f"assumption {key!r} must be an object of sector -> value", field=key)
        return {str(k): _number(v, f"assumption {key}[{k!r}]", field=key) for k, v in value.items()}

    defaults = CopulaSpec()
    copula = CopulaSpec(
        rho=_number(data.get("correlation", defaults.rho), "assumption 'correlation'", field="correlation"),
        sector_rho=mapping("sector_correlation"),
        global_factor_weight=_number(data.get("global_factor_weight", 1.0), "assumption 'global_factor_weight'",
                                     field="global_factor_weight"),
        sector_global_weight=mapping("sector_global_weight"))
    lag = data.get("recovery_lag_months", Assumptions.recovery_lag_months)
    return Assumptions(cpr=_number(data.get("cpr", 0.0), "assumption 'cpr'", field="cpr"),
                       recovery_lag_months=_whole(lag, "recovery_lag_months"), copula=copula)


def read_structure_json(path: str | Path) -> Structure:
    """Read STRUCTURE.json (layout in ``lending.core.abs.cli``) and validate it."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise StructureError(f"cannot read structure file {str(path)!r}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise StructureError(f"structure file {str(path)!r} is not valid JSON: {exc}") from None
    return structure_from_dict(data)


# ---------------------------------------------------------------------- helpers
def _is_number(value) -> bool:
    """True for ints and floats (numpy included), False for bools and everything else."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _number(value, what: str, *, tranche: str | None = None, field: str | None = None) -> float:
    """``value`` as a finite float, or a ``StructureError`` naming ``what``."""
    if not _is_number(value) or not math.isfinite(float(value)):
        raise StructureError(f"{what} = {value!r} is not a finite number", tranche=tranche, field=field)
    return float(value)


def _whole(value, what: str) -> int:
    """``value`` as an int if it is a whole number, or a ``StructureError``."""
    if not _is_number(value) or float(value) != math.floor(float(value)):
        raise StructureError(f"{what} = {value!r} must be a whole number", field=what)
    return int(value)


def _unit_interval(value, what: str, upper_open: bool = False) -> None:
    """Raise ``StructureError`` unless ``value`` is in [0, 1] (or [0, 1) with ``upper_open``)."""
    ok = _is_number(value) and 0.0 <= value and (value < 1.0 if upper_open else value <= 1.0)
    if not ok:
        interval = "[0, 1)" if upper_open else "[0, 1]"
        raise StructureError(f"assumption {what} = {value!r} must be in {interval}", field=what)


def _no_unknown(data: Mapping, allowed: set, where: str) -> None:
    """Raise ``StructureError`` naming the first key of ``data`` not in ``allowed``."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise StructureError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})",
                             field=unknown[0])
