"""The demo's credit data: seeded twice without change, with a pending adjustment that bank1_officer2 can approve."""
import pytest

from lending import services
from lending.models import AdjustmentProposal, Borrower, Facility, FinancialStatement, RiskAssessment
from portal.demo import seed_all

pytestmark = pytest.mark.django_db


def test_demo_credit_is_idempotent_and_has_a_pending_adjustment_for_the_second_officer():
    context = seed_all()
    counts = [model.objects.count() for model in (Borrower, Facility, FinancialStatement, AdjustmentProposal,
                                                  RiskAssessment)]
    seed_all()
    assert [model.objects.count() for model in (Borrower, Facility, FinancialStatement, AdjustmentProposal,
                                                RiskAssessment)] == counts
    # The reviews the statements queued (the demo's worker runs them) draft nothing more: the demo facilities
    # are priced at their risk, except the one whose press is in alarm, which already has its proposal.
    for facility in Facility.objects.all():
        assert services.facility_review(facility_id=facility.pk, trigger="new_financials").proposal is None
    pending = AdjustmentProposal.objects.get(status="submitted")
    assert pending.facility.reference == "JIB-EQ-2025-017" and pending.submitted_by.username == "bank1_officer1"
    assert pending.reason_code == "health_deterioration" and pending.new_rate > pending.old_rate
    assert pending.facility.collateral.filter(press__name="L1-400 servo press").exists()
    assert pending.assessment.health_shared and pending.assessment.overlay["applied"]
    unshared = [h for h in pending.assessment.health if h["press_name"] == "L2-250 transfer press"]
    assert unshared and unshared[0]["shared"] is False and unshared[0]["alarm_level"] is None
    users = context.users
    with pytest.raises(Exception, match="four eyes"):
        services.adjustment_approve(actor=users["bank1_officer1"], proposal=pending)
    approved = services.adjustment_approve(actor=users["bank1_officer2"], proposal=pending)
    assert approved.status == "applied"
    rhein = Facility.objects.get(reference="CEF-TL-0042")
    assert rhein.last_change.status == "applied" and rhein.last_change.reason_code == "market_rate"
    assert users["ent2_manager"].has_perm("lending.view_facility_terms", rhein)
