"""The PD model as the services store it: trained on the German credit data, validated on a held-out split."""
import json
import math

import numpy as np
import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from lending import pd_model, services
from lending.core.german_credit import load_german_credit
from lending.core.scorecard import Scorecard
from lending.core.validation import ks_statistic, roc_auc, stratified_split
from lending.models import PdModel
from tests.conftest import shared_data_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def german_path():
    return shared_data_path("credit", "german.data")


def test_stored_model_reaches_auc_075_on_the_held_out_split(german_path):
    model = services.pd_model_train(data_path=german_path)
    validation = model.validation
    assert validation["auc"] >= 0.75, validation["auc"]
    assert validation["test_size"] == 300 and validation["train_size"] == 700
    # The figures are the stored model's own: recompute them from the stored scorecard and the same split.
    data = load_german_credit(german_path)
    _train, test_index = stratified_split(data.defaulted, validation["test_fraction"], seed=validation["split_seed"])
    test = data.subset(test_index)
    predicted = Scorecard.from_dict(model.scorecard).predict_pd(test.columns)
    assert roc_auc(test.defaulted, predicted) == pytest.approx(validation["auc"])
    assert ks_statistic(test.defaulted, predicted) == pytest.approx(validation["ks"])
    assert validation["gini"] == pytest.approx(2 * validation["auc"] - 1)
    assert sum(row["count"] for row in validation["calibration"]) == 300
    assert validation["auc_other_splits_mean"] >= 0.75
    assert model.is_active and model.data_sha256 == pd_model.file_sha256(german_path)
    assert AuditEvent.objects.filter(action="pd_model.train", object_id=str(model.pk)).count() == 1


def test_protected_and_personal_attributes_are_not_in_the_model(german_path):
    model = services.pd_model_train(data_path=german_path)
    names = {variable["name"] for variable in model.scorecard["variables"]}
    assert names <= {name for name, *_ in pd_model.VARIABLES}
    assert not names & {"personal_status_sex", "foreign_worker", "age_years", "telephone", "job", "housing"}


def test_calibration_moves_pds_to_the_long_run_rate_without_changing_the_ranking(german_path):
    model = services.pd_model_train(data_path=german_path)
    shift = model.calibration["log_odds_good_shift"]
    assert shift == pytest.approx(math.log((0.3 / 0.7) / (0.02 / 0.98)), rel=0.01)
    data = load_german_credit(german_path)
    scorecard = Scorecard.from_dict(model.scorecard)
    sample_pd = scorecard.predict_pd(data.columns)
    calibrated = 1 / (1 + np.exp(scorecard.log_odds_good(data.columns) + shift))
    assert np.all(np.argsort(sample_pd, kind="stable") == np.argsort(calibrated, kind="stable"))
    assert 0.005 < float(np.median(calibrated)) < 0.05


def test_command_trains_and_a_second_training_supersedes_the_first(german_path, capsys):
    call_command("lending_train_pd_model", "--data", str(german_path))
    assert "held-out AUC" in capsys.readouterr().out
    call_command("lending_train_pd_model", "--data", str(german_path))
    assert list(PdModel.objects.values_list("version", "is_active")) == [(2, True), (1, False)]


def test_command_refuses_a_missing_file(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not at"):
        call_command("lending_train_pd_model", "--data", str(tmp_path / "absent.data"))


def test_committed_fallback_is_exactly_the_training_on_the_data(german_path):
    """The fallback (for machines without ../shared/data) must not drift from the real training."""
    fresh = pd_model.train_pd_model(german_path)
    fallback = json.loads(services.FALLBACK_MODEL_PATH.read_text())
    for stored, trained in zip(fallback["scorecard"]["variables"], fresh["scorecard"]["variables"], strict=True):
        assert (stored["name"], stored["edges"], stored["category_groups"]) == (
            trained["name"], trained["edges"], trained["category_groups"])
        assert stored["woe"] == pytest.approx(trained["woe"], rel=1e-9)
    assert fallback["scorecard"]["coefficients"] == pytest.approx(fresh["scorecard"]["coefficients"], rel=1e-6)
    assert fallback["scorecard"]["intercept"] == pytest.approx(fresh["scorecard"]["intercept"], rel=1e-6)
    assert fallback["validation"]["auc"] == pytest.approx(fresh["validation"]["auc"], abs=1e-9)
    assert fallback["data_sha256"] == fresh["data_sha256"]


def test_firm_proxies_map_ratios_to_scorecard_codes():
    values = pd_model.applicant_values(pd_model.FirmProfile(
        tenor_months=60, facility_type="equipment_loan", repayment_history="past_delays", years_in_business=5.2,
        collateral_coverage=1.2, current_ratio=0.8, cash_ratio=0.2, debt_to_ebitda=3.5, dscr=1.1,
        debt_at_other_lenders=False))
    assert values == {"duration_months": 60.0, "credit_history": "A33", "purpose": "A42", "employment_since": "A74",
                      "property": "A122", "checking_account_status": "A11", "savings_account": "A63",
                      "credit_amount_dm": 3500.0, "instalment_rate_pct_income": 4.0, "other_instalment_plans": "A143"}
    unknown = pd_model.applicant_values(pd_model.FirmProfile(
        tenor_months=12, facility_type="revolving_line", repayment_history="paid_duly", years_in_business=0.5,
        collateral_coverage=0.0, debt_to_ebitda=math.inf))
    assert unknown["checking_account_status"] is None and math.isnan(unknown["instalment_rate_pct_income"])
    assert unknown["credit_amount_dm"] == pd_model.NO_EBITDA_LEVERAGE_AMOUNT and unknown["property"] == "A124"


def test_without_the_data_folder_the_committed_fallback_is_stored(monkeypatch, tmp_path):
    monkeypatch.setattr(services, "german_credit_path", lambda: tmp_path / "absent" / "german.data")
    model = services.pd_model_active()
    assert "committed fallback" in model.data_source and model.validation["auc"] >= 0.75
    assert model.version == 1 and services.pd_model_active() == model
