"""The shared schemas PressTrust offers for tabular federated tasks, and simulated data to try them on.

- ``LOAN_BOOK``: a lender's historical loan book. The features are the ten attributes of the Statlog
  German credit data (Hofmann 1994, UCI, CC BY 4.0) that the lending PD model uses
  (``lending.pd_model.VARIABLES``: they have a firm-level proxy), with the data set's category codes and
  agreed bins for the numeric ones; the target is the default flag.
- ``PRODUCTION``: an enterprise's per-period production records (output, material use, line load,
  operating hours) and what they cost in energy and CO2 (CO2 only where measured).

``simulate_production`` draws such records for an enterprise with its own product mix (heavy products
need more material, energy and CO2 per tonne); tests, the demo and benchmarks use it.
"""
from __future__ import annotations

import csv
import io

import numpy as np

from lending.core.german_credit import CODE_LABELS, NUMERIC_ATTRIBUTES, GermanCreditData

from .tabular import FeatureSpec, TabularSchema, TargetSpec

LOAN_BOOK_VARIABLES = ("checking_account_status", "duration_months", "credit_history", "purpose",
                       "credit_amount_dm", "savings_account", "employment_since", "instalment_rate_pct_income",
                       "property", "other_instalment_plans")
_CODE_PREFIX = {"checking_account_status": "A1", "credit_history": "A3", "purpose": "A4", "savings_account": "A6",
                "employment_since": "A7", "property": "A12", "other_instalment_plans": "A14"}
_BINS = {"duration_months": (12.0, 24.0, 36.0), "credit_amount_dm": (1500.0, 3000.0, 5000.0, 8000.0),
         "instalment_rate_pct_income": (1.0, 2.0, 3.0)}
_UNITS = {"duration_months": "months", "credit_amount_dm": "DM", "instalment_rate_pct_income": "rate 1-4"}


def _codes(name: str) -> tuple[str, ...]:
    """The data set's category codes of a categorical attribute (e.g. A40..A410 for purpose)."""
    prefix = _CODE_PREFIX[name]
    # One more digit after the prefix (A11..A14 but not A121), except purpose's A410.
    return tuple(c for c in CODE_LABELS
                 if c.startswith(prefix) and (len(c) == len(prefix) + 1 or (prefix == "A4" and c == "A410")))


def _loan_book_schema() -> TabularSchema:
    features = []
    for name in LOAN_BOOK_VARIABLES:
        if name in NUMERIC_ATTRIBUTES:
            features.append(FeatureSpec(name=name, kind="numeric", encoding="bins", unit=_UNITS[name],
                                        bins=_BINS[name], minimum=0.0))
        else:
            features.append(FeatureSpec(name=name, kind="categorical", encoding="one_hot", categories=_codes(name)))
    return TabularSchema(
        name="loan_book_v1", dataset_kind="loan_book", features=tuple(features),
        targets=(TargetSpec(name="defaulted", kind="binary", label="Defaulted", unit="1 = default"),),
        description="German-credit coded loan book: 10 attributes (category codes A11..A143, bins for numbers), "
                    "default flag.")


LOAN_BOOK = _loan_book_schema()

PRODUCTION = TabularSchema(
    name="production_v1", dataset_kind="production",
    features=(
        FeatureSpec(name="output_t", kind="numeric", encoding="scaled", label="Output", unit="t",
                    centre=500.0, scale=200.0, minimum=0.0),
        FeatureSpec(name="material_t", kind="numeric", encoding="scaled", label="Material use", unit="t",
                    centre=560.0, scale=220.0, minimum=0.0),
        FeatureSpec(name="line_load_pct", kind="numeric", encoding="scaled", label="Line load", unit="%",
                    centre=75.0, scale=15.0, minimum=0.0),
        FeatureSpec(name="operating_hours", kind="numeric", encoding="scaled", label="Operating hours", unit="h",
                    centre=560.0, scale=100.0, minimum=0.0),
    ),
    targets=(
        TargetSpec(name="energy_mwh", kind="numeric", label="Energy use", unit="MWh", centre=330.0, scale=110.0,
                   minimum=0.0),
        TargetSpec(name="co2_t", kind="numeric", label="CO2 emissions", unit="t CO2", required=False,
                   centre=140.0, scale=45.0, minimum=0.0),
    ),
    description="Per-period production records: output, material use, line load and operating hours; energy "
                "use and (where measured) CO2 emissions.")

SCHEMAS = {LOAN_BOOK.dataset_kind: LOAN_BOOK, PRODUCTION.dataset_kind: PRODUCTION}


def german_credit_csv(data: GermanCreditData) -> str:
    """A loan book CSV in the ``LOAN_BOOK`` schema's own column names from German credit rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*LOAN_BOOK_VARIABLES, "defaulted"])
    for i in range(len(data)):
        row = []
        for name in LOAN_BOOK_VARIABLES:
            value = data.columns[name][i]
            row.append(f"{value:g}" if name in NUMERIC_ATTRIBUTES else str(value))
        writer.writerow([*row, int(bool(data.defaulted[i]))])
    return out.getvalue()


def german_credit_split_by_purpose(data: GermanCreditData, groups: dict[str, tuple[str, ...]]
                                   ) -> dict[str, GermanCreditData]:
    """Non-IID split: each lender gets the applicants whose purpose code is in its group."""
    purpose = data.columns["purpose"]
    return {name: data.subset(np.flatnonzero(np.isin(purpose, codes))) for name, codes in groups.items()}


THREE_LENDER_PURPOSES = {
    "cars": ("A40", "A41"),
    "household": ("A42", "A43", "A44"),
    "business": ("A45", "A46", "A47", "A48", "A49", "A410"),
}


def simulate_production(*, periods: int, heavy_share: float, seed: int, co2_measured_share: float = 1.0,
                        noise_mwh: float = 10.0) -> dict[str, np.ndarray]:
    """Per-period records of a plant whose product mix has ``heavy_share`` (0..1) heavy products.

    Energy (MWh) = 0.30 output + 0.12 material + 0.10 operating hours + 0.8 line load + noise (sd
    ``noise_mwh``); CO2 (t) = 0.38 energy + 0.05 material + noise, blank in a share of periods where it
    was not measured. Heavy products need more material per tonne of output. Deterministic under ``seed``.
    """
    rng = np.random.default_rng(seed)
    hours = rng.uniform(420.0, 720.0, periods)
    load = np.clip(rng.normal(70.0 + 15.0 * heavy_share, 10.0, periods), 30.0, 100.0)
    output = hours * load / 100.0 * (1.4 - 0.5 * heavy_share) * rng.uniform(0.85, 1.15, periods)
    material = output * (1.02 + 0.35 * heavy_share + rng.normal(0.0, 0.04, periods))
    energy = 0.30 * output + 0.12 * material + 0.10 * hours + 0.8 * load + rng.normal(0.0, noise_mwh, periods)
    co2 = 0.38 * energy + 0.05 * material + rng.normal(0.0, 4.0, periods)
    co2[rng.uniform(size=periods) >= co2_measured_share] = np.nan
    return {"output_t": output, "material_t": material, "line_load_pct": load, "operating_hours": hours,
            "energy_mwh": np.maximum(energy, 0.0), "co2_t": np.maximum(co2, 0.0)}


def production_csv(records: dict[str, np.ndarray], *, start_year: int = 2022) -> str:
    """Records as a CSV with a period column (``YYYY-MM``) and the schema's column names; unmeasured CO2
    is left blank."""
    out = io.StringIO()
    writer = csv.writer(out)
    names = ["output_t", "material_t", "line_load_pct", "operating_hours", "energy_mwh", "co2_t"]
    writer.writerow(["period", *names])
    for i in range(len(records["output_t"])):
        period = f"{start_year + i // 12}-{i % 12 + 1:02d}"
        cells = ["" if np.isnan(records[n][i]) else f"{records[n][i]:.3f}" for n in names]
        writer.writerow([period, *cells])
    return out.getvalue()
