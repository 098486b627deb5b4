"""Asset pools: built from the lender's own assessed facilities, frozen per version, versioned, audited; another
lender's facility is refused with a clear error at the service, on the page and through the API."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AuditEvent
from lending import abs_services, services
from lending.abs_models import AssetPool, PoolFacility
from lending.models import Facility
from tests.factories import verified_login
from tests.lending import factories as f

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def ids(facilities):
    return [facility.pk for facility in facilities]


def test_a_pool_freezes_each_facility_s_inputs_and_its_analysis(abs_world):
    w = abs_world
    pool = abs_services.pool_create(actor=w.lender_a_officer, name="SME 2026-1", facility_ids=ids(w.facilities))
    assert (pool.version, pool.facility_count, pool.obligor_count, pool.currency) == (1, 5, 4, "EUR")
    assert pool.total_balance == sum(fac.drawn_amount for fac in w.facilities)
    first = w.facilities[0]
    row = PoolFacility.objects.get(pool=pool, facility=first)
    latest = first.assessments.order_by("-created_at", "-pk").first()
    assert row.assessment == latest and row.pd_annual == latest.pd and row.lgd == latest.lgd
    assert row.balance == first.drawn_amount and row.annual_rate == first.annual_rate
    assert row.health_level == 1 and row.pledged_presses == 1 and row.region == "Plant 1"
    assert 0 < row.remaining_months <= first.tenor_months

    strata = pool.analysis["strata"]
    assert set(strata) == {"sector", "region", "pd_band", "health_band", "remaining_term", "collateral_type"}
    for by, table in strata.items():
        assert sum(r["count"] for r in table) == 5, by
        assert sum(r["balance_share"] for r in table) == pytest.approx(1.0), by
    sectors = {r["key"]: r for r in strata["sector"]}
    auto = [fac for fac in w.facilities if fac.borrower.sector == "Automotive stamping"]
    assert sectors["Automotive stamping"]["count"] == len(auto)
    assert sectors["Automotive stamping"]["balance"] == pytest.approx(float(sum(fac.drawn_amount for fac in auto)))
    assert {r["key"] for r in strata["health_band"]} == {"level-1", "unsecured"}
    concentration = pool.analysis["concentration"]
    # Concentration is by obligor: the first borrower holds two facilities.
    by_borrower = {}
    for fac in w.facilities:
        by_borrower[fac.borrower_id] = by_borrower.get(fac.borrower_id, 0) + float(fac.drawn_amount)
    assert concentration["largest_share"] == pytest.approx(max(by_borrower.values()) / float(pool.total_balance))
    assert len(concentration["top"]) == 4
    weighted = pool.analysis["weighted"]
    assert weighted["coupon"] == pytest.approx(0.055)
    assert 0 < weighted["life_years"] < max(fac.tenor_months for fac in w.facilities) / 12
    # Granted to the lender's officers and auditors only; audited once.
    assert w.lender_a_officer.has_perm("lending.change_assetpool", pool)
    assert w.lender_a_auditor.has_perm("lending.view_assetpool", pool)
    assert not w.lender_a_auditor.has_perm("lending.change_assetpool", pool)
    assert not w.lender_b_officer.has_perm("lending.view_assetpool", pool)
    assert not w.ent_a_manager.has_perm("lending.view_assetpool", pool)
    event = AuditEvent.objects.get(action="abs.pool.create")
    assert event.object_id == str(pool.pk) and event.actor_user == "lender_a_officer" and event.after_digest


def test_a_new_version_refreezes_the_inputs_and_leaves_the_old_version_alone(abs_world):
    w = abs_world
    first = abs_services.pool_create(actor=w.lender_a_officer, name="SME 2026-1", facility_ids=ids(w.facilities[:3]))
    Facility.objects.filter(pk=w.facilities[0].pk).update(drawn_amount=Decimal("1500000.00"))
    second = abs_services.pool_revise(actor=w.lender_a_officer, pool=first, facility_ids=ids(w.facilities))
    assert (second.name, second.version, second.previous, second.facility_count) == ("SME 2026-1", 2, first, 5)
    first.refresh_from_db()
    assert first.facility_count == 3
    assert first.members.get(facility=w.facilities[0]).balance == Decimal("2000000.00")
    assert second.members.get(facility=w.facilities[0]).balance == Decimal("1500000.00")
    assert first.inputs_hash != second.inputs_hash
    third = abs_services.pool_revise(actor=w.lender_a_officer, pool=second)  # same list, inputs re-read
    assert third.version == 3 and set(third.members.values_list("facility", flat=True)) == set(ids(w.facilities))
    assert third.inputs_hash == second.inputs_hash
    assert AuditEvent.objects.filter(action="abs.pool.revise").count() == 2
    with pytest.raises(ValidationError) as excinfo:
        abs_services.pool_create(actor=w.lender_a_officer, name="SME 2026-1", facility_ids=ids(w.facilities))
    assert "new version" in str(excinfo.value)
    with pytest.raises(PermissionDenied):
        abs_services.pool_revise(actor=w.lender_a_auditor, pool=second)


def test_another_lender_s_facility_is_refused_by_the_service(abs_world):
    w = abs_world
    with pytest.raises(ValidationError) as excinfo:
        abs_services.pool_create(actor=w.lender_a_officer, name="Mixed",
                                 facility_ids=[w.facilities[0].pk, w.foreign_facility.pk])
    message = " ".join(excinfo.value.message_dict["facilities"])
    assert f"Facility #{w.foreign_facility.pk} is not one of Lender A's facilities" in message
    assert "B-1" not in message  # nothing about the other lender's facility leaks
    assert not AssetPool.objects.exists()
    with pytest.raises(ValidationError):
        abs_services.pool_create(actor=w.lender_b_officer, name="Theirs", facility_ids=[w.facilities[0].pk])


def test_only_a_lender_s_loan_officers_build_pools(abs_world):
    w = abs_world
    for actor in (w.ent_a_manager, w.lender_a_auditor, w.firm_auditor, w.admin):
        with pytest.raises(PermissionDenied):
            abs_services.pool_create(actor=actor, name="No", facility_ids=ids(w.facilities))


def test_facilities_that_cannot_join_are_named(abs_world):
    w = abs_world
    unassessed = f.make_facility(w, w.facilities[1].borrower, reference="A-NEW")
    yuan = f.make_facility(w, w.facilities[2].borrower, reference="A-CNY", currency="CNY")
    services.facility_assess(facility=yuan, actor=w.lender_a_officer)
    with pytest.raises(ValidationError) as excinfo:
        abs_services.pool_create(actor=w.lender_a_officer, name="P", facility_ids=[w.facilities[0].pk, unassessed.pk])
    assert "A-NEW has no risk assessment yet" in str(excinfo.value)
    with pytest.raises(ValidationError) as excinfo:
        abs_services.pool_create(actor=w.lender_a_officer, name="P", facility_ids=[w.facilities[0].pk, yuan.pk])
    assert "one currency" in str(excinfo.value)
    with pytest.raises(ValidationError) as excinfo:
        abs_services.pool_create(actor=w.lender_a_officer, name="P", facility_ids=[])
    assert "Pick at least one facility" in str(excinfo.value)


def test_the_page_builds_a_pool_from_picked_facilities_and_names_a_foreign_one(abs_world, client):
    w = abs_world
    verified_login(client, w.lender_a_officer)
    page = client.get(reverse("abs:pool_create"), {"sector": "Automotive"})
    assert page.status_code == 200
    listed = page.content.decode()
    assert "A-1" in listed and "A-2" not in listed and "B-1" not in listed  # filtered, and only lender A's
    refused = client.post(reverse("abs:pool_create"), {"name": "Page pool", "facilities": [w.facilities[0].pk,
                                                                                           w.foreign_facility.pk]})
    assert refused.status_code == 400
    assert f"Facility #{w.foreign_facility.pk} is not one of Lender A" in refused.content.decode()
    created = client.post(reverse("abs:pool_create"), {"name": "Page pool", "facilities": ids(w.facilities[:2])})
    pool = AssetPool.objects.get(name="Page pool")
    assert created.status_code == 302 and created.url == reverse("abs:pool_detail", args=[pool.pk])
    detail = client.get(created.url).content.decode()
    assert "Stratification" in detail and "A-1" in detail and "Effective number of obligors" in detail
    revised = client.post(reverse("abs:pool_revise", args=[pool.pk]), {"facilities": ids(w.facilities)})
    assert revised.status_code == 302
    assert AssetPool.objects.get(name="Page pool", version=2).facility_count == 5


def test_the_api_builds_versions_and_refuses_a_foreign_facility(abs_world):
    w = abs_world
    client = api(w.lender_a_officer)
    refused = client.post(reverse("abs-pool-list"), {"name": "API", "facilities": [w.foreign_facility.pk]},
                          format="json")
    assert refused.status_code == 400 and "is not one of Lender A" in refused.json()["facilities"][0]
    created = client.post(reverse("abs-pool-list"), {"name": "API", "facilities": ids(w.facilities)}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["version"] == 1 and len(body["facilities"]) == 5 and "strata" in body["analysis"]
    revised = client.post(reverse("abs-pool-revise", args=[body["id"]]), {"facilities": ids(w.facilities[:2])},
                          format="json")
    assert revised.status_code == 201 and revised.json()["version"] == 2
    listing = client.get(reverse("abs-pool-list")).json()
    assert [(p["name"], p["version"]) for p in listing["results"]] == [("API", 2)]
    versions = client.get(reverse("abs-pool-versions", args=[body["id"]])).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert api(w.lender_b_officer).get(reverse("abs-pool-list")).json()["count"] == 0
    assert api(w.ent_a_manager).get(reverse("abs-pool-detail", args=[body["id"]])).status_code == 404
    assert api(w.ent_a_manager).post(reverse("abs-pool-list"), {"name": "E", "facilities": ids(w.facilities)},
                                     format="json").status_code == 403


def test_pool_and_structure_lists_cost_the_same_queries_whatever_the_rows(abs_world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.abs.conftest import STRUCTURE

    w = abs_world
    client = api(w.lender_a_officer)

    def add(name):
        pool = abs_services.pool_create(actor=w.lender_a_officer, name=name, facility_ids=ids(w.facilities[:2]))
        pool = abs_services.pool_revise(actor=w.lender_a_officer, pool=pool)
        abs_services.structure_create(actor=w.lender_a_officer, pool=pool, name=f"S {name}", definition=STRUCTURE)

    def count(url):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    add("P1")
    count(reverse("abs-pool-list")), count(reverse("abs-structure-list"))  # warm the content-type cache
    few = [count(reverse("abs-pool-list")), count(reverse("abs-structure-list"))]
    for name in ("P2", "P3", "P4"):
        add(name)
    assert [count(reverse("abs-pool-list")), count(reverse("abs-structure-list"))] == few
    body = client.get(reverse("abs-pool-list")).json()
    assert body["count"] == 4 and {p["version"] for p in body["results"]} == {2}
