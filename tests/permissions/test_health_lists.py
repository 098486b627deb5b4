"""The health lists (fleet page, and each health list endpoint) show an object to exactly the actors its
detail is open to: a list never reveals what the object's own page would hide behind a 404."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import verified_login
from tests.fixtures import ACTORS

from .cases_health import ENT_A_READERS, HEALTH_READERS, health_press

pytestmark = pytest.mark.django_db

# list endpoint -> (the object of health_press's world it should list, who may see it)
LISTS = {
    "presshealth-list": ("health_press", HEALTH_READERS),
    "healthrun-list": ("health_run", ENT_A_READERS),
    "healthalarm-list": ("health_alarm", ENT_A_READERS),
    "healthbaseline-list": ("health_baseline", ENT_A_READERS),
}


def _ids(api, url):
    ids, page = [], url
    while page:
        response = api.get(page)
        assert response.status_code == 200, (url, response.status_code)
        body = response.json()
        rows = body["results"] if isinstance(body, dict) and "results" in body else body
        ids += [row.get("id", row.get("press")) for row in rows]
        page = body.get("next") if isinstance(body, dict) else None
    return ids


@pytest.mark.parametrize("list_name", sorted(LISTS))
def test_health_lists_show_an_object_to_its_readers_only(world, list_name):
    health_press(world)
    key, readers = LISTS[list_name]
    target = world.objects[key].pk
    seen = {}
    for actor in ACTORS:
        api = APIClient()
        api.force_authenticate(world.users[actor])
        seen[actor] = target in _ids(api, reverse(list_name))
    assert seen == {actor: actor in readers for actor in ACTORS}


def test_the_fleet_page_lists_a_press_for_its_readers_only(world):
    press = health_press(world)
    seen = {}
    for actor in ACTORS:
        client = Client()
        verified_login(client, world.users[actor])
        response = client.get(reverse("health:fleet"))
        assert response.status_code == 200
        seen[actor] = press.name in response.content.decode()
    assert seen == {actor: actor in HEALTH_READERS for actor in ACTORS}
