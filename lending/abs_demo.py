"""Demo ABS: bank1's facilities pooled, tranched (senior / mezzanine / equity) and simulated (20,000 scenarios, so
the demo seeds fast), as bank1_officer1. Idempotent: every step looks for what it would create first. Runs after
the credit demo (``lending.demo``), whose facilities it pools; without them it only leaves a note."""
from __future__ import annotations

from . import abs_services, services
from .abs_models import AssetPool, CapitalStructure, SimulationRun
from .models import Facility

POOL_NAME = "Jiangnan press-equipment pool 2026-1"
STRUCTURE_NAME = "JIB Press ABS 2026-1"
SCENARIOS = 20_000
SEED = 2026
STRUCTURE = {
    "tranches": [{"name": "Class A", "attachment": 0.40, "detachment": 1.0, "coupon": 0.035},
                 {"name": "Class B", "attachment": 0.15, "detachment": 0.40, "coupon": 0.06},
                 {"name": "Equity", "attachment": 0.0, "detachment": 0.15, "coupon": 0.0}],
    "waterfall": "sequential", "senior_fee_rate": 0.004,
    "reserve": {"target_fraction": 0.01, "floor_fraction": 0.005, "initial_fraction": 0.01},
    "oc": {"Class A": 1.08},
    "assumptions": {"cpr": 0.05, "recovery_lag_months": 6, "correlation": 0.18},
}


def seed(context) -> None:
    lender, officer = context.organizations.get("bank1"), context.users.get("bank1_officer1")
    if lender is None or officer is None:
        context.notes.append("ABS: no bank1 or bank1_officer1 in the demo; no tranched pool seeded.")
        return
    pool = AssetPool.objects.filter(organization=lender, name=POOL_NAME).order_by("-version").first()
    if pool is None:
        facilities = list(Facility.objects.filter(organization=lender, status=Facility.FacilityStatus.ACTIVE,
                                                  drawn_amount__gt=0).order_by("reference"))
        if not facilities:
            context.notes.append("ABS: bank1 has no facilities yet (the credit demo makes them); no tranched pool "
                                 "seeded.")
            return
        for facility in facilities:  # the pool's PD and LGD come from each facility's latest assessment
            if not facility.assessments.exists():
                services.facility_assess(facility=facility, actor=officer)
        pool = abs_services.pool_create(actor=officer, name=POOL_NAME, facility_ids=[f.pk for f in facilities],
                                        description="bank1's stamping-press loans, for the ABS demo")
    structure = CapitalStructure.objects.filter(organization=lender, name=STRUCTURE_NAME).order_by("-version").first()
    if structure is None:
        structure = abs_services.structure_create(actor=officer, pool=pool, name=STRUCTURE_NAME, definition=STRUCTURE)
    run = SimulationRun.objects.filter(structure=structure, kind=SimulationRun.Kind.SIMULATION,
                                       status=SimulationRun.Status.DONE).first()
    if run is None:
        run = abs_services.run_request(actor=officer, pool=pool, structure=structure, scenarios=SCENARIOS, seed=SEED)
        abs_services.simulation_run_execute(run_id=run.pk)  # in-process, so the demo opens on finished results
        run.refresh_from_db()
    context.notes.append(f"ABS: bank1_officer1 sees pool “{POOL_NAME}” tranched as {STRUCTURE_NAME} with a finished "
                         f"simulation (run #{run.pk}, {SCENARIOS:,} scenarios) under ABS.")
