"""Pages and list endpoints: they render for the right people, and their query counts do not grow with
the number of rows (no N+1)."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from federation import queueing, services
from federation.models import BatchLabel, FederatedTask

from .conftest import federation_world

pytestmark = pytest.mark.django_db


def _task(world, **options):
    kwargs = dict(actor=world.lender_a_officer, purpose="Pages", model_kind="fault_state",
                  enterprises=[world.ent_a, world.ent_b], label_source="batch_label", aggregation="fedavg",
                  rounds=1, local_epochs=1, hidden_sizes=(4,), min_participants=1)
    kwargs.update(options)
    return services.task_create(**kwargs)


def _run(world, task):
    with queueing.synchronous(immediate=True):
        for key in ("ent_a", "ent_b"):
            services.grant_accept(actor=world.users[f"{key}_manager"], grant=task.grants.get(organization=world.orgs[key]))
        queueing.drain()
    task.refresh_from_db()
    assert task.status == FederatedTask.Status.FINISHED, task.status_message
    return task


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


def test_lists_do_not_grow_queries_with_rows(world, login_as):
    federation_world(world, per_class=1)
    _run(world, _task(world))
    client = login_as(world.lender_a_officer)
    urls = [reverse("federation:task_list"), reverse("federation:model_list"), "/api/v1/federation/tasks/",
            "/api/v1/federation/grants/", "/api/v1/federation/models/"]
    for url in urls:
        _queries(client, url)  # warm the per-process caches (content types)
    before = {url: _queries(client, url) for url in urls}
    for _ in range(3):
        _run(world, _task(world))
    after = {url: _queries(client, url) for url in urls}
    assert after == before
    manager = login_as(world.ent_a_manager)
    own = ["/api/v1/federation/updates/", "/api/v1/federation/batch-labels/", reverse("federation:label_list")]
    assert all(_queries(manager, url) <= 25 for url in own)


def test_task_page_grant_page_and_model_page_render(world, login_as):
    federation_world(world, per_class=1)
    task = _run(world, _task(world, compare=True, aggregation="fedma"))
    client = login_as(world.lender_a_officer)
    page = client.get(reverse("federation:task_detail", args=[task.pk])).content.decode()
    for text in ("Finished", "Metrics per round", "chart-global", "Global model versions", "Compared with a FedAvg run"):
        assert text in page
    assert _queries(client, reverse("federatedtask-progress", args=[task.pk])) <= 30
    progress = client.get(reverse("federatedtask-progress", args=[task.pk])).json()
    assert progress["percent"] == 100.0 and progress["finished"]
    assert {p["name"] for p in progress["participants"]} == {"ent-a", "ent-b"}
    version = task.versions.get(is_final=True)
    page = client.get(reverse("federation:model_detail", args=[version.pk])).content.decode()
    assert version.sha256 in page and "Contributions (leave one out)" in page
    grant = task.grants.get(organization=world.ent_a)
    manager = login_as(world.ent_a_manager)
    page = manager.get(reverse("federation:grant_detail", args=[grant.pk])).content.decode()
    assert "Revoke the grant" in page and "Pages" in page


def test_wizard_creates_a_task_and_its_requests(world, login_as):
    client = login_as(world.lender_a_officer)
    assert client.get(reverse("federation:task_create")).status_code == 200
    response = client.post(reverse("federation:task_create"), {
        "purpose": "Failure risk across the fleet", "model_kind": "failure_risk", "hidden_sizes": "16, 8",
        "enterprises": [world.ent_a.pk, world.ent_b.pk], "label_source": "label_then_level", "aggregation": "fedma",
        "rounds": 2, "local_epochs": 5, "learning_rate": 0.02, "batch_size": 16, "use_privacy": "on", "epsilon": 20,
        "delta": 1e-5, "min_participants": 2, "straggler_warning_s": 60, "straggler_timeout_s": 600,
        "grant_days": 14, "seed": 3})
    task = FederatedTask.objects.get()
    assert response.status_code == 302 and response.url == reverse("federation:task_detail", args=[task.pk])
    assert task.spec["hidden_sizes"] == [16, 8] and task.epsilon == 20
    assert services.strategy_for(task).privacy.noise_multiplier > 0
    assert task.grants.count() == 2
    inbox = login_as(world.ent_a_manager).get(reverse("federation:task_list")).content.decode()
    assert "Failure risk across the fleet" in inbox and "Data-use requests waiting for you" in inbox
    # Enterprise auditors and platform admins cannot open the wizard.
    assert login_as(world.ent_a_auditor).get(reverse("federation:task_create")).status_code == 403
    assert login_as(world.admin).get(reverse("federation:task_create")).status_code == 403


def test_manager_labels_a_batch_from_the_labels_page(world, login_as):
    federation_world(world, per_class=1)
    batch = world.batches_ent_a[0]
    client = login_as(world.ent_a_manager)
    response = client.post(reverse("federation:batch_label", args=[batch.pk]),
                           {"condition": "inner_race", "next": reverse("federation:label_list")})
    assert response.status_code == 302
    assert BatchLabel.objects.get(batch=batch).condition == "inner_race"
    assert "Inner-race fault" in client.get(reverse("federation:label_list")).content.decode()
