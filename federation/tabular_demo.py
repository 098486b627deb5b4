"""Demo tabular federated tasks, run synchronously through the same services and task functions the workers
run (as ``federation.demo`` does):

- bank1 and bank2 upload their loan books (the German credit data split by purpose: bank1 cars and
  business, bank2 household goods and the rest; synthetic loan books when the data set is absent), bank1's
  officer trains a logistic PD model with bank2 (FedAvg); bank1 adopts it as its PD model, bank2 as a
  challenger;
- ent1 and ent2 upload three years of monthly production records (simulated; ent1 makes light parts, ent2
  heavy ones), ent1's manager trains a linear energy-use model with ent2 (FedAvg).

Idempotent: nothing is added once the demo tasks exist.
"""
from __future__ import annotations

from pathlib import Path

from django.conf import settings

from . import queueing, services, tabular
from .core.tabular_schemas import german_credit_csv, german_credit_split_by_purpose, production_csv, simulate_production
from .models import DataUseGrant, FederatedTask

PD_PURPOSE = "Shared probability-of-default model of two lenders' loan books"
ENERGY_PURPOSE = "Energy use per month from production drivers"
BANK_PURPOSES = {"bank1": ("A40", "A41", "A49", "A410"), "bank2": ("A42", "A43", "A44", "A45", "A46", "A47", "A48")}


def _loan_books() -> dict[str, str]:
    from lending.core.german_credit import load_german_credit

    path = Path(settings.BASE_DIR).parent / "shared" / "data" / "credit" / "german.data"
    if path.exists():
        parts = german_credit_split_by_purpose(load_german_credit(path), BANK_PURPOSES)
        return {key: german_credit_csv(part) for key, part in parts.items()}
    return {key: synthetic_loan_book_csv(300, seed) for seed, key in enumerate(BANK_PURPOSES, start=1)}


def synthetic_loan_book_csv(rows: int, seed: int) -> str:
    """A loan book in the schema's codes when the German credit data is absent: defaults more likely with an
    overdrawn account, a long duration and a critical credit history."""
    import csv
    import io

    import numpy as np

    from .core.tabular_schemas import LOAN_BOOK

    rng = np.random.default_rng(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(LOAN_BOOK.columns())
    for _ in range(rows):
        row, risk = [], -1.5
        for feature in LOAN_BOOK.features:
            if feature.categories:
                value = str(rng.choice(feature.categories))
                risk += {"A11": 1.0, "A34": 0.8}.get(value, 0.0)
            else:
                value = f"{rng.uniform(1, feature.bins[-1] * 1.5):.0f}"
                risk += 0.03 * float(value) if feature.name == "duration_months" else 0.0
            row.append(value)
        writer.writerow([*row, int(rng.uniform() < 1 / (1 + np.exp(-risk)))])
    return out.getvalue()


def _run(create, accept) -> FederatedTask:
    with queueing.synchronous():
        task = create()
        for user, organization in accept:
            services.grant_accept(actor=user, grant=DataUseGrant.objects.get(task=task, organization=organization))
        queueing.drain()
    task.refresh_from_db()
    return task


def seed(context) -> None:
    orgs, users = context.organizations, context.users
    if not all(k in users for k in ("bank1_officer1", "bank2_officer1", "ent1_manager", "ent2_manager")):
        return
    if not FederatedTask.objects.filter(purpose=PD_PURPOSE).exists():
        books = _loan_books()
        for key in ("bank1", "bank2"):
            tabular.dataset_upload(actor=users[f"{key}_officer1"], kind="loan_book", name="Loan book 1990s",
                                   content=books[key].encode())
        task = _run(lambda: tabular.tabular_task_create(
            actor=users["bank1_officer1"], dataset_kind="loan_book", purpose=PD_PURPOSE,
            organizations=[orgs["bank1"], orgs["bank2"]], model_type="logistic", target="defaulted", rounds=6),
            [(users["bank1_officer1"], orgs["bank1"]), (users["bank2_officer1"], orgs["bank2"])])
        final = task.versions.filter(is_final=True).first()
        if final is not None:
            from lending.federated_pd import federated_pd_adopt

            federated_pd_adopt(actor=users["bank1_officer1"], version=final, role="champion")
            federated_pd_adopt(actor=users["bank2_officer1"], version=final, role="challenger")
        context.notes.append(f"Tabular federation: PD task #{task.pk} of bank1 and bank2 ({task.get_status_display()}); "
                             f"bank1 adopted it as its PD model, bank2 as a challenger.")
    if not FederatedTask.objects.filter(purpose=ENERGY_PURPOSE).exists():
        for index, (key, heavy) in enumerate((("ent1", 0.15), ("ent2", 0.85))):
            records = simulate_production(periods=36, heavy_share=heavy, seed=100 + index, co2_measured_share=0.75)
            tabular.dataset_upload(actor=users[f"{key}_manager"], kind="production", name="Monthly records 2022-2024",
                                   content=production_csv(records).encode())
        task = _run(lambda: tabular.tabular_task_create(
            actor=users["ent1_manager"], dataset_kind="production", purpose=ENERGY_PURPOSE,
            organizations=[orgs["ent1"], orgs["ent2"]], model_type="linear", target="energy_mwh", rounds=15),
            [(users["ent1_manager"], orgs["ent1"]), (users["ent2_manager"], orgs["ent2"])])
        context.notes.append(f"Tabular federation: energy task #{task.pk} of ent1 and ent2 ({task.get_status_display()}).")
