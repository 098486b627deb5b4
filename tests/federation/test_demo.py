"""The demo seeder leaves a finished federated task with an active model, quickly and idempotently."""
from __future__ import annotations

import time

import pytest

from federation.models import FederatedTask, ModelVersion, Prediction
from portal.demo import DemoContext

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_seed_finishes_a_task_with_an_active_model():
    from accounts import demo as accounts_demo
    from federation import demo

    context = DemoContext()
    accounts_demo.seed(context)
    started = time.perf_counter()
    demo.seed(context)
    elapsed = time.perf_counter() - started
    assert elapsed < 60, elapsed
    task = FederatedTask.objects.get(purpose=demo.DEMO_PURPOSE, compare_of__isnull=True)
    twin = task.comparisons.get()
    assert task.status == twin.status == FederatedTask.Status.FINISHED
    active = ModelVersion.objects.get(is_active=True)
    assert active.task == task and active.is_final and active.metrics["accuracy"] > 0.5
    assert twin.versions.filter(metrics__has_key="accuracy").count() == twin.planned_steps
    assert Prediction.objects.filter(press__organization=context.organizations["ent1"]).exists()
    assert any("Federated learning" in note for note in context.notes)
    demo.seed(context)  # idempotent
    assert FederatedTask.objects.count() == 2
