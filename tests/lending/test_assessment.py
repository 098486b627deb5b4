"""Risk assessment as the services compute it: hand-computed EAD, LGD, IRB capital, risk-based rate and limit,
the health overlay, and health that is not shared never entering (or leaking into) an assessment."""
import math
from decimal import Decimal

import pytest
from scipy.special import expit, logit
from scipy.stats import norm

from devices import services as device_services
from lending import services
from lending.core.grades import pd_to_grade
from lending.models import Covenant
from tests.lending import factories as f

pytestmark = pytest.mark.django_db


def basel_k(pd, lgd, maturity, sales_eur_m):
    """Basel II para. 272-273 written out by hand (PD floored at 0.03 %)."""
    pd = max(pd, 0.0003)
    w = (1 - math.exp(-50 * pd)) / (1 - math.exp(-50))
    r = 0.12 * w + 0.24 * (1 - w) - 0.04 * (1 - (min(max(sales_eur_m, 5), 50) - 5) / 45)
    b = (0.11852 - 0.05478 * math.log(pd)) ** 2
    conditional = norm.cdf(norm.ppf(pd) / math.sqrt(1 - r) + math.sqrt(r / (1 - r)) * norm.ppf(0.999))
    return (lgd * conditional - pd * lgd) * (1 + (maturity - 2.5) * b) / (1 - 1.5 * b)


@pytest.fixture
def one_press(world):
    press = f.make_press(world, "Press 1")
    f.share(world, press)
    borrower = f.make_borrower(world)
    f.add_statement(world, borrower)
    facility = f.make_facility(world, borrower, presses=[press], drawn_amount="4000000", covenants=[])
    return press, facility


def test_hand_computed_ead_lgd_capital_rate_and_limit(one_press):
    press, facility = one_press
    a = services.facility_assess(facility=facility, actor=None)
    ead = 4_000_000 + 0.75 * 1_000_000
    assert a.ead == f.money(ead)
    covered = 6_000_000 * (1 - 0.40)  # level 0: the F-IRB 40 % haircut
    lgd = (0.25 * covered + 0.45 * (ead - covered)) / ead
    assert a.lgd == pytest.approx(lgd) == pytest.approx(0.2984210526)
    maturity = (60 + 1) / 24  # annuity over 60 months
    k = basel_k(a.pd, lgd, maturity, sales_eur_m=40.0)
    assert a.capital_k == pytest.approx(k, rel=1e-9)
    assert a.capital == f.money(k * ead) and a.rwa == f.money(12.5 * k * ead)
    assert a.expected_loss == f.money(a.pd * lgd * ead)
    rate = 0.030 + a.pd * lgd + k * (0.120 - 0.025) + 0.005 + 0.005
    assert a.pricing["rate"] == pytest.approx(rate)
    assert a.recommended_rate == round(rate / 0.0005) * Decimal("0.0005")  # 5 bp steps
    # Ratios of the 2025 statement, annual already.
    assert a.ratios["dscr"] == pytest.approx(6_000_000 / 2_400_000)
    assert a.ratios["debt_to_ebitda"] == pytest.approx(14 / 6)
    assert a.ratios["interest_cover"] == pytest.approx(6 / 0.9)
    # Limit: cash flow after expected downtime (2 % failure chance at level 0), at DSCR 1.25.
    lost = 0.02 * (40_000_000 * 0.2 * 10 / 250 * 0.3)
    cash_flow = 6_000_000 - lost
    r = 0.055 / 12  # the facility's rate: base 3 % + margin 2.5 %
    own_service = 12 * 4_000_000 * r / (1 - (1 + r) ** -60)
    affordable_monthly = (cash_flow / 1.25 - (2_400_000 - own_service)) / 12
    capacity = affordable_monthly * (1 - (1 + r) ** -60) / r
    candidates = a.limit_analysis["candidates"]
    assert candidates["cash_flow_capacity"] == pytest.approx(capacity, rel=1e-9)
    assert candidates["collateral_advance_value"] == pytest.approx(covered)
    assert candidates["expected_loss_budget"] == pytest.approx(150_000 / (a.pd * lgd))
    assert candidates["capital_allocation"] == pytest.approx(1_500_000 / k)
    assert a.limit_analysis["binding"] == "collateral_advance_value"
    # The limit the collateral supports (3.6 M) is below the drawn 4 M: the limit is held at the drawn amount.
    assert a.recommended_limit == f.money(4_000_000)
    assert a.limit_analysis["below_drawn"] is True


def test_an_alarm_on_a_shared_press_raises_pd_by_the_capped_overlay_and_lgd_by_the_haircut(one_press):
    press, facility = one_press
    before = services.facility_assess(facility=facility, actor=None)
    f.set_press_health(press, level=2, zs=[1.0, 3.0, 5.0, 6.5, 7.0], alarm_days=2)
    after = services.facility_assess(facility=facility, actor=None)
    smoothed = 1.0
    for z in (3.0, 5.0, 6.5, 7.0):
        smoothed = 0.3 * z + 0.7 * smoothed
    assert after.overlay["applied"] and after.overlay["z_smoothed"] == pytest.approx(smoothed)
    assert after.overlay["logit_shift"] == pytest.approx(0.15 * smoothed)
    uncapped = float(expit(logit(before.pd_financial) + 0.15 * smoothed))
    assert after.overlay["pd_uncapped"] == pytest.approx(uncapped)
    assert pd_to_grade(after.pd) <= pd_to_grade(before.pd_financial) + 1  # at most one grade per review
    assert after.pd == pytest.approx(uncapped) or after.overlay["capped"]
    ead = 4_750_000
    covered = 6_000_000 * (1 - 0.60)  # level 2: 60 % haircut
    assert after.lgd == pytest.approx((0.25 * covered + 0.45 * (ead - covered)) / ead)
    assert after.pd > before.pd and after.lgd > before.lgd and after.pricing["rate"] > before.pricing["rate"]
    press_health = after.health[0]
    assert press_health["shared"] and press_health["alarm_level"] == 2 and press_health["trend"] == "deteriorating"
    assert press_health["open_alarm"]["fault_label"] == "BPFO"
    assert after.pricing["downtime"][0]["failure_probability"] == 0.15


def test_health_that_is_not_shared_is_absent_and_cannot_move_the_assessment(world):
    private = f.make_press(world, "Private press")
    borrower = f.make_borrower(world)
    f.add_statement(world, borrower)
    facility = f.make_facility(world, borrower, presses=[private])
    first = services.facility_review(facility_id=facility.pk, trigger="manual").assessment
    f.set_press_health(private, level=3, zs=[2.0, 8.0, 12.0], alarm_days=30)
    outcome = services.facility_review(facility_id=facility.pk, trigger="health_alarm")
    assert outcome.skipped == "inputs unchanged since the latest assessment"
    second = services.facility_assess(facility=facility, actor=None)
    for assessment in (first, second):
        assert assessment.health == [{
            "press_id": private.pk, "press_name": "Private press", "shared": False, "health_index_z": None,
            "health_index_z_smoothed": None, "alarm_level": None, "trend": None, "persistent_move": 0,
            "open_alarm": None, "alarm_days": None, "failure_risk": None, "prediction": None, "last_reading_at": None}]
        assert not assessment.health_shared and not assessment.overlay["applied"]
        assert assessment.pricing["condition_levels"] == [1]  # unknown condition: haircut as "watch"
    assert second.pd == first.pd and second.lgd == first.lgd
    alarm_covenant = facility.covenants.get(covenant_kind="max_alarm_days")
    assert alarm_covenant.status == Covenant.CovenantStatus.NOT_TESTED and alarm_covenant.note == "health not shared"
    assert "12.0" not in str(second.inputs) and "level" not in str(second.inputs["health"])


def test_revoking_the_share_removes_the_health_from_the_next_assessment(one_press, world):
    press, facility = one_press
    f.set_press_health(press, level=2, zs=[1.0, 4.0, 6.0, 7.0])
    shared = services.facility_assess(facility=facility, actor=None)
    assert shared.health[0]["alarm_level"] == 2
    device_services.health_share_revoke(actor=world.ent_a_manager, share=press.health_shares.get())
    hidden = services.facility_assess(facility=facility, actor=None)
    assert hidden.health[0]["shared"] is False and hidden.health[0]["alarm_level"] is None
    assert hidden.inputs_hash != shared.inputs_hash


def test_alarm_longer_than_the_covenant_allows_flags_the_facility_and_lifts_the_cap(credit):
    w = credit
    services.facility_review(facility_id=w.facility.pk, trigger="manual")
    f.set_press_health(w.shared_press, level=2, zs=[1.0, 4.0, 7.0, 9.0, 11.0], alarm_days=10)
    outcome = services.facility_review(facility_id=w.facility.pk, trigger="health_alarm")
    facility = type(w.facility).objects.get(pk=w.facility.pk)
    assert facility.covenant_breached and facility.flagged_at is not None
    covenant = facility.covenants.get(covenant_kind="max_alarm_days")
    assert covenant.status == "breached" and float(covenant.last_value) == pytest.approx(10, abs=0.01)
    assert outcome.assessment.overlay["cap_lifted_by_covenant"] is True
    assert outcome.assessment.pd == pytest.approx(outcome.assessment.overlay["pd_uncapped"])
    assert outcome.proposal is not None and outcome.proposal.reason_code == "covenant_breach"
    assert outcome.proposal.reason_facts["covenants"] == ["max_alarm_days"]


def test_financial_covenants_are_tested_on_the_latest_statement(world):
    borrower = f.make_borrower(world)
    f.add_statement(world, borrower, total_debt="30000000", ebitda="6000000", interest_expense="2500000")
    facility = f.make_facility(world, borrower)
    services.facility_assess(facility=facility, actor=None)
    statuses = dict(facility.covenants.values_list("covenant_kind", "status"))
    assert statuses == {"max_debt_to_ebitda": "breached", "min_interest_cover": "breached",
                        "max_alarm_days": "not_tested"}
    assert type(facility).objects.get(pk=facility.pk).covenant_breached
