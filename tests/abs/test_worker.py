"""A simulation run through a real Celery worker: queued after commit on the default queue, computed from its frozen
inputs, progress written to the row, finished and audited as the worker of the lender; the worker's numbers are
the ones the same inputs and seed give in-process."""
from __future__ import annotations

import pytest

from audit.models import AuditEvent
from lending import abs_engine, abs_services
from lending.abs_models import SimulationRun
from lending.jsonsafe import jsonable
from tests.abs.conftest import STRUCTURE
from tests.abs.test_pools import ids
from tests.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_run_completes_on_a_real_worker_with_progress(abs_world, celery_worker_process):
    w = abs_world
    pool = abs_services.pool_create(actor=w.lender_a_officer, name="Worker pool", facility_ids=ids(w.facilities))
    structure = abs_services.structure_create(actor=w.lender_a_officer, pool=pool, name="Worker structure",
                                              definition=STRUCTURE)
    run = abs_services.run_request(actor=w.lender_a_officer, pool=pool, structure=structure, scenarios=5000, seed=7)
    samples = []

    def finished():
        row = SimulationRun.objects.get(pk=run.pk)
        samples.append((row.status, row.progress))
        return row if row.is_finished else None

    row = wait_for(finished, timeout=120, interval=0.05, message="the worker to finish the run")
    assert row.status == "done", row.error + "\n" + celery_worker_process.log()
    assert (row.progress, row.stage, row.attempts) == (100, "done", 1)
    assert row.started_at is not None and row.finished_at >= row.started_at
    progress = [p for _status, p in samples]
    assert progress == sorted(progress)  # it only ever moves forward
    assert row.results == jsonable(abs_engine.simulate(row.inputs))
    assert row.results["scenarios"] == 5000 and row.results["seed"] == 7
    events = AuditEvent.objects.filter(object_type="lending.simulationrun", object_id=str(run.pk)).order_by("sequence")
    assert [(e.action, e.actor_kind) for e in events] == [
        ("abs.run.request", "user"), ("abs.run.start", "worker"), ("abs.run.finish", "worker")]
    assert "lending.abs_simulate_run" in celery_worker_process.log()
