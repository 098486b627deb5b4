"""Pages and API: everything renders for the lender; the enterprise sees its terms and the reasons in plain words,
never the lender's internals; list endpoints have query budgets; schema-level checks of the API."""
import datetime as dt
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from lending import services
from tests.factories import verified_login
from tests.lending import factories as f

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def applied(credit):
    """An alarm on the shared press became a proposal, submitted by officer 1 and approved by officer 2."""
    w = credit
    services.facility_review(facility_id=w.facility.pk, trigger="manual")
    f.set_press_health(w.shared_press, level=2, zs=[1.0, 4.0, 6.0, 8.0, 9.0])
    proposal = services.facility_review(facility_id=w.facility.pk, trigger="health_alarm").proposal
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=proposal)
    proposal = services.adjustment_approve(actor=w.lender_a_officer2, proposal=proposal)
    assert proposal.status == "applied"
    w.objects["proposal"] = proposal
    return w


INTERNAL_WORDS = ("PD", "LGD", "EAD", "capital", "hurdle", "funding", "grade", "scorecard", "overlay", "haircut",
                  "appetite", "tolerance", "RAROC", "snapshot", "approv")


def test_the_enterprise_sees_outcome_date_and_reasons_but_no_lender_internals(applied, client):
    w = applied
    proposal = w.proposal
    verified_login(client, w.ent_a_manager)
    assert client.get(reverse("lending:facility_list")).url == reverse("lending:my_terms")
    page = client.get(reverse("lending:my_terms")).content.decode()
    assert f"{proposal.new_rate * 100:.2f} %" in page and "5,000,000" in page or "5 000 000" in page
    assert "The monitored condition of your pledged press Shared press has deteriorated" in page
    assert "Private press" not in page
    main = page.split("<main>")[1].split("</main>")[0]
    for word in INTERNAL_WORDS:
        assert word not in main, word
    assert f"{proposal.assessment.pd:.4f}"[:6] not in main
    body = api(w.ent_a_manager).get(reverse("myterms-list")).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert set(row) == {"id", "lender", "facility_type", "currency", "current_rate", "limit", "effective_date",
                        "reason"}
    assert row["current_rate"] == str(proposal.new_rate) and row["effective_date"] == dt.date.today().isoformat()
    assert "deteriorated" in row["reason"]
    for word in INTERNAL_WORDS:
        assert word not in json.dumps(row), word
    # The enterprise cannot reach the lender's side of the same facility.
    assert client.get(reverse("lending:facility_detail", args=[w.facility.pk])).status_code == 404
    assert api(w.ent_a_manager).get(reverse("facility-detail", args=[w.facility.pk])).status_code == 404
    assert api(w.ent_a_manager).get(reverse("adjustment-list")).json()["count"] == 0
    assert api(w.ent_a_manager).get(reverse("pd-model")).status_code == 403
    assert api(w.ent_a_manager).get(reverse("lending-policy")).status_code == 404


def test_every_lender_page_renders(applied, client):
    w = applied
    verified_login(client, w.lender_a_officer)
    proposal = w.proposal
    for url in (reverse("lending:facility_list"), reverse("lending:borrower_list"),
                reverse("lending:borrower_detail", args=[w.borrower.pk]), reverse("lending:facility_create"),
                reverse("lending:facility_detail", args=[w.facility.pk]),
                reverse("lending:proposal_create", args=[w.facility.pk]),
                reverse("lending:proposal_create", args=[w.facility.pk]) + "?use=optimal",
                reverse("lending:assessment_detail", args=[proposal.assessment_id]),
                reverse("lending:proposal_detail", args=[proposal.pk]), reverse("lending:pd_model"),
                reverse("lending:policy")):
        response = client.get(url)
        assert response.status_code == 200, url
    detail = client.get(reverse("lending:proposal_detail", args=[proposal.pk])).content.decode()
    assert 'id="terms-compare"' in detail and 'id="pd-moves"' in detail and "plotly.min.js" in detail
    assert "Equipment health (overlay)" in detail  # the driver that moved the PD
    charts = json.loads(detail.split('id="health-history" type="application/json">')[1].split("</script>")[0])
    assert {"press": "Private press", "shared": False, "points": []} in charts
    assert [len(c["points"]) for c in charts if c["shared"]] == [5]
    model = client.get(reverse("lending:pd_model")).content.decode()
    assert 'id="model-auc"' in model and 'id="calibration"' in model and 'id="coefficients"' in model


def test_the_enterprises_page_and_an_auditors_pages(applied, client):
    w = applied
    verified_login(client, w.lender_a_auditor)
    assert client.get(reverse("lending:facility_detail", args=[w.facility.pk])).status_code == 200
    assert client.get(reverse("lending:facility_create")).status_code == 403
    page = client.get(reverse("lending:policy")).content.decode()
    assert "disabled" in page and 'type="submit"' not in page.split('id="policy-form"')[1].split("</form>")[0]


def test_officers_record_a_borrower_and_a_facility_through_the_pages(world, client):
    press = f.make_press(world, "Form press")
    verified_login(client, world.lender_a_officer)
    response = client.post(reverse("lending:borrower_list"), {
        "enterprise": world.ent_a.pk, "established_on": "2010-01-01", "repayment_history": "paid_duly"})
    borrower = world.ent_a.lender_relationships.get()
    assert response.status_code == 302
    data = {"borrower": borrower.pk, "reference": "EQ-7", "facility_type": "equipment_loan", "currency": "EUR",
            "limit": "2000000", "drawn_amount": "1500000", "base_rate_percent": "3", "margin_percent": "2.25",
            "tenor_months": "48", "repayment_kind": "annuity", "interest_only_months": "0", "start_date": "2026-01-15",
            "collateral-TOTAL_FORMS": "2", "collateral-INITIAL_FORMS": "0", "collateral-0-press": press.pk,
            "collateral-0-appraised_value": "2500000", "collateral-0-appraised_on": "2025-12-01",
            "covenants-TOTAL_FORMS": "3", "covenants-INITIAL_FORMS": "0", "covenants-0-covenant_kind": "max_alarm_days",
            "covenants-0-threshold": "5"}
    response = client.post(reverse("lending:facility_create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    facility = borrower.facilities.get()
    assert facility.annual_rate == Decimal("0.052500") and facility.collateral.get().press == press
    assert facility.covenants.get().threshold == Decimal("5")
    # The enterprise's managers now see the terms; the other lender nothing.
    assert world.ent_a_manager.has_perm("lending.view_facility_terms", facility)
    assert not world.lender_b_officer.has_perm("lending.view_facility", facility)
    # A press of another enterprise cannot be pledged.
    other = f.make_press(world, "B press", organization=world.ent_b, manager=world.ent_b_manager)
    data.update({"reference": "EQ-8", "collateral-0-press": other.pk})
    assert "Select a valid choice" in client.post(reverse("lending:facility_create"), data).content.decode()


def test_list_endpoints_have_query_budgets(applied, django_assert_max_num_queries):
    w = applied
    for number in range(2, 6):
        facility = f.make_facility(w, w.borrower, presses=[w.shared_press], reference=f"F-00{number}")
        services.facility_assess(facility=facility, actor=None)
    client = api(w.lender_a_officer)
    for name, budget in (("facility-list", 12), ("adjustment-list", 9), ("riskassessment-list", 8),
                         ("borrower-list", 8), ("financialstatement-list", 8)):
        with django_assert_max_num_queries(budget):
            assert client.get(reverse(name)).status_code == 200
    with django_assert_max_num_queries(13):
        assert api(w.ent_a_manager).get(reverse("myterms-list")).json()["count"] == 5


def test_api_creates_borrowers_and_facilities_and_reviews(world):
    press = f.make_press(world, "API press")
    f.share(world, press)
    client = api(world.lender_a_officer)
    borrower = client.post(reverse("borrower-list"), {"enterprise": "ent-a", "established_on": "2012-04-01"},
                           format="json")
    assert borrower.status_code == 201, borrower.content
    facility = client.post(reverse("facility-list"), {
        "borrower": borrower.json()["id"], "reference": "API-1", "facility_type": "term_loan", "limit": "3000000",
        "drawn_amount": "3000000", "base_rate": "0.03", "margin_rate": "0.02", "tenor_months": 36,
        "start_date": "2026-02-01", "collateral": [{"press": press.pk, "appraised_value": "4000000",
                                                    "appraised_on": "2026-01-10"}],
        "covenants": [{"covenant_kind": "min_dscr", "threshold": "1.3"}]}, format="json")
    assert facility.status_code == 201, facility.content
    assert facility.json()["collateral"][0]["press_name"] == "API press"
    review = client.post(reverse("facility-review", args=[facility.json()["id"]]))
    assert review.status_code == 200 and 0 < review.json()["pd"] < 1
    assert client.get(reverse("pd-model")).json()["validation"]["auc"] > 0.7
    policy = client.patch(reverse("lending-policy"), {"rate_tolerance_bps": 40}, format="json")
    assert policy.status_code == 200 and policy.json()["rate_tolerance_bps"] == 40
    bad = client.patch(reverse("lending-policy"), {"product_min_rate": "0.2"}, format="json")
    assert bad.status_code == 400
    assert api(world.lender_a_auditor).patch(reverse("lending-policy"), {"rate_tolerance_bps": 1},
                                             format="json").status_code == 403
