"""The ABS simulation on the worker (``default`` queue). The task takes a run id, re-reads the row and calls
``abs_services.simulation_run_execute``, which is idempotent: a finished run is left alone, and a run left
``running`` by a worker that died is computed again from its frozen inputs (same seed, same numbers), so
``acks_late`` is safe."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="lending.abs_simulate_run", acks_late=True, reject_on_worker_lost=True)
def abs_simulate_run(run_id: int) -> str:
    from .abs_services import simulation_run_execute

    return simulation_run_execute(run_id=run_id)
