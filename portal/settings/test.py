"""Test settings: the same code paths as production; database and broker from the environment.

CI sets DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis); elsewhere the suite falls back to a
SQLite file (shared with the real worker processes the tests start) and the filesystem broker.
"""
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .base import *  # noqa: F401,F403
from .base import DATABASES, VAR_DIR, env
from portal.localsecrets import generate_secrets

_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_secrets = generate_secrets(seed=b"presstrust-test-secrets")
SECRET_KEY = _secrets["SECRET_KEY"]
AUDIT_HMAC_KEYS = env("AUDIT_HMAC_KEYS", default=_secrets["AUDIT_HMAC_KEYS"])
AUDIT_HMAC_CURRENT = env("AUDIT_HMAC_CURRENT", default=_secrets["AUDIT_HMAC_CURRENT"])
PARTICIPANT_KEY_ENCRYPTION_KEY = _secrets["PARTICIPANT_KEY_ENCRYPTION_KEY"]
PLATFORM_SIGNING_KEY_PEM = _secrets["PLATFORM_SIGNING_KEY_PEM"]
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# One folder per test run (and per xdist worker), shared with the worker processes the tests start
# (they inherit PRESSTRUST_TEST_RUN_ID), so concurrent test runs on one machine never share a database.
_run_id = os.environ.setdefault("PRESSTRUST_TEST_RUN_ID", str(os.getpid()))
TEST_VAR_DIR = Path(tempfile.gettempdir()) / "presstrust-tests" / f"{_run_id}-{_worker}"
TEST_VAR_DIR.mkdir(parents=True, exist_ok=True)
STORAGE_ROOT = TEST_VAR_DIR / "storage"
MEDIA_ROOT = STORAGE_ROOT
if os.environ.get("PRESSTRUST_TEST_DB_NAME"):
    # A worker process started by the tests: point it straight at the test database.
    DATABASES["default"]["NAME"] = os.environ["PRESSTRUST_TEST_DB_NAME"]
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that real worker processes started by the tests see the same rows.
    DATABASES["default"]["TEST"] = {"NAME": str(TEST_VAR_DIR / "test.sqlite3")}
BROKER_DIR = TEST_VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = dict(CELERY_BROKER_TRANSPORT_OPTIONS)  # noqa: F405
if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        {"data_folder_in": str(BROKER_DIR / "queue"), "data_folder_out": str(BROKER_DIR / "queue"),
         "control_folder": str(BROKER_DIR / "control")}
    )
elif CELERY_BROKER_URL.startswith("redis://"):  # noqa: F405
    # Each xdist worker gets its own Redis database so parallel test processes never share queues.
    _index = 1 + (int(_worker[2:]) if _worker.startswith("gw") else 0)
    _parts = urlsplit(CELERY_BROKER_URL)  # noqa: F405
    CELERY_BROKER_URL = urlunsplit(_parts._replace(path=f"/{_index}"))
    # Celery prefers the CELERY_BROKER_URL environment variable over the setting (celery.app.utils.Settings
    # .broker_url), so rewrite it too: this process, and the worker processes the tests start with its
    # environment, then all use this xdist worker's database and never consume each other's tasks.
    os.environ["CELERY_BROKER_URL"] = CELERY_BROKER_URL
AXES_FAILURE_LIMIT = 5
STATIC_ROOT = TEST_VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
