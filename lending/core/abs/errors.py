"""Errors raised by the ABS engine when its inputs are unusable.

Both are ``ValueError`` subclasses so that callers that only know "bad input" can catch them generally,
while the service layer can map each to a form or API error that names the offending field.
"""

from __future__ import annotations


class PoolError(ValueError):
    """A pool (CSV file or arrays) is invalid.

    Attributes:
        row: 1-based data row (the header is not counted), or ``None`` for a file-level problem.
        field: the column concerned, or ``None``.
        facility_id: the ``id`` of the row when it is known.
    """

    def __init__(self, message: str, *, row: int | None = None, field: str | None = None,
                 facility_id: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.field = field
        self.facility_id = facility_id


class StructureError(ValueError):
    """A deal structure (tranches, waterfall, reserve, tests or assumptions) is invalid.

    Attributes:
        tranche: the tranche name concerned, or ``None``.
        field: the field concerned (``attachment``, ``coupon``, ``waterfall``, ...), or ``None``.
    """

    def __init__(self, message: str, *, tranche: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.tranche = tranche
        self.field = field
