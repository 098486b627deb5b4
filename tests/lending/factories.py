"""Credit test data built through the services (grants and audit events are real), and real health rows."""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from django.utils import timezone

from devices import services as device_services
from devices.models import Press, SensorBatch
from lending import services

STATEMENT = {  # one healthy year of a mid-sized stamping firm, in currency units
    "period_start": dt.date(2025, 1, 1), "period_end": dt.date(2025, 12, 31), "revenue": "40000000",
    "ebitda": "6000000", "interest_expense": "900000", "total_debt": "14000000", "current_assets": "12000000",
    "current_liabilities": "7000000", "cash": "2500000", "scheduled_principal": "1500000"}


def make_press(world, name="Line press 1", organization=None, manager=None) -> Press:
    return device_services.press_register(
        actor=manager or world.ent_a_manager, organization=organization or world.ent_a, name=name, site="Plant 1",
        make="Schuler", model="MSD 400", rated_tonnage_t="400", stroke_rate_min_spm="10", stroke_rate_max_spm="40",
        commissioned_on=dt.date(2015, 3, 1), channels=[{"name": "accel_x", "kind": "acceleration", "unit": "g"}])


def share(world, press, lender=None):
    return device_services.health_share_grant(actor=world.ent_a_manager, press=press, lender=lender or world.lender_a)


def make_borrower(world, lender=None, enterprise=None, officer=None):
    return services.borrower_create(actor=officer or world.lender_a_officer, lender=lender or world.lender_a,
                                    enterprise=enterprise or world.ent_a, established_on=dt.date(2008, 5, 1),
                                    sector="Automotive stamping")


def make_facility(world, borrower, presses=(), reference="F-001", officer=None, **overrides):
    fields = {"facility_type": "term_loan", "limit": "5000000", "drawn_amount": "5000000", "base_rate": "0.030",
              "margin_rate": "0.0250", "tenor_months": 60, "start_date": dt.date(2025, 6, 1),
              "collateral": [{"press": p, "appraised_value": "6000000", "appraised_on": dt.date(2025, 5, 1)}
                             for p in presses],
              "covenants": [{"covenant_kind": "max_alarm_days", "threshold": "7"},
                            {"covenant_kind": "max_debt_to_ebitda", "threshold": "4.0"},
                            {"covenant_kind": "min_interest_cover", "threshold": "3.0"}]}
    fields.update(overrides)
    return services.facility_create(actor=officer or world.lender_a_officer, borrower=borrower, reference=reference,
                                    **fields)


def add_statement(world, borrower, officer=None, **overrides):
    return services.financial_statement_create(actor=officer or world.lender_a_officer, borrower=borrower,
                                               **{**STATEMENT, **overrides})


def set_press_health(press: Press, *, level: int, zs: list[float], alarm_days: float = 0.0, resolved=False):
    """Write what the health app writes for a press — one batch and run per health-index value (the last one at
    ``level``, ``alarm_days`` ago), the press's state with its trend, and an alarm when ``level`` > 0: real rows
    of the health app's models, without running the signal analysis."""
    from health.models import HealthAlarm, HealthRun, PressHealthState

    now = timezone.now()
    last = now - dt.timedelta(days=alarm_days)
    trend, run = [], None
    uploader = press.organization.members.first()
    for index, z in enumerate(zs):
        at = last - dt.timedelta(hours=len(zs) - 1 - index)
        point_level = level if index == len(zs) - 1 else 0
        batch = SensorBatch.objects.create(
            press=press, organization=press.organization, uploaded_by=uploader, original_filename="test.npy",
            file_format="npy", size_bytes=1, storage_path="none", sampling_rate_hz=20000, started_at=at,
            content_hash=hashlib.sha256(f"{press.pk}-{at.isoformat()}-{z}-{now.isoformat()}".encode()).hexdigest(),
            sample_count=20000, duration_s=1.0)
        run = HealthRun.objects.create(batch=batch, press=press, organization=press.organization,
                                       channel_name="accel_x", recorded_at=at, status=HealthRun.Status.DONE,
                                       health_index=z, health_index_z=z, level=point_level,
                                       advice_key="bearing.outer_race.alarm")
        trend.append([at.isoformat(), z, point_level])
    state = PressHealthState.objects.filter(press=press).first()
    previous = state.trend if state else []
    PressHealthState.objects.update_or_create(press=press, defaults={
        "organization": press.organization, "level": level, "health_index_z": zs[-1], "last_batch": run.batch,
        "last_recorded_at": last, "trend": (previous + trend)[-50:]})
    alarm = None
    if level > 0:
        alarm = HealthAlarm.objects.create(
            press=press, organization=press.organization, channel_name="accel_x", run=run, level=level,
            component="bearing", fault="outer_race", fault_label="BPFO", advice_key="bearing.outer_race.alarm",
            raised_at=last, first_raised_at=last,
            status=HealthAlarm.Status.RESOLVED if resolved else HealthAlarm.Status.OPEN)
    return alarm


def strict_policy(lender, **fields):
    from lending.models import LenderPolicy

    policy = services.lender_policy_for(lender)
    LenderPolicy.objects.filter(pk=policy.pk).update(**fields)
    return LenderPolicy.objects.get(pk=policy.pk)


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
