"""The 'world': organisations of every kind with a user in every role, built through the services."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

ACTORS = (
    "admin",
    "ent_a_manager",
    "ent_a_auditor",
    "ent_b_manager",
    "lender_a_officer",
    "lender_a_officer2",
    "lender_a_auditor",
    "lender_b_officer",
    "firm_auditor",
)


@dataclass
class World:
    orgs: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    objects: dict = field(default_factory=dict)

    def __getattr__(self, name):
        for bucket in ("users", "orgs", "objects"):
            values = self.__dict__.get(bucket, {})
            if name in values:
                return values[name]
        raise AttributeError(name)


def build_world() -> World:
    from tests.factories import OrganizationFactory, UserFactory

    world = World()
    world.orgs["operator"] = OrganizationFactory(kind="operator", name="Operator", slug="operator")
    world.orgs["ent_a"] = OrganizationFactory(kind="enterprise", name="Enterprise A", slug="ent-a")
    world.orgs["ent_b"] = OrganizationFactory(kind="enterprise", name="Enterprise B", slug="ent-b")
    world.orgs["lender_a"] = OrganizationFactory(kind="lender", name="Lender A", slug="lender-a")
    world.orgs["lender_b"] = OrganizationFactory(kind="lender", name="Lender B", slug="lender-b")
    world.orgs["firm"] = OrganizationFactory(kind="audit_firm", name="Audit Firm", slug="firm")
    specs = {
        "admin": ("operator", "admin"),
        "ent_a_manager": ("ent_a", "enterprise_manager"),
        "ent_a_auditor": ("ent_a", "auditor"),
        "ent_b_manager": ("ent_b", "enterprise_manager"),
        "lender_a_officer": ("lender_a", "loan_officer"),
        "lender_a_officer2": ("lender_a", "loan_officer"),
        "lender_a_auditor": ("lender_a", "auditor"),
        "lender_b_officer": ("lender_b", "loan_officer"),
        "firm_auditor": ("firm", "auditor"),
    }
    for key, (org_key, role) in specs.items():
        world.users[key] = UserFactory(organization=world.orgs[org_key], role=role, username=key)
    return world


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def login_as(client):
    """``login_as(user)``: a test client signed in as ``user``, past the second factor where required."""

    def _login(user):
        from tests.factories import verified_login

        verified_login(client, user)
        return client

    return _login
