"""Asset pool: facilities, their amortisation schedules and stratification tables.

A pool is a set of facilities (one obligor per row: the copula draws one idiosyncratic factor per row, so
a borrower with several facilities should be entered as one row). Per facility:

========================  ==========================================================================
field                     meaning and unit
========================  ==========================================================================
``id``                    identifier (text, unique)
``balance``               exposure at default at closing (EAD), currency units, >= 0
``pd``                    probability of default over the deal horizon, in (0, 1); or
``pd_annual``             annual probability of default, in (0, 1), converted with a constant hazard
                          over the facility's life inside the horizon: 1 - (1 - pd_annual)^(life/12)
``lgd``                   loss given default, fraction of the balance at default, in [0, 1]
``maturity_months``       remaining term in whole months, > 0
``sector``                optional text; selects the sector's asset correlation and factor
``rate``                  optional annual coupon, fraction (0.065 = 6.5 %), in [0, 1]; default 0
``amortisation``          optional ``annuity`` (level payment, default), ``linear`` (straight line) or
                          ``bullet`` (all principal at maturity)
========================  ==========================================================================

The CSV file (``read_pool_csv``) has one facility per row with these column names (``amortization`` is
accepted too); a row may give ``pd`` or ``pd_annual``. Every problem raises ``PoolError`` naming the data
row (1-based, header not counted), its id and the field.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from lending.core.amortisation import amortisation_schedule
from lending.core.grades import pd_to_grade

from .errors import PoolError
AMORTISATION_TYPES = ("annuity", "linear", "bullet")
DEFAULT_SECTOR = "unassigned"
MAX_MATURITY_MONTHS = 1200

_REQUIRED_COLUMNS = ("id", "balance", "lgd", "maturity_months")


@dataclass(frozen=True, eq=False)
class Pool:
    """Validated facility arrays (all of length N, in input order).

    ``pd`` holds the horizon PD where it was given (NaN elsewhere) and ``pd_annual`` the annual PD where
    that was given (NaN elsewhere); exactly one of the two is finite per facility. Use
    ``horizon_pd(horizon_months)`` to get the PD the copula uses. Construct with ``Pool.from_arrays``
    (validates and converts) or ``read_pool_csv``.
    """

    ids: np.ndarray              # str, (N,)
    balance: np.ndarray          # float, currency units
    pd: np.ndarray               # float, horizon PD or NaN
    pd_annual: np.ndarray        # float, annual PD or NaN
    lgd: np.ndarray              # float, fraction
    maturity_months: np.ndarray  # int64, months
    sector: np.ndarray           # str
    rate: np.ndarray             # float, annual fraction
    amortisation: np.ndarray     # str, one of AMORTISATION_TYPES

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, *, ids: Sequence, balance, lgd, maturity_months, pd=None, pd_annual=None,
                    sector=None, rate=None, amortisation=None) -> "Pool":
        """Build and validate a pool from per-facility sequences.

        ``pd`` (horizon) and ``pd_annual`` may both be given with NaN/None where a facility uses the
        other one. Raises ``PoolError`` naming the first bad facility (row = index + 1) and field.
        """
        n = len(ids)
        if n == 0:
            raise PoolError("the pool has no facilities")
        ids_arr = np.array([str(x) for x in ids], dtype=object)

        def numeric(name, values, default=None):
            if values is None:
                if default is None:
                    return np.full(n, np.nan)
                return np.full(n, float(default))
            out = np.empty(n)
            values = list(values)
            if len(values) != n:
                raise PoolError(f"field {name!r} has {len(values)} values for {n} facilities", field=name)
            for k, v in enumerate(values):
                try:
                    out[k] = np.nan if v is None else float(v)
                except (TypeError, ValueError):
                    raise _row_error(k, ids_arr[k], name, f"is not a number: {v!r}") from None
            return out

        bal = numeric("balance", balance)
        lgd_arr = numeric("lgd", lgd)
        mat = numeric("maturity_months", maturity_months)
        pd_h = numeric("pd", pd)
        pd_a = numeric("pd_annual", pd_annual)
        rate_arr = numeric("rate", rate, default=0.0)
        sec = (np.full(n, DEFAULT_SECTOR, dtype=object) if sector is None
               else np.array([DEFAULT_SECTOR if (s is None or str(s).strip() == "") else str(s).strip()
                              for s in sector], dtype=object))
        amo = (np.full(n, "annuity", dtype=object) if amortisation is None
               else np.array(["annuity" if (a is None or str(a).strip() == "") else str(a).strip().lower()
                              for a in amortisation], dtype=object))
        if len(sec) != n or len(amo) != n:
            raise PoolError("sector/amortisation length differs from the number of facilities")

        seen: dict[str, int] = {}
        for k in range(n):
            fid = ids_arr[k]
            if fid.strip() == "":
                raise _row_error(k, fid, "id", "is empty")
            if fid in seen:
                raise _row_error(k, fid, "id", f"duplicates row {seen[fid] + 1}")
            seen[fid] = k
            _check(k, fid, "balance", bal[k], lambda v: v >= 0, "must be >= 0")
            _check(k, fid, "lgd", lgd_arr[k], lambda v: 0.0 <= v <= 1.0, "must be in [0, 1]")
            _check(k, fid, "maturity_months", mat[k], lambda v: v > 0, "must be > 0")
            _check(k, fid, "maturity_months", mat[k], lambda v: v <= MAX_MATURITY_MONTHS,
                   f"must be at most {MAX_MATURITY_MONTHS} (100 years)")
            if mat[k] != math.floor(mat[k]):
                raise _row_error(k, fid, "maturity_months", f"= {mat[k]!r} must be a whole number of months")
            _check(k, fid, "rate", rate_arr[k], lambda v: 0.0 <= v <= 1.0,
                   "must be an annual fraction in [0, 1] (0.065 for 6.5 %)")
            has_h, has_a = np.isfinite(pd_h[k]), np.isfinite(pd_a[k])
            if has_h and has_a:
                raise _row_error(k, fid, "pd", "and pd_annual are both given; give one of them")
            if not (has_h or has_a):
                raise _row_error(k, fid, "pd", "is missing (give pd over the horizon or pd_annual)")
            name, value = ("pd", pd_h[k]) if has_h else ("pd_annual", pd_a[k])
            _check(k, fid, name, value, lambda v: 0.0 < v < 1.0, "must be in (0, 1)")
            if amo[k] not in AMORTISATION_TYPES:
                raise _row_error(k, fid, "amortisation", f"= {amo[k]!r} unknown; expected one of "
                                 f"{', '.join(AMORTISATION_TYPES)}")
        if not bal.sum() > 0:
            raise PoolError("the pool's total balance is zero", field="balance")
        return cls(ids=ids_arr, balance=bal, pd=pd_h, pd_annual=pd_a, lgd=lgd_arr,
                   maturity_months=mat.astype(np.int64), sector=sec, rate=rate_arr, amortisation=amo)

    # ------------------------------------------------------------------ derived quantities
    @property
    def size(self) -> int:
        """Number of facilities N."""
        return len(self.ids)

    @property
    def total_balance(self) -> float:
        """Sum of balances (EAD) at closing, currency units."""
        return float(self.balance.sum())

    @property
    def max_maturity_months(self) -> int:
        """Longest remaining term, months (the default deal horizon)."""
        return int(self.maturity_months.max())

    def life_months(self, horizon_months: int) -> np.ndarray:
        """Months each facility is exposed inside the horizon: min(maturity, horizon)."""
        return np.minimum(self.maturity_months, int(horizon_months))

    def horizon_pd(self, horizon_months: int) -> np.ndarray:
        """Probability of default within the horizon (over each facility's life inside it).

        Horizon PDs are returned as given; annual PDs are converted with a constant hazard rate:
        PD = 1 - (1 - pd_annual)^(life/12).
        """
        life_years = self.life_months(horizon_months) / 12.0
        from_annual = -np.expm1(life_years * np.log1p(-np.nan_to_num(self.pd_annual, nan=0.0)))
        return np.where(np.isfinite(self.pd), self.pd, from_annual)

    def annualised_pd(self, horizon_months: int) -> np.ndarray:
        """Annual PD equivalent of each facility (the inverse of ``horizon_pd``'s conversion)."""
        life_years = self.life_months(horizon_months) / 12.0
        from_horizon = -np.expm1(np.log1p(-np.nan_to_num(self.pd, nan=0.0)) / life_years)
        return np.where(np.isfinite(self.pd_annual), self.pd_annual, from_horizon)

    def with_horizon_pd(self, pd_horizon: np.ndarray) -> "Pool":
        """A copy whose PDs are the given horizon PDs (validated, in (0, 1))."""
        return Pool.from_arrays(ids=self.ids, balance=self.balance, lgd=self.lgd,
                                maturity_months=self.maturity_months, pd=np.asarray(pd_horizon, float),
                                sector=self.sector, rate=self.rate, amortisation=self.amortisation)

    def subset(self, index: np.ndarray) -> "Pool":
        """The facilities at ``index`` (an integer or boolean array), as a new pool."""
        return Pool(ids=self.ids[index], balance=self.balance[index], pd=self.pd[index],
                    pd_annual=self.pd_annual[index], lgd=self.lgd[index],
                    maturity_months=self.maturity_months[index], sector=self.sector[index],
                    rate=self.rate[index], amortisation=self.amortisation[index])


def _row_error(index: int, facility_id: str, field: str, problem: str) -> PoolError:
    """A ``PoolError`` naming the 1-based row, the facility id and the field."""
    return PoolError(f"row {index + 1} (id {facility_id!r}): field {field!r} {problem}",
                     row=index + 1, field=field, facility_id=str(facility_id))


def _check(index, facility_id, field, value, ok, problem):
    """Raise ``_row_error`` unless ``value`` is finite and satisfies ``ok``."""
    if not np.isfinite(value):
        raise _row_error(index, facility_id, field, f"= {value!r} is not a finite number")
    if not ok(value):
        raise _row_error(index, facility_id, field, f"= {value!r} {problem}")


# ---------------------------------------------------------------------- CSV
def read_pool_csv(path: str | Path) -> Pool:
    """Read and validate a pool CSV (format in the module docstring).

    Column names are matched case-insensitively after trimming; blank lines are skipped; unknown columns
    are ignored. Raises ``PoolError`` for a missing file or column, an empty file, or a bad row (naming
    the 1-based data row, its id and the field).
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            rows = [r for r in reader if any(cell.strip() for cell in r)]
    except OSError as exc:
        raise PoolError(f"cannot read pool file {str(path)!r}: {exc.strerror or exc}") from None
    if not rows:
        raise PoolError(f"pool file {str(path)!r} is empty")
    header = [h.strip().lower() for h in rows[0]]
    header = ["amortisation" if h == "amortization" else h for h in header]
    return pool_from_records(header, rows[1:])


def pool_from_records(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Pool:
    """Validate text records (as read from a CSV) against ``header`` and build a ``Pool``."""
    columns = {name: k for k, name in enumerate(header)}
    for name in _REQUIRED_COLUMNS:
        if name not in columns:
            raise PoolError(f"missing column {name!r} (required: {', '.join(_REQUIRED_COLUMNS)}, "
                            f"and pd or pd_annual)", field=name)
    if "pd" not in columns and "pd_annual" not in columns:
        raise PoolError("missing column 'pd' (or 'pd_annual')", field="pd")
    rows = list(rows)
    if not rows:
        raise PoolError("the pool file has a header but no facilities")
    fields: dict[str, list] = {name: [] for name in columns}
    for k, row in enumerate(rows):
        if len(row) > len(header):
            raise PoolError(f"row {k + 1}: {len(row)} cells for {len(header)} columns", row=k + 1)
        for name, col in columns.items():
            cell = row[col].strip() if col < len(row) else ""
            fields[name].append(cell)
    ids = fields["id"]

    def numbers(name, optional=False):
        if name not in fields:
            return None
        out = []
        for k, cell in enumerate(fields[name]):
            if cell == "":
                if optional:
                    out.append(None)
                    continue
                raise _row_error(k, ids[k], name, "is empty")
            try:
                out.append(float(cell))
            except ValueError:
                raise _row_error(k, ids[k], name, f"is not a number: {cell!r}") from None
        return out

    return Pool.from_arrays(
        ids=ids, balance=numbers("balance"), lgd=numbers("lgd"), maturity_months=numbers("maturity_months"),
        pd=numbers("pd", optional=True), pd_annual=numbers("pd_annual", optional=True),
        sector=fields.get("sector"), rate=numbers("rate", optional=True),
        amortisation=fields.get("amortisation"))


# ---------------------------------------------------------------------- schedules
def scheduled_balance_table(pool: Pool, horizon_months: int) -> np.ndarray:
    """Scheduled (no default, no prepayment) balance s_i(t) at the end of month t = 0..T, shape (N, T+1).

    Each facility's schedule comes from ``lending.core.amortisation.amortisation_schedule`` (annuity =
    level monthly payment at rate/12, linear = equal principal parts, bullet = all at maturity); the
    balance is 0 from maturity on. Currency units.
    """
    T = int(horizon_months)
    table = np.zeros((pool.size, T + 1))
    table[:, 0] = pool.balance
    for i in range(pool.size):
        n = int(pool.maturity_months[i])
        closing = amortisation_schedule(float(pool.balance[i]), float(pool.rate[i]), n, pool.amortisation[i]).balance
        m = min(n, T)
        table[i, 1:m + 1] = closing[:m]
    return table


def monthly_prepayment_survival(cpr: float) -> float:
    """q = 1 - SMM = (1 - CPR)^(1/12): the fraction of a balance NOT prepaid in a month."""
    if not 0.0 <= cpr < 1.0:
        raise ValueError(f"cpr {cpr!r} must be in [0, 1)")
    return float((1.0 - cpr) ** (1.0 / 12.0))


# ---------------------------------------------------------------------- stratification
def stratify(pool: Pool, by: str = "sector", *, horizon_months: int | None = None) -> dict[str, dict]:
    """Stratification table of the pool by a category.

    ``by``: ``sector``, ``amortisation``, ``maturity_bucket`` (12-month buckets, e.g. "13-24") or
    ``pd_grade`` (grade of the annual PD on the lending master scale, ``lending.core.grades``). Returns
    ``{category: {"count", "balance", "balance_share", "weighted_pd", "weighted_annual_pd",
    "weighted_lgd", "weighted_rate", "weighted_maturity_months"}}``, balance-weighted, horizon PD over
    ``horizon_months`` (default: the longest maturity). Categories in sorted order.
    """
    horizon = pool.max_maturity_months if horizon_months is None else int(horizon_months)
    if by == "sector":
        keys = pool.sector
    elif by == "amortisation":
        keys = pool.amortisation
    elif by == "maturity_bucket":
        lo = (pool.maturity_months - 1) // 12 * 12
        keys = np.array([f"{a + 1}-{a + 12}" for a in lo], dtype=object)
    elif by == "pd_grade":
        keys = np.array([f"grade {g}" for g in np.atleast_1d(pd_to_grade(pool.annualised_pd(horizon)))],
                        dtype=object)
    else:
        raise ValueError(f"stratify by {by!r} unknown; expected sector, amortisation, maturity_bucket or pd_grade")
    pd_h, pd_a = pool.horizon_pd(horizon), pool.annualised_pd(horizon)
    total = pool.total_balance
    table: dict[str, dict] = {}
    for key in sorted(set(keys), key=_natural_key):
        mask = keys == key
        w = pool.balance[mask]
        wsum = w.sum()

        def wavg(x):
            return float((w * x[mask]).sum() / wsum) if wsum > 0 else float(x[mask].mean())

        table[str(key)] = {
            "count": int(mask.sum()), "balance": float(wsum), "balance_share": float(wsum / total),
            "weighted_pd": wavg(pd_h), "weighted_annual_pd": wavg(pd_a), "weighted_lgd": wavg(pool.lgd),
            "weighted_rate": wavg(pool.rate), "weighted_maturity_months": wavg(pool.maturity_months),
        }
    return table


def _natural_key(text: str):
    """Sort key putting "13-24" after "1-12" and "grade 10" after "grade 9"."""
    head = str(text).split("-")[0].replace("grade ", "")
    return (0, int(head), str(text)) if head.isdigit() else (1, 0, str(text))


def top_obligor_concentration(pool: Pool, top_n: int = 10) -> dict:
    """Single-name concentration: share of the ``top_n`` largest balances, the largest name, the
    Herfindahl-Hirschman index H = sum(w_i^2) of balance shares and the effective number of names 1/H."""
    shares = pool.balance / pool.total_balance
    order = np.argsort(-shares, kind="stable")
    k = min(int(top_n), pool.size)
    hhi = float((shares ** 2).sum())
    return {
        "top_n": k, "top_n_balance": float(pool.balance[order[:k]].sum()),
        "top_n_share": float(shares[order[:k]].sum()), "largest_id": str(pool.ids[order[0]]),
        "largest_share": float(shares[order[0]]), "herfindahl_index": hhi,
        "effective_number_of_obligors": 1.0 / hhi,
        "top": [{"id": str(pool.ids[j]), "balance": float(pool.balance[j]), "share": float(shares[j])}
                for j in order[:k]],
    }


def weighted_average_coupon(pool: Pool) -> float:
    """Balance-weighted average annual coupon (fraction) at closing."""
    return float((pool.balance * pool.rate).sum() / pool.total_balance)


def weighted_average_life_years(pool: Pool, *, cpr: float = 0.0, horizon_months: int | None = None) -> float:
    """Weighted average life of the pool's principal, years, with no defaults: sum(t/12 · principal_t) /
    sum(principal_t) for scheduled amortisation plus prepayments at the constant ``cpr``; principal still
    outstanding at the horizon counts as repaid at the horizon (clean-up)."""
    horizon = pool.max_maturity_months if horizon_months is None else int(horizon_months)
    q = monthly_prepayment_survival(cpr)
    t = np.arange(horizon + 1)
    balance = scheduled_balance_table(pool, horizon).sum(axis=0) * q ** t
    principal = -np.diff(balance)
    principal[-1] += balance[-1]
    return float((t[1:] / 12.0 * principal).sum() / principal.sum())


def pool_summary(pool: Pool, *, horizon_months: int | None = None, cpr: float = 0.0) -> dict:
    """Headline pool figures as a plain dict: count, balance, weighted PD/LGD, WAC, WAL, concentration."""
    horizon = pool.max_maturity_months if horizon_months is None else int(horizon_months)
    w = pool.balance / pool.total_balance
    return {
        "count": pool.size, "total_balance": pool.total_balance, "horizon_months": horizon,
        "weighted_pd": float((w * pool.horizon_pd(horizon)).sum()),
        "weighted_lgd": float((w * pool.lgd).sum()),
        "weighted_average_coupon": weighted_average_coupon(pool),
        "weighted_average_life_years": weighted_average_life_years(pool, cpr=cpr, horizon_months=horizon),
        "concentration": {k: v for k, v in top_obligor_concentration(pool).items() if k != "top"},
    }

