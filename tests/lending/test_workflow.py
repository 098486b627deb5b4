"""The four-eyes life of an adjustment proposal: maker ≠ checker (service, page, API), illegal transitions,
the stale-snapshot refusal, one pending proposal per facility, delegated authority, every transition audited."""
import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from lending import services
from lending.models import AdjustmentProposal, Facility
from tests.factories import UserFactory
from tests.lending import factories as f

pytestmark = pytest.mark.django_db
TODAY = dt.date.today


def draft(world, facility, *, rate_up_bps=50, limit=None, officer=None, effective=None, tenor=None):
    return services.adjustment_draft(
        actor=officer or world.lender_a_officer, facility=facility,
        new_rate=facility.annual_rate + Decimal(rate_up_bps) / 10000, new_limit=limit or facility.limit,
        new_tenor_months=tenor or facility.tenor_months, effective_date=effective or TODAY(),
        reason_code="customer_request", message_to_borrower="As agreed in our meeting.")


def reload(obj):
    return type(obj).objects.get(pk=obj.pk)


def test_maker_cannot_approve_a_second_officer_can_and_the_terms_apply(credit):
    w = credit
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, w.facility))
    assert proposal.status == "submitted" and len(proposal.snapshot_hash) == 64
    assert proposal.snapshot["terms"]["new"]["rate"] == "0.060000"
    with pytest.raises(PermissionDenied, match="four eyes"):
        services.adjustment_approve(actor=w.lender_a_officer, proposal=proposal)
    proposal = services.adjustment_approve(actor=w.lender_a_officer2, proposal=proposal, comment="Fine.")
    assert proposal.status == "applied" and proposal.decided_by == w.lender_a_officer2
    facility = reload(w.facility)
    assert facility.annual_rate == Decimal("0.060000") and facility.margin_rate == Decimal("0.030000")
    assert facility.terms_effective_date == TODAY() and facility.last_change == proposal
    actions = list(AuditEvent.objects.filter(object_type="lending.adjustmentproposal", object_id=str(proposal.pk))
                   .values_list("action", flat=True))
    assert actions == ["adjustment.draft", "adjustment.submit", "adjustment.approve", "adjustment.apply"]
    approve = AuditEvent.objects.get(action="adjustment.approve", object_id=str(proposal.pk))
    assert approve.actor_user == "lender_a_officer2"
    assert approve.payload["new_rate"] == "0.060000" and approve.payload["inputs_hash"] == proposal.inputs_hash
    assert float(approve.payload["pd"]) == pytest.approx(proposal.assessment.pd)


def test_the_system_drafts_and_whoever_submits_is_the_maker(credit):
    w = credit
    proposal = services.facility_review(facility_id=w.facility.pk, trigger="schedule").proposal
    assert proposal is not None and proposal.origin == "system" and proposal.created_by is None
    proposal = services.adjustment_submit(actor=w.lender_a_officer2, proposal=proposal)
    with pytest.raises(PermissionDenied):
        services.adjustment_approve(actor=w.lender_a_officer2, proposal=proposal)
    assert services.adjustment_approve(actor=w.lender_a_officer, proposal=proposal).status == "applied"


@pytest.mark.parametrize("transition, status", [
    ("approve", "draft"), ("reject", "draft"), ("return", "draft"), ("submit", "applied"), ("approve", "applied"),
    ("withdraw", "applied"), ("repreview", "applied"), ("submit", "submitted"), ("approve", "rejected"),
    ("submit", "withdrawn"), ("approve", "expired"),
])
def test_illegal_transitions_are_refused(credit, transition, status):
    w = credit
    proposal = draft(w, w.facility)
    if status != "draft":
        proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=proposal)
    if status == "applied":
        services.adjustment_approve(actor=w.lender_a_officer2, proposal=proposal)
    elif status == "rejected":
        services.adjustment_reject(actor=w.lender_a_officer2, proposal=proposal, comment="No.")
    elif status == "withdrawn":
        services.adjustment_withdraw(actor=w.lender_a_officer, proposal=proposal)
    elif status == "expired":
        services.adjustment_expire(proposal_id=proposal.pk)
    proposal = reload(proposal)
    assert proposal.status == status
    service = {"approve": services.adjustment_approve, "reject": services.adjustment_reject,
               "return": services.adjustment_return, "submit": services.adjustment_submit,
               "withdraw": services.adjustment_withdraw, "repreview": services.adjustment_repreview}[transition]
    kwargs = {"comment": "why"} if transition in ("reject", "return") else {}
    with pytest.raises(ValidationError) as error:
        service(actor=w.lender_a_officer2, proposal=proposal, **kwargs)
    assert error.value.code == "illegal_transition"
    assert reload(proposal).status == status


def test_reject_and_return_need_a_comment_and_return_goes_back_to_the_maker(credit):
    w = credit
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, w.facility))
    for service in (services.adjustment_reject, services.adjustment_return):
        with pytest.raises(ValidationError, match="comment"):
            service(actor=w.lender_a_officer2, proposal=proposal, comment="  ")
    proposal = services.adjustment_return(actor=w.lender_a_officer2, proposal=proposal, comment="Check the date.")
    assert proposal.status == "returned" and proposal.decision_comment == "Check the date."
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=proposal)
    proposal = services.adjustment_reject(actor=w.lender_a_officer2, proposal=proposal, comment="Not now.")
    assert proposal.status == "rejected" and reload(w.facility).annual_rate == Decimal("0.055000")


def test_only_the_maker_withdraws(credit):
    w = credit
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, w.facility))
    with pytest.raises(PermissionDenied):
        services.adjustment_withdraw(actor=w.lender_a_officer2, proposal=proposal)
    assert services.adjustment_withdraw(actor=w.lender_a_officer, proposal=proposal).status == "withdrawn"


def test_approval_is_refused_when_the_inputs_changed_since_submission_until_re_previewed(credit, world):
    w = credit
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, w.facility))
    submitted_hash = proposal.inputs_hash
    f.add_statement(w, w.borrower, period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 3, 31),
                    revenue="9000000", ebitda="900000", interest_expense="300000", total_debt="16000000",
                    current_assets="9000000", current_liabilities="8000000", cash="500000",
                    scheduled_principal="400000")
    with pytest.raises(ValidationError) as error:
        services.adjustment_approve(actor=w.lender_a_officer2, proposal=proposal)
    assert error.value.code == "stale" and "re-previewed" in error.value.messages[0]
    assert reload(proposal).status == "submitted" and not proposal.approvals.exists()
    # Re-previewed by the second officer, who thereby becomes a maker too (the first drafted it): neither of
    # them may decide now, a third officer must.
    proposal = services.adjustment_repreview(actor=w.lender_a_officer2, proposal=proposal)
    assert proposal.inputs_hash != submitted_hash and proposal.submitted_by == w.lender_a_officer2
    assert proposal.snapshot["inputs"]["statement"]["period_end"] == "2026-03-31"
    for maker in (w.lender_a_officer, w.lender_a_officer2):
        with pytest.raises(PermissionDenied):
            services.adjustment_approve(actor=maker, proposal=proposal)
    third = UserFactory(organization=world.lender_a, role="loan_officer", username="lender_a_officer3")
    assert services.adjustment_approve(actor=third, proposal=proposal).status == "applied"


def test_the_maker_re_previews_a_stale_proposal_and_the_checker_approves(credit):
    w = credit
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, w.facility))
    f.add_statement(w, w.borrower, period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 3, 31),
                    revenue="9500000", ebitda="1400000", interest_expense="220000", total_debt="14000000",
                    current_assets="12000000", current_liabilities="7000000", cash="2500000")
    with pytest.raises(ValidationError, match="re-previewed"):
        services.adjustment_approve(actor=w.lender_a_officer2, proposal=proposal)
    proposal = services.adjustment_repreview(actor=w.lender_a_officer, proposal=proposal)
    assert services.adjustment_approve(actor=w.lender_a_officer2, proposal=proposal).status == "applied"


def test_a_health_alarm_after_submission_makes_the_snapshot_stale(credit):
    w = credit
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, w.facility))
    f.set_press_health(w.shared_press, level=2, zs=[1.0, 5.0, 7.0])
    with pytest.raises(ValidationError, match="inputs changed"):
        services.adjustment_approve(actor=w.lender_a_officer2, proposal=proposal)
    # The private press's health is invisible to the lender: it cannot make anything stale.
    services.adjustment_repreview(actor=w.lender_a_officer, proposal=proposal)
    f.set_press_health(w.private_press, level=3, zs=[1.0, 9.0, 14.0])
    assert services.adjustment_approve(actor=w.lender_a_officer2, proposal=reload(proposal)).status == "applied"


def test_one_pending_proposal_per_facility(credit):
    w = credit
    first = draft(w, w.facility)
    with pytest.raises(ValidationError, match="still pending"):
        draft(w, w.facility, officer=w.lender_a_officer2)
    with pytest.raises(IntegrityError), transaction.atomic():
        AdjustmentProposal.objects.create(
            organization=first.organization, facility=first.facility, assessment=first.assessment, origin="officer",
            trigger="manual", status="submitted", reason_code="market_rate", old_rate=first.old_rate,
            new_rate=first.new_rate, old_limit=first.old_limit, new_limit=first.new_limit, old_tenor_months=60,
            new_tenor_months=60, effective_date=TODAY())
    services.adjustment_withdraw(actor=w.lender_a_officer, proposal=first)
    assert draft(w, w.facility, officer=w.lender_a_officer2).status == "draft"


def test_a_newer_system_proposal_supersedes_an_undecided_one(credit):
    w = credit
    first = services.facility_review(facility_id=w.facility.pk, trigger="schedule").proposal
    f.set_press_health(w.shared_press, level=2, zs=[1.0, 4.0, 6.0, 8.0, 9.0], alarm_days=1)
    second = services.facility_review(facility_id=w.facility.pk, trigger="health_alarm").proposal
    assert second is not None and second.reason_code == "health_deterioration"
    assert reload(first).status == "superseded"
    assert second.reason_facts["presses"] == ["Shared press"]


def test_larger_moves_need_two_checkers(credit, world):
    w = credit
    third = UserFactory(organization=world.lender_a, role="loan_officer", username="lender_a_officer3")
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, w.facility, rate_up_bps=150))
    assert proposal.required_approvals == 2
    proposal = services.adjustment_approve(actor=w.lender_a_officer2, proposal=proposal)
    assert proposal.status == "submitted" and len(services.valid_approvals(proposal)) == 1
    with pytest.raises(ValidationError, match="already approved"):
        services.adjustment_approve(actor=w.lender_a_officer2, proposal=proposal)
    assert services.adjustment_approve(actor=third, proposal=proposal).status == "applied"
    assert list(AuditEvent.objects.filter(object_id=str(proposal.pk), action__startswith="adjustment.approve")
                .values_list("action", "actor_user")) == [("adjustment.approve_first", "lender_a_officer2"),
                                                           ("adjustment.approve", "lender_a_officer3")]


def test_future_effective_date_is_scheduled_then_applied_on_its_date(credit):
    w = credit
    tomorrow = TODAY() + dt.timedelta(days=1)
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, w.facility, effective=tomorrow))
    proposal = services.adjustment_approve(actor=w.lender_a_officer2, proposal=proposal)
    assert proposal.status == "scheduled" and reload(w.facility).annual_rate == Decimal("0.055000")
    assert services.lending_housekeeping()["applied"] == []
    AdjustmentProposal.objects.filter(pk=proposal.pk).update(effective_date=TODAY())  # the date has come
    assert services.lending_housekeeping()["applied"] == [proposal.pk]
    assert reload(proposal).status == "applied" and reload(w.facility).annual_rate == Decimal("0.060000")


def test_stale_submitted_proposals_expire(credit):
    w = credit
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, w.facility))
    assert services.lending_housekeeping()["expired"] == []
    later = timezone.now() + dt.timedelta(days=15)
    assert services.lending_housekeeping(now=later)["expired"] == [proposal.pk]
    assert reload(proposal).status == "expired"


def test_terms_outside_the_product_or_backdated_are_refused(credit):
    w = credit
    with pytest.raises(ValidationError, match="product bounds"):
        draft(w, w.facility, rate_up_bps=2000)
    with pytest.raises(ValidationError, match="past"):
        draft(w, w.facility, effective=TODAY() - dt.timedelta(days=1))
    with pytest.raises(ValidationError, match="below the drawn"):
        draft(w, w.facility, limit=Decimal("1000000"))
    with pytest.raises(ValidationError, match="changes nothing"):
        draft(w, w.facility, rate_up_bps=0)


def test_auditors_and_other_lenders_cannot_act(credit, world):
    w = credit
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, w.facility))
    for actor in (world.lender_a_auditor, world.lender_b_officer, world.ent_a_manager):
        with pytest.raises(PermissionDenied):
            services.adjustment_approve(actor=actor, proposal=proposal)
    with pytest.raises(PermissionDenied):
        services.facility_review(facility_id=w.facility.pk, trigger="manual", actor=world.lender_b_officer)


def test_the_page_refuses_the_maker_and_lets_a_second_officer_approve(credit, client):
    from tests.factories import verified_login

    w = credit
    proposal = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, w.facility))
    url = reverse("lending:proposal_detail", args=[proposal.pk])
    verified_login(client, w.lender_a_officer)
    page = client.get(url).content.decode()
    assert 'id="approve-button"' not in page and 'id="maker-note"' in page
    assert client.post(reverse("lending:proposal_approve", args=[proposal.pk])).status_code == 403
    assert reload(proposal).status == "submitted"
    verified_login(client, w.lender_a_officer2)
    assert 'id="approve-button"' in client.get(url).content.decode()
    response = client.post(reverse("lending:proposal_approve", args=[proposal.pk]), {"comment": "ok"})
    assert response.status_code == 302 and reload(proposal).status == "applied"


def test_the_page_says_when_there_is_no_earlier_assessment_to_compare_with(credit, client):
    from tests.factories import verified_login

    w = credit
    first = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(
        w, w.facility, limit=(w.facility.limit * Decimal("1.1")).quantize(Decimal("1"))))
    assert first.snapshot["pd_moves_against"] is None and first.snapshot["pd_moves"] == []
    verified_login(client, w.lender_a_officer2)
    page = client.get(reverse("lending:proposal_detail", args=[first.pk])).content.decode()
    assert "first assessment" in page and "No input moved" not in page
    assert "<td>+10.0 %</td>" in page  # the limit moved by a tenth of itself, not by percentage points
    services.adjustment_approve(actor=w.lender_a_officer2, proposal=first)
    # The next proposal is measured against the assessment the applied terms rest on.
    second = services.adjustment_submit(actor=w.lender_a_officer, proposal=draft(w, reload(w.facility)))
    assert second.snapshot["pd_moves_against"] == first.assessment_id
    page = client.get(reverse("lending:proposal_detail", args=[second.pk])).content.decode()
    assert "first assessment" not in page and "No input moved since the terms were last set." in page


def test_the_api_refuses_the_maker_and_lets_a_second_officer_approve(credit):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    w = credit

    def api(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        return client

    created = api(w.lender_a_officer).post(reverse("facility-proposals", args=[w.facility.pk]), {
        "new_rate": "0.0600", "new_limit": "5000000", "new_tenor_months": 60,
        "effective_date": TODAY().isoformat(), "reason_code": "market_rate"}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert api(w.lender_a_officer).post(reverse("adjustment-submit", args=[pk])).json()["status"] == "submitted"
    refused = api(w.lender_a_officer).post(reverse("adjustment-approve", args=[pk]), {}, format="json")
    assert refused.status_code == 403
    illegal = api(w.lender_a_officer2).post(reverse("adjustment-submit", args=[pk]))
    assert illegal.status_code == 400
    approved = api(w.lender_a_officer2).post(reverse("adjustment-approve", args=[pk]), {"comment": "ok"}, format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "applied"
    assert approved.json()["approvals"][0]["approver"] == "lender_a_officer2"
    assert Facility.objects.get(pk=w.facility.pk).annual_rate == Decimal("0.060000")
