"""Read-side queries for credit, scoped by object permissions (lists never leak)."""
from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.permissions import objects_for
from accounts.roles import Role

from . import health_inputs
from .models import (AdjustmentProposal, Borrower, Collateral, Facility, FinancialStatement, LenderPolicy, PdModel,
                     ProposalApproval, RiskAssessment)


def borrower_list(*, user) -> QuerySet[Borrower]:
    return (objects_for(user, "lending.view_borrower", Borrower.objects.select_related("organization", "enterprise"))
            .annotate(facility_count=Count("facilities", distinct=True)).order_by("name"))


def borrower_get(*, user, pk) -> Borrower:
    return objects_for(user, "lending.view_borrower",
                       Borrower.objects.select_related("organization", "enterprise")).get(pk=pk)


def facility_list(*, user, search: str = "", flagged: bool | None = None) -> QuerySet[Facility]:
    qs = objects_for(user, "lending.view_facility",
                     Facility.objects.select_related("borrower", "organization", "borrower__enterprise"))
    if search:
        qs = qs.filter(Q(reference__icontains=search) | Q(borrower__name__icontains=search))
    if flagged is not None:
        qs = qs.filter(covenant_breached=flagged)
    open_proposals = AdjustmentProposal.objects.filter(status__in=AdjustmentProposal.OPEN_STATUSES)
    return qs.prefetch_related(Prefetch("proposals", queryset=open_proposals, to_attr="open_proposals")) \
        .order_by("reference")


def facility_get(*, user, pk) -> Facility:
    """The facility if ``user`` may see it as its lender; raises Facility.DoesNotExist otherwise (views: 404)."""
    return objects_for(user, "lending.view_facility",
                       Facility.objects.select_related("borrower", "organization", "borrower__enterprise")).get(pk=pk)


def facility_collateral(*, facility: Facility) -> QuerySet[Collateral]:
    return facility.collateral.select_related("press").order_by("press__name")


def facilities_of_borrower(*, user, borrower: Borrower) -> QuerySet[Facility]:
    return facility_list(user=user).filter(borrower=borrower)


def my_terms_list(*, user) -> QuerySet[Facility]:
    """Facilities whose terms the user's enterprise (the borrower) may see: ``view_facility_terms``."""
    applied = AdjustmentProposal.objects.filter(status__in=(AdjustmentProposal.ProposalStatus.APPLIED,
                                                            AdjustmentProposal.ProposalStatus.SCHEDULED))
    return (objects_for(user, "lending.view_facility_terms",
                        Facility.objects.select_related("organization", "last_change"))
            .prefetch_related(Prefetch("proposals", queryset=applied.order_by("-effective_date", "-pk"),
                                       to_attr="decided_changes"))
            .order_by("organization__name", "reference"))


def my_terms_get(*, user, pk) -> Facility:
    return my_terms_list(user=user).get(pk=pk)


def statement_list(*, user, borrower: Borrower | None = None) -> QuerySet[FinancialStatement]:
    borrowers = objects_for(user, "lending.view_borrower", Borrower.objects.all()).values("pk")
    qs = FinancialStatement.objects.filter(borrower__in=borrowers).select_related("borrower", "entered_by")
    if borrower is not None:
        qs = qs.filter(borrower=borrower)
    return qs.order_by("borrower", "-period_end")


def statement_get(*, user, pk) -> FinancialStatement:
    return statement_list(user=user).get(pk=pk)


def _visible_facilities(user):
    return objects_for(user, "lending.view_facility", Facility.objects.all()).values("pk")


def assessment_list(*, user, facility: Facility | None = None) -> QuerySet[RiskAssessment]:
    qs = RiskAssessment.objects.filter(facility__in=_visible_facilities(user)).select_related(
        "facility", "pd_model", "requested_by")
    if facility is not None:
        qs = qs.filter(facility=facility)
    return qs.order_by("-created_at", "-pk")


def assessment_get(*, user, pk) -> RiskAssessment:
    return assessment_list(user=user).get(pk=pk)


def proposal_list(*, user, facility: Facility | None = None, status: str | None = None) -> QuerySet[AdjustmentProposal]:
    qs = AdjustmentProposal.objects.filter(facility__in=_visible_facilities(user)).select_related(
        "facility", "facility__borrower", "created_by", "submitted_by", "decided_by", "assessment")
    if facility is not None:
        qs = qs.filter(facility=facility)
    if status:
        qs = qs.filter(status=status)
    return qs.prefetch_related(Prefetch("approvals", queryset=ProposalApproval.objects.select_related("approver")))


def proposal_get(*, user, pk) -> AdjustmentProposal:
    return proposal_list(user=user).get(pk=pk)


def proposals_awaiting(*, user) -> QuerySet[AdjustmentProposal]:
    """Submitted proposals the user could decide on (excluding their own)."""
    facilities = objects_for(user, "lending.approve_adjustment", Facility.objects.all()).values("pk")
    return (proposal_list(user=user).filter(status=AdjustmentProposal.ProposalStatus.SUBMITTED, facility__in=facilities)
            .exclude(submitted_by=user).exclude(created_by=user))


def policy_get(*, user) -> LenderPolicy | None:
    """The policy of the user's lender if they may view it."""
    if user.organization_id is None:
        return None
    policy = LenderPolicy.objects.filter(organization_id=user.organization_id).first()
    if policy is None or not user.has_perm("lending.view_lenderpolicy", policy):
        return None
    return policy


def may_see_pd_model(user) -> bool:
    """The model (trained on public data) is shown to loan officers and lenders' auditors."""
    org = user.organization
    return org is not None and org.kind == "lender" and user.role in (Role.LOAN_OFFICER, Role.AUDITOR)


def pd_model_current() -> PdModel | None:
    return PdModel.objects.filter(is_active=True).order_by("-version").first()


def pd_history(*, facility: Facility, limit: int = 200) -> list[dict]:
    rows = facility.assessments.order_by("-created_at", "-pk").values(
        "created_at", "pd", "pd_financial", "grade", "lgd", "trigger")[:limit]
    return [{"at": row["created_at"].isoformat(), "pd": row["pd"], "pd_financial": row["pd_financial"],
             "grade": row["grade"], "lgd": row["lgd"], "trigger": row["trigger"]} for row in reversed(list(rows))]


def health_history(*, facility: Facility) -> list[dict]:
    """Per pledged press, the health-index series the lender may see (empty series for unshared presses)."""
    series = []
    for pledge in facility_collateral(facility=facility):
        shared = health_inputs.lender_sees_press_health(pledge.press, facility.organization)
        series.append({"press": pledge.press.name, "shared": shared,
                       "points": health_inputs.press_health_history(pledge.press, lender=facility.organization)
                       if shared else []})
    return series
