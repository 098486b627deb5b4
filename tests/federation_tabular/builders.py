"""Uploads of tabular data through the real services: German credit loan books split by purpose, and
simulated production records."""
from __future__ import annotations

from federation.core.tabular_schemas import (german_credit_csv, german_credit_split_by_purpose, production_csv,
                                             simulate_production)
from tests.conftest import shared_data_path

TWO_LENDER_PURPOSES = {"lender_a": ("A40", "A41", "A49", "A410"), "lender_b": ("A42", "A43", "A44", "A45", "A46",
                                                                              "A47", "A48")}


def german_parts(groups=None):
    from lending.core.german_credit import load_german_credit

    data = load_german_credit(shared_data_path("credit", "german.data"))
    return german_credit_split_by_purpose(data, groups or TWO_LENDER_PURPOSES)


def upload_loan_book(officer, part, name: str = "Loan book 2019-2024"):
    from federation.tabular import dataset_upload

    return dataset_upload(actor=officer, kind="loan_book", name=name, content=german_credit_csv(part).encode())


def upload_production(manager, *, heavy_share: float, seed: int, periods: int = 48, name: str = "Plant records"):
    from federation.tabular import dataset_upload

    records = simulate_production(periods=periods, heavy_share=heavy_share, seed=seed, co2_measured_share=0.8)
    return dataset_upload(actor=manager, kind="production", name=name, content=production_csv(records).encode())


def run_task(task_factory, accept: list[tuple]):
    """Create a task and run it to the end in this process (the same services and task functions the
    workers run), inside the test's transaction; ``accept``: ``(user, organization)`` pairs."""
    from federation import queueing, services
    from federation.models import DataUseGrant

    with queueing.synchronous(immediate=True):
        task = task_factory()
        for user, organization in accept:
            services.grant_accept(actor=user, grant=DataUseGrant.objects.get(task=task, organization=organization))
        queueing.drain()
    task.refresh_from_db()
    return task


def finished_pd_task(world, rounds: int = 2):
    from federation import tabular

    parts = german_parts()
    upload_loan_book(world.lender_a_officer, parts["lender_a"])
    upload_loan_book(world.lender_b_officer, parts["lender_b"])
    return run_task(lambda: tabular.tabular_task_create(
        actor=world.lender_a_officer, dataset_kind="loan_book", purpose="Shared PD model",
        organizations=[world.lender_a, world.lender_b], model_type="logistic", target="defaulted", rounds=rounds),
        [(world.lender_a_officer, world.lender_a), (world.lender_b_officer, world.lender_b)])


def finished_energy_task(world, rounds: int = 5):
    from federation import tabular

    upload_production(world.ent_a_manager, heavy_share=0.1, seed=1)
    upload_production(world.ent_b_manager, heavy_share=0.9, seed=2)
    return run_task(lambda: tabular.tabular_task_create(
        actor=world.ent_a_manager, dataset_kind="production", purpose="Energy model",
        organizations=[world.ent_a, world.ent_b], model_type="linear", target="energy_mwh", rounds=rounds),
        [(world.ent_a_manager, world.ent_a), (world.ent_b_manager, world.ent_b)])


def finished_synthetic_pd_task(world):
    """Lenders A and B, synthetic loan books, one FedAvg round: a finished PD task in about a second."""
    from federation import tabular
    from federation.tabular_demo import synthetic_loan_book_csv

    for key, seed in (("lender_a", 1), ("lender_b", 2)):
        tabular.dataset_upload(actor=world.users[f"{key}_officer"], kind="loan_book", name=f"Book {key}",
                               content=synthetic_loan_book_csv(120, seed).encode())
    return run_task(lambda: tabular.tabular_task_create(
        actor=world.lender_a_officer, dataset_kind="loan_book", purpose="Matrix PD model",
        organizations=[world.lender_a, world.lender_b], model_type="logistic", target="defaulted", rounds=1),
        [(world.lender_a_officer, world.lender_a), (world.lender_b_officer, world.lender_b)])
