"""Demo data: each app contributes a ``demo.seed(context)`` that extends what the one-command run shows.

Seeding is idempotent: every step looks for what it would create first.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

DEMO_PASSWORD = "stamping-demo-2026"
# In order: each seeder may use what the ones before it made (ABS pools the credit demo's facilities).
# (health.demo also registers the demo presses; the audit log fills itself as the others seed.)
DEMO_MODULES = ["accounts.demo", "health.demo", "federation.demo", "federation.tabular_demo", "lending.demo",
                "lending.abs_demo"]


@dataclass
class DemoContext:
    """What earlier seeders made, for later ones: organisations and users by short key."""

    organizations: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    totp_secrets: dict[str, str] = field(default_factory=dict)


def seed_all() -> DemoContext:
    context = DemoContext()
    for name in DEMO_MODULES:
        importlib.import_module(name).seed(context)
    return context
