"""Tabular pages: uploads, the grant's data-set choice, results per organisation, adoption."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from federation.core.tabular_schemas import production_csv, simulate_production
from federation.tabular_models import TabularDataset
from lending.adoption_models import FederatedPdAdoption

from .builders import finished_energy_task, finished_pd_task

pytestmark = pytest.mark.django_db


def _csv(text: str, name="records.csv"):
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_upload_page_stores_a_good_file_and_refuses_a_bad_one_whole(world, login_as):
    client = login_as(world.ent_a_manager)
    page = client.get(reverse("federation:tabular_home"))
    assert page.status_code == 200 and b"energy_mwh" in page.content
    good = production_csv(simulate_production(periods=24, heavy_share=0.3, seed=3))
    renamed = good.replace("output_t", "Output (t)", 1)
    response = client.post(reverse("federation:dataset_upload"), {
        "name": "Plant 2024", "file": _csv(renamed), "column_map": "output_t = Output (t)"})
    dataset = TabularDataset.objects.get()
    assert response.status_code == 302 and dataset.rows == 24 and dataset.column_map == {"output_t": "Output (t)"}
    events = AuditEvent.objects.count()
    bad = good.splitlines()
    bad[5] = bad[5].replace(bad[5].split(",")[1], "lots", 1)
    response = client.post(reverse("federation:dataset_upload"), {"name": "Broken", "file": _csv("\n".join(bad))})
    assert response.status_code == 400
    assert "1 rows are not valid: line 6: output_t" in response.content.decode()
    assert TabularDataset.objects.count() == 1 and AuditEvent.objects.count() == events
    response = client.post(reverse("federation:dataset_upload"), {"name": "Unmapped", "file": _csv(renamed)})
    assert response.status_code == 400 and "does not fit the shared schema" in response.content.decode()
    assert TabularDataset.objects.count() == 1


def test_other_organisations_never_see_an_upload(world, login_as):
    from .builders import upload_production

    dataset = upload_production(world.ent_a_manager, heavy_share=0.2, seed=1)
    assert login_as(world.ent_b_manager).get(reverse("federation:dataset_detail", args=[dataset.pk])).status_code == 404
    home = login_as(world.ent_b_manager).get(reverse("federation:tabular_home"))
    assert dataset.name.encode() not in home.content


def test_pd_results_per_organisation_and_adoption(world, login_as):
    task = finished_pd_task(world)
    assert task.status == "finished", task.status_message
    final = task.versions.get(is_final=True)
    url = reverse("federation:tabular_results", args=[task.pk])
    initiator = login_as(world.lender_a_officer).get(url)
    assert initiator.status_code == 200
    body = initiator.content.decode()
    assert 'id="federated-evaluation"' in body and 'data-participant="lender-b"' in body
    assert 'id="own-validation"' in body and 'id="adopt-champion"' in body
    other = login_as(world.lender_b_officer).get(url).content.decode()
    assert 'id="federated-evaluation"' not in other and 'id="own-validation"' in other
    assert login_as(world.ent_a_manager).get(url).status_code == 404
    response = login_as(world.lender_b_officer).post(reverse("federation:pd_adopt", args=[final.pk]),
                                                     {"role": "challenger"})
    assert response.status_code == 302
    adoption = FederatedPdAdoption.objects.get()
    assert adoption.organization == world.lender_b and adoption.role == "challenger"
    assert 'id="adopted-challenger"' in login_as(world.lender_b_officer).get(url).content.decode()
    assert login_as(world.lender_a_auditor).post(reverse("federation:pd_adopt", args=[final.pk]),
                                                 {"role": "champion"}).status_code == 403


def test_energy_results_show_own_fit_with_units(world, login_as):
    task = finished_energy_task(world)
    assert task.status == "finished", task.status_message
    body = login_as(world.ent_b_manager).get(reverse("federation:tabular_results", args=[task.pk])).content.decode()
    assert 'id="own-fit"' in body and "tabular-fit-data" in body and "MWh" in body
    assert 'id="coefficients"' in body and "MWh / t" in body
    assert 'id="federated-evaluation"' not in body  # only the initiator sees the participants' figures


def test_grant_page_offers_the_owners_uploads(world, login_as):
    from federation import tabular
    from federation.models import DataUseGrant

    from .builders import upload_production

    dataset = upload_production(world.ent_b_manager, heavy_share=0.5, seed=4)
    task = tabular.tabular_task_create(actor=world.ent_a_manager, dataset_kind="production", purpose="Energy",
                                       organizations=[world.ent_a, world.ent_b], model_type="ridge",
                                       target="energy_mwh")
    grant = DataUseGrant.objects.get(task=task, organization=world.ent_b)
    client = login_as(world.ent_b_manager)
    page = client.get(reverse("federation:grant_detail", args=[grant.pk])).content.decode()
    assert dataset.name in page and 'name="datasets"' in page
    client.post(reverse("federation:grant_accept", args=[grant.pk]), {"datasets": [dataset.pk]})
    grant.refresh_from_db()
    assert grant.status == "accepted" and list(grant.datasets.all()) == [dataset]


@pytest.mark.parametrize("kind", ["loan_book", "production"])
def test_small_mlp_tasks_run_with_fedma(world, kind):
    from federation import tabular
    from federation.tabular_data import enterprise_fit, lender_validation
    from federation.tabular_demo import synthetic_loan_book_csv

    from .builders import run_task, upload_production

    if kind == "loan_book":
        users = (world.lender_a_officer, world.lender_b_officer)
        for seed, user in enumerate(users, start=1):
            tabular.dataset_upload(actor=user, kind=kind, name="Book", content=synthetic_loan_book_csv(100, seed).encode())
        orgs, target = [world.lender_a, world.lender_b], "defaulted"
    else:
        users = (world.ent_a_manager, world.ent_b_manager)
        for seed, user in enumerate(users, start=1):
            upload_production(user, heavy_share=0.3 * seed, seed=seed, periods=30)
        orgs, target = [world.ent_a, world.ent_b], "co2_t"
    task = run_task(lambda: tabular.tabular_task_create(
        actor=users[0], dataset_kind=kind, purpose="MLP", organizations=orgs, model_type="mlp", target=target,
        rounds=1), list(zip(users, orgs)))
    assert task.status == "finished" and task.strategy_name == "fedma", task.status_message
    final = task.versions.get(is_final=True)
    assert len(final.layer_sizes) == 2
    if kind == "loan_book":
        assert lender_validation(final, world.lender_b)["samples"] > 0
    else:
        assert enterprise_fit(final, world.ent_b)["r2"] is not None


def test_home_and_task_form_for_every_role(world, login_as):
    for key in ("admin", "firm_auditor", "ent_a_auditor", "lender_a_auditor", "ent_a_manager", "lender_a_officer"):
        response = login_as(world.users[key]).get(reverse("federation:tabular_home"))
        assert response.status_code == 200, key
        assert (b'id="upload-form"' in response.content) == (key in ("ent_a_manager", "lender_a_officer")), key
    form = login_as(world.lender_a_officer).get(reverse("federation:tabular_task_create")).content.decode()
    assert "Lender B" in form and "Enterprise A" not in form and 'value="logistic"' in form
    assert login_as(world.ent_a_auditor).get(reverse("federation:tabular_task_create")).status_code == 403
    response = login_as(world.lender_a_officer).post(reverse("federation:tabular_task_create"), {
        "purpose": "PD", "model_type": "logistic", "target": "defaulted",
        "organizations": [world.lender_a.pk, world.lender_b.pk], "min_participants": 2,
        "validation_fraction": 0.3, "grant_days": 30, "seed": 0})
    assert response.status_code == 302
