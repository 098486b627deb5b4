"""Capital structures: bad tranche layouts (overlap, gap, negative size) get clear errors at the service, on the page
and through the API; good ones are normalised, versioned and audited; sizing returns the boundary it claims."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from lending import abs_engine, abs_services
from lending.abs_models import CapitalStructure, SimulationRun
from lending.core.abs import CopulaSpec, static_tranche_metrics
from lending.core.abs.copula import simulate_pool_losses
from tests.abs.conftest import STRUCTURE
from tests.abs.test_pools import api, ids
from tests.factories import verified_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(abs_world):
    return abs_services.pool_create(actor=abs_world.lender_a_officer, name="SME 2026-1",
                                    facility_ids=ids(abs_world.facilities))


def with_tranches(*tranches):
    definition = copy.deepcopy(STRUCTURE)
    definition["tranches"] = [dict(zip(("name", "attachment", "detachment", "coupon"), t)) for t in tranches]
    definition["oc"] = {}
    return definition


OVERLAP = with_tranches(("A", 0.25, 1.0, 0.04), ("B", 0.10, 0.30, 0.07), ("Equity", 0.0, 0.10, 0.0))
GAP = with_tranches(("A", 0.35, 1.0, 0.04), ("B", 0.10, 0.30, 0.07), ("Equity", 0.0, 0.10, 0.0))
NEGATIVE = with_tranches(("A", 0.30, 1.0, 0.04), ("B", 0.30, 0.10, 0.07), ("Equity", 0.0, 0.10, 0.0))
BAD = {"overlap": (OVERLAP, "overlap"), "gap": (GAP, "gap between tranche"), "negative": (NEGATIVE, "is not positive")}


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_service_names_what_is_wrong_with_a_structure(abs_world, pool, case):
    definition, words = BAD[case]
    with pytest.raises(ValidationError) as excinfo:
        abs_services.structure_create(actor=abs_world.lender_a_officer, pool=pool, name="Bad", definition=definition)
    message = " ".join(excinfo.value.message_dict["definition"])
    assert "The capital structure is invalid" in message and words in message and "tranche" in message
    assert not CapitalStructure.objects.exists() and not AuditEvent.objects.filter(action__startswith="abs.structure")


def _page_post(definition, name="Page structure"):
    data = {"name": name, "tranches-TOTAL_FORMS": str(len(definition["tranches"])), "tranches-INITIAL_FORMS": "0",
            "tranches-MIN_NUM_FORMS": "1", "tranches-MAX_NUM_FORMS": "1000", "deal-waterfall": "sequential",
            "deal-senior_fee": "0.2", "deal-reserve_target": "1", "deal-reserve_floor": "0.5",
            "deal-reserve_initial": "1", "deal-cpr": "5", "deal-recovery_lag_months": "6", "deal-correlation": "0.2"}
    for index, tranche in enumerate(definition["tranches"]):
        data.update({f"tranches-{index}-name": tranche["name"],
                     f"tranches-{index}-attachment": str(round(100 * tranche["attachment"], 6)),
                     f"tranches-{index}-detachment": str(round(100 * tranche["detachment"], 6)),
                     f"tranches-{index}-coupon": str(round(100 * tranche.get("coupon", 0), 6))})
    return data


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_page_shows_the_structure_error(abs_world, pool, client, case):
    definition, words = BAD[case]
    verified_login(client, abs_world.lender_a_officer)
    response = client.post(reverse("abs:structure_create", args=[pool.pk]), _page_post(definition))
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="structure-errors"' in page and words in page
    assert not CapitalStructure.objects.exists()


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_api_answers_400_with_the_structure_error(abs_world, pool, case):
    definition, words = BAD[case]
    response = api(abs_world.lender_a_officer).post(
        reverse("abs-structure-list"), {"pool": pool.pk, "name": "API", "definition": definition}, format="json")
    assert response.status_code == 400
    assert words in response.json()["definition"][0]


def test_a_good_structure_is_normalised_versioned_and_audited(abs_world, pool, client):
    w = abs_world
    verified_login(client, w.lender_a_officer)
    data = _page_post(STRUCTURE)
    data["tranches-0-oc"] = "1.1"
    response = client.post(reverse("abs:structure_create", args=[pool.pk]), data)
    assert response.status_code == 302
    structure = CapitalStructure.objects.get()
    definition = structure.definition
    assert [t["name"] for t in definition["tranches"]] == ["A", "B", "Equity"]  # senior first
    assert [(t["attachment"], t["detachment"]) for t in definition["tranches"]] == [
        (0.3, 1.0), (0.15, 0.3), (0.0, 0.15)]
    assert definition["oc"] == {"A": 1.1} and definition["assumptions"]["correlation"] == 0.2
    assert definition["assumptions"]["cpr"] == 0.05 and definition["senior_fee_rate"] == 0.002
    revised_definition = copy.deepcopy(definition)
    revised_definition["tranches"][0]["attachment"] = revised_definition["tranches"][1]["detachment"] = 0.25
    revised = abs_services.structure_revise(actor=w.lender_a_officer, structure=structure,
                                            definition=revised_definition)
    assert (revised.version, revised.previous, revised.tranches[0]["attachment"]) == (2, structure, 0.25)
    structure.refresh_from_db()
    assert structure.tranches[0]["attachment"] == 0.3
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="abs.structure").order_by("sequence")] == [
        "abs.structure.create", "abs.structure.revise"]
    page = client.get(reverse("abs:structure_detail", args=[revised.pk])).content.decode()
    assert "v2" in page and 'id="run-form"' in page
    api_revised = api(w.lender_a_officer).post(reverse("abs-structure-revise", args=[revised.pk]),
                                               {"definition": NEGATIVE}, format="json")
    assert api_revised.status_code == 400 and CapitalStructure.objects.count() == 2


def test_sizing_returns_the_boundary_it_claims(abs_world, pool):
    """Re-simulate the pool losses with the sizing's seed: each tranche's measure is within its target at the
    attachment found, and just below that attachment it is not (unless it sits at 0)."""
    w = abs_world
    structure = abs_services.structure_size(
        actor=w.lender_a_officer, pool=pool, name="Sized", metric="probability_of_loss", scenarios=4000, seed=11,
        tranches=[{"name": "A", "target": "AA", "coupon": 0.04}, {"name": "B", "target": 0.10, "coupon": 0.07}],
        settings={k: v for k, v in STRUCTURE.items() if k not in ("tranches", "oc")})
    sizing = structure.sizing
    assert [t["target_value"] for t in sizing["tranches"]] == [0.004, 0.10]
    assert sizing["rating_table"].startswith("illustrative")
    tranches = {t["name"]: t for t in structure.definition["tranches"]}
    assert set(tranches) == {"A", "B", "Equity"} and tranches["A"]["detachment"] == 1.0
    assert tranches["Equity"]["attachment"] == 0.0 and tranches["Equity"]["detachment"] == tranches["B"]["attachment"]
    obligors = abs_engine.engine_rows(abs_services.pool_rows(pool))
    losses = simulate_pool_losses(abs_engine.engine_pool(obligors), CopulaSpec(rho=0.2),
                                  horizon_months=sizing["horizon_months"], scenarios=4000, seed=11)
    for claim in sizing["tranches"]:
        attachment, detachment = claim["attachment"], claim["detachment"]
        at = static_tranche_metrics(losses, attachment, detachment)["probability_of_loss"]
        assert at == claim["achieved"] and at <= claim["target_value"]
        if attachment > 0:
            below = static_tranche_metrics(losses, np.nextafter(attachment, 0.0), detachment)["probability_of_loss"]
            assert below > claim["target_value"]
    # A run of the sized structure with the same seed sees the same pool losses: the static measure agrees.
    run = abs_services.run_request(actor=w.lender_a_officer, pool=pool, structure=structure, scenarios=4000, seed=11)
    abs_services.simulation_run_execute(run_id=run.pk)
    run = SimulationRun.objects.get(pk=run.pk)
    for claim, result in zip(sizing["tranches"], run.results["tranches"]):
        assert result["name"] == claim["name"]
        assert result["tranching"]["probability_of_loss"] == claim["achieved"]
    assert AuditEvent.objects.filter(action="abs.structure.size", object_id=str(structure.pk)).count() == 1


def test_sizing_to_expected_loss_meets_its_target(abs_world, pool):
    structure = abs_services.structure_size(
        actor=abs_world.lender_a_officer, pool=pool, name="EL sized", metric="expected_loss", scenarios=3000, seed=5,
        tranches=[{"name": "Senior", "target": 0.002}], equity_name="First loss")
    claim = structure.sizing["tranches"][0]
    obligors = abs_engine.engine_rows(abs_services.pool_rows(pool))
    losses = simulate_pool_losses(abs_engine.engine_pool(obligors), CopulaSpec(),
                                  horizon_months=structure.sizing["horizon_months"], scenarios=3000, seed=5)
    assert static_tranche_metrics(losses, claim["attachment"], 1.0)["expected_loss"] <= 0.002
    assert static_tranche_metrics(losses, claim["attachment"] * 0.98, 1.0)["expected_loss"] > 0.002
    assert [t["name"] for t in structure.definition["tranches"]] == ["Senior", "First loss"]


def test_sizing_refuses_bad_targets_on_the_page_and_the_api(abs_world, pool, client):
    w = abs_world
    with pytest.raises(ValidationError) as excinfo:
        abs_services.structure_size(actor=w.lender_a_officer, pool=pool, name="X", scenarios=2000, seed=1,
                                    tranches=[{"name": "A", "target": "BBB"}, {"name": "B", "target": "AAA"}])
    assert "most senior" in str(excinfo.value)
    response = api(w.lender_a_officer).post(reverse("abs-pool-size", args=[pool.pk]), {
        "name": "X", "scenarios": 2000, "seed": 1, "tranches": [{"name": "A", "target": "ZZZ"}]}, format="json")
    assert response.status_code == 400 and "rating band" in str(response.json())
    verified_login(client, w.lender_a_officer)
    data = {"name": "Page sized", "equity_name": "Equity", "metric": "probability_of_loss", "scenarios": "2000",
            "seed": "3", "targets-TOTAL_FORMS": "2", "targets-INITIAL_FORMS": "0", "targets-MIN_NUM_FORMS": "1",
            "targets-MAX_NUM_FORMS": "1000", "targets-0-name": "A", "targets-0-band": "AAA", "targets-0-coupon": "4",
            "targets-1-name": "B", "targets-1-band": "BBB", "targets-1-coupon": "7",
            "deal-waterfall": "sequential", "deal-senior_fee": "0.5", "deal-reserve_target": "1",
            "deal-reserve_floor": "0.5", "deal-reserve_initial": "1", "deal-cpr": "5",
            "deal-recovery_lag_months": "6", "deal-correlation": "0.15"}
    assert client.get(reverse("abs:structure_size", args=[pool.pk])).status_code == 200
    response = client.post(reverse("abs:structure_size", args=[pool.pk]), data)
    structure = CapitalStructure.objects.get(name="Page sized")
    assert response.status_code == 302 and structure.sizing["seed"] == 3
    assert "Illustrative rating table" in client.get(response.url).content.decode()
