"""Tabular uploads, task creation and grants through the services (database, no worker)."""
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from audit.models import AuditEvent
from federation import services, tabular
from federation.models import DataUseGrant, FederatedTask, TaskParticipant
from federation.tabular_models import TabularDataset

from .builders import german_parts, upload_loan_book, upload_production

pytestmark = pytest.mark.django_db

HEADER = "output_t,material_t,line_load_pct,operating_hours,energy_mwh,co2_t\n"


def _nothing_written(before_events: int):
    assert not TabularDataset.objects.exists()
    assert AuditEvent.objects.count() == before_events


def test_upload_validates_and_records(world):
    dataset = upload_production(world.ent_a_manager, heavy_share=0.2, seed=1)
    assert dataset.rows == 48 and dataset.organization == world.ent_a
    assert dataset.summary["energy_mwh"]["measured"] == 48 and dataset.summary["co2_t"]["measured"] < 48
    assert world.ent_a_manager.has_perm("federation.view_tabulardataset", dataset)
    assert not world.ent_b_manager.has_perm("federation.view_tabulardataset", dataset)
    event = AuditEvent.objects.get(action="federation.dataset.upload")
    assert event.payload["rows"] == 48 and event.organization == world.ent_a


def test_schema_mismatch_is_a_clear_error_and_writes_nothing(world):
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as caught:
        tabular.dataset_upload(actor=world.ent_a_manager, kind="production", name="Wrong columns",
                               content=b"output,material,load,hours,energy\n1,2,3,4,5\n")
    message = caught.value.message_dict["file"][0]
    assert "does not fit the shared schema" in message and "output_t" in message and "energy_mwh" in message
    _nothing_written(before)


def test_bad_rows_are_a_clear_error_and_write_nothing(world):
    before = AuditEvent.objects.count()
    content = (HEADER + "100,110,70,500,300,\n" + "100,x,70,500,300,\n" + "100,110,70,500,300,12,9\n").encode()
    with pytest.raises(ValidationError) as caught:
        tabular.dataset_upload(actor=world.ent_a_manager, kind="production", name="Broken", content=content)
    message = caught.value.message_dict["file"][0]
    assert "2 rows are not valid" in message and "line 3: material_t" in message and "line 4" in message
    _nothing_written(before)


def test_only_the_acting_role_of_the_right_kind_uploads(world):
    content = (HEADER + "100,110,70,500,300,\n").encode()
    for user in (world.lender_a_officer, world.ent_a_auditor, world.admin):
        with pytest.raises(PermissionDenied):
            tabular.dataset_upload(actor=user, kind="production", name="x", content=content)
    with pytest.raises(PermissionDenied):
        tabular.dataset_upload(actor=world.ent_a_manager, kind="loan_book", name="x", content=content)


def _pd_task(world):
    return tabular.tabular_task_create(
        actor=world.lender_a_officer, dataset_kind="loan_book", purpose="Shared PD model",
        organizations=[world.lender_a, world.lender_b], model_type="logistic", target="defaulted", rounds=2)


def test_task_asks_each_lender_for_a_grant_of_its_loan_book(world):
    task = _pd_task(world)
    assert task.dataset_kind == "loan_book" and task.model_kind == "default_risk" and not task.activate_on_finish
    assert task.spec["input_dim"] == 50 and task.feature_config["target"] == "defaulted"
    grants = DataUseGrant.objects.filter(task=task)
    assert {g.organization for g in grants} == {world.lender_a, world.lender_b}
    grant_b = grants.get(organization=world.lender_b)
    assert world.lender_b_officer.has_perm(services.GRANT_DECIDE, grant_b)
    assert world.lender_b_officer.has_perm(services.TASK_VIEW, task)
    assert not world.lender_b_officer.has_perm(services.TASK_MANAGE, task)
    assert not world.ent_a_manager.has_perm(services.TASK_VIEW, task)
    # Without an upload the lender cannot accept: it learns why before any training.
    with pytest.raises(ValidationError) as caught:
        services.grant_accept(actor=world.lender_b_officer, grant=grant_b)
    assert "Upload a data set" in str(caught.value)
    grant_b.refresh_from_db()
    assert grant_b.status == "pending"


def test_accepting_grants_starts_the_task_with_the_loan_books(world, django_capture_on_commit_callbacks):
    parts = german_parts()
    book_a = upload_loan_book(world.lender_a_officer, parts["lender_a"])
    book_b = upload_loan_book(world.lender_b_officer, parts["lender_b"])
    task = _pd_task(world)
    with pytest.raises(ValidationError):  # another lender's upload is not the officer's to grant
        services.grant_accept(actor=world.lender_a_officer, grant=task.grants.get(organization=world.lender_a),
                              datasets=[book_b])
    services.grant_accept(actor=world.lender_a_officer, grant=task.grants.get(organization=world.lender_a))
    with django_capture_on_commit_callbacks():
        services.grant_accept(actor=world.lender_b_officer, grant=task.grants.get(organization=world.lender_b))
    task.refresh_from_db()
    assert task.status == FederatedTask.Status.RUNNING
    assert list(task.grants.get(organization=world.lender_a).datasets.all()) == [book_a]
    assert task.participants.filter(status=TaskParticipant.Status.ACTIVE).count() == 2
    assert AuditEvent.objects.filter(action="federation.grant.accept").count() == 2


def test_a_participant_needs_enough_rows_with_the_target(world):
    content = (HEADER + "".join(f"{100 + i},110,70,500,{300 + i},\n" for i in range(30))).encode()
    tabular.dataset_upload(actor=world.ent_a_manager, kind="production", name="No CO2", content=content)
    task = tabular.tabular_task_create(actor=world.ent_b_manager, dataset_kind="production", purpose="CO2 model",
                                       organizations=[world.ent_a, world.ent_b], model_type="ridge", target="co2_t")
    with pytest.raises(ValidationError) as caught:
        services.grant_accept(actor=world.ent_a_manager, grant=task.grants.get(organization=world.ent_a))
    assert "0 rows with co2_t" in str(caught.value)


def test_task_creation_is_validated(world):
    with pytest.raises(ValidationError) as caught:
        tabular.tabular_task_create(actor=world.lender_a_officer, dataset_kind="loan_book", purpose="",
                                    organizations=[world.lender_a, world.ent_a], model_type="svm", target="x")
    assert set(caught.value.message_dict) >= {"purpose", "organizations", "model_type", "target"}
    with pytest.raises(PermissionDenied):
        tabular.tabular_task_create(actor=world.ent_a_manager, dataset_kind="loan_book", purpose="x",
                                    organizations=[world.lender_a, world.lender_b], model_type="logistic",
                                    target="defaulted")
    assert not FederatedTask.objects.exists()
