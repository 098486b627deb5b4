"""How federation services hand work to Celery: after commit, by task name, on a named queue.

``send`` is the only way the services enqueue. Inside :func:`synchronous` (the demo seeder, fast tests
of the service logic) the same messages are collected instead and :func:`drain` runs them in this
process, in order, through the very same task functions; delayed messages (straggler checks) are
skipped there because nothing is late in a synchronous run.
"""
from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager

from django.db import transaction

_local = threading.local()


def send(task_name: str, *, queue: str, kwargs: dict, countdown: float | None = None) -> None:
    if getattr(_local, "immediate", False) and getattr(_local, "pending", None) is not None:
        if countdown is None:
            _local.pending.append((task_name, dict(kwargs)))
        return

    def enqueue() -> None:
        pending = getattr(_local, "pending", None)
        if pending is not None:
            if countdown is None:
                pending.append((task_name, dict(kwargs)))
            return
        from . import tasks

        getattr(tasks, task_name).apply_async(kwargs=kwargs, queue=queue, countdown=countdown)

    transaction.on_commit(enqueue)


@contextmanager
def synchronous(*, immediate: bool = False):
    """Collect the messages sent inside the block (and while draining) instead of publishing them.

    ``immediate``: collect at once instead of after commit — only for building fixtures inside a test's
    enclosing transaction, which never commits."""
    previous = getattr(_local, "pending", None), getattr(_local, "immediate", False)
    _local.pending, _local.immediate = deque(), immediate
    try:
        yield
    finally:
        _local.pending, _local.immediate = previous


def drain(limit: int = 100_000, *, only: set[str] | None = None) -> int:
    """Run the collected messages (and those they send) until none is left; returns how many ran.
    ``only``: run just these task names and keep the others pending (e.g. to play a participant)."""
    from . import tasks

    pending = _local.pending
    kept: deque = deque()
    count = 0
    while pending and count < limit:
        task_name, kwargs = pending.popleft()
        if only is not None and task_name not in only:
            kept.append((task_name, kwargs))
            continue
        getattr(tasks, task_name).run(**kwargs)
        count += 1
    pending.extend(kept)
    return count


def pending_messages() -> list[tuple[str, dict]]:
    """The messages collected and not yet run (inside :func:`synchronous`)."""
    return list(_local.pending or ())
