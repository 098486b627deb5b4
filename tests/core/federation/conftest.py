"""Shared fixtures: the CWRU health-feature set (read once per session) and client splits."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from tests.conftest import shared_data_path
from federation.core.datasets import (
    cwru_feature_set,
    iid_split,
    non_iid_split,
    standardise,
    stratified_split,
)



@dataclass(frozen=True)
class FederatedSplit:
    clients: dict[str, tuple[np.ndarray, np.ndarray]]
    test: tuple[np.ndarray, np.ndarray]
    train: tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="session")
def cwru_standardised():
    data = cwru_feature_set(shared_data_path("cwru"))
    train, test = stratified_split(data.labels, test_fraction=0.25, seed=0)
    train_x, test_x = standardise(data.features[train], data.features[test])
    return train_x, data.labels[train], test_x, data.labels[test]


def _split(cwru_standardised, parts) -> FederatedSplit:
    train_x, train_y, test_x, test_y = cwru_standardised
    clients = {f"plant-{j}": (train_x[p], train_y[p]) for j, p in enumerate(parts)}
    return FederatedSplit(clients=clients, test=(test_x, test_y), train=(train_x, train_y))


@pytest.fixture(scope="session")
def cwru_non_iid(cwru_standardised) -> FederatedSplit:
    """5 plants; each has healthy data and 2 of the 6 fault classes (4 classes it never sees)."""
    labels = cwru_standardised[1]
    return _split(cwru_standardised, non_iid_split(labels, num_clients=5, classes_per_client=2, seed=0))


@pytest.fixture(scope="session")
def cwru_iid(cwru_standardised) -> FederatedSplit:
    return _split(cwru_standardised, iid_split(len(cwru_standardised[1]), num_clients=5, seed=0))
