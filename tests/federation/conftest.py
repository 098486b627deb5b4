from __future__ import annotations

import shutil

import pytest


@pytest.fixture(autouse=True)
def _isolated_storage(request, tmp_path, settings):
    """Like the suite's fixture, except that tests with a real worker process use the storage folder of
    the test settings, which that process shares; it is emptied afterwards."""
    from django.test import override_settings

    if "celery_worker_process" in request.fixturenames or "live_server" in request.fixturenames:
        yield
        shutil.rmtree(settings.STORAGE_ROOT / "enterprises", ignore_errors=True)
        return
    with override_settings(STORAGE_ROOT=tmp_path / "storage", MEDIA_ROOT=tmp_path / "storage"):
        yield


@pytest.fixture(autouse=True)
def _no_health_analysis(monkeypatch):
    """Federation tests make their own labelled batches; the health pipeline is not under test here and
    would only load the test worker (its own tests cover it)."""
    from devices import services

    monkeypatch.setattr(services, "_enqueue_analysis", lambda batch: None)


def federation_world(world, *, per_class: int = 3):
    """The world plus a third enterprise; ent_a holds healthy + outer-race, ent_b healthy + inner-race,
    ent_c healthy + rolling-element batches (non-IID: no enterprise has seen every fault)."""
    from tests.factories import OrganizationFactory, UserFactory

    from .builders import labelled_batches, register_press

    world.orgs["ent_c"] = OrganizationFactory(kind="enterprise", name="Enterprise C", slug="ent-c")
    world.users["ent_c_manager"] = UserFactory(organization=world.orgs["ent_c"], role="enterprise_manager",
                                               username="ent_c_manager")
    plan = {"ent_a": "outer_race", "ent_b": "inner_race", "ent_c": "rolling_element"}
    for index, (key, fault) in enumerate(plan.items()):
        manager = world.users[f"{key}_manager"]
        press = register_press(manager, world.orgs[key], f"{key} press", site="Plant 1")
        world.objects[f"press_{key}"] = press
        world.objects[f"batches_{key}"] = labelled_batches(manager, press, {"healthy": per_class, fault: per_class},
                                                           seed=index + 1)
    return world
