"""Tabular federated learning in one process (no database): German credit split across three lenders by
purpose, and simulated production records of three enterprises with different product mixes."""
from __future__ import annotations

import numpy as np
import pytest

from federation.core.messages import TrainingConfig
from federation.core.simulation import run_in_process
from federation.core.specs import MLPSpec
from federation.core.strategies import FedAvg, FedMA
from federation.core.tabular import (TabularDataError, holdout_split, linear_coefficients, parse_csv,
                                     regression_metrics, training_arrays)
from federation.core.tabular_schemas import (LOAN_BOOK, PRODUCTION, THREE_LENDER_PURPOSES, german_credit_csv,
                                             german_credit_split_by_purpose, production_csv, simulate_production)
from federation.core.training import initial_weights, predict_probabilities, predict_values, train_local
from lending.core.validation import roc_auc
from tests.conftest import shared_data_path



def _lender_sets():
    from lending.core.german_credit import load_german_credit

    german = shared_data_path("credit", "german.data")
    parts = german_credit_split_by_purpose(load_german_credit(german), THREE_LENDER_PURPOSES)
    train, hold = {}, {}
    for name, part in parts.items():
        features, labels = training_arrays(LOAN_BOOK, parse_csv(german_credit_csv(part), LOAN_BOOK), "defaulted")
        rows, held = holdout_split(labels, fraction=0.3, seed=1, binary=True)
        train[name], hold[name] = (features[rows], labels[rows]), (features[held], labels[held])
    return train, hold


def test_federated_pd_on_non_iid_lenders_matches_central_and_beats_every_local_model():
    train, hold = _lender_sets()
    purposes = [set(np.flatnonzero(x[:, 13:24].sum(axis=0))) for x, _y in train.values()]
    assert not purposes[0] & purposes[1] and not purposes[1] & purposes[2] and not purposes[0] & purposes[2]
    pooled_x = np.vstack([h[0] for h in hold.values()])
    pooled_y = np.concatenate([h[1] for h in hold.values()])
    spec = MLPSpec(LOAN_BOOK.encoded_width, (), 2)
    config = TrainingConfig(epochs=5, learning_rate=0.02, batch_size=32)
    strategy = FedAvg(rounds=10, training=config, seed=0)
    state, _records = run_in_process(strategy, strategy.start(sorted(train), spec), train)
    federated = roc_auc(pooled_y, predict_probabilities(spec, state.global_weights, pooled_x)[:, 1])

    long = TrainingConfig(epochs=50, learning_rate=0.02, batch_size=32)
    all_x = np.vstack([t[0] for t in train.values()])
    all_y = np.concatenate([t[1] for t in train.values()])
    central_weights, _ = train_local(spec, initial_weights(spec, 0), all_x, all_y, config=long, seed=0)
    central = roc_auc(pooled_y, predict_probabilities(spec, central_weights, pooled_x)[:, 1])
    local = {}
    for name, (x, y) in train.items():
        weights, _ = train_local(spec, initial_weights(spec, 0), x, y, config=long, seed=0)
        local[name] = roc_auc(pooled_y, predict_probabilities(spec, weights, pooled_x)[:, 1])
    print(f"PD AUC on the pooled hold-out: federated {federated:.4f}, central {central:.4f}, local {local}")
    assert abs(federated - central) <= 0.02
    assert all(federated > value for value in local.values())


def test_fedma_mlp_pd_model_beats_every_local_model():
    train, hold = _lender_sets()
    pooled_x = np.vstack([h[0] for h in hold.values()])
    pooled_y = np.concatenate([h[1] for h in hold.values()])
    spec = MLPSpec(LOAN_BOOK.encoded_width, (8,), 2)
    config = TrainingConfig(epochs=5, learning_rate=0.01, batch_size=32)
    strategy = FedMA(passes=3, training=config, seed=0, restart="global")
    state, _records = run_in_process(strategy, strategy.start(sorted(train), spec), train)
    federated = roc_auc(pooled_y, predict_probabilities(state.global_spec, state.global_weights, pooled_x)[:, 1])
    long = TrainingConfig(epochs=30, learning_rate=0.01, batch_size=32)
    for x, y in train.values():
        weights, _ = train_local(spec, initial_weights(spec, 0), x, y, config=long, seed=0)
        assert federated > roc_auc(pooled_y, predict_probabilities(spec, weights, pooled_x)[:, 1])


def _enterprise_sets(target: str):
    train, hold = {}, {}
    for index, (name, heavy) in enumerate((("light", 0.1), ("mixed", 0.5), ("heavy", 0.9))):
        records = simulate_production(periods=60, heavy_share=heavy, seed=index, co2_measured_share=0.8)
        features, values = training_arrays(PRODUCTION, parse_csv(production_csv(records), PRODUCTION), target)
        rows, held = holdout_split(values, fraction=0.25, seed=1, binary=False)
        train[name], hold[name] = (features[rows], values[rows]), (features[held], values[held])
    return train, hold


@pytest.mark.parametrize("target", ["energy_mwh", "co2_t"])
def test_federated_regression_r2_matches_the_central_least_squares_fit(target):
    train, hold = _enterprise_sets(target)
    unit = PRODUCTION.target(target)
    pooled_x = np.vstack([h[0] for h in hold.values()])
    actual = np.concatenate([h[1] for h in hold.values()]) * unit.scale + unit.centre
    spec = MLPSpec(PRODUCTION.encoded_width, (), 1)
    config = TrainingConfig(epochs=5, learning_rate=0.05, batch_size=16, loss="mse")
    strategy = FedAvg(rounds=20, training=config, seed=0)
    state, _records = run_in_process(strategy, strategy.start(sorted(train), spec), train)
    federated = regression_metrics(actual, predict_values(spec, state.global_weights, pooled_x) * unit.scale
                                   + unit.centre)["r2"]
    # Centralised: ordinary least squares on all training rows together (the exact optimum).
    all_x = np.vstack([t[0] for t in train.values()])
    all_y = np.concatenate([t[1] for t in train.values()])
    design = np.hstack([all_x, np.ones((len(all_x), 1))])
    beta = np.linalg.lstsq(design, all_y, rcond=None)[0]
    central = regression_metrics(actual, np.hstack([pooled_x, np.ones((len(pooled_x), 1))]) @ beta * unit.scale
                                 + unit.centre)["r2"]
    print(f"{target} R^2 on the pooled hold-out: federated {federated:.4f}, central {central:.4f}")
    assert abs(federated - central) <= 0.02
    coefficients = linear_coefficients(PRODUCTION, target, state.global_weights)
    assert [row["unit"] for row in coefficients["rows"]][:2] == [f"{unit.unit} / t", f"{unit.unit} / t"]
    if target == "energy_mwh":  # the simulator's 0.30 MWh per tonne of output, 0.10 MWh per operating hour
        by_name = {row["feature"]: row["coefficient"] for row in coefficients["rows"]}
        assert by_name["operating_hours"] == pytest.approx(0.10, abs=0.04)


def test_schema_mismatch_names_the_missing_columns():
    text = "output,material_t,line_load_pct,operating_hours,energy_mwh\n1,2,3,4,5\n"
    with pytest.raises(TabularDataError) as caught:
        parse_csv(text, PRODUCTION)
    assert caught.value.code == "schema_mismatch"
    assert "output_t" in caught.value.message and "output" in caught.value.message
    table = parse_csv(text, PRODUCTION, {"output_t": "output"})  # mapped, it fits; CO2 is optional
    assert table.rows == 1 and np.isnan(table.targets["co2_t"][0])


def test_bad_rows_are_listed_by_line_and_nothing_is_returned():
    text = ("output_t,material_t,line_load_pct,operating_hours,energy_mwh,co2_t\n"
            "100,110,70,500,300,\n"
            "abc,110,70,500,300,\n"
            "100,110,70,500\n"
            "100,110,70,500,-3,\n")
    with pytest.raises(TabularDataError) as caught:
        parse_csv(text, PRODUCTION)
    assert caught.value.code == "bad_rows"
    assert [line for line, _message in caught.value.details] == [3, 4, 5]
    assert "line 3: output_t: 'abc' is not a number" in caught.value.message


def test_unknown_category_and_bad_default_flag_are_bad_rows():
    header = ",".join((*LOAN_BOOK.columns(),))
    good = "A11,12,A32,A43,1000,A61,A73,2,A121,A143,0"
    with pytest.raises(TabularDataError) as caught:
        parse_csv(f"{header}\n{good}\n{good.replace('A43', 'A99')}\n{good[:-1]}maybe\n", LOAN_BOOK)
    assert [line for line, _m in caught.value.details] == [3, 4]
