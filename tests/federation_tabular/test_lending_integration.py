"""A lender that adopted a federated PD model as its PD model gets its facilities' financial PD from it
(calibrated to the portfolio's default rate); a challenger changes nothing; other lenders are untouched."""
from __future__ import annotations

import pytest
from scipy.special import expit, logit

from federation.core.tabular import encode_record
from federation.core.tabular_schemas import LOAN_BOOK
from lending import pd_model, services
from lending.federated_pd import federated_pd_adopt, federated_pd_for

from tests.lending.conftest import credit  # noqa: F401  (the lending fixture: lender A finances enterprise A)

from .builders import finished_synthetic_pd_task

pytestmark = pytest.mark.django_db


def test_encode_record_leaves_missing_features_neutral():
    applicant = {"checking_account_status": None, "duration_months": 24.0, "credit_history": "A32",
                 "purpose": "A49", "credit_amount_dm": float("nan"), "savings_account": "A99"}
    encoded = encode_record(LOAN_BOOK, applicant)
    assert encoded.shape == (LOAN_BOOK.encoded_width,)
    assert encoded.sum() == 3  # duration bin, credit history, purpose; missing and unknown stay at zero
    assert encoded[4 + 1] == 1  # 12 < duration <= 24


def test_adopted_champion_sets_the_financial_pd_and_a_challenger_does_not(credit):
    world = credit
    facility = world.facility
    before = services.facility_assess(facility=facility, actor=None)
    task = finished_synthetic_pd_task(world)
    final = task.versions.get(is_final=True)
    federated_pd_adopt(actor=world.lender_a_officer, version=final, role="challenger")
    assert services.facility_assess(facility=facility, actor=None).pd_financial == pytest.approx(before.pd_financial)

    adoption = federated_pd_adopt(actor=world.lender_a_officer, version=final, role="champion")
    after = services.facility_assess(facility=facility, actor=None)
    model = services.pd_model_active()
    target = model.calibration["target_default_rate"]
    result = federated_pd_for(organization=world.lender_a, applicant={}, target_default_rate=target)
    assert result["version"] == final.sha256 and 0 < result["pd"] < 1
    shift = pd_model.prior_correction_shift(adoption.validation["default_rate"], target)
    assert after.pd_financial != pytest.approx(before.pd_financial)
    assert 0 < after.pd_financial < 1
    # The calibration is the scorecard's prior correction applied to the federated model's sample PD.
    sample = federated_pd_for(organization=world.lender_a, applicant={}, target_default_rate=target)["pd_sample"]
    assert result["pd"] == pytest.approx(float(expit(logit(sample) - shift)))
    assert federated_pd_for(organization=world.lender_b, applicant={}, target_default_rate=target) is None
    assert "federated_pd_model" in services.facility_inputs(facility)
