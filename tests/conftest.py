"""Shared fixtures: the services (PostgreSQL, Redis, a real Celery worker), the demo-like world of
organisations and roles, signed-in clients, and the browser."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

from tests.fixtures import login_as, world  # noqa: E402,F401  (shared fixtures)


def task_callbacks(callbacks: list) -> list:
    """Captured on-commit callbacks without the audit chain's sealing hook (registered on PostgreSQL)."""
    from audit.services import is_sealing_hook

    return [callback for callback in callbacks if not is_sealing_hook(callback)]


def require_service(what: str, ok: bool, reason: str) -> None:
    """In CI a missing service is a failure; elsewhere the test is skipped with the reason."""
    if ok:
        return
    message = f"{what} is not available: {reason}"
    if IN_CI:
        pytest.fail(message + " (CI must provide it)", pytrace=False)
    pytest.skip(message)


def shared_data_path(*parts: str) -> Path:
    """A file or folder of the real data sets in ../shared/data. CI clones ../shared beside the repository,
    so there its absence fails the test; elsewhere the test is skipped, saying so."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"{path} is absent: the real data sets live in ../shared/data beside the repository"
        if IN_CI:
            pytest.fail(message + " (CI must provide it)", pytrace=False)
        pytest.skip(message)
    return path


def _port_open(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def pytest_sessionfinish(session, exitstatus):
    """Remove this run's scratch folder (test database file, broker folders)."""
    try:
        from django.conf import settings

        folder = getattr(settings, "TEST_VAR_DIR", None)
    except Exception:
        return
    if folder is not None and Path(folder).exists() and exitstatus == 0:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_configure(config):
    if IN_CI:
        database_url = os.environ.get("DATABASE_URL", "")
        broker_url = os.environ.get("CELERY_BROKER_URL", "")
        if not database_url.startswith("postgres"):
            raise pytest.UsageError("CI must run against PostgreSQL: DATABASE_URL is " + repr(database_url))
        if not broker_url.startswith("redis"):
            raise pytest.UsageError("CI must run against Redis: CELERY_BROKER_URL is " + repr(broker_url))


@pytest.fixture(scope="session", autouse=True)
def _allow_flush_of_audit_table(request):
    """The append-only trigger refuses TRUNCATE unless a session opts in; the test flush does."""
    if not request.config.pluginmanager.hasplugin("django"):
        yield
        return
    from django.db.backends.signals import connection_created

    def opt_in(sender, connection, **kwargs):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET presstrust.allow_audit_truncate = 'on'")

    connection_created.connect(opt_in, weak=False)
    from django.db import connections

    for conn in connections.all():
        if conn.connection is not None:
            opt_in(None, conn)
    yield


@pytest.fixture(autouse=True)
def _isolated_storage(request, tmp_path):
    if not request.config.pluginmanager.hasplugin("django"):
        yield  # numeric-core tests may run with -p no:django
        return
    from django.test import override_settings

    with override_settings(STORAGE_ROOT=tmp_path / "storage", MEDIA_ROOT=tmp_path / "storage"):
        yield


@pytest.fixture(scope="session")
def postgres_required():
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    require_service("PostgreSQL", engine.endswith("postgresql"), f"the suite runs on {engine}")


@pytest.fixture(scope="session")
def redis_required():
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    require_service("Redis", url.startswith("redis") and _port_open(url, 6379), f"broker is {url}")


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real ``celery worker`` process on the test database and the test broker (never eager mode)."""
    from django.conf import settings
    from django.db import connection

    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    broker = settings.CELERY_BROKER_URL
    if broker.startswith("redis"):
        require_service("Redis", _port_open(broker, 6379), f"cannot reach {broker}")
    elif IN_CI:
        pytest.fail("CI runs the worker against Redis", pytrace=False)
    for folder in ("data_folder_in", "control_folder"):
        path = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(folder)
        if path:
            Path(path).mkdir(parents=True, exist_ok=True)
    if broker.startswith("redis"):
        import redis

        redis.Redis.from_url(broker).flushdb()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="portal.settings.test", PRESSTRUST_TEST_DB_NAME=str(db_name),
               PYTEST_XDIST_WORKER=os.environ.get("PYTEST_XDIST_WORKER", "main"), WORKER_HEARTBEAT_SECONDS="2",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    name = f"test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}@%h"
    handle = start_worker(env=env, name=name, log_path=tmp_path_factory.mktemp("worker") / "worker.log",
                          queue_args=["--all-participants", "-Q", "default,aggregation"])
    yield handle
    handle.stop()


def start_worker(*, env: dict, name: str, log_path: Path, queue_args: list[str]) -> "WorkerHandle":
    """Start a real ``celery worker`` process with ``queue_args`` and wait until it is ready."""
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", *queue_args,
         "--concurrency=1", "--pool=prefork", "-l", "info", "-n", name],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()  # the child keeps its own descriptor
    handle = WorkerHandle(process=process, log_path=log_path, env=env, name=name)
    handle.wait_until_ready()
    return handle


class WorkerHandle:
    def __init__(self, *, process, log_path, env, name):
        self.process, self.log_path, self.env, self.name = process, log_path, env, name

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def wait_until_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("celery worker exited:\n" + self.log())
            if " ready." in self.log():
                return
            time.sleep(0.3)
        raise RuntimeError("celery worker did not become ready:\n" + self.log())

    def stop(self) -> None:
        import signal

        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value (database state written by another process)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
