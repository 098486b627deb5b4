"""Write-side services for credit: policies, borrowers, facilities, financial statements, the PD model, risk
assessments, reviews and the four-eyes life of adjustment proposals.

Every service is keyword-only, runs in one transaction and writes one audit event per state change;
Celery work is queued after commit. The numbers come from ``lending.core`` (no Django there); equipment
health comes only through ``lending.health_inputs``, which hands a lender nothing about a press its
enterprise has not shared with it.

How equipment health enters credit risk (LENDING.md offers three ways; all three are used, each once):
1. PD: the German-credit scorecard (``lending.pd_model``) gives the financial PD; the health logit overlay
   ``logit PD = logit PD_fin + g (HI_ref - HI_smoothed)`` (``core.health_overlay.health_overlay_pd``) adds the
   condition of the worst shared pledged press, in z units of its health index (higher z = less healthy,
   so the index is passed negated), only on a persistent move or an open alarm, capped at one grade per
   review unless a covenant is breached.
2. LGD: each pledged press is haircut by its condition level (alarm level 0..3; a press whose health is not
   shared counts as level 1, "watch": the lender cannot see its condition) in ``collateral_lgd``.
3. Cash flow: expected downtime (failure probability = the federated model's prediction when there is one,
   else an illustrative probability per alarm level) lowers EBITDA, which sizes the limit and the DSCR.
"""
from __future__ import annotations

import copy
import csv
import datetime as dt
import functools
import io
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import Organization, User
from accounts.permissions import grant
from accounts.roles import OrganizationKind, Role
from audit.core.canonical import state_digest
from audit.services import record
from devices.models import Press

from . import health_inputs, pd_model
from .core.amortisation import amortisation_schedule, annuity_payment
from .core.capital import RWA_MULTIPLIER, amortising_effective_maturity_years, irb_capital
from .core.financials import FinancialsError, financial_ratios, financial_statement_from_mapping
from .core.grades import pd_to_grade
from .core.health_overlay import (DEFAULT_CONDITION_HAIRCUTS, collateral_advance_value, collateral_lgd,
                                  downtime_cash_flow_effect, health_overlay_pd)
from .core.limits import credit_limit
from .core.optimal_terms import (BorrowerRiskProfile, CurrentTerms, FundingEconomics, TermsMenu, TermsPolicy,
                                 optimal_terms)
from .core.pricing import risk_based_rate_breakdown
from .jsonsafe import jsonable
from .federated_pd import federated_pd_champion_sha, federated_pd_for
from .models import (AdjustmentProposal, Borrower, Collateral, Covenant, Facility, FinancialStatement, LenderPolicy,
                     PdModel, ProposalApproval, ReviewTrigger, RiskAssessment)

logger = logging.getLogger(__name__)

Status = AdjustmentProposal.ProposalStatus
Reason = AdjustmentProposal.Reason

OFFICER_FACILITY_PERMS = ["lending.view_facility", "lending.change_facility", "lending.approve_adjustment"]
AUDITOR_FACILITY_PERMS = ["lending.view_facility"]
BORROWER_FACILITY_PERMS = ["lending.view_facility_terms"]
OFFICER_BORROWER_PERMS = ["lending.view_borrower", "lending.change_borrower"]
AUDITOR_BORROWER_PERMS = ["lending.view_borrower"]

CCF_UNDRAWN = 0.75  # credit conversion factor of committed undrawn amounts (Basel F-IRB, CRE32.29)
UNKNOWN_CONDITION_LEVEL = 1  # a pledged press whose health is not shared: haircut as "watch"
# Illustrative one-year failure probability by alarm level when no model prediction exists.
LEVEL_FAILURE_PROBABILITY = (0.02, 0.05, 0.15, 0.35)
ALARM_LEVEL = 2
RATE_STEP = Decimal("0.0005")  # 5 bp: the rate menu step
LIMIT_STEP = Decimal("1000")
CENT = Decimal("0.01")
RATE_QUANTUM = Decimal("0.000001")
MONEY_MAX = Decimal("1e15")
CSV_MAX_BYTES = 1_000_000
UNIT_MULTIPLIERS = {"units": Decimal(1), "thousands": Decimal(1000), "millions": Decimal(1_000_000)}
STATEMENT_AMOUNTS = ("revenue", "ebitda", "interest_expense", "total_debt", "current_assets", "current_liabilities",
                     "cash", "scheduled_principal")
STATEMENT_REQUIRED = ("period_start", "period_end", *STATEMENT_AMOUNTS[:-1])


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _rate(value) -> Decimal:
    return Decimal(str(value)).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)


def _today() -> dt.date:
    return timezone.localdate()


def _system_actor(lender: Organization) -> str:
    return f"worker:{lender.slug}"


# --- Lender policy ------------------------------------------------------------------------------------

POLICY_FIELDS = tuple(f.name for f in LenderPolicy._meta.concrete_fields
                      if f.name not in ("id", "organization", "updated_at"))


def _policy_state(policy: LenderPolicy) -> dict:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def lender_policy_for(lender: Organization) -> LenderPolicy:
    """The lender's policy, created with the documented defaults the first time it is needed."""
    policy = LenderPolicy.objects.filter(organization=lender).first()
    return policy if policy is not None else _lender_policy_create(lender=lender)


@transaction.atomic
def _lender_policy_create(*, lender: Organization) -> LenderPolicy:
    if lender.kind != OrganizationKind.LENDER:
        raise ValidationError(_("Only lenders have a credit policy."))
    policy, created = LenderPolicy.objects.get_or_create(organization=lender)
    if created:
        grant(["lending.view_lenderpolicy", "lending.change_lenderpolicy"], policy, lender, roles=[Role.LOAN_OFFICER])
        grant(["lending.view_lenderpolicy"], policy, lender, roles=[Role.AUDITOR])
        record(actor=None, action="lender_policy.create", obj=policy, organization=lender, after=_policy_state(policy))
    return policy


def _check_policy(state: dict) -> None:
    errors = {}
    for name in ("funding_cost", "hurdle_return", "risk_free_return", "operating_cost", "product_min_rate",
                 "product_max_rate"):
        if not (Decimal("0") <= state[name] < Decimal("1")):
            errors[name] = _("Give a rate between 0 and 1 (0.05 = 5 %).")
    if not (Decimal("-0.05") <= state["margin"] < Decimal("0.5")):
        errors["margin"] = _("The margin must lie between -0.05 and 0.5.")
    if state["hurdle_return"] < state["risk_free_return"]:
        errors["hurdle_return"] = _("The hurdle return cannot be below the risk-free return.")
    if not (Decimal("0") < state["pd_appetite"] < Decimal("1")):
        errors["pd_appetite"] = _("The PD appetite is a fraction between 0 and 1.")
    if state["product_min_rate"] > state["product_max_rate"]:
        errors["product_max_rate"] = _("The highest rate must not be below the lowest.")
    if state["product_min_limit"] > state["product_max_limit"] or state["product_min_limit"] <= 0:
        errors["product_max_limit"] = _("Limits must satisfy 0 < smallest ≤ largest.")
    if state["product_min_tenor_months"] > state["product_max_tenor_months"] or state["product_min_tenor_months"] < 1:
        errors["product_max_tenor_months"] = _("Tenors must satisfy 1 ≤ shortest ≤ longest.")
    if state["min_dscr"] <= 0:
        errors["min_dscr"] = _("The minimum debt-service cover must be positive.")
    for name in ("max_expected_loss", "capital_cap", "concentration_cap"):
        if state[name] < 0:
            errors[name] = _("Must not be negative.")
    for name in ("limit_tolerance_fraction", "max_limit_move_fraction", "single_approval_max_limit_fraction",
                 "press_revenue_share"):
        if not (Decimal("0") <= state[name] <= Decimal("1")):
            errors[name] = _("Give a fraction between 0 and 1.")
    if not (Decimal("0") < state["health_smoothing"] <= Decimal("1")):
        errors["health_smoothing"] = _("The smoothing factor lies in (0, 1].")
    if state["health_sensitivity"] < 0 or state["health_tolerance_z"] < 0:
        errors["health_sensitivity"] = _("Must not be negative.")
    if not (Decimal("0") <= state["downtime_days_per_failure"] <= Decimal("250")):
        errors["downtime_days_per_failure"] = _("Between 0 and 250 operating days.")
    if state["single_approval_max_rate_bps"] > state["max_rate_move_bps"] * 10:
        errors["single_approval_max_rate_bps"] = _("Unreasonably large delegated authority.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def lender_policy_update(*, actor: User, policy: LenderPolicy, **fields) -> LenderPolicy:
    policy = LenderPolicy.objects.select_for_update().get(pk=policy.pk)
    if not actor.has_perm("lending.change_lenderpolicy", policy):
        raise PermissionDenied(_("Only the lender's loan officers can change its credit policy."))
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown policy settings: %(names)s") % {"names": ", ".join(sorted(unknown))})
    before = _policy_state(policy)
    state = {**before, **fields}
    _check_policy(state)
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.save()
    changed = sorted(name for name in fields if before[name] != getattr(policy, name))
    record(actor=actor, action="lender_policy.update", obj=policy, organization=policy.organization, before=before,
           after=_policy_state(policy), payload={"changed": changed})
    return policy


# --- Borrowers ----------------------------------------------------------------------------------------

def _borrower_state(borrower: Borrower) -> dict:
    return {"lender": borrower.organization.slug, "enterprise": borrower.enterprise.slug, "name": borrower.name,
            "sector": borrower.sector, "established_on": borrower.established_on,
            "repayment_history": borrower.repayment_history}


def _require_loan_officer_of(actor: User, lender: Organization) -> None:
    if (lender.kind != OrganizationKind.LENDER or actor.organization_id != lender.pk
            or actor.role != Role.LOAN_OFFICER or not actor.has_perm("accounts.change_organization", lender)):
        raise PermissionDenied(_("Only the lender's loan officers can do this."))


@transaction.atomic
def borrower_create(*, actor: User, lender: Organization, enterprise: Organization, established_on: dt.date,
                    repayment_history: str = Borrower.RepaymentHistory.PAID_DULY, name: str = "",
                    sector: str = "") -> Borrower:
    _require_loan_officer_of(actor, lender)
    errors = {}
    if enterprise.kind != OrganizationKind.ENTERPRISE or not enterprise.is_active:
        errors["enterprise"] = _("A borrower is an active enterprise.")
    if established_on is None or established_on > _today():
        errors["established_on"] = _("Give the date the business was established (not in the future).")
    if repayment_history not in Borrower.RepaymentHistory.values:
        errors["repayment_history"] = _("Unknown repayment history.")
    if errors:
        raise ValidationError(errors)
    if Borrower.objects.filter(organization=lender, enterprise=enterprise).exists():
        raise ValidationError({"enterprise": _("This enterprise is already your borrower.")})
    borrower = Borrower.objects.create(organization=lender, enterprise=enterprise, name=(name or enterprise.name).strip(),
                                       sector=sector.strip(), established_on=established_on,
                                       repayment_history=repayment_history, created_by=actor)
    grant(OFFICER_BORROWER_PERMS, borrower, lender, roles=[Role.LOAN_OFFICER])
    grant(AUDITOR_BORROWER_PERMS, borrower, lender, roles=[Role.AUDITOR])
    record(actor=actor, action="borrower.create", obj=borrower, organization=lender, after=_borrower_state(borrower))
    return borrower


@transaction.atomic
def borrower_update(*, actor: User, borrower: Borrower, **fields) -> Borrower:
    borrower = (Borrower.objects.select_for_update(of=("self",)).select_related("organization", "enterprise")
                .get(pk=borrower.pk))
    if not actor.has_perm("lending.change_borrower", borrower):
        raise PermissionDenied(_("You may not change this borrower."))
    allowed = {"name", "sector", "established_on", "repayment_history"}
    if set(fields) - allowed:
        raise ValidationError(_("Only the name, sector, start of business and repayment history can change."))
    if "repayment_history" in fields and fields["repayment_history"] not in Borrower.RepaymentHistory.values:
        raise ValidationError({"repayment_history": _("Unknown repayment history.")})
    if "established_on" in fields and (fields["established_on"] is None or fields["established_on"] > _today()):
        raise ValidationError({"established_on": _("Give the date the business was established (not in the future).")})
    before = _borrower_state(borrower)
    for name, value in fields.items():
        setattr(borrower, name, value.strip() if isinstance(value, str) and name in ("name", "sector") else value)
    borrower.save()
    record(actor=actor, action="borrower.update", obj=borrower, organization=borrower.organization, before=before,
           after=_borrower_state(borrower))
    return borrower


# --- Facilities ---------------------------------------------------------------------------------------

def _facility_state(facility: Facility) -> dict:
    return {
        "reference": facility.reference, "borrower": facility.borrower_id, "facility_type": facility.facility_type,
        "currency": facility.currency, "contract_limit": facility.contract_limit, "limit": facility.limit,
        "drawn_amount": facility.drawn_amount, "base_rate": facility.base_rate, "margin_rate": facility.margin_rate,
        "tenor_months": facility.tenor_months, "repayment_kind": facility.repayment_kind,
        "interest_only_months": facility.interest_only_months, "start_date": facility.start_date,
        "status": facility.status, "terms_effective_date": facility.terms_effective_date,
        "covenant_breached": facility.covenant_breached,
        "collateral": [{"press": c.press_id, "appraised_value": c.appraised_value, "appraised_on": c.appraised_on}
                       for c in facility.collateral.order_by("press_id")],
        "covenants": [{"kind": c.covenant_kind, "threshold": c.threshold} for c in facility.covenants.order_by("covenant_kind")],
    }


def _as_decimal(value, field: str, errors: dict) -> Decimal | None:
    try:
        number = Decimal(str(value).strip().replace(",", "")) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite():
        errors[field] = _("Give a number.")
        return None
    return number


def _check_terms(*, policy: LenderPolicy, rate: Decimal, limit: Decimal, tenor_months: int, drawn: Decimal,
                 errors: dict, rate_field: str = "new_rate", limit_field: str = "new_limit",
                 tenor_field: str = "new_tenor_months") -> None:
    if not (policy.product_min_rate <= rate <= policy.product_max_rate):
        errors[rate_field] = _("The rate must lie within the product bounds %(low)s–%(high)s.") % {
            "low": f"{policy.product_min_rate * 100:.2f} %", "high": f"{policy.product_max_rate * 100:.2f} %"}
    if not (policy.product_min_limit <= limit <= policy.product_max_limit):
        errors[limit_field] = _("The limit must lie within the product bounds %(low)s–%(high)s.") % {
            "low": f"{policy.product_min_limit:,.0f}", "high": f"{policy.product_max_limit:,.0f}"}
    elif limit < drawn:
        errors[limit_field] = _("The limit cannot be below the drawn amount %(drawn)s.") % {"drawn": f"{drawn:,.2f}"}
    if not (policy.product_min_tenor_months <= tenor_months <= policy.product_max_tenor_months):
        errors[tenor_field] = _("The tenor must lie within %(low)s–%(high)s months.") % {
            "low": policy.product_min_tenor_months, "high": policy.product_max_tenor_months}


@transaction.atomic
def facility_create(*, actor: User, borrower: Borrower, reference: str, facility_type: str, limit, drawn_amount,
                    base_rate, margin_rate, tenor_months: int, start_date: dt.date, currency: str = "EUR",
                    repayment_kind: str = Facility.RepaymentKind.ANNUITY, interest_only_months: int = 0,
                    collateral: Iterable[dict] = (), covenants: Iterable[dict] = ()) -> Facility:
    """Record a facility with its pledged presses and covenants; its lender's officers may act on it and its
    enterprise's managers see its terms."""
    borrower = Borrower.objects.select_related("organization", "enterprise").get(pk=borrower.pk)
    if not actor.has_perm("lending.change_borrower", borrower):
        raise PermissionDenied(_("Only the lender's loan officers can record facilities for this borrower."))
    policy = lender_policy_for(borrower.organization)
    errors: dict = {}
    reference = (reference or "").strip()
    if not reference:
        errors["reference"] = _("Give the facility a reference.")
    elif Facility.objects.filter(organization=borrower.organization, reference=reference).exists():
        errors["reference"] = _("A facility with this reference already exists.")
    if facility_type not in Facility.FacilityType.values:
        errors["facility_type"] = _("Unknown facility type.")
    if repayment_kind not in Facility.RepaymentKind.values:
        errors["repayment_kind"] = _("Unknown repayment kind.")
    if currency not in ("EUR", "CNY", "USD"):
        errors["currency"] = _("Unknown currency.")
    limit, drawn = _as_decimal(limit, "limit", errors), _as_decimal(drawn_amount, "drawn_amount", errors)
    base, margin = _as_decimal(base_rate, "base_rate", errors), _as_decimal(margin_rate, "margin_rate", errors)
    if drawn is not None and drawn < 0:
        errors["drawn_amount"] = _("The drawn amount cannot be negative.")
    if base is not None and base < 0:
        errors["base_rate"] = _("The base rate cannot be negative.")
    if start_date is None or start_date > _today() + dt.timedelta(days=366):
        errors["start_date"] = _("Give a start date (at most a year ahead).")
    try:
        tenor_months, interest_only_months = int(tenor_months), int(interest_only_months or 0)
    except (TypeError, ValueError):
        errors["tenor_months"] = _("Give the tenor in whole months.")
        tenor_months = interest_only_months = 0
    if tenor_months and not (0 <= interest_only_months < tenor_months):
        errors["interest_only_months"] = _("The interest-only period must be shorter than the tenor.")
    if not errors:
        _check_terms(policy=policy, rate=base + margin, limit=limit, tenor_months=tenor_months, drawn=drawn,
                     errors=errors, rate_field="margin_rate", limit_field="limit", tenor_field="tenor_months")
    pledges = _checked_collateral(borrower, list(collateral), errors)
    covenant_specs = _checked_covenants(list(covenants), errors)
    if errors:
        raise ValidationError(errors)
    facility = Facility.objects.create(
        organization=borrower.organization, borrower=borrower, reference=reference, facility_type=facility_type,
        currency=currency, contract_limit=_money(limit), limit=_money(limit), drawn_amount=_money(drawn),
        base_rate=_rate(base), margin_rate=_rate(margin), tenor_months=tenor_months, repayment_kind=repayment_kind,
        interest_only_months=interest_only_months, start_date=start_date, terms_effective_date=start_date,
        created_by=actor)
    for press, value, appraised_on in pledges:
        Collateral.objects.create(facility=facility, press=press, appraised_value=value, appraised_on=appraised_on)
    for kind, threshold in covenant_specs:
        Covenant.objects.create(facility=facility, covenant_kind=kind, threshold=threshold)
    lender, enterprise = borrower.organization, borrower.enterprise
    grant(OFFICER_FACILITY_PERMS, facility, lender, roles=[Role.LOAN_OFFICER])
    grant(AUDITOR_FACILITY_PERMS, facility, lender, roles=[Role.AUDITOR])
    grant(BORROWER_FACILITY_PERMS, facility, enterprise, roles=[Role.ENTERPRISE_MANAGER])
    record(actor=actor, action="facility.create", obj=facility, organization=lender, after=_facility_state(facility))
    return facility


def _checked_collateral(borrower: Borrower, items: list[dict], errors: dict) -> list[tuple]:
    pledges, seen = [], set()
    for item in items:
        press = item.get("press")
        if not isinstance(press, Press):
            press = Press.objects.filter(pk=press).first() if str(press or "").isdigit() else None
        if press is None or press.organization_id != borrower.enterprise_id:
            errors["collateral"] = _("Pledge only presses of the borrower's own enterprise.")
            continue
        if not press.is_active:
            errors["collateral"] = _("Press %(name)s is retired and cannot be pledged.") % {"name": press.name}
            continue
        if press.pk in seen:
            errors["collateral"] = _("Press %(name)s is pledged twice.") % {"name": press.name}
            continue
        seen.add(press.pk)
        item_errors: dict = {}
        value = _as_decimal(item.get("appraised_value"), "collateral", item_errors)
        appraised_on = item.get("appraised_on") or _today()
        if isinstance(appraised_on, str):
            try:
                appraised_on = dt.date.fromisoformat(appraised_on)
            except ValueError:
                item_errors["collateral"] = _("Give the appraisal date as YYYY-MM-DD.")
        if value is not None and (value <= 0 or value >= MONEY_MAX):
            item_errors["collateral"] = _("The appraised value of %(name)s must be positive.") % {"name": press.name}
        if not item_errors and appraised_on > _today():
            item_errors["collateral"] = _("An appraisal cannot be dated in the future.")
        if item_errors:
            errors.update(item_errors)
            continue
        pledges.append((press, _money(value), appraised_on))
    return pledges


def _checked_covenants(items: list[dict], errors: dict) -> list[tuple[str, Decimal]]:
    specs, seen = [], set()
    for item in items:
        kind = item.get("covenant_kind") or item.get("kind")
        if kind not in Covenant.CovenantKind.values:
            errors["covenants"] = _("Unknown covenant %(kind)s.") % {"kind": kind}
            continue
        if kind in seen:
            errors["covenants"] = _("Each covenant once per facility.")
            continue
        seen.add(kind)
        item_errors: dict = {}
        threshold = _as_decimal(item.get("threshold"), "covenants", item_errors)
        if threshold is not None and (threshold < 0 or threshold > 10000):
            item_errors["covenants"] = _("Covenant thresholds lie between 0 and 10,000.")
        if item_errors:
            errors.update(item_errors)
            continue
        specs.append((kind, threshold))
    return specs


# --- Financial statements -----------------------------------------------------------------------------

def _statement_state(statement: FinancialStatement) -> dict:
    state = {name: getattr(statement, name) for name in ("period_start", "period_end", "currency", *STATEMENT_AMOUNTS)}
    state["borrower"] = statement.borrower_id
    state["source"] = statement.source
    return state


def _validated_statement(borrower: Borrower, values: dict, *, unit: str, currency: str | None,
                         pending: list[tuple[dt.date, dt.date]] = ()) -> dict:
    """Field values of a valid statement (Decimal amounts in currency units) or a ValidationError naming the field.

    Checks: the unit (units, thousands, millions) and the currency (that of the borrower's facilities); the
    core's impossible values (``lending.core.financials``: negative amounts, EBITDA above revenue, cash above
    current assets, an empty period); the period (ended, not in the future, one to twelve months, not
    overlapping another statement of the borrower)."""
    unit = (unit or "units").strip().lower()
    if unit not in UNIT_MULTIPLIERS:
        raise ValidationError({"unit": _("Unknown unit %(unit)s: use units, thousands or millions.") % {"unit": unit}})
    expected = borrower.facilities.values_list("currency", flat=True).first()
    currency = (currency or expected or "EUR").strip().upper()
    if currency not in ("EUR", "CNY", "USD"):
        raise ValidationError({"currency": _("Unknown currency %(currency)s.") % {"currency": currency}})
    if expected and currency != expected:
        raise ValidationError({"currency": _("The statement is in %(got)s but the borrower's facilities are in "
                                             "%(expected)s.") % {"got": currency, "expected": expected}})
    missing = [name for name in STATEMENT_REQUIRED if values.get(name) in (None, "")]
    if missing:
        raise ValidationError({name: _("This field is required.") for name in missing})
    multiplier = UNIT_MULTIPLIERS[unit]
    amounts: dict[str, Decimal] = {}
    for name in STATEMENT_AMOUNTS:
        raw = values.get(name)
        if raw in (None, ""):
            if name == "scheduled_principal":
                amounts[name] = Decimal("0")
                continue
        try:
            amount = Decimal(str(raw).strip().replace(",", "")) * multiplier
        except (InvalidOperation, ValueError):
            raise ValidationError({name: _("%(value)s is not a number.") % {"value": raw}}) from None
        if not amount.is_finite() or abs(amount) >= MONEY_MAX:
            raise ValidationError({name: _("%(value)s is not a plausible amount.") % {"value": raw}})
        amounts[name] = _money(amount)
    try:
        statement = financial_statement_from_mapping({
            "period_start": values["period_start"], "period_end": values["period_end"],
            **{name: float(amount) for name, amount in amounts.items()}})
    except FinancialsError as error:
        raise ValidationError({error.field: error.message}) from None
    if statement.period_end > _today():
        raise ValidationError({"period_end": _("The period has not ended yet.")})
    if statement.period_months > 12:
        raise ValidationError({"period_end": _("A statement covers one to twelve months.")})
    start, end = statement.period_start, statement.period_end
    overlapping = borrower.financial_statements.filter(period_start__lte=end, period_end__gte=start).first()
    if overlapping is not None or any(s <= end and e >= start for s, e in pending):
        raise ValidationError({"period_start": _("The period overlaps a statement already recorded (%(start)s – "
                                                 "%(end)s).") % {
            "start": overlapping.period_start if overlapping else start, "end": overlapping.period_end if overlapping else end}})
    return {"period_start": start, "period_end": end, "currency": currency, **amounts}


def _statement_store(*, actor: User, borrower: Borrower, fields: dict, source: str) -> FinancialStatement:
    statement = FinancialStatement.objects.create(borrower=borrower, source=source, entered_by=actor, **fields)
    record(actor=actor, action="financial_statement.create", obj=statement, organization=borrower.organization,
           after=_statement_state(statement))
    return statement


def _require_borrower_change(actor: User, borrower: Borrower) -> None:
    if not actor.has_perm("lending.change_borrower", borrower):
        raise PermissionDenied(_("Only the lender's loan officers can record this borrower's financial statements."))


@transaction.atomic
def financial_statement_create(*, actor: User, borrower: Borrower, source: str = FinancialStatement.Source.FORM,
                               unit: str = "units", currency: str | None = None, **values) -> FinancialStatement:
    """Validate and store one statement; every active facility of the borrower is reviewed after commit."""
    _require_borrower_change(actor, borrower)
    fields = _validated_statement(borrower, values, unit=unit, currency=currency)
    statement = _statement_store(actor=actor, borrower=borrower, fields=fields, source=source)
    _enqueue_borrower_reviews(borrower, ReviewTrigger.NEW_FINANCIALS)
    return statement


@transaction.atomic
def financial_statements_import_csv(*, actor: User, borrower: Borrower, uploaded_file) -> list[FinancialStatement]:
    """A CSV with a header row and one statement per row (columns: period_start, period_end, revenue, ebitda,
    interest_expense, total_debt, current_assets, current_liabilities, cash; optional scheduled_principal,
    unit, currency). Every row is validated before anything is stored: all rows or none."""
    _require_borrower_change(actor, borrower)
    if uploaded_file.size > CSV_MAX_BYTES:
        raise ValidationError({"file": _("The file is larger than 1 MB.")})
    uploaded_file.seek(0)
    try:
        text = uploaded_file.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": _("The file is not UTF-8 text.")}) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in STATEMENT_REQUIRED if name not in header]
    if missing:
        raise ValidationError({"file": _("The header lacks the columns %(names)s.") % {"names": ", ".join(missing)}})
    known = set(STATEMENT_REQUIRED) | {"scheduled_principal", "unit", "currency"}
    unknown = [name for name in header if name not in known]
    if unknown:
        raise ValidationError({"file": _("Unknown columns %(names)s.") % {"names": ", ".join(unknown)}})
    rows, errors, pending = [], [], []
    for row_number, raw in enumerate(reader, start=2):
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in raw.items() if key}
        if not any(row.values()):
            continue
        try:
            fields = _validated_statement(borrower, row, unit=row.get("unit") or "units",
                                          currency=row.get("currency") or None, pending=pending)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.append(_("Row %(row)s, %(field)s: %(message)s") % {
                    "row": row_number, "field": field, "message": " ".join(messages)})
            continue
        pending.append((fields["period_start"], fields["period_end"]))
        rows.append(fields)
    if errors:
        raise ValidationError({"file": errors[:20]})
    if not rows:
        raise ValidationError({"file": _("The file holds no statements.")})
    statements = [_statement_store(actor=actor, borrower=borrower, fields=fields, source=FinancialStatement.Source.CSV)
                  for fields in rows]
    _enqueue_borrower_reviews(borrower, ReviewTrigger.NEW_FINANCIALS)
    return statements


def latest_statement(borrower: Borrower) -> FinancialStatement | None:
    return borrower.financial_statements.order_by("-period_end", "-pk").first()


# --- PD model -----------------------------------------------------------------------------------------

FALLBACK_MODEL_PATH = Path(__file__).resolve().parent / "data" / "pd_model_fallback.json"


def german_credit_path() -> Path:
    return Path(settings.BASE_DIR).parent / "shared" / "data" / "credit" / "german.data"


@transaction.atomic
def pd_model_train(*, actor: User | None = None, data_path: str | Path | None = None) -> PdModel:
    """Train the scorecard on the German credit data and store it as the active model (earlier ones stay,
    inactive, for the assessments that used them). Without the data file, the committed fallback document
    (the same training, exported by ``lending_train_pd_model --export``) is stored instead."""
    import json

    path = Path(data_path) if data_path else german_credit_path()
    if path.exists():
        document = copy.deepcopy(_trained_document(str(path.resolve()), pd_model.file_sha256(path)))
    elif data_path is None and FALLBACK_MODEL_PATH.exists():
        document = json.loads(FALLBACK_MODEL_PATH.read_text())
        document["data_source"] += " (committed fallback: the data folder was absent)"
    else:
        raise ValidationError(_("The German credit data is not at %(path)s.") % {"path": path})
    version = (PdModel.objects.order_by("-version").values_list("version", flat=True).first() or 0) + 1
    PdModel.objects.filter(is_active=True).update(is_active=False)
    model = PdModel.objects.create(version=version, trained_by=actor, is_active=True, **document)
    record(actor=actor, action="pd_model.train", obj=model, payload={
        "version": version, "auc": model.validation["auc"], "ks": model.validation["ks"],
        "data_sha256": model.data_sha256})
    return model


@functools.lru_cache(maxsize=4)
def _trained_document(path: str, sha256: str) -> dict:
    """Training is deterministic (seeded split): the same file gives the same model, so train it once per process."""
    return pd_model.train_pd_model(path)


def pd_model_active() -> PdModel:
    model = PdModel.objects.filter(is_active=True).order_by("-version").first()
    return model if model is not None else pd_model_train()


# --- Risk assessment ----------------------------------------------------------------------------------

def _ead(facility: Facility) -> float:
    drawn, limit = float(facility.drawn_amount), float(facility.limit)
    return drawn + CCF_UNDRAWN * max(limit - drawn, 0.0)


def _maturity_years(facility: Facility) -> float:
    if facility.repayment_kind == Facility.RepaymentKind.BULLET or facility.facility_type == Facility.FacilityType.REVOLVING_LINE:
        return facility.tenor_months / 12.0
    return float(amortising_effective_maturity_years(facility.tenor_months))


def _round_rate_to_step(rate: float) -> Decimal:
    steps = (Decimal(str(rate)) / RATE_STEP).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return _rate(steps * RATE_STEP)


def _round_limit(limit: float) -> Decimal:
    return _money((Decimal(str(limit)) / LIMIT_STEP).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * LIMIT_STEP)


def _health_params(policy: LenderPolicy) -> dict:
    return {"smoothing": float(policy.health_smoothing), "tolerance_z": float(policy.health_tolerance_z),
            "reference_z": float(policy.health_reference_z)}


def facility_inputs(facility: Facility, *, policy: LenderPolicy | None = None, model: PdModel | None = None,
                    health: list[dict] | None = None) -> dict:
    """What an assessment of the facility depends on, as plain strings and numbers (the hash of this is what a
    submitted proposal freezes). Health enters through its alarm state, persistent trend and model prediction,
    so index noise between alarms does not invalidate a pending proposal."""
    policy = policy or lender_policy_for(facility.organization)
    model = model or pd_model_active()
    borrower = facility.borrower
    statement = latest_statement(borrower)
    collateral = list(facility.collateral.select_related("press").order_by("press_id"))
    if health is None:
        health = [health_inputs.pledged_press_health(c.press, lender=facility.organization, **_health_params(policy))
                  for c in collateral]
    return jsonable({
        "facility": {
            "id": facility.pk, "limit": facility.limit, "contract_limit": facility.contract_limit,
            "drawn": facility.drawn_amount, "base_rate": facility.base_rate, "margin_rate": facility.margin_rate,
            "tenor_months": facility.tenor_months, "repayment_kind": facility.repayment_kind,
            "status": facility.status, "covenant_breached": facility.covenant_breached,
            "collateral": [[c.press_id, str(c.appraised_value), c.appraised_on.isoformat()] for c in collateral],
            "covenants": [[c.covenant_kind, str(c.threshold)] for c in facility.covenants.order_by("covenant_kind")],
        },
        "borrower": {"repayment_history": borrower.repayment_history, "established_on": borrower.established_on},
        "statement": None if statement is None else {
            "id": statement.pk, **{name: str(getattr(statement, name)) for name in STATEMENT_AMOUNTS},
            "period_start": statement.period_start, "period_end": statement.period_end},
        "health": [h["fingerprint"] for h in health],
        "pd_model": model.version,
        "policy": state_digest(jsonable(_policy_state(policy))),
        # only present once the lender adopted a federated PD model, so earlier hashes stay valid
        **({"federated_pd_model": sha} if (sha := federated_pd_champion_sha(facility.organization)) else {}),
    })


def inputs_hash(inputs: dict) -> str:
    return state_digest(inputs)


@dataclass
class _Assessment:
    fields: dict
    covenant_results: list[dict]
    newly_breached: list[str]
    health: list[dict]


def _covenant_results(facility: Facility, ratios, health: list[dict]) -> list[dict]:
    results = []
    shared = [h for h in health if h["shared"]]
    for covenant in facility.covenants.all():
        threshold = float(covenant.threshold)
        value, status, note = None, Covenant.CovenantStatus.NOT_TESTED, ""
        kind = covenant.covenant_kind
        if covenant.is_health_covenant:
            if not shared:
                note = gettext_noop("health not shared")
            else:
                if kind == Covenant.CovenantKind.MAX_ALARM_DAYS:
                    value = max(h["alarm_days"] or 0.0 for h in shared)
                    breached = value > threshold
                else:
                    readings = [h["health_index_z_smoothed"] for h in shared if h["health_index_z_smoothed"] is not None]
                    if not readings:
                        note = gettext_noop("no health index yet")
                        results.append(_covenant_row(covenant, value, status, note))
                        continue
                    value = max(readings)
                    breached = value > threshold
                status = Covenant.CovenantStatus.BREACHED if breached else Covenant.CovenantStatus.OK
                if len(shared) < len(health):
                    note = gettext_noop("tested on the shared presses only")
        elif ratios is None:
            note = gettext_noop("no financial statement")
        else:
            if kind == Covenant.CovenantKind.MAX_DEBT_TO_EBITDA:
                value, breached = ratios.debt_to_ebitda, ratios.debt_to_ebitda > threshold
            elif kind == Covenant.CovenantKind.MIN_INTEREST_COVER:
                value, breached = ratios.interest_cover, ratios.interest_cover < threshold
            else:
                value, breached = ratios.dscr, ratios.dscr < threshold
            status = Covenant.CovenantStatus.BREACHED if breached else Covenant.CovenantStatus.OK
        results.append(_covenant_row(covenant, value, status, note))
    return results


def _covenant_row(covenant: Covenant, value, status, note) -> dict:
    return {"id": covenant.pk, "kind": covenant.covenant_kind, "threshold": str(covenant.threshold),
            "value": value, "status": str(status), "note": note}


def _compute_assessment(facility: Facility, *, policy: LenderPolicy, model: PdModel) -> _Assessment:
    """Everything an assessment concludes, from the facility's current inputs (no writes)."""
    today = _today()
    borrower = facility.borrower
    statement = latest_statement(borrower)
    notes: list[str] = []
    collateral = list(facility.collateral.select_related("press").order_by("press_id"))
    health = [health_inputs.pledged_press_health(c.press, lender=facility.organization, **_health_params(policy))
              for c in collateral]
    shared = [h for h in health if h["shared"]]
    if collateral and not shared:
        notes.append(gettext_noop("The enterprise does not share the health of the pledged presses: health inputs "
                                  "are absent."))

    ratios = None
    annual_revenue = annual_ebitda = annual_debt_service = None
    if statement is not None:
        core_statement = financial_statement_from_mapping({
            "period_start": statement.period_start, "period_end": statement.period_end,
            **{name: float(getattr(statement, name)) for name in STATEMENT_AMOUNTS}})
        ratios = financial_ratios(core_statement)
        annual_revenue = float(statement.revenue) * core_statement.annualisation_factor
        annual_ebitda, annual_debt_service = ratios.annual_ebitda, ratios.annual_debt_service
    else:
        notes.append(gettext_noop("No financial statement yet: the financial inputs of the scorecard are missing "
                                  "(neutral)."))

    # 1. Financial PD from the scorecard.
    limit, drawn = float(facility.limit), float(facility.drawn_amount)
    appraised = [float(c.appraised_value) for c in collateral]
    lender_drawn = float(sum(f.drawn_amount for f in borrower.facilities.filter(status=Facility.FacilityStatus.ACTIVE)))
    cash_ratio = None
    if statement is not None:
        liabilities = float(statement.current_liabilities)
        cash_ratio = float(statement.cash) / liabilities if liabilities > 0 else math.inf
    profile = pd_model.FirmProfile(
        tenor_months=facility.tenor_months, facility_type=facility.facility_type,
        repayment_history=borrower.repayment_history,
        years_in_business=(today - borrower.established_on).days / 365.25,
        collateral_coverage=sum(appraised) / limit if limit > 0 else 0.0,
        current_ratio=ratios.current_ratio if ratios else None, cash_ratio=cash_ratio,
        debt_to_ebitda=ratios.debt_to_ebitda if ratios else None, dscr=ratios.dscr if ratios else None,
        debt_at_other_lenders=(float(statement.total_debt) > lender_drawn + 1.0) if statement else None)
    applicant = pd_model.applicant_values(profile)
    pd_result = pd_model.explain_pd(model.scorecard, model.calibration, applicant)
    pd_financial = pd_result.pd
    federated = federated_pd_for(organization=facility.organization, applicant=applicant,
                                 target_default_rate=float(model.calibration.get("target_default_rate",
                                                                                 pd_model.TARGET_DEFAULT_RATE)))
    if federated is not None:  # the lender adopted a federated PD model as its PD model (lending.federated_pd)
        notes.append(gettext_noop("PD from the federated PD model the lender adopted; the scorecard's drivers are "
                                  "shown for explanation."))
        pd_financial = federated["pd"]

    # 2. Covenants (a breach lifts the overlay's one-grade cap).
    covenant_results = _covenant_results(facility, ratios, health)
    breached_kinds = [row["kind"] for row in covenant_results if row["status"] == Covenant.CovenantStatus.BREACHED]
    previously_breached = {c.covenant_kind for c in facility.covenants.all() if c.status == Covenant.CovenantStatus.BREACHED}
    newly_breached = [kind for kind in breached_kinds if kind not in previously_breached]

    # 3. Health overlay on the PD: the worst shared press that moved persistently or is in alarm.
    acting = [h for h in shared if h["health_index_z_smoothed"] is not None
              and (h["persistent_move"] != 0 or (h["alarm_level"] or 0) >= ALARM_LEVEL)]
    if acting:
        worst = max(acting, key=lambda h: h["health_index_z_smoothed"])
        result = health_overlay_pd(
            pd_financial, health_index_smoothed=-worst["health_index_z_smoothed"],
            hi_ref=-float(policy.health_reference_z), g=float(policy.health_sensitivity),
            max_grade_move=policy.health_max_grade_move, covenant_breached=bool(breached_kinds))
        pd = float(result.pd)
        overlay = {"applied": True, "press": worst["press_name"], "z_smoothed": worst["health_index_z_smoothed"],
                   "logit_shift": float(result.logit_shift), "pd_uncapped": float(result.pd_uncapped),
                   "capped": bool(result.capped), "cap_lifted_by_covenant": bool(breached_kinds),
                   "pd_change": pd - pd_financial, "g": float(policy.health_sensitivity),
                   "reference_z": float(policy.health_reference_z)}
    else:
        pd = pd_financial
        overlay = {"applied": False, "pd_change": 0.0,
                   "reason": gettext_noop("health not shared") if not shared else
                   gettext_noop("no persistent move and no alarm")}
    grade = int(pd_to_grade(pd))

    # 4. LGD from collateral haircut by condition; EAD; capital.
    ead = _ead(facility)
    levels = [int(h["alarm_level"] or 0) if h["shared"] else UNKNOWN_CONDITION_LEVEL for h in health]
    if collateral and ead > 0:
        lgd = float(collateral_lgd(ead, appraised, levels))
        advance_value = float(collateral_advance_value(appraised, levels))
    else:
        lgd = 0.45
        advance_value = math.inf
    sales_eur_m = annual_revenue / 1e6 if (annual_revenue is not None and facility.currency == "EUR") else None
    maturity = _maturity_years(facility)
    k = float(irb_capital(pd, lgd, maturity, sales_eur_m))
    expected_loss = pd * lgd * ead

    # 5. Risk-based rate.
    breakdown = risk_based_rate_breakdown(pd, lgd, k, float(policy.funding_cost), float(policy.hurdle_return),
                                          float(policy.risk_free_return), float(policy.operating_cost),
                                          float(policy.margin))
    current_rate = float(facility.annual_rate)
    max_move = Decimal(policy.max_rate_move_bps) / Decimal(10000)
    recommended_rate = _round_rate_to_step(breakdown.rate)
    recommended_rate = min(max(recommended_rate, facility.annual_rate - max_move), facility.annual_rate + max_move)
    recommended_rate = min(max(recommended_rate, policy.product_min_rate), policy.product_max_rate)

    # 6. Cash flow after expected downtime, the limit and the optimal-terms analysis.
    downtime = []
    cash_flow = None
    if statement is not None:
        lost = 0.0
        for h in shared:
            probability = h["failure_risk"] if h["failure_risk"] is not None else \
                LEVEL_FAILURE_PROBABILITY[min(int(h["alarm_level"] or 0), 3)]
            effect = downtime_cash_flow_effect(
                annual_ebitda, annual_revenue, annual_debt_service, probability,
                float(policy.downtime_days_per_failure), press_revenue_share=float(policy.press_revenue_share))
            lost += float(effect.lost_ebitda)
            downtime.append({"press": h["press_name"], "failure_probability": probability,
                             "source": "model" if h["failure_risk"] is not None else "alarm level",
                             "lost_ebitda": float(effect.lost_ebitda)})
        cash_flow = annual_ebitda - lost
    own_debt_service = 12.0 * float(annuity_payment(drawn, current_rate, facility.tenor_months))
    existing_debt_service = max((annual_debt_service or 0.0) - own_debt_service, 0.0)
    remaining_life = _remaining_useful_life_months(collateral, policy, today)
    limit_analysis: dict = {"available": False}
    recommended_limit = facility.limit
    if cash_flow is not None:
        result = credit_limit(
            annual_cash_flow_available=cash_flow, min_dscr=float(policy.min_dscr), annual_rate=current_rate,
            tenor_months=facility.tenor_months, collateral_advance_value=advance_value,
            expected_loss_budget=float(policy.max_expected_loss), pd=pd, lgd=lgd,
            capital_allocation=float(policy.capital_cap), k=k, concentration_cap=float(policy.concentration_cap),
            product_maximum=float(policy.product_max_limit), existing_annual_debt_service=existing_debt_service)
        cap = min(result.limit, float(facility.contract_limit))
        move = float(policy.max_limit_move_fraction) * limit
        target = min(max(cap, limit - move, drawn, float(policy.product_min_limit)), limit + move)
        recommended_limit = _round_limit(target)
        if recommended_limit < facility.drawn_amount:
            recommended_limit = facility.drawn_amount
        limit_analysis = {"available": True, "limit": result.limit, "binding": result.binding_constraint,
                          "binding_all": list(result.binding_constraints), "candidates": result.candidates,
                          "contract_limit": float(facility.contract_limit), "cash_flow_available": cash_flow,
                          "existing_annual_debt_service": existing_debt_service,
                          "capped_by_contract": result.limit > float(facility.contract_limit),
                          "below_drawn": result.limit < drawn}
        if result.limit < drawn:
            notes.append(gettext_noop("The limit the risk supports is below the drawn amount; the limit is held at "
                                      "the drawn amount."))
    else:
        notes.append(gettext_noop("No cash-flow basis for a limit: the limit is kept."))
    terms_analysis = _terms_analysis(facility, policy, pd=pd, lgd=lgd, cash_flow=cash_flow,
                                     existing_debt_service=existing_debt_service, sales_eur_m=sales_eur_m,
                                     remaining_life=remaining_life)

    rate_gap_bps = abs((recommended_rate - facility.annual_rate) * 10000)
    limit_gap = abs(recommended_limit - facility.limit) / facility.limit if facility.limit else Decimal(0)
    beyond = rate_gap_bps > policy.rate_tolerance_bps or limit_gap > policy.limit_tolerance_fraction
    ratios_json = None if ratios is None else {
        "debt_to_ebitda": ratios.debt_to_ebitda, "interest_cover": ratios.interest_cover,
        "current_ratio": ratios.current_ratio, "dscr": ratios.dscr, "annual_ebitda": ratios.annual_ebitda,
        "annual_debt_service": ratios.annual_debt_service, "annual_revenue": annual_revenue, "cash_ratio": cash_ratio,
        "statement_period": f"{statement.period_start} – {statement.period_end}"}
    lender_health = [health_inputs.lender_view(h) for h in health]
    fields = {
        "pd_model": model, "statement": statement, "pd_financial": pd_financial, "pd": pd, "grade": grade, "lgd": lgd,
        "capital_k": k, "ead": _money(ead), "expected_loss": _money(expected_loss), "capital": _money(k * ead),
        "rwa": _money(RWA_MULTIPLIER * k * ead), "current_rate": facility.annual_rate, "current_limit": facility.limit,
        "current_tenor_months": facility.tenor_months, "recommended_rate": recommended_rate,
        "recommended_limit": recommended_limit, "recommended_tenor_months": facility.tenor_months,
        "beyond_tolerance": bool(beyond), "health_shared": bool(shared), "health": jsonable(lender_health),
        "ratios": jsonable(ratios_json or {}),
        "drivers": jsonable(pd_result.drivers), "overlay": jsonable({**overlay, "pd_sample": pd_result.pd_sample,
                                                                   "score": pd_result.score}),
        "pricing": jsonable({**breakdown.as_dict(), "maturity_years": maturity, "sales_eur_m": sales_eur_m,
                             "condition_levels": levels, "haircuts": list(DEFAULT_CONDITION_HAIRCUTS),
                             "downtime": downtime}),
        "limit_analysis": jsonable(limit_analysis), "terms_analysis": jsonable(terms_analysis),
        "covenants": jsonable(covenant_results), "notes": notes,
    }
    return _Assessment(fields=fields, covenant_results=covenant_results, newly_breached=newly_breached, health=health)


def _remaining_useful_life_months(collateral: list[Collateral], policy: LenderPolicy, today: dt.date) -> int:
    if not collateral:
        return policy.product_max_tenor_months
    lives = []
    for pledge in collateral:
        commissioned = pledge.press.commissioned_on
        end_month = (commissioned.year + policy.press_useful_life_years) * 12 + commissioned.month
        lives.append(end_month - (today.year * 12 + today.month))
    return max(min(lives), 0)


def _terms_analysis(facility: Facility, policy: LenderPolicy, *, pd: float, lgd: float, cash_flow: float | None,
                    existing_debt_service: float, sales_eur_m, remaining_life: int) -> dict:
    """The profit-optimal menu point under the lender's constraints (``core.optimal_terms``), shown beside the
    risk-based terms as a decision aid: it maximises the lender's return, so it is not what the system proposes."""
    if cash_flow is None or cash_flow <= 0:
        return {"available": False, "reason": "no positive cash flow available for debt service"}
    current = CurrentTerms(annual_rate=float(facility.annual_rate), limit=float(facility.limit),
                           tenor_months=facility.tenor_months)
    try:
        result = optimal_terms(
            current,
            BorrowerRiskProfile(pd_at_current_terms=pd, lgd=lgd, annual_cash_flow_available=cash_flow,
                                existing_annual_debt_service=existing_debt_service, sales_eur_m=sales_eur_m),
            TermsPolicy(pd_appetite=float(policy.pd_appetite), min_dscr=float(policy.min_dscr),
                        capital_allocation=float(policy.capital_cap), limit_cap=float(policy.concentration_cap),
                        product_min_rate=float(policy.product_min_rate), product_max_rate=float(policy.product_max_rate),
                        product_min_limit=float(policy.product_min_limit),
                        product_max_limit=float(policy.product_max_limit),
                        product_min_tenor_months=policy.product_min_tenor_months,
                        product_max_tenor_months=policy.product_max_tenor_months,
                        max_rate_move_bps=float(policy.max_rate_move_bps),
                        max_limit_move_fraction=float(policy.max_limit_move_fraction),
                        remaining_useful_life_months=remaining_life),
            FundingEconomics(funding_cost=float(policy.funding_cost), hurdle_return=float(policy.hurdle_return),
                             risk_free_return=float(policy.risk_free_return),
                             operating_cost=float(policy.operating_cost)),
            TermsMenu(rate_span_bps=float(min(300, 2 * policy.max_rate_move_bps)),
                      limit_span_fraction=min(0.5, 2 * float(policy.max_limit_move_fraction))),
        )
    except ValueError as error:
        return {"available": False, "reason": str(error)}
    return {
        "available": True,
        "chosen": result.chosen.as_dict() if result.chosen else None,
        "current": result.current.as_dict(),
        "alternatives": [alternative.as_dict() for alternative in result.alternatives],
        "binding_constraints": list(result.binding_constraints), "menu_edges": list(result.menu_edges),
        "menu_size": result.menu_size, "feasible_count": result.feasible_count,
        "remaining_useful_life_months": remaining_life,
    }


def _assessment_store(facility: Facility, computed: _Assessment, *, trigger: str, actor: User | None,
                      inputs: dict, digest: str) -> RiskAssessment:
    now = timezone.now()
    assessment = RiskAssessment.objects.create(
        facility=facility, trigger=trigger, requested_by=actor if isinstance(actor, User) else None,
        inputs=inputs, inputs_hash=digest, **computed.fields)
    for row in computed.covenant_results:
        covenant = Covenant.objects.get(pk=row["id"])
        breached = row["status"] == Covenant.CovenantStatus.BREACHED
        covenant.status = row["status"]
        covenant.last_value = None if row["value"] is None or not math.isfinite(row["value"]) else \
            Decimal(str(round(row["value"], 4)))
        covenant.last_tested_at = now if row["status"] != Covenant.CovenantStatus.NOT_TESTED else covenant.last_tested_at
        covenant.breached_since = (covenant.breached_since or now) if breached else None
        covenant.note = row["note"]
        covenant.save()
    facility.last_reviewed_at = now
    facility.save(update_fields=["last_reviewed_at"])
    record(actor=actor if actor is not None else _system_actor(facility.organization), action="risk_assessment.create",
           obj=assessment, organization=facility.organization, payload={
               "facility": facility.pk, "trigger": trigger, "pd_financial": assessment.pd_financial, "pd": assessment.pd,
               "grade": assessment.grade, "lgd": assessment.lgd, "ead": assessment.ead,
               "expected_loss": assessment.expected_loss, "capital_k": assessment.capital_k,
               "recommended_rate": assessment.recommended_rate, "recommended_limit": assessment.recommended_limit,
               "beyond_tolerance": assessment.beyond_tolerance, "health_shared": assessment.health_shared,
               "inputs_hash": digest, "pd_model": assessment.pd_model.version,
               "covenants": {row["kind"]: row["status"] for row in computed.covenant_results}})
    return assessment


def _set_covenant_flag(facility: Facility, computed: _Assessment, actor) -> bool:
    """Raise or clear the facility's covenant flag; returns True when a covenant was newly breached."""
    breached = [row["kind"] for row in computed.covenant_results if row["status"] == Covenant.CovenantStatus.BREACHED]
    if bool(breached) == facility.covenant_breached:
        return bool(computed.newly_breached)
    facility.covenant_breached = bool(breached)
    facility.flagged_at = timezone.now() if breached else None
    facility.save(update_fields=["covenant_breached", "flagged_at"])
    record(actor=actor if actor is not None else _system_actor(facility.organization),
           action="facility.covenant_breach" if breached else "facility.covenant_cleared", obj=facility,
           organization=facility.organization, payload={"covenants": breached})
    return bool(computed.newly_breached)


def _locked_facility(pk: int) -> Facility:
    """The facility row, locked until the transaction ends (only it: not the joined lender and borrower rows)."""
    return Facility.objects.select_for_update(of=("self",)).select_related("borrower", "organization").get(pk=pk)


def _require_officer_action(actor: User, facility: Facility, perm: str = "lending.change_facility") -> None:
    if not actor.has_perm(perm, facility):
        raise PermissionDenied(_("You may not do this on this facility."))


@transaction.atomic
def facility_assess(*, facility: Facility, actor: User | None = None,
                    trigger: str = ReviewTrigger.MANUAL) -> RiskAssessment:
    """Assess the facility now (always a new assessment); covenant flags follow; no proposal is drafted."""
    facility = _locked_facility(facility.pk)
    if isinstance(actor, User):
        _require_officer_action(actor, facility)
    policy, model = lender_policy_for(facility.organization), pd_model_active()
    computed = _compute_assessment(facility, policy=policy, model=model)
    inputs = facility_inputs(facility, policy=policy, model=model, health=computed.health)
    assessment = _assessment_store(facility, computed, trigger=trigger, actor=actor, inputs=inputs,
                                   digest=inputs_hash(inputs))
    _set_covenant_flag(facility, computed, actor)
    return assessment


@dataclass
class ReviewOutcome:
    assessment: RiskAssessment | None
    proposal: AdjustmentProposal | None
    skipped: str = ""


@transaction.atomic
def facility_review(*, facility_id: int, trigger: str, actor: User | None = None) -> ReviewOutcome:
    """Assess the facility and, when the terms it supports differ from the current ones beyond the lender's
    tolerance (or a covenant is newly breached), draft an adjustment proposal as the system.

    Idempotent: a review whose inputs are those of the latest assessment changes nothing (a periodic review
    runs at most once per review interval)."""
    if trigger not in ReviewTrigger.values:
        raise ValueError(f"unknown review trigger {trigger!r}")
    facility = _locked_facility(facility_id)
    if not facility.is_active:
        return ReviewOutcome(None, None, "facility closed")
    if isinstance(actor, User):
        _require_officer_action(actor, facility)
    policy, model = lender_policy_for(facility.organization), pd_model_active()
    latest = facility.assessments.order_by("-created_at", "-pk").first()
    if trigger == ReviewTrigger.SCHEDULE and latest is not None and facility.last_reviewed_at and (
            timezone.now() - facility.last_reviewed_at < dt.timedelta(days=policy.review_interval_days)):
        return ReviewOutcome(latest, None, "reviewed within the review interval")
    computed = _compute_assessment(facility, policy=policy, model=model)
    inputs = facility_inputs(facility, policy=policy, model=model, health=computed.health)
    digest = inputs_hash(inputs)
    if trigger != ReviewTrigger.SCHEDULE and latest is not None and latest.inputs_hash == digest:
        return ReviewOutcome(latest, None, "inputs unchanged since the latest assessment")
    assessment = _assessment_store(facility, computed, trigger=trigger, actor=actor, inputs=inputs, digest=digest)
    newly_breached = _set_covenant_flag(facility, computed, actor)
    proposal = _system_proposal(facility, assessment, policy=policy, trigger=trigger, newly_breached=newly_breached,
                                health=computed.health, actor=actor)
    return ReviewOutcome(assessment, proposal)


def _enqueue_review(facility_id: int, trigger: str) -> None:
    transaction.on_commit(lambda: _send_review(facility_id, str(trigger)))


def _send_review(facility_id: int, trigger: str) -> None:
    """After commit: the change is stored whatever happens here, so a broker failure is logged, not raised (the
    periodic ``review_due_facilities`` / ``lending_review_all`` catches the facility up)."""
    from .tasks import review_facility

    try:
        review_facility.delay(facility_id, trigger)
    except Exception:
        logger.exception("could not queue the review of facility %s (%s)", facility_id, trigger)


def _enqueue_borrower_reviews(borrower: Borrower, trigger: str) -> None:
    for facility_id in borrower.facilities.filter(status=Facility.FacilityStatus.ACTIVE).values_list("pk", flat=True):
        _enqueue_review(facility_id, trigger)


def facility_reviews_for_press(press_id: int, trigger: str = ReviewTrigger.HEALTH_ALARM) -> list[int]:
    """For the health and federation apps: queue a review (after the caller's transaction commits) of every
    active facility that holds the press as collateral, e.g. on a new alarm or model prediction.
    Returns the ids of the facilities queued."""
    if trigger not in ReviewTrigger.values:
        raise ValueError(f"unknown review trigger {trigger!r}")
    facility_ids = list(Facility.objects.filter(collateral__press_id=press_id, status=Facility.FacilityStatus.ACTIVE)
                        .values_list("pk", flat=True).distinct().order_by("pk"))
    for facility_id in facility_ids:
        _enqueue_review(facility_id, trigger)
    return facility_ids


def reviews_due(*, now=None) -> list[tuple[int, str]]:
    """(facility id, trigger) of the reviews that are due: a pledged press raised an alarm or got a model
    prediction since the facility's last review (the health app need not have called us), or the periodic
    review interval passed."""
    now = now or timezone.now()
    due: dict[int, str] = {}
    facilities = Facility.objects.filter(status=Facility.FacilityStatus.ACTIVE).select_related("organization")
    policies = {p.organization_id: p for p in LenderPolicy.objects.all()}
    pledges: dict[int, list[int]] = {}
    for facility_id, press_id in Collateral.objects.filter(facility__in=facilities).values_list("facility_id", "press_id"):
        pledges.setdefault(facility_id, []).append(press_id)
    for facility in facilities:
        presses = pledges.get(facility.pk, [])
        since = facility.last_reviewed_at
        if presses and health_inputs.presses_with_alarms_since(presses, since):
            due[facility.pk] = ReviewTrigger.HEALTH_ALARM
        elif presses and health_inputs.presses_with_predictions_since(presses, since):
            due[facility.pk] = ReviewTrigger.MODEL_PREDICTION
        else:
            interval = policies[facility.organization_id].review_interval_days if facility.organization_id in policies \
                else LenderPolicy._meta.get_field("review_interval_days").default
            if since is None or now - since >= dt.timedelta(days=interval):
                due[facility.pk] = ReviewTrigger.SCHEDULE
    return sorted(due.items())


def lending_housekeeping(*, now=None) -> dict:
    """Apply scheduled adjustments whose date has come and expire stale submitted proposals."""
    now = now or timezone.now()
    applied, expired = [], []
    for pk in AdjustmentProposal.objects.filter(status=Status.SCHEDULED, effective_date__lte=timezone.localdate(now)) \
            .values_list("pk", flat=True):
        if adjustment_apply_scheduled(proposal_id=pk):
            applied.append(pk)
    for proposal in AdjustmentProposal.objects.filter(status=Status.SUBMITTED).select_related("organization"):
        policy = lender_policy_for(proposal.organization)
        stale_after = proposal.submitted_at + dt.timedelta(days=policy.proposal_validity_days)
        if stale_after <= now or proposal.effective_date < timezone.localdate(now):
            if adjustment_expire(proposal_id=proposal.pk, now=now):
                expired.append(proposal.pk)
    return {"applied": applied, "expired": expired}


# --- Adjustment proposals -----------------------------------------------------------------------------

def _proposal_state(proposal: AdjustmentProposal) -> dict:
    return {"facility": proposal.facility_id, "status": proposal.status, "origin": proposal.origin,
            "reason_code": proposal.reason_code, "old_rate": proposal.old_rate, "new_rate": proposal.new_rate,
            "old_limit": proposal.old_limit, "new_limit": proposal.new_limit,
            "old_tenor_months": proposal.old_tenor_months, "new_tenor_months": proposal.new_tenor_months,
            "effective_date": proposal.effective_date, "inputs_hash": proposal.inputs_hash,
            "snapshot_hash": proposal.snapshot_hash, "required_approvals": proposal.required_approvals}


def _terms_payload(proposal: AdjustmentProposal) -> dict:
    return {"old_rate": proposal.old_rate, "new_rate": proposal.new_rate, "old_limit": proposal.old_limit,
            "new_limit": proposal.new_limit, "old_tenor_months": proposal.old_tenor_months,
            "new_tenor_months": proposal.new_tenor_months, "effective_date": proposal.effective_date,
            "rate_change_bps": proposal.rate_change_bps, "reason_code": proposal.reason_code}


def required_approvals_for(policy: LenderPolicy, *, old_rate: Decimal, new_rate: Decimal, old_limit: Decimal,
                           new_limit: Decimal, old_tenor: int, new_tenor: int) -> int:
    """Delegated authority: one checker for small moves (rate within ``single_approval_max_rate_bps`` and limit
    within ``single_approval_max_limit_fraction``, tenor unchanged), two distinct checkers otherwise."""
    rate_bps = abs(new_rate - old_rate) * 10000
    limit_fraction = abs(new_limit - old_limit) / old_limit if old_limit else Decimal(1)
    small = (rate_bps <= policy.single_approval_max_rate_bps and limit_fraction <= policy.single_approval_max_limit_fraction
             and new_tenor == old_tenor)
    return 1 if small else 2


def _health_direction(health: list[dict]) -> tuple[list[str], list[str]]:
    worse = [h["press_name"] for h in health if h["shared"] and
             ((h["alarm_level"] or 0) >= ALARM_LEVEL or h["persistent_move"] < 0)]
    better = [h["press_name"] for h in health if h["shared"] and h["persistent_move"] > 0 and (h["alarm_level"] or 0) == 0]
    return worse, better


def _reason_for(trigger: str, *, newly_breached: list[str] | bool, tighter: bool, health: list[dict]) -> tuple[str, dict]:
    worse, better = _health_direction(health)
    if newly_breached:
        return Reason.COVENANT_BREACH, {"presses": worse}
    if trigger in (ReviewTrigger.HEALTH_ALARM, ReviewTrigger.MODEL_PREDICTION) or (worse and tighter) or (better and not tighter):
        return (Reason.HEALTH_DETERIORATION, {"presses": worse}) if tighter else (Reason.HEALTH_RECOVERY, {"presses": better})
    if trigger == ReviewTrigger.NEW_FINANCIALS:
        return Reason.FINANCIAL_UPDATE, {}
    return Reason.PERIODIC_REVIEW, {}


def _system_proposal(facility: Facility, assessment: RiskAssessment, *, policy: LenderPolicy, trigger: str,
                     newly_breached: bool, health: list[dict], actor) -> AdjustmentProposal | None:
    system = actor if actor is not None else _system_actor(facility.organization)
    changes = (assessment.recommended_rate != facility.annual_rate or assessment.recommended_limit != facility.limit
               or assessment.recommended_tenor_months != facility.tenor_months)
    open_proposal = facility.proposals.filter(status__in=AdjustmentProposal.OPEN_STATUSES).first()
    same = open_proposal is not None and (
        open_proposal.new_rate == assessment.recommended_rate and open_proposal.new_limit == assessment.recommended_limit
        and open_proposal.new_tenor_months == assessment.recommended_tenor_months)
    undecided_system_draft = (open_proposal is not None and open_proposal.origin == AdjustmentProposal.Origin.SYSTEM
                              and open_proposal.status in (Status.DRAFT, Status.RETURNED, Status.SUBMITTED))
    if not changes or not (assessment.beyond_tolerance or newly_breached):
        if undecided_system_draft and not same:
            # The system's own earlier proposal no longer follows from the inputs: it went stale.
            _close(open_proposal, Status.EXPIRED, actor=system, action="adjustment.expire",
                   payload={"by_assessment": assessment.pk, "reason": "the terms are now within tolerance"})
        return None
    if open_proposal is not None:
        if same or open_proposal.status in (Status.APPROVED, Status.SCHEDULED):
            return None  # already proposed, or a decided change awaits its date: the next review catches up
        _close(open_proposal, Status.SUPERSEDED, actor=system, action="adjustment.supersede",
               payload={"by_assessment": assessment.pk})
    tighter = assessment.recommended_rate > facility.annual_rate or assessment.recommended_limit < facility.limit
    reason_code, facts = _reason_for(trigger, newly_breached=newly_breached, tighter=tighter, health=health)
    facts["covenants"] = [row["kind"] for row in assessment.covenants if row["status"] == "breached"]
    proposal = AdjustmentProposal.objects.create(
        organization=facility.organization, facility=facility, assessment=assessment,
        origin=AdjustmentProposal.Origin.SYSTEM, trigger=trigger, status=Status.DRAFT, reason_code=reason_code,
        reason_facts=jsonable(facts), old_rate=facility.annual_rate, new_rate=assessment.recommended_rate,
        old_limit=facility.limit, new_limit=assessment.recommended_limit, old_tenor_months=facility.tenor_months,
        new_tenor_months=assessment.recommended_tenor_months,
        effective_date=_today() + dt.timedelta(days=policy.notice_days),
        required_approvals=required_approvals_for(
            policy, old_rate=facility.annual_rate, new_rate=assessment.recommended_rate, old_limit=facility.limit,
            new_limit=assessment.recommended_limit, old_tenor=facility.tenor_months,
            new_tenor=assessment.recommended_tenor_months),
        inputs_hash=assessment.inputs_hash)
    record(actor=system, action="adjustment.draft", obj=proposal, organization=facility.organization,
           after=_proposal_state(proposal),
           payload={**_terms_payload(proposal), "origin": "system", "trigger": trigger, "assessment": assessment.pk,
                    "pd": assessment.pd, "pd_financial": assessment.pd_financial, "lgd": assessment.lgd})
    return proposal


def _lock_proposal(proposal: AdjustmentProposal) -> tuple[AdjustmentProposal, Facility]:
    facility = _locked_facility(proposal.facility_id)
    proposal = AdjustmentProposal.objects.select_for_update(of=("self",)).select_related("assessment").get(pk=proposal.pk)
    return proposal, facility


def _illegal(proposal: AdjustmentProposal, action: str) -> ValidationError:
    return ValidationError(_("A %(status)s proposal cannot be %(action)s.") % {
        "status": proposal.get_status_display().lower(), "action": action}, code="illegal_transition")


def _close(proposal: AdjustmentProposal, status: str, *, actor, action: str, payload: dict | None = None,
           comment: str = "") -> None:
    before = _proposal_state(proposal)
    proposal.status = status
    proposal.closed_at = timezone.now()
    if comment:
        proposal.decision_comment = comment
    proposal.save()
    record(actor=actor, action=action, obj=proposal, organization=proposal.organization, before=before,
           after=_proposal_state(proposal), payload={**_terms_payload(proposal), **(payload or {}),
                                                      **({"comment": comment} if comment else {})})


def _check_new_terms(facility: Facility, policy: LenderPolicy, *, new_rate: Decimal, new_limit: Decimal,
                     new_tenor_months: int, effective_date: dt.date) -> None:
    errors: dict = {}
    _check_terms(policy=policy, rate=new_rate, limit=new_limit, tenor_months=new_tenor_months,
                 drawn=facility.drawn_amount, errors=errors)
    if effective_date is None or effective_date < _today():
        errors["effective_date"] = _("The effective date cannot lie in the past.")
    if not errors and (new_rate, new_limit, new_tenor_months) == (facility.annual_rate, facility.limit,
                                                                  facility.tenor_months):
        errors["new_rate"] = _("The proposal changes nothing.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def adjustment_draft(*, actor: User, facility: Facility, new_rate, new_limit, new_tenor_months: int,
                     effective_date: dt.date, reason_code: str, message_to_borrower: str = "",
                     internal_note: str = "") -> AdjustmentProposal:
    """A loan officer drafts a proposal by hand (on the latest assessment, made now if the inputs moved)."""
    facility = _locked_facility(facility.pk)
    _require_officer_action(actor, facility)
    if not facility.is_active:
        raise ValidationError(_("The facility is closed."))
    if reason_code not in Reason.values:
        raise ValidationError({"reason_code": _("Choose a reason.")})
    errors: dict = {}
    new_rate, new_limit = _as_decimal(new_rate, "new_rate", errors), _as_decimal(new_limit, "new_limit", errors)
    if errors:
        raise ValidationError(errors)
    new_rate, new_limit, new_tenor_months = _rate(new_rate), _money(new_limit), int(new_tenor_months)
    policy = lender_policy_for(facility.organization)
    _check_new_terms(facility, policy, new_rate=new_rate, new_limit=new_limit, new_tenor_months=new_tenor_months,
                     effective_date=effective_date)
    pending = facility.proposals.filter(status__in=AdjustmentProposal.OPEN_STATUSES).first()
    if pending is not None:
        raise ValidationError(_("Proposal #%(id)s for this facility is still pending; withdraw it first (one "
                                "pending proposal per facility).") % {"id": pending.pk}, code="pending")
    assessment = _fresh_assessment(facility, actor=actor, trigger=ReviewTrigger.MANUAL)
    try:
        with transaction.atomic():
            proposal = AdjustmentProposal.objects.create(
                organization=facility.organization, facility=facility, assessment=assessment,
                origin=AdjustmentProposal.Origin.OFFICER, trigger=ReviewTrigger.MANUAL, status=Status.DRAFT,
                reason_code=reason_code, message_to_borrower=message_to_borrower.strip()[:500],
                internal_note=internal_note.strip()[:1000], old_rate=facility.annual_rate, new_rate=new_rate,
                old_limit=facility.limit, new_limit=new_limit, old_tenor_months=facility.tenor_months,
                new_tenor_months=new_tenor_months, effective_date=effective_date, created_by=actor,
                required_approvals=required_approvals_for(
                    policy, old_rate=facility.annual_rate, new_rate=new_rate, old_limit=facility.limit,
                    new_limit=new_limit, old_tenor=facility.tenor_months, new_tenor=new_tenor_months),
                inputs_hash=assessment.inputs_hash)
    except IntegrityError:
        raise ValidationError(_("Another proposal for this facility was just drafted."), code="pending") from None
    record(actor=actor, action="adjustment.draft", obj=proposal, organization=facility.organization,
           after=_proposal_state(proposal), payload={**_terms_payload(proposal), "origin": "officer",
                                                     "assessment": assessment.pk, "pd": assessment.pd})
    return proposal


def _fresh_assessment(facility: Facility, *, actor, trigger: str) -> RiskAssessment:
    """The latest assessment if its inputs are still the facility's current inputs, else a new one."""
    policy, model = lender_policy_for(facility.organization), pd_model_active()
    latest = facility.assessments.order_by("-created_at", "-pk").first()
    if latest is not None and latest.inputs_hash == inputs_hash(facility_inputs(facility, policy=policy, model=model)):
        return latest
    computed = _compute_assessment(facility, policy=policy, model=model)
    inputs = facility_inputs(facility, policy=policy, model=model, health=computed.health)
    assessment = _assessment_store(facility, computed, trigger=trigger, actor=actor, inputs=inputs,
                                   digest=inputs_hash(inputs))
    _set_covenant_flag(facility, computed, actor)
    return assessment


def previous_assessment(assessment: RiskAssessment) -> RiskAssessment | None:
    """The assessment the current terms rest on: the one of the last applied change, else the first one."""
    facility = assessment.facility
    if facility.last_change_id is not None:
        return facility.last_change.assessment
    return facility.assessments.exclude(pk=assessment.pk).order_by("created_at", "pk").first()


def pd_moves(previous: RiskAssessment | None, current: RiskAssessment) -> list[dict]:
    """Which inputs moved the PD since ``previous`` and by how much: each scorecard variable's logit
    contribution change turned into a PD change (others held), and the health overlay's change."""
    from scipy.special import expit, logit

    if previous is None:
        return []
    before = {d["variable"]: d for d in previous.drivers}
    base = logit(min(max(previous.pd_financial, 1e-9), 1 - 1e-9))
    moves = []
    for driver in current.drivers:
        old = before.get(driver["variable"])
        if old is None:
            continue
        delta = driver["logit_contribution"] - old["logit_contribution"]
        if abs(delta) < 1e-12:
            continue
        moves.append({"variable": driver["variable"], "label": driver["label"], "before": old["value"],
                      "after": driver["value"], "pd_change": float(expit(base - delta) - previous.pd_financial)})
    overlay_change = current.overlay.get("pd_change", 0.0) - previous.overlay.get("pd_change", 0.0)
    if abs(overlay_change) > 1e-12:
        def z_text(overlay):
            return f"z {overlay['z_smoothed']:.2f} ({overlay['press']})" if overlay.get("applied") else None

        moves.append({"variable": "health_overlay", "label": gettext_noop("Equipment health (overlay)"),
                      "before": z_text(previous.overlay), "after": z_text(current.overlay),
                      "pd_change": overlay_change})
    moves.sort(key=lambda move: abs(move["pd_change"]), reverse=True)
    return moves


def _preview_schedule(facility: Facility, rate: Decimal, tenor_months: int) -> dict:
    principal = float(facility.drawn_amount)
    schedule = amortisation_schedule(principal, float(rate), tenor_months, kind=facility.repayment_kind,
                                     interest_only_months=min(facility.interest_only_months, tenor_months - 1))
    return {"principal": principal, "first_instalment": float(schedule.instalment[0]),
            "total_interest": schedule.total_interest, "rows": schedule.as_rows()[:12]}


def proposal_preview(proposal: AdjustmentProposal) -> dict:
    """The repayment schedule of the drawn amount under the old and the new terms (first 12 months)."""
    facility = proposal.facility
    return {"old": _preview_schedule(facility, proposal.old_rate, proposal.old_tenor_months),
            "new": _preview_schedule(facility, proposal.new_rate, proposal.new_tenor_months)}


def _pd_moves_now(assessment: RiskAssessment) -> tuple[list[dict], int | None]:
    """The PD moves of ``assessment`` and the id of the assessment they are measured against (None: it is
    the facility's first assessment, so there is nothing to compare with)."""
    previous = previous_assessment(assessment)
    return pd_moves(previous, assessment), (previous.pk if previous is not None else None)


def proposal_pd_moves(proposal: AdjustmentProposal) -> tuple[list[dict], int | None]:
    """What a proposal shows as "which inputs moved the PD": the submitted snapshot's moves (what the
    checker decides on), else the moves of its assessment now; with the id they are measured against."""
    snapshot = proposal.snapshot or {}
    if "pd_moves_against" in snapshot:
        return snapshot["pd_moves"], snapshot["pd_moves_against"]
    moves, against = _pd_moves_now(proposal.assessment)
    return (snapshot["pd_moves"] if snapshot else moves), against


def _snapshot(proposal: AdjustmentProposal, facility: Facility, assessment: RiskAssessment, inputs: dict) -> dict:
    moves, moves_against = _pd_moves_now(assessment)
    return jsonable({
        "inputs": inputs,
        "inputs_hash": inputs_hash(inputs),
        "assessment": {
            "id": assessment.pk, "created_at": assessment.created_at, "pd_model": assessment.pd_model.version,
            "pd_financial": assessment.pd_financial, "pd": assessment.pd, "grade": assessment.grade,
            "lgd": assessment.lgd, "ead": assessment.ead, "expected_loss": assessment.expected_loss,
            "capital_k": assessment.capital_k, "capital": assessment.capital, "rwa": assessment.rwa,
            "recommended_rate": assessment.recommended_rate, "recommended_limit": assessment.recommended_limit,
            "overlay": assessment.overlay, "drivers": assessment.drivers[:10], "ratios": assessment.ratios,
            "health": assessment.health, "limit_binding": assessment.limit_analysis.get("binding"),
            "terms_binding": assessment.terms_analysis.get("binding_constraints", []),
            "pricing": assessment.pricing, "covenants": assessment.covenants,
        },
        "pd_moves": moves,
        "pd_moves_against": moves_against,  # None: the facility's first assessment
        "terms": {"old": {"rate": proposal.old_rate, "limit": proposal.old_limit, "tenor_months": proposal.old_tenor_months},
                  "new": {"rate": proposal.new_rate, "limit": proposal.new_limit, "tenor_months": proposal.new_tenor_months},
                  "effective_date": proposal.effective_date},
        "preview_schedule": proposal_preview(proposal),
    })


def _is_maker(actor: User, proposal: AdjustmentProposal) -> bool:
    return actor.pk in (proposal.submitted_by_id, proposal.created_by_id)


@transaction.atomic
def adjustment_submit(*, actor: User, proposal: AdjustmentProposal) -> AdjustmentProposal:
    """Freeze the inputs (snapshot and hash) and ask for approval; the submitter is the maker."""
    proposal, facility = _lock_proposal(proposal)
    _require_officer_action(actor, facility)
    if proposal.status not in AdjustmentProposal.EDITABLE_STATUSES:
        raise _illegal(proposal, _("submitted"))
    if (proposal.old_rate, proposal.old_limit, proposal.old_tenor_months) != (facility.annual_rate, facility.limit,
                                                                              facility.tenor_months):
        raise ValidationError(_("The facility's terms changed since this proposal was drafted; re-preview it."),
                              code="stale")
    policy, model = lender_policy_for(facility.organization), pd_model_active()
    _check_new_terms(facility, policy, new_rate=proposal.new_rate, new_limit=proposal.new_limit,
                     new_tenor_months=proposal.new_tenor_months, effective_date=proposal.effective_date)
    inputs = facility_inputs(facility, policy=policy, model=model)
    digest = inputs_hash(inputs)
    if digest != proposal.assessment.inputs_hash:
        raise ValidationError(_("The inputs changed since this proposal was prepared; re-preview it first."),
                              code="stale")
    before = _proposal_state(proposal)
    proposal.snapshot = _snapshot(proposal, facility, proposal.assessment, inputs)
    proposal.snapshot_hash = state_digest(proposal.snapshot)
    proposal.inputs_hash = digest
    proposal.status = Status.SUBMITTED
    proposal.submitted_by, proposal.submitted_at = actor, timezone.now()
    proposal.required_approvals = required_approvals_for(
        policy, old_rate=proposal.old_rate, new_rate=proposal.new_rate, old_limit=proposal.old_limit,
        new_limit=proposal.new_limit, old_tenor=proposal.old_tenor_months, new_tenor=proposal.new_tenor_months)
    proposal.decision_comment = ""
    proposal.save()
    record(actor=actor, action="adjustment.submit", obj=proposal, organization=proposal.organization, before=before,
           after=_proposal_state(proposal), payload={
               **_terms_payload(proposal), "inputs_hash": digest, "snapshot_hash": proposal.snapshot_hash,
               "required_approvals": proposal.required_approvals, "pd": proposal.assessment.pd,
               "lgd": proposal.assessment.lgd, "assessment": proposal.assessment_id})
    return proposal


def _require_checker(actor: User, proposal: AdjustmentProposal, facility: Facility) -> None:
    if not actor.has_perm("lending.approve_adjustment", facility):
        raise PermissionDenied(_("You may not decide on this facility's proposals."))
    if _is_maker(actor, proposal):
        raise PermissionDenied(_("The officer who proposed an adjustment cannot decide on it (four eyes)."))


def valid_approvals(proposal: AdjustmentProposal) -> list[ProposalApproval]:
    return [a for a in proposal.approvals.select_related("approver") if a.inputs_hash == proposal.inputs_hash]


@transaction.atomic
def adjustment_approve(*, actor: User, proposal: AdjustmentProposal, comment: str = "") -> AdjustmentProposal:
    """A checker (never the maker, with ``approve_adjustment`` on the facility) approves the proposal as it was
    submitted: refused when the inputs changed since (hash mismatch) until it is re-previewed. With all the
    approvals its size needs, it is scheduled (future date) or applied (today)."""
    proposal, facility = _lock_proposal(proposal)
    _require_checker(actor, proposal, facility)
    if proposal.status != Status.SUBMITTED:
        raise _illegal(proposal, _("approved"))
    policy, model = lender_policy_for(facility.organization), pd_model_active()
    current = inputs_hash(facility_inputs(facility, policy=policy, model=model))
    if current != proposal.inputs_hash:
        raise ValidationError(_("The inputs changed since this proposal was submitted (snapshot hash %(old)s…, now "
                                "%(new)s…); it must be re-previewed before a decision.") % {
            "old": proposal.inputs_hash[:12], "new": current[:12]}, code="stale")
    if proposal.effective_date < _today():
        raise ValidationError(_("The effective date has passed; re-preview the proposal with a new date."), code="stale")
    if any(a.approver_id == actor.pk for a in valid_approvals(proposal)):
        raise ValidationError(_("You have already approved this proposal."), code="duplicate")
    ProposalApproval.objects.create(proposal=proposal, approver=actor, comment=comment.strip()[:1000],
                                    inputs_hash=proposal.inputs_hash)
    approvals = valid_approvals(proposal)
    before = _proposal_state(proposal)
    payload = {**_terms_payload(proposal), "approvals": len(approvals), "required_approvals": proposal.required_approvals,
               "inputs_hash": proposal.inputs_hash, "snapshot_hash": proposal.snapshot_hash,
               "pd": proposal.assessment.pd, **({"comment": comment.strip()} if comment.strip() else {})}
    if len(approvals) < proposal.required_approvals:
        record(actor=actor, action="adjustment.approve_first", obj=proposal, organization=proposal.organization,
               before=before, after=_proposal_state(proposal), payload=payload)
        return proposal
    proposal.status = Status.APPROVED
    proposal.decided_by, proposal.decided_at = actor, timezone.now()
    proposal.decision_comment = comment.strip()[:1000]
    proposal.save()
    record(actor=actor, action="adjustment.approve", obj=proposal, organization=proposal.organization, before=before,
           after=_proposal_state(proposal), payload=payload)
    if proposal.effective_date <= _today():
        _apply(proposal, facility, actor=actor)
    else:
        before = _proposal_state(proposal)
        proposal.status = Status.SCHEDULED
        proposal.save(update_fields=["status"])
        record(actor=actor, action="adjustment.schedule", obj=proposal, organization=proposal.organization,
               before=before, after=_proposal_state(proposal), payload=_terms_payload(proposal))
    return proposal


def _apply(proposal: AdjustmentProposal, facility: Facility, *, actor) -> None:
    before = {"facility": _facility_state(facility), "proposal": _proposal_state(proposal)}
    facility.margin_rate = proposal.new_rate - facility.base_rate
    facility.limit = proposal.new_limit
    facility.tenor_months = proposal.new_tenor_months
    facility.terms_effective_date = proposal.effective_date
    facility.last_change = proposal
    facility.save()
    proposal.status = Status.APPLIED
    proposal.applied_at = proposal.closed_at = timezone.now()
    proposal.save()
    record(actor=actor, action="adjustment.apply", obj=proposal, organization=proposal.organization, before=before,
           after={"facility": _facility_state(facility), "proposal": _proposal_state(proposal)},
           payload=_terms_payload(proposal))


@transaction.atomic
def adjustment_apply_scheduled(*, proposal_id: int) -> bool:
    proposal = AdjustmentProposal.objects.get(pk=proposal_id)
    proposal, facility = _lock_proposal(proposal)
    if proposal.status != Status.SCHEDULED or proposal.effective_date > _today():
        return False
    _apply(proposal, facility, actor=_system_actor(facility.organization))
    return True


@transaction.atomic
def adjustment_expire(*, proposal_id: int, now=None) -> bool:
    proposal = AdjustmentProposal.objects.get(pk=proposal_id)
    proposal, facility = _lock_proposal(proposal)
    if proposal.status != Status.SUBMITTED:
        return False
    _close(proposal, Status.EXPIRED, actor=_system_actor(facility.organization), action="adjustment.expire",
           payload={"submitted_at": proposal.submitted_at})
    return True


def _require_comment(comment: str) -> str:
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": _("Give a comment: the maker needs to know why.")})
    return comment[:1000]


@transaction.atomic
def adjustment_reject(*, actor: User, proposal: AdjustmentProposal, comment: str) -> AdjustmentProposal:
    proposal, facility = _lock_proposal(proposal)
    _require_checker(actor, proposal, facility)
    if proposal.status != Status.SUBMITTED:
        raise _illegal(proposal, _("rejected"))
    comment = _require_comment(comment)
    proposal.decided_by, proposal.decided_at = actor, timezone.now()
    _close(proposal, Status.REJECTED, actor=actor, action="adjustment.reject", comment=comment,
           payload={"inputs_hash": proposal.inputs_hash})
    return proposal


@transaction.atomic
def adjustment_return(*, actor: User, proposal: AdjustmentProposal, comment: str) -> AdjustmentProposal:
    """Send a submitted proposal back to its maker (it can be re-previewed and submitted again)."""
    proposal, facility = _lock_proposal(proposal)
    _require_checker(actor, proposal, facility)
    if proposal.status != Status.SUBMITTED:
        raise _illegal(proposal, _("returned"))
    comment = _require_comment(comment)
    before = _proposal_state(proposal)
    proposal.status = Status.RETURNED
    proposal.decision_comment = comment
    proposal.save()
    record(actor=actor, action="adjustment.return", obj=proposal, organization=proposal.organization, before=before,
           after=_proposal_state(proposal), payload={**_terms_payload(proposal), "comment": comment})
    return proposal


@transaction.atomic
def adjustment_withdraw(*, actor: User, proposal: AdjustmentProposal, comment: str = "") -> AdjustmentProposal:
    """The maker takes the proposal back before a decision (a system draft: any of the lender's officers)."""
    proposal, facility = _lock_proposal(proposal)
    _require_officer_action(actor, facility)
    if proposal.status not in (Status.DRAFT, Status.RETURNED, Status.SUBMITTED):
        raise _illegal(proposal, _("withdrawn"))
    maker = proposal.submitted_by_id or proposal.created_by_id
    if maker is not None and maker != actor.pk:
        raise PermissionDenied(_("Only the officer who made the proposal can withdraw it."))
    _close(proposal, Status.WITHDRAWN, actor=actor, action="adjustment.withdraw", comment=(comment or "").strip())
    return proposal


@transaction.atomic
def adjustment_repreview(*, actor: User, proposal: AdjustmentProposal) -> AdjustmentProposal:
    """Rebase the proposal on the facility's current inputs: a fresh assessment, the current terms as the old
    ones, an effective date no earlier than today; a submitted proposal gets a new snapshot and hash, the
    officer who re-previews becomes a maker of it (beside whoever drafted it: neither may decide on it), and
    approvals given before no longer count."""
    proposal, facility = _lock_proposal(proposal)
    _require_officer_action(actor, facility)
    if proposal.status not in (Status.DRAFT, Status.RETURNED, Status.SUBMITTED):
        raise _illegal(proposal, _("re-previewed"))
    before = _proposal_state(proposal)
    assessment = _fresh_assessment(facility, actor=actor, trigger=ReviewTrigger.REPREVIEW)
    policy, model = lender_policy_for(facility.organization), pd_model_active()
    proposal.assessment = assessment
    proposal.old_rate, proposal.old_limit, proposal.old_tenor_months = (facility.annual_rate, facility.limit,
                                                                        facility.tenor_months)
    proposal.effective_date = max(proposal.effective_date, _today())
    proposal.inputs_hash = assessment.inputs_hash
    proposal.required_approvals = required_approvals_for(
        policy, old_rate=proposal.old_rate, new_rate=proposal.new_rate, old_limit=proposal.old_limit,
        new_limit=proposal.new_limit, old_tenor=proposal.old_tenor_months, new_tenor=proposal.new_tenor_months)
    if proposal.status == Status.SUBMITTED:
        inputs = facility_inputs(facility, policy=policy, model=model)
        proposal.snapshot = _snapshot(proposal, facility, assessment, inputs)
        proposal.snapshot_hash = state_digest(proposal.snapshot)
        proposal.inputs_hash = inputs_hash(inputs)
        proposal.submitted_by, proposal.submitted_at = actor, timezone.now()
    proposal.save()
    record(actor=actor, action="adjustment.repreview", obj=proposal, organization=proposal.organization, before=before,
           after=_proposal_state(proposal), payload={
               **_terms_payload(proposal), "old_inputs_hash": before["inputs_hash"],
               "inputs_hash": proposal.inputs_hash, "assessment": assessment.pk, "pd": assessment.pd})
    return proposal
