"""The ABS demo: bank1's facilities pooled, tranched and simulated (a finished run), seeded twice without change;
without bank1's facilities it leaves a note and nothing else."""
import pytest

from lending import abs_demo
from lending.abs_models import AssetPool, CapitalStructure, SimulationRun
from portal.demo import DemoContext, seed_all

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_tranched_pool_with_a_finished_run_and_is_idempotent():
    context = seed_all()
    abs_demo.seed(context)
    counts = [model.objects.count() for model in (AssetPool, CapitalStructure, SimulationRun)]
    abs_demo.seed(context)
    assert [model.objects.count() for model in (AssetPool, CapitalStructure, SimulationRun)] == counts == [1, 1, 1]
    pool = AssetPool.objects.get()
    bank1, officer = context.organizations["bank1"], context.users["bank1_officer1"]
    assert pool.organization == bank1 and pool.created_by == officer and pool.currency == "CNY"
    assert set(pool.members.values_list("reference", flat=True)) == {"JIB-EQ-2025-017", "JIB-RC-2025-004"}
    run = SimulationRun.objects.get()
    assert run.status == "done" and run.scenarios == abs_demo.SCENARIOS and run.seed == abs_demo.SEED
    assert [t["name"] for t in run.results["tranches"]] == ["Class A", "Class B", "Equity"]
    assert officer.has_perm("lending.view_simulationrun", run)
    assert not context.users["bank2_officer1"].has_perm("lending.view_assetpool", pool)
    assert any("ABS" in note and "finished simulation" in note for note in context.notes)


def test_the_demo_run_page_counts_its_single_obligor_in_the_singular(client):
    from django.urls import reverse

    from tests.factories import verified_login

    context = seed_all()
    abs_demo.seed(context)
    run = SimulationRun.objects.get()
    assert run.results["obligors"] == 1  # both demo facilities are Huadong's
    verified_login(client, context.users["bank1_officer1"])
    page = client.get(reverse("abs:run_detail", args=[run.pk])).content.decode()
    assert "months, 1 obligor;" in page and "1 obligors" not in page


def test_without_bank1_facilities_the_demo_only_leaves_a_note():
    from accounts import demo as accounts_demo

    context = DemoContext()
    accounts_demo.seed(context)
    abs_demo.seed(context)
    assert not AssetPool.objects.exists() and not SimulationRun.objects.exists()
    assert any("bank1 has no facilities yet" in note for note in context.notes)
