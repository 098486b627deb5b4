"""Demo federated learning: bank1's loan officer trains a press fault-state model with ent1 and ent2
(FedMA, with a FedAvg comparison run), both accept the data-use requests, and the tasks run to the end
synchronously through the same services and task functions the workers run. The final FedMA model is
active; the latest recording of each of the two enterprises' presses is scored with it.

Labelled data: each enterprise gets a bearing test stand whose one-second recordings are simulated with
``health.core.simulate`` (ent1: healthy, outer-race and rolling-element faults; ent2: healthy,
inner-race and rolling-element faults; neither has seen every fault) and labelled by its manager.
Idempotent: nothing is added once the demo task exists.
"""
from __future__ import annotations

import datetime as dt
import io

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from devices import services as device_services
from devices.models import Press

from . import queueing, services
from .models import BatchLabel, FederatedTask

DEMO_PURPOSE = "Predict bearing fault state of the financed press fleet"
RATE_HZ = 20000.0
FAULTS = {"healthy": None, "outer_race": "outer", "inner_race": "inner", "rolling_element": "ball"}
PLAN = {
    "ent1": ("ent1_manager", "Bearing test stand", "Kunshan plant, lab",
             {"healthy": 4, "outer_race": 3, "rolling_element": 3}),
    "ent2": ("ent2_manager", "Lagerprüfstand", "Werk Remscheid, Labor",
             {"healthy": 4, "inner_race": 3, "rolling_element": 3}),
}


def _test_stand(organization, manager, name: str, site: str) -> Press:
    press = Press.objects.filter(organization=organization, name=name).first()
    if press is None:
        press = device_services.press_register(
            actor=manager, organization=organization, name=name, site=site, make="PressTrust", model="BTS-1",
            rated_tonnage_t="10", stroke_rate_min_spm="10", stroke_rate_max_spm="60",
            commissioned_on=dt.date(2024, 1, 15),
            channels=[{"name": "acc", "kind": "acceleration", "unit": "g", "location": "bearing housing"}])
    return press


def _labelled_recordings(press: Press, manager, plan: dict[str, int], seed: int) -> int:
    from health.core.simulate import simulate_bearing_signal

    if BatchLabel.objects.filter(batch__press=press).exists():
        return 0
    start = timezone.now() - dt.timedelta(days=30)
    count = 0
    for condition, batches in plan.items():
        for _ in range(batches):
            fault = FAULTS[condition]
            signal = simulate_bearing_signal(RATE_HZ, 1.0, fault=fault, severity=1.0 if fault else 0.0,
                                             shaft_hz=20.0 + 2.0 * (count % 5), snr_db=-5.0, seed=seed * 100 + count)
            buffer = io.BytesIO()
            np.save(buffer, signal[:, None].astype(np.float32))
            batch = device_services.batch_ingest(
                actor=manager, press=press, uploaded_file=SimpleUploadedFile(f"stand-{condition}-{count}.npy",
                                                                             buffer.getvalue()),
                sampling_rate_hz=RATE_HZ, started_at=start + dt.timedelta(hours=6 * count))
            services.batch_label_set(actor=manager, batch=batch, condition=condition, note="demo test stand")
            count += 1
    return count


def seed(context) -> None:
    officer = context.users.get("bank1_officer1")
    if officer is None or FederatedTask.objects.filter(purpose=DEMO_PURPOSE, compare_of__isnull=True).exists():
        return
    enterprises = []
    for index, (key, (manager_key, name, site, plan)) in enumerate(PLAN.items()):
        organization, manager = context.organizations[key], context.users[manager_key]
        press = _test_stand(organization, manager, name, site)
        _labelled_recordings(press, manager, plan, seed=index + 1)
        enterprises.append((organization, manager))
    with queueing.synchronous():
        task = services.task_create(
            actor=officer, purpose=DEMO_PURPOSE, model_kind="fault_state",
            enterprises=[organization for organization, _manager in enterprises], label_source="batch_label",
            aggregation="fedma", compare=True, rounds=2, local_epochs=8, hidden_sizes=(16,), min_participants=2,
            seed=7)
        for organization, manager in enterprises:
            services.grant_accept(actor=manager, grant=task.grants.get(organization=organization))
        queueing.drain()
        for organization, _manager in enterprises:
            for press in Press.objects.filter(organization=organization, status=Press.Status.ACTIVE):
                latest = press.batches.order_by("-started_at").first()
                if latest is not None:
                    services.inference_for_batch(batch_id=latest.pk)
    task.refresh_from_db()
    context.notes.append(f"Federated learning: task #{task.pk} ({task.get_status_display()}) with a FedAvg "
                         f"comparison; the active fault-state model scores the enterprises' new health runs.")
