"""The role × object permission matrix.

Each app declares its object-scoped pages and endpoints once, in ``tests/permissions/cases_<app>.py``,
as ``Case``s; ``test_matrix.py`` runs every case for every actor of the world. An actor not named in
``expect`` gets ``default`` (404: a user never learns that another organisation's object exists).
``test_every_object_url_is_declared`` fails when a URL that takes an object id has no case.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CASES: list["Case"] = []
# URL names that take an id but are not object-scoped (e.g. a token link), with the reason.
EXEMPT_URL_NAMES: dict[str, str] = {}


@dataclass
class Case:
    name: str
    url_name: str
    url: Callable[[Any], str]
    expect: dict[str, int]
    method: str = "get"
    data: Callable[[Any], dict] | dict | None = None
    default: int = 404
    api: bool = False
    format: str = "json"  # API request body: "json" or "multipart" (uploads)
    setup: Callable[[Any], None] | None = None
    extra: dict = field(default_factory=dict)

    def payload(self, world) -> dict | None:
        return self.data(world) if callable(self.data) else self.data


def declare(*cases: Case) -> None:
    names = {case.name for case in CASES}
    for case in cases:
        if case.name in names:
            raise ValueError(f"duplicate permission case {case.name}")
        CASES.append(case)


def exempt(url_name: str, reason: str) -> None:
    EXEMPT_URL_NAMES[url_name] = reason


def everyone(status: int, *actors: str) -> dict[str, int]:
    return {actor: status for actor in actors}
