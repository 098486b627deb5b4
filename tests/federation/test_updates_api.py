"""The update endpoint a site worker uses: only the participant's own sealed, signed, fresh update of
the open step is accepted; everything else is refused with a recorded, audited reason."""
from __future__ import annotations

import base64
import uuid
from dataclasses import replace

import numpy as np
import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AuditEvent
from federation import crypto, data, queueing, services
from federation.core.client import execute_instruction
from federation.core.envelope import seal_update
from federation.models import ModelUpdate, TaskParticipant, TaskStep, UpdateRejection

from .conftest import federation_world

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


class Site:
    """Plays the site workers of a running task: the instructions come from the collected messages."""

    def __init__(self, world):
        self.world = world
        self.task = services.task_create(
            actor=world.lender_a_officer, purpose="Envelope checks", model_kind="fault_state",
            enterprises=[world.ent_a, world.ent_b, world.ent_c], label_source="batch_label", rounds=1,
            local_epochs=2, hidden_sizes=(8,), min_participants=2)
        for key in ("ent_a", "ent_b", "ent_c"):
            services.grant_accept(actor=world.users[f"{key}_manager"],
                                  grant=self.task.grants.get(organization=world.orgs[key]))
        queueing.drain(only={"dispatch_step"})

    def instruction(self, slug: str):
        for name, kwargs in reversed(queueing.pending_messages()):
            participant = TaskParticipant.objects.get(pk=kwargs.get("participant_id", 0)) if name == "local_train" else None
            if participant is not None and participant.name == slug:
                return crypto.decode_instruction(kwargs["instruction"])
        raise LookupError(slug)

    def update(self, slug: str):
        participant = self.task.participants.get(organization__slug=slug)
        dataset = data.participant_data(self.task, participant.grant)
        return execute_instruction(self.instruction(slug), dataset.features, dataset.labels)

    def seal(self, update, *, signer: str | None = None, task_id: str | None = None) -> bytes:
        from accounts.models import Organization

        key, _version = crypto.participant_signing_key(Organization.objects.get(slug=signer or update.participant))
        return seal_update(update, task_id=task_id or str(self.task.uuid), signing_key=key,
                           aggregator_key=crypto.aggregator_public_key())

    def post(self, user, envelope: bytes):
        return api(user).post(reverse("federatedtask-updates", args=[self.task.pk]),
                              {"envelope": base64.b64encode(envelope).decode(), "metrics": {"accuracy": 0.5}},
                              format="json")


@pytest.fixture
def site(world):
    federation_world(world, per_class=2)
    with queueing.synchronous(immediate=True):
        yield Site(world)


def _refused(response, reason):
    assert response.status_code == 400, response.content
    assert response.json()["reason"] == reason
    assert UpdateRejection.objects.filter(reason=reason).exists()
    assert AuditEvent.objects.filter(action="federation.update.reject", payload__reason=reason).exists()


def test_a_participants_own_update_is_accepted_once(site, world):
    envelope = site.seal(site.update("ent-a"))
    first = site.post(world.ent_a_manager, envelope)
    assert first.status_code == 201, first.content
    assert first.json()["participant"] == "ent-a" and first.json()["status"] == "received"
    again = site.post(world.ent_a_manager, envelope)  # a retried request: the same envelope, already in
    assert again.status_code == 200
    update = ModelUpdate.objects.get(participant__organization=world.ent_a)
    assert bytes(update.envelope) == envelope and update.local_metrics == {"accuracy": 0.5}
    assert AuditEvent.objects.filter(action="federation.update.accept").count() == 1
    other = site.seal(site.update("ent-a"))  # a second, different envelope for the same step
    _refused(site.post(world.ent_a_manager, other), "duplicate")


def test_tampered_forged_foreign_malformed_and_misbound_updates_are_refused(site, world):
    envelope = bytearray(site.seal(site.update("ent-b")))
    envelope[-5] ^= 0x01
    _refused(site.post(world.ent_b_manager, bytes(envelope)), "tampered")
    forged = site.seal(site.update("ent-b"), signer="ent-a")  # claims ent-b, signed with ent-a's key
    _refused(site.post(world.ent_b_manager, forged), "forged_signature")
    foreign = site.seal(site.update("ent-b"))
    _refused(site.post(world.ent_a_manager, foreign), "foreign_submitter")  # ent-a hands in ent-b's update
    _refused(site.post(world.ent_b_manager, b"PTEV\x01garbage"), "malformed")
    _refused(site.post(world.ent_b_manager, site.seal(site.update("ent-b"), task_id=str(uuid.uuid4()))),
             "binding_mismatch")
    good = site.update("ent-b")
    wrong_shape = replace(good, layers=[(np.zeros((3, 26)), np.zeros(3)), good.layers[1]])
    _refused(site.post(world.ent_b_manager, site.seal(wrong_shape)), "shape_mismatch")
    broken = replace(good, layers=[(np.full_like(w, np.nan), b) for w, b in good.layers])
    _refused(site.post(world.ent_b_manager, site.seal(broken)), "non_finite")
    assert not ModelUpdate.objects.filter(participant__organization=world.ent_b, status="received").exists()
    # The refusals did not disturb the step: ent-b's genuine update still goes in.
    assert site.post(world.ent_b_manager, site.seal(good)).status_code == 201


def test_an_update_of_an_earlier_step_is_a_replay(site, world):
    envelopes = {slug: site.seal(site.update(slug)) for slug in ("ent-a", "ent-b", "ent-c")}
    for slug, user in (("ent-a", world.ent_a_manager), ("ent-b", world.ent_b_manager), ("ent-c", world.ent_c_manager)):
        assert site.post(user, envelopes[slug]).status_code == 201
    queueing.drain(only={"aggregate_step", "dispatch_step"})
    assert TaskStep.objects.get(task=site.task, index=1).status == "collecting"
    _refused(site.post(world.ent_a_manager, envelopes["ent-a"]), "replayed")


def test_only_the_participants_own_members_may_submit(site, world):
    envelope = site.seal(site.update("ent-a"))
    assert site.post(world.ent_a_auditor, envelope).status_code == 403  # read-only role
    assert site.post(world.lender_a_officer, envelope).status_code == 403  # initiator, not a participant
    assert site.post(world.lender_b_officer, envelope).status_code == 404  # does not see the task
    assert not ModelUpdate.objects.filter(status="received").exists()


def test_no_step_reads_data_without_a_live_grant(site, world, monkeypatch):
    grant = site.task.grants.get(organization=world.ent_c)
    services.grant_revoke(actor=world.ent_c_manager, grant=grant, reason="stop")

    def must_not_read(*args, **kwargs):
        raise AssertionError("data read without a live grant")

    monkeypatch.setattr(data, "participant_data", must_not_read)
    ent_c = site.task.participants.get(organization=world.ent_c)
    message = next(kwargs for name, kwargs in queueing.pending_messages()
                   if name == "local_train" and kwargs["participant_id"] == ent_c.pk)
    from federation.participant import local_train_run

    assert local_train_run(task_id=site.task.pk, step_index=0, participant_id=ent_c.pk,
                           instruction_text=message["instruction"]) == "nothing to do"
    assert ModelUpdate.objects.get(participant=ent_c).status == "skipped"
    # A late envelope of the revoked participant is refused too.
    monkeypatch.undo()
    _refused(site.post(world.ent_c_manager, site.seal(site.update("ent-c"))), "no_live_grant")


def test_robust_aggregation_flags_a_boosted_update_as_an_anomaly(world):
    federation_world(world, per_class=2)
    with queueing.synchronous(immediate=True):
        site = Site.__new__(Site)
        site.world = world
        site.task = services.task_create(
            actor=world.lender_a_officer, purpose="Robust", model_kind="fault_state",
            enterprises=[world.ent_a, world.ent_b, world.ent_c], label_source="batch_label",
            aggregation="robust_fedavg", rounds=1, local_epochs=2, hidden_sizes=(8,), min_participants=2)
        for key in ("ent_a", "ent_b", "ent_c"):
            services.grant_accept(actor=world.users[f"{key}_manager"],
                                  grant=site.task.grants.get(organization=world.orgs[key]))
        queueing.drain(only={"dispatch_step"})
        for slug, user in (("ent-a", world.ent_a_manager), ("ent-b", world.ent_b_manager)):
            assert site.post(user, site.seal(site.update(slug))).status_code == 201
        honest, start = site.update("ent-c"), site.instruction("ent-c").weights
        boosted = replace(honest, layers=[(w0 + 100 * (w - w0), b0 + 100 * (b - b0))
                                          for (w, b), (w0, b0) in zip(honest.layers, start)])
        assert site.post(world.ent_c_manager, site.seal(boosted)).status_code == 201  # well-formed: accepted
        queueing.drain(only={"aggregate_step"})
    step = TaskStep.objects.get(task=site.task, index=0)
    assert [flag["participant"] for flag in step.flags] == ["ent-c"]
    from federation.selectors import task_progress

    anomalies = task_progress(user=world.lender_a_officer, task=site.task)["anomalies"]
    assert [a["participant"] for a in anomalies] == ["ent-c"] and "norm" in anomalies[0]["reason"]
    assert AuditEvent.objects.filter(action="federation.step.aggregate", payload__flags__0__participant="ent-c").exists()
