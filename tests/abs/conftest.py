"""ABS test data: lender A with four borrowers and five assessed facilities (one on a press whose health it sees,
at alarm level 1), lender B with one facility of its own; built through the services (grants and audit real)."""
from __future__ import annotations

import datetime as dt

import pytest

from lending import services
from tests.factories import OrganizationFactory
from tests.lending import factories as f

SECTORS = ("Automotive stamping", "Appliances", "Automotive stamping", "White goods")
# Small, fast structures: three tranches tiling [0, 1].
STRUCTURE = {
    "tranches": [{"name": "A", "attachment": 0.30, "detachment": 1.0, "coupon": 0.04},
                 {"name": "B", "attachment": 0.15, "detachment": 0.30, "coupon": 0.07},
                 {"name": "Equity", "attachment": 0.0, "detachment": 0.15}],
    "waterfall": "sequential", "senior_fee_rate": 0.002,
    "reserve": {"target_fraction": 0.01, "floor_fraction": 0.005, "initial_fraction": 0.01},
    "oc": {"A": 1.10}, "assumptions": {"cpr": 0.05, "recovery_lag_months": 6, "correlation": 0.2},
}


def _borrower(world, enterprise, sector, lender=None, officer=None):
    return services.borrower_create(actor=officer or world.lender_a_officer, lender=lender or world.lender_a,
                                    enterprise=enterprise, established_on=dt.date(2008, 5, 1), sector=sector)


@pytest.fixture
def abs_world(world):
    return make_abs_credit(world)


def make_abs_credit(w):
    """Adds the ABS credit data to a world (also used by the browser test, which builds its world itself)."""
    enterprises = [w.ent_a, w.ent_b, OrganizationFactory(kind="enterprise", name="Enterprise C", slug="ent-c"),
                   OrganizationFactory(kind="enterprise", name="Enterprise D", slug="ent-d")]
    press = f.make_press(w, "Pool press")
    f.share(w, press)
    f.set_press_health(press, level=1, zs=[0.5, 1.5, 2.5])
    facilities = []
    for index, (enterprise, sector) in enumerate(zip(enterprises, SECTORS)):
        borrower = _borrower(w, enterprise, sector)
        f.add_statement(w, borrower)
        facilities.append(f.make_facility(
            w, borrower, presses=[press] if index == 0 else (), reference=f"A-{index + 1}",
            drawn_amount=str(2_000_000 + 750_000 * index), limit=str(2_000_000 + 750_000 * index),
            tenor_months=36 + 12 * index, start_date=dt.date(2025, 6, 1)))
    facilities.append(f.make_facility(
        w, facilities[0].borrower, reference="A-RC", facility_type="revolving_line", repayment_kind="bullet",
        limit="1500000", drawn_amount="900000", tenor_months=24, start_date=dt.date(2025, 9, 1), covenants=[]))
    for facility in facilities:
        services.facility_assess(facility=facility, actor=w.lender_a_officer)
    other = _borrower(w, w.ent_a, "Automotive stamping", lender=w.lender_b, officer=w.lender_b_officer)
    foreign = f.make_facility(w, other, reference="B-1", officer=w.lender_b_officer)
    services.facility_assess(facility=foreign, actor=w.lender_b_officer)
    w.objects.update(facilities=facilities, foreign_facility=foreign, pool_press=press)
    return w
