"""The analysis task against a real Celery worker on the enterprise's queue (never eager mode)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from django.conf import settings
from django.test import override_settings

from audit.models import AuditEvent
from health.models import HealthAlarm, HealthBaseline, HealthRun
from tests.conftest import wait_for
from tests.fixtures import build_world
from tests.health.conftest import BPFO_HZ, ingest, register_press, simulated

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_storage():
    """Batch files where the worker process reads them (its settings' storage root, not this test's)."""
    root = settings.TEST_VAR_DIR / "storage"
    with override_settings(STORAGE_ROOT=root, MEDIA_ROOT=root):
        yield root
    shutil.rmtree(root / "enterprises" / "ent-a", ignore_errors=True)


def _succeeded(worker) -> int:
    return sum(1 for line in worker.log().splitlines() if "health.analyze_batch[" in line and "succeeded" in line)


def test_a_faulty_batch_after_healthy_ones_ends_in_an_alarm(celery_worker_process, worker_storage):
    world = build_world()
    press = register_press(world)
    batches = [ingest(world, press, simulated(None, seed=index), index=index) for index in range(3)]
    batches.append(ingest(world, press, simulated("outer", seed=3, severity=2.0), index=3))

    alarm = wait_for(lambda: HealthAlarm.objects.filter(press=press).first(), timeout=90,
                     message="the worker to analyse the batches and raise the alarm")
    runs = list(HealthRun.objects.filter(press=press).order_by("recorded_at"))
    assert [run.status for run in runs] == ["done"] * 4
    assert [run.baseline_member for run in runs] == [True, True, True, False]
    assert HealthBaseline.objects.get(press=press).status == "ready"
    assert alarm.run == runs[-1] and alarm.status == "open" and alarm.level >= 2
    assert (alarm.component, alarm.fault) == ("bearing", "outer_race")
    assert alarm.fault_hz == pytest.approx(BPFO_HZ, rel=0.02)
    event = AuditEvent.objects.get(action="health.analyze", object_id=str(batches[-1].pk))
    assert event.actor_kind == "worker" and event.actor_org == "ent-a"

    # the same message delivered again: the worker runs it, nothing changes
    from health.services import batch_analysis_enqueue

    done = _succeeded(celery_worker_process)
    events = AuditEvent.objects.count()
    batch_analysis_enqueue(batch=batches[-1])
    wait_for(lambda: _succeeded(celery_worker_process) > done, timeout=60, message="the repeated task to run")
    assert HealthAlarm.objects.filter(press=press).count() == 1
    assert AuditEvent.objects.count() == events
    assert list(HealthRun.objects.filter(press=press).order_by("recorded_at").values_list("health_index_z", flat=True)) \
        == [run.health_index_z for run in runs]


def test_bad_stored_samples_give_a_failed_run_not_a_crash_loop(celery_worker_process, worker_storage):
    from health.services import batch_analysis_enqueue
    from tests.health.test_analysis_service import _stored_batch

    world = build_world()
    press = register_press(world)
    samples = simulated(None, seed=1)
    samples[1234] = np.inf
    batch = _stored_batch(world, press, samples, index=1)
    batch_analysis_enqueue(batch=batch)
    run = wait_for(lambda: HealthRun.objects.filter(batch=batch, status="failed").first(), timeout=90,
                   message="the worker to fail the run")
    assert "NaN or infinite" in run.error
    log = celery_worker_process.log()
    assert not [line for line in log.splitlines() if "health.analyze_batch[" in line and "raised" in line]
