"""Demo credit: borrowers, facilities with pledged presses, financial statements, the PD model, a pending
adjustment (drafted by the system after the L1-400 press's alarm, submitted by bank1_officer1, awaiting
bank1_officer2) and an applied change that Rhein Pressen's manager sees with its reason.

Idempotent: every step looks for what it would create first. Uses the presses of the health demo when they
exist (it runs first), else registers them.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from devices import services as device_services
from devices.models import Press

from . import services
from .models import AdjustmentProposal, Borrower, Facility

PRESSES = {  # (enterprise key, manager, name, make, model, tonnage)
    "l1": ("ent1", "ent1_manager", "L1-400 servo press", "Schuler", "MSD 400", "400"),
    "l2": ("ent1", "ent1_manager", "L2-250 transfer press", "Aida", "NS2-2500", "250"),
    "p630": ("ent2", "ent2_manager", "P-630 link press", "Müller Weingarten", "PKZ 630", "630"),
}

STATEMENTS = {
    "ent1": [  # Huadong Stamping Works, CNY
        {"period_start": dt.date(2024, 1, 1), "period_end": dt.date(2024, 12, 31), "revenue": "182000000",
         "ebitda": "27300000", "interest_expense": "3900000", "total_debt": "71000000", "current_assets": "64000000",
         "current_liabilities": "41000000", "cash": "12500000", "scheduled_principal": "9000000"},
        {"period_start": dt.date(2025, 1, 1), "period_end": dt.date(2025, 12, 31), "revenue": "196000000",
         "ebitda": "29800000", "interest_expense": "3700000", "total_debt": "68000000", "current_assets": "70000000",
         "current_liabilities": "43000000", "cash": "14800000", "scheduled_principal": "9500000"},
    ],
    "ent2": [  # Rhein Pressen GmbH, EUR
        {"period_start": dt.date(2025, 1, 1), "period_end": dt.date(2025, 12, 31), "revenue": "46000000",
         "ebitda": "6900000", "interest_expense": "820000", "total_debt": "17500000", "current_assets": "15500000",
         "current_liabilities": "9800000", "cash": "3100000", "scheduled_principal": "2300000"},
    ],
}


def _press(context, key: str) -> Press:
    org_key, manager, name, make, model, tonnage = PRESSES[key]
    organization = context.organizations[org_key]
    press = Press.objects.filter(organization=organization, name=name).first()
    if press is not None:
        return press
    return device_services.press_register(
        actor=context.users[manager], organization=organization, name=name, site="Plant 1", make=make, model=model,
        rated_tonnage_t=tonnage, stroke_rate_min_spm="20", stroke_rate_max_spm="80", commissioned_on=dt.date(2016, 4, 1),
        channels=[{"name": "accel_main", "kind": "acceleration", "unit": "g"}])


def _borrower(context, *, lender_key: str, officer: str, enterprise_key: str, established_on, history, sector):
    lender, enterprise = context.organizations[lender_key], context.organizations[enterprise_key]
    borrower = Borrower.objects.filter(organization=lender, enterprise=enterprise).first()
    if borrower is None:
        borrower = services.borrower_create(actor=context.users[officer], lender=lender, enterprise=enterprise,
                                            established_on=established_on, repayment_history=history, sector=sector)
    return borrower


def _facility(context, borrower: Borrower, *, officer: str, reference: str, **fields) -> Facility:
    facility = Facility.objects.filter(organization=borrower.organization, reference=reference).first()
    if facility is None:
        facility = services.facility_create(actor=context.users[officer], borrower=borrower, reference=reference,
                                            **fields)
    return facility


def _statements(context, borrower: Borrower, *, officer: str, enterprise_key: str, unit_currency: str) -> None:
    for values in STATEMENTS[enterprise_key]:
        if not borrower.financial_statements.filter(period_start=values["period_start"],
                                                    period_end=values["period_end"]).exists():
            services.financial_statement_create(actor=context.users[officer], borrower=borrower,
                                                currency=unit_currency, **values)


@transaction.atomic
def _pending_adjustment(context, facility: Facility) -> None:
    """bank1's review after the alarm: the system's draft, submitted by bank1_officer1 for bank1_officer2."""
    if facility.proposals.exists():
        return
    proposal = services.facility_review(facility_id=facility.pk, trigger="health_alarm").proposal
    if proposal is None:  # the alarm did not move the terms beyond tolerance: the officer drafts by hand
        proposal = services.adjustment_draft(
            actor=context.users["bank1_officer1"], facility=facility, new_rate=facility.annual_rate + Decimal("0.005"),
            new_limit=facility.limit, new_tenor_months=facility.tenor_months, effective_date=dt.date.today(),
            reason_code=AdjustmentProposal.Reason.HEALTH_DETERIORATION,
            message_to_borrower="Please plan the bearing replacement the health alarm advises.")
    services.adjustment_submit(actor=context.users["bank1_officer1"], proposal=proposal)


@transaction.atomic
def _applied_change(context, facility: Facility) -> None:
    """bank2 lowered Rhein Pressen's margin after a market move: drafted, submitted and approved (four eyes)."""
    if facility.proposals.exists():
        return
    proposal = services.adjustment_draft(
        actor=context.users["bank2_officer1"], facility=facility, new_rate=facility.annual_rate - Decimal("0.0025"),
        new_limit=facility.limit, new_tenor_months=facility.tenor_months, effective_date=dt.date.today(),
        reason_code=AdjustmentProposal.Reason.MARKET_RATE,
        message_to_borrower="The reference rate fell; your margin follows it.")
    proposal = services.adjustment_submit(actor=context.users["bank2_officer1"], proposal=proposal)
    services.adjustment_approve(actor=context.users["bank2_officer2"], proposal=proposal, comment="Market move.")


# Jiangnan Industrial Bank books in CNY: its budgets and caps in CNY, and its senior officers approve moves up
# to 150 bp and 15 % of the limit alone.
BANK1_POLICY = {"max_expected_loss": Decimal("1500000"), "capital_cap": Decimal("15000000"),
                "concentration_cap": Decimal("200000000"), "product_min_limit": Decimal("1000000"),
                "product_max_limit": Decimal("500000000"), "single_approval_max_rate_bps": 150,
                "single_approval_max_limit_fraction": Decimal("0.1500")}


def _bank1_policy(context) -> None:
    policy = services.lender_policy_for(context.organizations["bank1"])
    changes = {name: value for name, value in BANK1_POLICY.items() if getattr(policy, name) != value}
    if changes:
        services.lender_policy_update(actor=context.users["bank1_officer1"], policy=policy, **changes)


def seed(context) -> None:
    services.pd_model_active()
    _bank1_policy(context)
    l1, l2, p630 = _press(context, "l1"), _press(context, "l2"), _press(context, "p630")
    huadong = _borrower(context, lender_key="bank1", officer="bank1_officer1", enterprise_key="ent1",
                        established_on=dt.date(2006, 3, 1), history="all_paid_here", sector="Automotive stamping")
    equipment = _facility(
        context, huadong, officer="bank1_officer1", reference="JIB-EQ-2025-017", facility_type="equipment_loan",
        currency="CNY", limit="24000000", drawn_amount="21000000", base_rate="0.0310", margin_rate="0.0180",
        tenor_months=72, start_date=dt.date(2025, 3, 1),
        collateral=[{"press": l1, "appraised_value": "26000000", "appraised_on": dt.date(2025, 2, 10)},
                    {"press": l2, "appraised_value": "14000000", "appraised_on": dt.date(2025, 2, 10)}],
        covenants=[{"covenant_kind": "max_alarm_days", "threshold": "14"},
                   {"covenant_kind": "max_debt_to_ebitda", "threshold": "3.5"},
                   {"covenant_kind": "min_interest_cover", "threshold": "4.0"}])
    _facility(context, huadong, officer="bank1_officer1", reference="JIB-RC-2025-004", facility_type="revolving_line",
              currency="CNY", limit="8000000", drawn_amount="3500000", base_rate="0.0310", margin_rate="0.0300",
              tenor_months=24, repayment_kind="bullet", start_date=dt.date(2025, 7, 1),
              covenants=[{"covenant_kind": "min_dscr", "threshold": "1.5"}])
    _statements(context, huadong, officer="bank1_officer1", enterprise_key="ent1", unit_currency="CNY")

    rhein = _borrower(context, lender_key="bank2", officer="bank2_officer1", enterprise_key="ent2",
                      established_on=dt.date(1998, 9, 1), history="paid_duly", sector="Press shop, tier 2")
    term = _facility(
        context, rhein, officer="bank2_officer1", reference="CEF-TL-0042", facility_type="term_loan", currency="EUR",
        limit="9000000", drawn_amount="9000000", base_rate="0.0240", margin_rate="0.0315", tenor_months=60,
        start_date=dt.date(2025, 1, 15),
        collateral=[{"press": p630, "appraised_value": "11000000", "appraised_on": dt.date(2024, 12, 1)}],
        covenants=[{"covenant_kind": "max_debt_to_ebitda", "threshold": "3.5"}])
    _statements(context, rhein, officer="bank2_officer1", enterprise_key="ent2", unit_currency="EUR")

    _pending_adjustment(context, equipment)
    _applied_change(context, term)
    context.notes.append("Credit: proposal on JIB-EQ-2025-017 (after the L1-400 alarm) submitted by bank1_officer1 "
                         "awaits bank1_officer2; ent2_manager sees a lower rate under Credit → My terms.")
