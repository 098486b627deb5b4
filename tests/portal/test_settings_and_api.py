"""Settings from the environment, check --deploy, the OpenAPI schema, health check when parts are down."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from portal.localsecrets import generate_secrets
from tests.conftest import REPO_ROOT


def _production_env(**extra) -> dict:
    secrets = generate_secrets()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"))}
    env.update(secrets)
    env.update(DJANGO_SETTINGS_MODULE="portal.settings.production", ALLOWED_HOSTS="presstrust.example.com",
               DATABASE_URL="postgres://presstrust:secret@db.internal:5432/presstrust",
               CELERY_BROKER_URL="redis://cache.internal:6379/0", **extra)
    return env


def test_production_settings_pass_check_deploy():
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=REPO_ROOT, env=_production_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_database_and_broker_switch_by_environment_only():
    code = ("from django.conf import settings; import django; django.setup();"
            "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=_production_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["django.db.backends.postgresql", "redis://cache.internal:6379/0"], result.stderr


def test_production_refuses_to_start_without_secrets():
    env = _production_env()
    del env["AUDIT_HMAC_KEYS"]
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and "AUDIT_HMAC_KEYS must be set" in result.stderr


@pytest.mark.django_db
def test_openapi_schema_is_valid_and_docs_render(client):
    from drf_spectacular.validation import validate_schema
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    assert "/api/v1/organizations/{id}/suspend/" in schema["paths"]
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_health_check_reports_a_down_broker(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] and not body["broker"]["ok"]


@pytest.mark.django_db
def test_every_page_switches_language(client, world, login_as):
    client = login_as(world.ent_a_manager)
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert 'lang="zh-hans"' in page
    assert "退出" in page  # "Sign out"
