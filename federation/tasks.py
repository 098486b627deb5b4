"""Celery entry points of federated tasks: each takes ids, re-reads rows and calls a service.

Queues (set by the services when they send): ``dispatch_step`` and ``aggregate_step`` on
``aggregation``; ``local_train``, ``evaluate_version``, ``score_health_run``, ``score_batch`` and
``rescore_press`` on the participant's own ``participant.<org-slug>`` (they read its data);
``check_stragglers`` on ``default``. All are idempotent and acknowledged late (a killed worker's message
is redelivered; ``federation_resume`` re-sends the current step at once).
"""
from __future__ import annotations

import functools
import logging

from celery import shared_task
from celery.signals import worker_process_init
from django.core.exceptions import ObjectDoesNotExist

logger = logging.getLogger(__name__)
TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


def _gone_is_done(function):
    """A message about rows that no longer exist (a deleted task) has nothing left to do."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ObjectDoesNotExist as exc:
            logger.info("%s: %s; nothing to do", function.__name__, exc)
            return None

    return wrapper


@shared_task(**TASK_OPTIONS)
@_gone_is_done
def dispatch_step(task_id: int, index: int) -> int:
    from .services import step_dispatch

    return step_dispatch(task_id=task_id, index=index)


@shared_task(**TASK_OPTIONS)
@_gone_is_done
def local_train(task_id: int, step_index: int, participant_id: int, instruction: str) -> str:
    from .participant import local_train_run

    return local_train_run(task_id=task_id, step_index=step_index, participant_id=participant_id,
                           instruction_text=instruction)


@shared_task(**TASK_OPTIONS)
@_gone_is_done
def aggregate_step(task_id: int, index: int) -> None:
    from .services import step_aggregate

    step_aggregate(task_id=task_id, index=index)


@shared_task(**TASK_OPTIONS)
@_gone_is_done
def check_stragglers(task_id: int | None = None) -> dict:
    from .services import stragglers_check

    return stragglers_check(task_id=task_id)


@shared_task(**TASK_OPTIONS)
@_gone_is_done
def evaluate_version(version_id: int, participant_id: int) -> str:
    from .participant import evaluate_version_run

    return evaluate_version_run(version_id=version_id, participant_id=participant_id)


@shared_task(**TASK_OPTIONS)
@_gone_is_done
def score_health_run(run_id: int) -> int:
    from .services import inference_for_health_run

    return len(inference_for_health_run(run_id))


@shared_task(**TASK_OPTIONS)
@_gone_is_done
def score_batch(batch_id: int, channel: str | None = None) -> int:
    from .services import inference_for_batch

    return len(inference_for_batch(batch_id=batch_id, channel=channel))


@shared_task(**TASK_OPTIONS)
@_gone_is_done
def rescore_press(press_id: int) -> int:
    from .services import press_rescore_run

    return press_rescore_run(press_id=press_id)


@worker_process_init.connect
def _warm_up(**_kwargs):
    """Load PyTorch, the feature pipeline and the crypto in each worker process when it starts, so the
    first step it runs does not pay for the imports."""
    import numpy as np

    from . import participant, services  # noqa: F401
    from .core.messages import TrainingConfig
    from .core.specs import MLPSpec
    from .core.training import initial_weights, predict_probabilities, train_local

    # PyTorch's first operations in a process (kernel and allocator set-up) take about a second.
    spec = MLPSpec(input_dim=2, hidden_sizes=(2,), num_classes=2)
    weights = initial_weights(spec, 0)
    weights, _report = train_local(spec, weights, np.zeros((4, 2)), np.array([0, 1, 0, 1]),
                                   config=TrainingConfig(epochs=1, batch_size=2), seed=0)
    predict_probabilities(spec, weights, np.zeros((1, 2)))
