"""Federated learning: lender A's officers start tasks over enterprises A and B. The initiator's
organisation and the named enterprises see the task; only lender A's officers manage it; each grant is
seen by its data owner and the requester and decided by the owner's managers; model versions are seen
by the initiator and the enterprises that took part; an update only by its own organisation;
predictions and re-scoring follow the press's health visibility (lender A has a health share)."""
import base64

from django.urls import reverse

from .registry import Case, declare

LENDER_A = {"lender_a_officer": 200, "lender_a_officer2": 200, "lender_a_auditor": 200}
TASK_VIEWERS = {**LENDER_A, "ent_a_manager": 200, "ent_a_auditor": 200, "ent_b_manager": 200}
GRANT_A_VIEWERS = {**LENDER_A, "ent_a_manager": 200, "ent_a_auditor": 200}
PRESS_A_HEALTH = {**LENDER_A, "ent_a_manager": 200, "ent_a_auditor": 200}
ENT_A = {"ent_a_manager": 200, "ent_a_auditor": 200}


def _only(status_for_actor: dict, others: int, viewers: dict) -> dict:
    """``viewers`` get ``others`` unless named in ``status_for_actor``."""
    return {actor: status_for_actor.get(actor, others) for actor in viewers}


def _create(world, *, rounds=1):
    from federation import services

    return services.task_create(actor=world.lender_a_officer, purpose="Matrix task", model_kind="fault_state",
                                enterprises=[world.ent_a, world.ent_b], label_source="batch_label",
                                aggregation="fedavg", rounds=rounds, local_epochs=1, hidden_sizes=(4,),
                                min_participants=1)


def waiting_task(world):
    """Awaiting the grants of both enterprises (nothing decided yet)."""
    if "fl_waiting" not in world.objects:
        world.objects["fl_waiting"] = _create(world)
    return world.objects["fl_waiting"]


def grant_a(world):
    return waiting_task(world).grants.get(organization=world.ent_a)


def _data(world):
    if "fl_press_a" in world.objects:
        return
    from devices import services as device_services
    from tests.federation.builders import labelled_batches, register_press

    press_a = register_press(world.ent_a_manager, world.ent_a, "FL matrix press A")
    press_b = register_press(world.ent_b_manager, world.ent_b, "FL matrix press B")
    world.objects["fl_batches_a"] = labelled_batches(world.ent_a_manager, press_a, {"healthy": 1, "outer_race": 1},
                                                     seed=1)
    labelled_batches(world.ent_b_manager, press_b, {"healthy": 1, "inner_race": 1}, seed=2)
    device_services.health_share_grant(actor=world.ent_a_manager, press=press_a, lender=world.lender_a)
    world.objects["fl_press_a"] = press_a


def finished_task(world):
    """Run to the end (two rounds: two versions, the last active), with predictions for press A."""
    if "fl_finished" not in world.objects:
        from federation import queueing, services

        _data(world)
        with queueing.synchronous(immediate=True):
            task = _create(world, rounds=2)
            for key in ("ent_a", "ent_b"):
                services.grant_accept(actor=world.users[f"{key}_manager"],
                                      grant=task.grants.get(organization=world.orgs[key]))
            queueing.drain()
            services.inference_for_batch(batch_id=world.objects["fl_batches_a"][0].pk)
        world.objects["fl_finished"] = task
    return world.objects["fl_finished"]


def running_grant_a(world):
    return finished_task(world).grants.get(organization=world.ent_a)


def first_version(world):
    return finished_task(world).versions.get(number=1)


def update_of_a(world):
    return finished_task(world).steps.get(index=0).updates.get(participant__organization=world.ent_a)


def prediction_of_a(world):
    finished_task(world)
    return world.objects["fl_press_a"].federation_predictions.get()


def press_a(world):
    _data(world)
    return world.objects["fl_press_a"]


def batch_of_a(world):
    _data(world)
    return world.objects["fl_batches_a"][0]


def participant_b(world):
    return waiting_task(world).participants.get(organization=world.ent_b)


JUNK_ENVELOPE = {"envelope": base64.b64encode(b"PTEV junk").decode()}

declare(
    Case("federated task page", "federation:task_detail",
         lambda w: reverse("federation:task_detail", args=[waiting_task(w).pk]), expect=TASK_VIEWERS),
    Case("federated task cancel", "federation:task_cancel",
         lambda w: reverse("federation:task_cancel", args=[waiting_task(w).pk]), method="post",
         expect=_only({"lender_a_officer": 302, "lender_a_officer2": 302}, 403, TASK_VIEWERS)),
    Case("federated task start now", "federation:task_start",
         lambda w: reverse("federation:task_start", args=[waiting_task(w).pk]), method="post",
         expect=_only({"lender_a_officer": 302, "lender_a_officer2": 302}, 403, TASK_VIEWERS)),
    Case("federated participant remove", "federation:participant_remove",
         lambda w: reverse("federation:participant_remove", args=[waiting_task(w).pk, participant_b(w).pk]),
         method="post", expect=_only({"lender_a_officer": 302, "lender_a_officer2": 302}, 403, TASK_VIEWERS)),
    Case("grant page", "federation:grant_detail", lambda w: reverse("federation:grant_detail", args=[grant_a(w).pk]),
         expect=GRANT_A_VIEWERS),
    Case("grant accept", "federation:grant_accept", lambda w: reverse("federation:grant_accept", args=[grant_a(w).pk]),
         method="post", data=lambda w: {"presses": []},
         expect=_only({"ent_a_manager": 302}, 403, GRANT_A_VIEWERS)),
    Case("grant decline", "federation:grant_decline",
         lambda w: reverse("federation:grant_decline", args=[grant_a(w).pk]), method="post",
         expect=_only({"ent_a_manager": 302}, 403, GRANT_A_VIEWERS)),
    Case("grant revoke", "federation:grant_revoke",
         lambda w: reverse("federation:grant_revoke", args=[running_grant_a(w).pk]), method="post",
         expect=_only({"ent_a_manager": 302}, 403, GRANT_A_VIEWERS)),
    Case("model version page", "federation:model_detail",
         lambda w: reverse("federation:model_detail", args=[first_version(w).pk]), expect=TASK_VIEWERS),
    Case("model version activate", "federation:model_activate",
         lambda w: reverse("federation:model_activate", args=[first_version(w).pk]), method="post",
         expect=_only({"lender_a_officer": 302, "lender_a_officer2": 302}, 403, TASK_VIEWERS)),
    Case("press predictions page", "federation:press_predictions",
         lambda w: reverse("federation:press_predictions", args=[prediction_of_a(w).press_id]),
         expect=PRESS_A_HEALTH),
    Case("press rescore", "federation:press_rescore",
         lambda w: reverse("federation:press_rescore", args=[prediction_of_a(w).press_id]), method="post",
         expect=_only({"ent_a_manager": 302}, 403, PRESS_A_HEALTH)),
    Case("batch label set", "federation:batch_label",
         lambda w: reverse("federation:batch_label", args=[batch_of_a(w).pk]), method="post",
         data={"condition": "healthy"}, expect={"ent_a_manager": 302, "ent_a_auditor": 403}),
    # API
    Case("federated task API detail", "federatedtask-detail",
         lambda w: reverse("federatedtask-detail", args=[waiting_task(w).pk]), api=True, expect=TASK_VIEWERS),
    Case("federated task API progress", "federatedtask-progress",
         lambda w: reverse("federatedtask-progress", args=[waiting_task(w).pk]), api=True, expect=TASK_VIEWERS),
    Case("federated task API cancel", "federatedtask-cancel",
         lambda w: reverse("federatedtask-cancel", args=[waiting_task(w).pk]), api=True, method="post",
         expect=_only({"lender_a_officer": 200, "lender_a_officer2": 200}, 403, TASK_VIEWERS)),
    Case("federated task API start", "federatedtask-start",
         lambda w: reverse("federatedtask-start", args=[waiting_task(w).pk]), api=True, method="post",
         expect=_only({"lender_a_officer": 400, "lender_a_officer2": 400}, 403, TASK_VIEWERS)),
    Case("federated task API own updates", "federatedtask-updates",
         lambda w: reverse("federatedtask-updates", args=[finished_task(w).pk]), api=True, expect=TASK_VIEWERS),
    Case("federated task API submit update", "federatedtask-updates",
         lambda w: reverse("federatedtask-updates", args=[finished_task(w).pk]), api=True, method="post",
         data=JUNK_ENVELOPE,
         expect=_only({"ent_a_manager": 400, "ent_b_manager": 400}, 403, TASK_VIEWERS)),
    Case("grant API detail", "datausegrant-detail", lambda w: reverse("datausegrant-detail", args=[grant_a(w).pk]),
         api=True, expect=GRANT_A_VIEWERS),
    Case("grant API accept", "datausegrant-accept", lambda w: reverse("datausegrant-accept", args=[grant_a(w).pk]),
         api=True, method="post", data={}, expect=_only({"ent_a_manager": 400}, 403, GRANT_A_VIEWERS)),
    Case("grant API decline", "datausegrant-decline",
         lambda w: reverse("datausegrant-decline", args=[grant_a(w).pk]), api=True, method="post",
         expect=_only({"ent_a_manager": 200}, 403, GRANT_A_VIEWERS)),
    Case("grant API revoke", "datausegrant-revoke",
         lambda w: reverse("datausegrant-revoke", args=[running_grant_a(w).pk]), api=True, method="post",
         expect=_only({"ent_a_manager": 200}, 403, GRANT_A_VIEWERS)),
    Case("model version API detail", "modelversion-detail",
         lambda w: reverse("modelversion-detail", args=[first_version(w).pk]), api=True, expect=TASK_VIEWERS),
    Case("model version API activate", "modelversion-activate",
         lambda w: reverse("modelversion-activate", args=[first_version(w).pk]), api=True, method="post",
         expect=_only({"lender_a_officer": 200, "lender_a_officer2": 200}, 403, TASK_VIEWERS)),
    Case("model update API detail", "modelupdate-detail",
         lambda w: reverse("modelupdate-detail", args=[update_of_a(w).pk]), api=True, expect=ENT_A),
    Case("prediction API detail", "prediction-detail",
         lambda w: reverse("prediction-detail", args=[prediction_of_a(w).pk]), api=True, expect=PRESS_A_HEALTH),
)
