"""Demo data: each app contributes a ``demo.seed(context)`` that extends what the one-command run shows.

Seeding is idempotent: every step looks for what it would create first.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

DEMO_PASSWORD = "stamping-demo-2026"
DEMO_APPS = ["accounts", "devices", "health", "federation", "lending", "audit"]


@dataclass
class DemoContext:
    """What earlier seeders made, for later ones: organisations and users by short key."""

    organizations: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    totp_secrets: dict[str, str] = field(default_factory=dict)


def seed_all(*, with_signals: bool = True) -> DemoContext:
    context = DemoContext()
    for app in DEMO_APPS:
        try:
            module = importlib.import_module(f"{app}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.demo":
                raise
            continue
        module.seed(context)
    return context
