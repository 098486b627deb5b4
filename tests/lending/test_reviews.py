"""Reviews: after a health alarm (the health app calls facility_reviews_for_press, or lending_review_all finds the
alarm itself), after new financials, on a schedule; idempotent; and on a real Celery worker."""
import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from lending import services
from lending.models import AdjustmentProposal, Facility, RiskAssessment
from tests.conftest import wait_for
from tests.fixtures import build_world
from tests.lending import factories as f


@pytest.mark.django_db
def test_facility_reviews_for_press_queues_after_commit_for_each_facility_holding_it(credit, monkeypatch,
                                                                                     django_capture_on_commit_callbacks):
    w = credit
    other_borrower = f.make_borrower(w, lender=w.lender_b, officer=w.lender_b_officer)
    other = f.make_facility(w, other_borrower, presses=[w.shared_press], reference="B-1", officer=w.lender_b_officer)
    queued = []
    monkeypatch.setattr("lending.tasks.review_facility.delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        ids = services.facility_reviews_for_press(w.shared_press.pk, "health_alarm")
        assert queued == []  # nothing before the caller's transaction commits
    assert ids == [w.facility.pk, other.pk]
    assert queued == [(w.facility.pk, "health_alarm"), (other.pk, "health_alarm")]
    with pytest.raises(ValueError):
        services.facility_reviews_for_press(w.shared_press.pk, "whenever")


@pytest.mark.django_db
def test_a_review_with_unchanged_inputs_changes_nothing(credit):
    w = credit
    first = services.facility_review(facility_id=w.facility.pk, trigger="health_alarm")
    again = services.facility_review(facility_id=w.facility.pk, trigger="health_alarm")
    assert again.assessment == first.assessment and again.proposal is None and again.skipped
    assert RiskAssessment.objects.count() == 1 and AdjustmentProposal.objects.count() == 1
    periodic = services.facility_review(facility_id=w.facility.pk, trigger="schedule")
    assert periodic.skipped == "reviewed within the review interval"


@pytest.mark.django_db
def test_review_all_finds_alarms_the_health_app_did_not_report(credit):
    w = credit
    services.facility_review(facility_id=w.facility.pk, trigger="manual")
    for proposal in AdjustmentProposal.objects.all():
        services.adjustment_withdraw(actor=w.lender_a_officer, proposal=proposal)
    assert services.reviews_due() == []
    f.set_press_health(w.shared_press, level=2, zs=[1.0, 4.0, 6.0, 8.0, 9.0])
    Facility.objects.filter(pk=w.facility.pk).update(last_reviewed_at=timezone.now() - dt.timedelta(hours=1))
    assert services.reviews_due() == [(w.facility.pk, "health_alarm")]
    out = StringIO()
    call_command("lending_review_all", stdout=out)
    assert "1 facilities reviewed, 1 proposals drafted" in out.getvalue()
    proposal = AdjustmentProposal.objects.get(status="draft")
    assert proposal.trigger == "health_alarm" and proposal.reason_code == "health_deterioration"
    assert services.reviews_due() == []


@pytest.mark.django_db
def test_periodic_reviews_fall_due_after_the_interval(credit):
    w = credit
    assert services.reviews_due() == [(w.facility.pk, "schedule")]  # never reviewed
    out = StringIO()
    call_command("lending_review_all", "--dry-run", stdout=out)
    assert f"facility {w.facility.pk}: schedule" in out.getvalue() and not RiskAssessment.objects.exists()
    services.facility_review(facility_id=w.facility.pk, trigger="schedule")
    assert services.reviews_due() == []
    later = timezone.now() + dt.timedelta(days=91)
    assert services.reviews_due(now=later) == [(w.facility.pk, "schedule")]


@pytest.mark.django_db
def test_new_financials_review_the_borrowers_facilities(credit, django_capture_on_commit_callbacks, monkeypatch):
    w = credit
    queued = []
    monkeypatch.setattr("lending.tasks.review_facility.delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        f.add_statement(w, w.borrower, period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 3, 31),
                        revenue="9000000", ebitda="700000", interest_expense="300000")
    assert queued == [(w.facility.pk, "new_financials")]


@pytest.mark.django_db
def test_terms_back_within_tolerance_expire_the_systems_own_stale_draft(world):
    from health.models import HealthAlarm, PressHealthState

    press = f.make_press(world, "Press")
    f.share(world, press)
    borrower = f.make_borrower(world)
    facility = f.make_facility(world, borrower, presses=[press], margin_rate="0.0200")  # priced at its risk
    f.add_statement(world, borrower)
    assert services.facility_review(facility_id=facility.pk, trigger="manual").proposal is None
    f.set_press_health(press, level=2, zs=[1.0, 4.0, 6.0, 8.0, 9.0])
    draft = services.facility_review(facility_id=facility.pk, trigger="health_alarm").proposal
    assert draft is not None and draft.status == "draft" and draft.new_rate > draft.old_rate
    # The press is repaired: alarm resolved, a healthy series again.
    HealthAlarm.objects.update(status=HealthAlarm.Status.RESOLVED)
    PressHealthState.objects.filter(press=press).update(level=0, health_index_z=0.0, trend=[
        [f"2026-11-0{day}T08:00:00+00:00", 0.1, 0] for day in range(1, 8)])
    outcome = services.facility_review(facility_id=facility.pk, trigger="health_alarm")
    assert outcome.proposal is None and not outcome.assessment.beyond_tolerance
    draft.refresh_from_db()
    assert draft.status == "expired"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_health_alarm_reaches_a_real_worker_and_becomes_a_proposal(celery_worker_process):
    world = build_world()
    press = f.make_press(world, "Worker press")
    f.share(world, press)
    borrower = f.make_borrower(world)
    f.add_statement(world, borrower)  # before the facility: nothing to review yet
    facility = f.make_facility(world, borrower, presses=[press], margin_rate="0.0200")
    with transaction.atomic():
        f.set_press_health(press, level=2, zs=[1.0, 4.0, 6.0, 8.0, 9.0], alarm_days=1)
        services.facility_reviews_for_press(press.pk, "health_alarm")
    try:
        proposal = wait_for(lambda: AdjustmentProposal.objects.filter(facility=facility, trigger="health_alarm")
                            .first(), timeout=60, message="the worker to draft a proposal")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{celery_worker_process.log()[-4000:]}") from None
    assert proposal.status == "draft" and proposal.origin == "system"
    assert proposal.reason_code == "health_deterioration" and proposal.new_rate > proposal.old_rate
    assessment = proposal.assessment
    assert assessment.trigger == "health_alarm" and assessment.overlay["applied"]
    from audit.models import AuditEvent

    event = AuditEvent.objects.get(action="adjustment.draft", object_id=str(proposal.pk))
    assert event.actor_kind == "worker" and event.actor_org == "lender-a"
