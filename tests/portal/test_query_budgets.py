"""List endpoints cost a fixed number of queries, whatever the number of rows (no N+1)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from devices import services as device_services

pytestmark = pytest.mark.django_db


def _count(api, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api.get(url).status_code == 200
    return len(queries)


def _presses(world, n, start):
    for index in range(start, start + n):
        device_services.press_register(
            actor=world.ent_a_manager, organization=world.ent_a, name=f"P{index}", site="S", make="M", model="X",
            rated_tonnage_t="100", stroke_rate_min_spm="10", stroke_rate_max_spm="20",
            commissioned_on=dt.date(2020, 1, 1), channels=[{"name": "a", "kind": "acceleration", "unit": "g"}],
            components=[{"name": "b", "kind": "gear", "gear_teeth": 30}])


@pytest.mark.parametrize("actor, url", [
    ("admin", "/api/v1/organizations/"),
    ("admin", "/api/v1/users/"),
    ("ent_a_manager", "/api/v1/presses/"),
    ("admin", "/api/v1/audit/events/"),
])
def test_list_queries_do_not_grow_with_rows(world, actor, url):
    api = APIClient()
    api.force_authenticate(world.users[actor])
    _presses(world, 2, 0)
    api.get(url)  # warm caches (permissions, content types) so both counts measure the same work
    few = _count(api, url)
    _presses(world, 6, 10)
    from tests.factories import OrganizationFactory, UserFactory

    for index in range(4):
        UserFactory(organization=OrganizationFactory(kind="lender"), role="loan_officer", username=f"extra{index}")
    many = _count(api, url)
    assert many == few, f"{url}: {few} queries with few rows, {many} with more"
    assert many <= 12
