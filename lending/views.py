"""Credit pages: the lender's facilities, borrowers and statements, assessments, the four-eyes proposal screen,
the PD model and the policy; and the enterprise's own terms (outcome, date and reasons only)."""
from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.roles import Role
from devices.models import Press
from portal.views import apply_form_errors

from . import selectors, services
from .forms import (BorrowerForm, CollateralFormSet, CovenantFormSet, DecisionForm, FacilityForm, PolicyForm,
                    ProposalForm, StatementForm, StatementUploadForm, formset_rows)
from .models import AdjustmentProposal, Borrower, Facility, RiskAssessment
from .reasons import borrower_explanation, reason_sentence

HUNDRED = Decimal(100)


def _or_404(getter, **kwargs):
    try:
        return getter(**kwargs)
    except (Facility.DoesNotExist, Borrower.DoesNotExist, AdjustmentProposal.DoesNotExist,
            RiskAssessment.DoesNotExist) as exc:
        raise Http404 from exc


def _is_officer_of_lender(user) -> bool:
    return user.role == Role.LOAN_OFFICER and user.organization is not None and user.organization.kind == "lender"


def plotly_url() -> str:
    import plotly

    try:
        return f"{reverse('health:plotly_js')}?v={plotly.__version__}"
    except NoReverseMatch:  # the health app serves plotly.min.js from the installed package
        return ""


@login_required
def facility_list_view(request):
    if request.user.role == Role.ENTERPRISE_MANAGER:
        return redirect("lending:my_terms")
    flagged = request.GET.get("flagged") == "1"
    facilities = selectors.facility_list(user=request.user, search=request.GET.get("q", "").strip(),
                                         flagged=True if flagged else None)
    return render(request, "lending/facility_list.html", {
        "facilities": Paginator(facilities, 50).get_page(request.GET.get("page")),
        "awaiting": selectors.proposals_awaiting(user=request.user)[:20],
        "is_officer": _is_officer_of_lender(request.user), "flagged": flagged, "q": request.GET.get("q", "")})


@login_required
def borrower_list_view(request):
    is_officer = _is_officer_of_lender(request.user)
    form = BorrowerForm(request.POST or None) if is_officer else None
    if request.method == "POST":
        if not is_officer:
            raise PermissionDenied
        if form.is_valid():
            try:
                borrower = services.borrower_create(actor=request.user, lender=request.user.organization,
                                                    **form.cleaned_data)
            except ValidationError as exc:
                apply_form_errors(form, exc)
            else:
                messages.success(request, _("Borrower %(name)s recorded.") % {"name": borrower.name})
                return redirect("lending:borrower_detail", pk=borrower.pk)
    return render(request, "lending/borrower_list.html", {
        "borrowers": selectors.borrower_list(user=request.user), "form": form})


@login_required
def borrower_detail_view(request, pk: int):
    borrower = _or_404(selectors.borrower_get, user=request.user, pk=pk)
    can_change = request.user.has_perm("lending.change_borrower", borrower)
    currency = selectors.facilities_of_borrower(user=request.user, borrower=borrower).values_list(
        "currency", flat=True).first() or "EUR"
    return render(request, "lending/borrower_detail.html", {
        "borrower": borrower, "can_change": can_change,
        "statements": selectors.statement_list(user=request.user, borrower=borrower),
        "facilities": selectors.facilities_of_borrower(user=request.user, borrower=borrower),
        "statement_form": StatementForm(initial={"unit": "units", "currency": currency}) if can_change else None,
        "upload_form": StatementUploadForm() if can_change else None})


def _borrower_for_change(request, pk: int) -> Borrower:
    borrower = _or_404(selectors.borrower_get, user=request.user, pk=pk)
    if not request.user.has_perm("lending.change_borrower", borrower):
        raise PermissionDenied
    return borrower


@login_required
@require_POST
def statement_create_view(request, pk: int):
    borrower = _borrower_for_change(request, pk)
    form = StatementForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        try:
            services.financial_statement_create(actor=request.user, borrower=borrower, source="form", **data)
        except ValidationError as exc:
            _error_messages(request, exc)
        else:
            messages.success(request, _("Statement recorded; the borrower's facilities are being reviewed."))
    else:
        _form_error_messages(request, form)
    return redirect("lending:borrower_detail", pk=borrower.pk)


@login_required
@require_POST
def statement_upload_view(request, pk: int):
    borrower = _borrower_for_change(request, pk)
    form = StatementUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            statements = services.financial_statements_import_csv(actor=request.user, borrower=borrower,
                                                                  uploaded_file=form.cleaned_data["file"])
        except ValidationError as exc:
            _error_messages(request, exc)
        else:
            messages.success(request, ngettext("%(count)s statement recorded.", "%(count)s statements recorded.",
                                               len(statements)) % {"count": len(statements)})
    else:
        _form_error_messages(request, form)
    return redirect("lending:borrower_detail", pk=borrower.pk)


def _error_messages(request, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for error in errors:
                messages.error(request, error if field in ("__all__", "file") else f"{field}: {error}")
    else:
        for error in exc.messages:
            messages.error(request, error)


def _form_error_messages(request, form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


@login_required
def facility_create_view(request):
    if not _is_officer_of_lender(request.user):
        raise PermissionDenied
    borrowers = selectors.borrower_list(user=request.user).filter(organization=request.user.organization)
    presses = Press.objects.filter(organization__in=borrowers.values("enterprise"), status=Press.Status.ACTIVE) \
        .select_related("organization").order_by("organization__name", "name")
    initial = {"borrower": request.GET.get("borrower"), "start_date": timezone.localdate(), "currency": "EUR"}
    form = FacilityForm(request.POST or None, borrowers=borrowers, initial=initial)
    collateral = CollateralFormSet(request.POST or None, prefix="collateral", presses=presses)
    covenants = CovenantFormSet(request.POST or None, prefix="covenants")
    if request.method == "POST" and form.is_valid() and collateral.is_valid() and covenants.is_valid():
        data = dict(form.cleaned_data)
        borrower = data.pop("borrower")
        data["base_rate"] = data.pop("base_rate_percent") / HUNDRED
        data["margin_rate"] = data.pop("margin_percent") / HUNDRED
        data["interest_only_months"] = data.get("interest_only_months") or 0
        try:
            facility = services.facility_create(actor=request.user, borrower=borrower,
                                                collateral=formset_rows(collateral), covenants=formset_rows(covenants),
                                                **data)
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            messages.success(request, _("Facility %(ref)s recorded.") % {"ref": facility.reference})
            return redirect("lending:facility_detail", pk=facility.pk)
    return render(request, "lending/facility_form.html", {"form": form, "collateral": collateral,
                                                          "covenants": covenants})


def _percent(value) -> Decimal | None:
    return None if value is None else Decimal(value) * HUNDRED


@login_required
def facility_detail_view(request, pk: int):
    facility = _or_404(selectors.facility_get, user=request.user, pk=pk)
    assessment = selectors.assessment_list(user=request.user, facility=facility).first()
    can_change = request.user.has_perm("lending.change_facility", facility)
    proposals = selectors.proposal_list(user=request.user, facility=facility).order_by("-created_at", "-pk")
    open_proposal = next((p for p in proposals if p.is_open), None)
    return render(request, "lending/facility_detail.html", {
        "facility": facility, "assessment": assessment, "can_change": can_change and facility.is_active,
        "collateral": selectors.facility_collateral(facility=facility), "covenants": facility.covenants.all(),
        "proposals": proposals, "open_proposal": open_proposal,
        "assessments": selectors.assessment_list(user=request.user, facility=facility)[:20],
        "pd_history": selectors.pd_history(facility=facility), "health_history": selectors.health_history(facility=facility),
        "plotly_url": plotly_url()})


@login_required
@require_POST
def facility_review_view(request, pk: int):
    facility = _or_404(selectors.facility_get, user=request.user, pk=pk)
    if not request.user.has_perm("lending.change_facility", facility):
        raise PermissionDenied
    outcome = services.facility_review(facility_id=facility.pk, trigger="manual", actor=request.user)
    if outcome.proposal is not None:
        messages.success(request, _("Reviewed: the terms moved beyond tolerance, proposal #%(id)s drafted.")
                         % {"id": outcome.proposal.pk})
        return redirect("lending:proposal_detail", pk=outcome.proposal.pk)
    if outcome.skipped:
        messages.info(request, _("Nothing changed since the latest assessment."))
    else:
        messages.success(request, _("Reviewed: no change of terms beyond the lender's tolerance."))
    return redirect("lending:facility_detail", pk=facility.pk)


@login_required
def proposal_create_view(request, pk: int):
    facility = _or_404(selectors.facility_get, user=request.user, pk=pk)
    if not request.user.has_perm("lending.change_facility", facility):
        raise PermissionDenied
    assessment = selectors.assessment_list(user=request.user, facility=facility).first()
    base = assessment if assessment is not None else None
    initial = {
        "new_rate_percent": (base.recommended_rate if base else facility.annual_rate) * HUNDRED,
        "new_limit": base.recommended_limit if base else facility.limit,
        "new_tenor_months": facility.tenor_months, "effective_date": timezone.localdate(),
        "reason_code": AdjustmentProposal.Reason.PERIODIC_REVIEW}
    chosen = (base.terms_analysis.get("chosen") if base else None) or None
    if request.GET.get("use") == "optimal" and chosen:
        initial.update({"new_rate_percent": Decimal(str(round(chosen["annual_rate"] * 100, 4))),
                        "new_limit": Decimal(str(round(chosen["limit"], 2))),
                        "new_tenor_months": chosen["tenor_months"]})
    form = ProposalForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["new_rate"] = data.pop("new_rate_percent") / HUNDRED
        try:
            proposal = services.adjustment_draft(actor=request.user, facility=facility, **data)
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            messages.success(request, _("Draft saved; submit it to ask a colleague for approval."))
            return redirect("lending:proposal_detail", pk=proposal.pk)
    return render(request, "lending/proposal_form.html", {"facility": facility, "form": form,
                                                          "assessment": assessment, "chosen": chosen})


@login_required
def assessment_detail_view(request, pk: int):
    assessment = _or_404(selectors.assessment_get, user=request.user, pk=pk)
    return render(request, "lending/assessment_detail.html", {"assessment": assessment,
                                                              "facility": assessment.facility})


@login_required
def proposal_detail_view(request, pk: int):
    proposal = _or_404(selectors.proposal_get, user=request.user, pk=pk)
    facility = proposal.facility
    user = request.user
    is_maker = user.pk in (proposal.submitted_by_id, proposal.created_by_id)
    can_change = user.has_perm("lending.change_facility", facility)
    may_decide = user.has_perm("lending.approve_adjustment", facility) and not is_maker
    approvals = services.valid_approvals(proposal)
    already_approved = any(a.approver_id == user.pk for a in approvals)
    maker = proposal.submitted_by_id or proposal.created_by_id
    stale = None
    if proposal.status == AdjustmentProposal.ProposalStatus.SUBMITTED:
        stale = services.inputs_hash(services.facility_inputs(facility)) != proposal.inputs_hash
    snapshot = proposal.snapshot or {}
    assessment = proposal.assessment
    moves, moves_against = services.proposal_pd_moves(proposal)
    return render(request, "lending/proposal_detail.html", {
        "proposal": proposal, "facility": facility, "assessment": assessment, "approvals": approvals,
        "snapshot": snapshot, "pd_moves": moves,
        "first_assessment": moves_against is None,
        "is_maker": is_maker, "stale": stale,
        "preview": snapshot.get("preview_schedule") if snapshot else services.proposal_preview(proposal),
        "can_submit": can_change and proposal.status in AdjustmentProposal.EDITABLE_STATUSES,
        "can_repreview": can_change and proposal.status in ("draft", "returned", "submitted"),
        "can_withdraw": can_change and proposal.status in ("draft", "returned", "submitted") and (
            maker is None or maker == user.pk),
        "can_decide": may_decide and proposal.status == "submitted" and not already_approved,
        "decision_form": DecisionForm(),
        "borrower_text": borrower_explanation(proposal, facility.currency), "reason_text": reason_sentence(proposal),
        "pd_history": selectors.pd_history(facility=facility), "health_history": selectors.health_history(facility=facility),
        "plotly_url": plotly_url()})


PROPOSAL_ACTIONS = {
    "submit": (services.adjustment_submit, False, _("Submitted for approval.")),
    "approve": (services.adjustment_approve, True, _("Approved.")),
    "reject": (services.adjustment_reject, True, _("Rejected.")),
    "return": (services.adjustment_return, True, _("Returned to the maker.")),
    "withdraw": (services.adjustment_withdraw, True, _("Withdrawn.")),
    "repreview": (services.adjustment_repreview, False, _("Re-previewed on the current inputs.")),
}


def _proposal_action(request, pk: int, action: str):
    proposal = _or_404(selectors.proposal_get, user=request.user, pk=pk)
    service, takes_comment, done = PROPOSAL_ACTIONS[action]
    kwargs = {"comment": request.POST.get("comment", "")} if takes_comment else {}
    try:
        proposal = service(actor=request.user, proposal=proposal, **kwargs)
    except ValidationError as exc:
        _error_messages(request, exc)
    else:
        messages.success(request, done)
        if proposal.status == AdjustmentProposal.ProposalStatus.APPLIED:
            messages.success(request, _("The new terms are in force."))
        elif proposal.status == AdjustmentProposal.ProposalStatus.SCHEDULED:
            messages.success(request, _("The new terms take effect on %(date)s.") % {"date": proposal.effective_date})
    return redirect("lending:proposal_detail", pk=pk)


def _action_view(action: str):
    @login_required
    @require_POST
    def view(request, pk: int):
        return _proposal_action(request, pk, action)

    view.__name__ = f"proposal_{action}_view"
    return view


proposal_submit_view = _action_view("submit")
proposal_approve_view = _action_view("approve")
proposal_reject_view = _action_view("reject")
proposal_return_view = _action_view("return")
proposal_withdraw_view = _action_view("withdraw")
proposal_repreview_view = _action_view("repreview")


@login_required
def my_terms_view(request):
    """The enterprise's facilities: type, current rate and limit, since when, and why they last moved."""
    facilities = list(selectors.my_terms_list(user=request.user))
    rows = []
    for facility in facilities:
        changes = [{"proposal": change, "text": borrower_explanation(change, facility.currency)}
                   for change in facility.decided_changes]
        rows.append({"facility": facility, "rate_percent": facility.annual_rate * HUNDRED, "changes": changes})
    return render(request, "lending/my_terms.html", {"rows": rows})


@login_required
def pd_model_view(request):
    if not selectors.may_see_pd_model(request.user):
        raise PermissionDenied
    from .pd_model import coefficient_table

    model = selectors.pd_model_current()
    return render(request, "lending/pd_model.html", {
        "model": model, "coefficients": coefficient_table(model.scorecard) if model else [],
        "calibration_rows": model.validation.get("calibration", []) if model else []})


@login_required
def policy_view(request):
    policy = selectors.policy_get(user=request.user)
    if policy is None:
        if not _is_officer_of_lender(request.user):
            raise PermissionDenied
        policy = services.lender_policy_for(request.user.organization)
    can_change = request.user.has_perm("lending.change_lenderpolicy", policy)
    form = PolicyForm(request.POST or None, instance=policy)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.lender_policy_update(actor=request.user, policy=policy, **{
                    name: form.cleaned_data[name] for name in form.changed_data})
            except ValidationError as exc:
                apply_form_errors(form, exc)
            else:
                messages.success(request, _("Policy saved."))
                return redirect("lending:policy")
    if not can_change:
        for field in form.fields.values():
            field.disabled = True
    return render(request, "lending/policy.html", {"form": form, "policy": policy, "can_change": can_change})
