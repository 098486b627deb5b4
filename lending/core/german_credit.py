"""Loader for the Statlog (German Credit Data) set.

Source: Hofmann, H. (1994). Statlog (German Credit Data). UCI Machine Learning Repository,
https://doi.org/10.24432/C5NC77, licensed CC BY 4.0. The file ``german.data`` has 1000 applicants,
20 whitespace-separated attributes (13 categorical, coded A11..A202, and 7 integer) and the class
in column 21: 1 = good (700), 2 = bad (300). The data set's documentation gives a cost matrix in
which accepting a bad applicant costs 5 times as much as rejecting a good one.

Two attributes, ``personal_status_sex`` and ``foreign_worker``, describe protected
characteristics; they are loaded (so the data stays complete) but listed in
``PROTECTED_ATTRIBUTES`` so that models can leave them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

ATTRIBUTE_NAMES = (
    "checking_account_status",
    "duration_months",
    "credit_history",
    "purpose",
    "credit_amount_dm",
    "savings_account",
    "employment_since",
    "instalment_rate_pct_income",
    "personal_status_sex",
    "other_debtors",
    "present_residence_since",
    "property",
    "age_years",
    "other_instalment_plans",
    "housing",
    "existing_credits_count",
    "job",
    "dependants_count",
    "telephone",
    "foreign_worker",
)
"""Readable names of the 20 attributes, in file order."""

NUMERIC_ATTRIBUTES = (
    "duration_months",
    "credit_amount_dm",
    "instalment_rate_pct_income",
    "present_residence_since",
    "age_years",
    "existing_credits_count",
    "dependants_count",
)
CATEGORICAL_ATTRIBUTES = tuple(name for name in ATTRIBUTE_NAMES if name not in NUMERIC_ATTRIBUTES)
PROTECTED_ATTRIBUTES = ("personal_status_sex", "foreign_worker")

CODE_LABELS = {
    "A11": "< 0 DM",
    "A12": "0 <= ... < 200 DM",
    "A13": ">= 200 DM / salary assignments for at least 1 year",
    "A14": "no checking account",
    "A30": "no credits taken / all credits paid back duly",
    "A31": "all credits at this bank paid back duly",
    "A32": "existing credits paid back duly till now",
    "A33": "delay in paying off in the past",
    "A34": "critical account / other credits existing (not at this bank)",
    "A40": "car (new)",
    "A41": "car (used)",
    "A42": "furniture/equipment",
    "A43": "radio/television",
    "A44": "domestic appliances",
    "A45": "repairs",
    "A46": "education",
    "A47": "vacation",
    "A48": "retraining",
    "A49": "business",
    "A410": "others",
    "A61": "< 100 DM",
    "A62": "100 <= ... < 500 DM",
    "A63": "500 <= ... < 1000 DM",
    "A64": ">= 1000 DM",
    "A65": "unknown / no savings account",
    "A71": "unemployed",
    "A72": "< 1 year",
    "A73": "1 <= ... < 4 years",
    "A74": "4 <= ... < 7 years",
    "A75": ">= 7 years",
    "A91": "male: divorced/separated",
    "A92": "female: divorced/separated/married",
    "A93": "male: single",
    "A94": "male: married/widowed",
    "A95": "female: single",
    "A101": "none",
    "A102": "co-applicant",
    "A103": "guarantor",
    "A121": "real estate",
    "A122": "building society savings agreement / life insurance",
    "A123": "car or other",
    "A124": "unknown / no property",
    "A141": "bank",
    "A142": "stores",
    "A143": "none",
    "A151": "rent",
    "A152": "own",
    "A153": "for free",
    "A171": "unemployed / unskilled, non-resident",
    "A172": "unskilled, resident",
    "A173": "skilled employee / official",
    "A174": "management / self-employed / highly qualified employee / officer",
    "A191": "none",
    "A192": "yes, registered under the customer's name",
    "A201": "yes",
    "A202": "no",
}
"""Meaning of each category code (from the data set's documentation)."""

_GOOD_CLASS, _BAD_CLASS = "1", "2"


@dataclass(frozen=True)
class GermanCreditData:
    """The data set as columns: ``columns[name]`` is a float64 array (numeric attributes) or an
    array of category codes (str); ``defaulted`` is True for class 2 (bad)."""

    columns: dict[str, np.ndarray]
    defaulted: np.ndarray

    def __len__(self) -> int:
        return int(self.defaulted.size)

    def subset(self, indices) -> GermanCreditData:
        """The rows at ``indices`` (e.g. a train or test split)."""
        return GermanCreditData(
            columns={name: column[indices] for name, column in self.columns.items()},
            defaulted=self.defaulted[indices],
        )


def load_german_credit(path: str | Path) -> GermanCreditData:
    """Read ``german.data`` (Hofmann 1994, UCI, CC BY 4.0) into named columns.

    Input: path to the file. Output: ``GermanCreditData`` with the 20 attributes under the names
    in ``ATTRIBUTE_NAMES`` and the default flag. Raises ``ValueError`` naming the line when a row
    does not have 21 fields, a numeric attribute is not a number, or the class is not 1 or 2.
    """
    rows = []
    with Path(path).open(encoding="ascii") as handle:
        for line_number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != len(ATTRIBUTE_NAMES) + 1:
                raise ValueError(f"{path}:{line_number}: expected 21 fields, found {len(fields)}")
            if fields[-1] not in (_GOOD_CLASS, _BAD_CLASS):
                raise ValueError(
                    f"{path}:{line_number}: class must be 1 (good) or 2 (bad), got {fields[-1]!r}"
                )
            rows.append(fields)
    if not rows:
        raise ValueError(f"{path}: no data rows")
    table = np.array(rows, dtype=object)
    columns: dict[str, np.ndarray] = {}
    for position, name in enumerate(ATTRIBUTE_NAMES):
        column = table[:, position]
        if name in NUMERIC_ATTRIBUTES:
            try:
                columns[name] = column.astype(float)
            except ValueError:
                raise ValueError(f"{path}: attribute {name!r} has a non-numeric value") from None
        else:
            columns[name] = column.astype(str)
    return GermanCreditData(columns=columns, defaulted=(table[:, -1] == _BAD_CLASS).astype(bool))
