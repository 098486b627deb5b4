"""Restarting the session's real Celery worker process (the ``celery_worker_process`` fixture) from a
test: SIGKILL its process group like a crash, or restart it on other queues; the handle then points at
the new process, so later tests and the session teardown use it."""
from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys

from tests.conftest import REPO_ROOT

_counter = itertools.count(1)
STANDARD_QUEUES = "default,aggregation"


def restart_worker(handle, *, kill: bool = False, queues: str = STANDARD_QUEUES, all_participants: bool = True):
    if handle.process.poll() is None:
        os.killpg(handle.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            handle.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(handle.process.pid, signal.SIGKILL)
            handle.process.wait()
    log_path = handle.log_path.parent / f"worker-restart-{next(_counter)}.log"
    log = open(log_path, "w")
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queues, "--concurrency=1",
               "--pool=prefork", "-l", "info", "-n", handle.name]
    if all_participants:
        command.insert(6, "--all-participants")
    handle.process = subprocess.Popen(command, cwd=REPO_ROOT, env=handle.env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
    handle.log_path = log_path
    handle.wait_until_ready()
    return handle
