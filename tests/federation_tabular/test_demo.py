"""The demo seeder leaves one finished tabular task of each kind, fast and idempotently."""
from __future__ import annotations

import time

import pytest

from federation.models import FederatedTask
from lending.adoption_models import FederatedPdAdoption
from portal.demo import DEMO_MODULES, DemoContext

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_seeds_a_finished_pd_task_and_energy_task():
    from accounts import demo as accounts_demo
    from federation import tabular_demo

    assert "federation.tabular_demo" in DEMO_MODULES
    context = DemoContext()
    accounts_demo.seed(context)
    started = time.perf_counter()
    tabular_demo.seed(context)
    elapsed = time.perf_counter() - started
    assert elapsed < 20, elapsed
    pd_task = FederatedTask.objects.get(purpose=tabular_demo.PD_PURPOSE)
    energy = FederatedTask.objects.get(purpose=tabular_demo.ENERGY_PURPOSE)
    assert pd_task.status == energy.status == FederatedTask.Status.FINISHED
    final = energy.versions.get(is_final=True)
    assert final.metrics["r2"] > 0.8
    assert set(FederatedPdAdoption.objects.values_list("role", flat=True)) == {"champion", "challenger"}
    tabular_demo.seed(context)  # idempotent
    assert FederatedTask.objects.count() == 2
