"""Parallel writers keep one chain; auditors see only granted organisations; evidence bundles verify offline."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from audit import selectors, services
from audit.models import AuditEvent, AuditIntake
from audit.verification import verify_stored_chain
from tests.conftest import REPO_ROOT
from tests.fixtures import build_world


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_parallel_writers_from_several_processes_keep_a_gap_free_chain():
    build_world()
    start = AuditEvent.objects.count()
    env = dict(os.environ, PRESSTRUST_TEST_DB_NAME=str(connection.settings_dict["NAME"]),
               PYTEST_XDIST_WORKER=os.environ.get("PYTEST_XDIST_WORKER", "main"))
    writers = [subprocess.Popen([sys.executable, "-m", "tests.audit.append_worker", f"w{i}", "40"], cwd=REPO_ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    for writer in writers:
        out, err = writer.communicate(timeout=240)
        assert writer.returncode == 0, err
        print(out.strip())  # how many went through the intake (-s shows it)
    assert not AuditIntake.objects.exists()  # every event recorded through the intake was sealed
    total = AuditEvent.objects.count()
    assert total == start + 160
    assert list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True)) == list(range(1, total + 1))
    result = verify_stored_chain(services.keyring())
    assert result.ok, result.message
    per_writer = {w: AuditEvent.objects.filter(payload__writer=w).count() for w in ("w0", "w1", "w2", "w3")}
    assert per_writer == {"w0": 40, "w1": 40, "w2": 40, "w3": 40}


@pytest.mark.django_db
def test_auditor_sees_an_organisation_only_after_it_grants_access(world, login_as):
    visible = lambda: set(selectors.event_list(user=world.firm_auditor).values_list("organization__slug", flat=True))
    assert visible() <= {"firm"}
    client = login_as(world.ent_a_manager)
    response = client.post(reverse("audit:audit_access", args=[world.ent_a.pk, "grant"]), {"audit_firm": world.firm.pk})
    assert response.status_code == 302
    assert "ent-a" in visible() and "ent-b" not in visible() and "lender-a" not in visible()
    assert AuditEvent.objects.filter(action="audit.access_grant", payload__audit_firm="firm").exists()
    # A manager of another enterprise cannot grant access to ent_a's log (it does not even see ent_a).
    other = login_as(world.ent_b_manager).post(reverse("audit:audit_access", args=[world.ent_a.pk, "revoke"]),
                                               {"audit_firm": world.firm.pk})
    assert other.status_code == 404
    # An auditor of ent_a reads its log but cannot hand it to a firm.
    denied = login_as(world.ent_a_auditor).post(reverse("audit:audit_access", args=[world.ent_a.pk, "grant"]),
                                                {"audit_firm": world.firm.pk})
    assert denied.status_code == 403
    login_as(world.ent_a_manager).post(reverse("audit:audit_access", args=[world.ent_a.pk, "revoke"]),
                                       {"audit_firm": world.firm.pk})
    assert "ent-a" not in visible()


@pytest.mark.django_db
def test_filters_on_the_log(world, login_as):
    api = APIClient()
    api.force_authenticate(world.admin)
    by_action = api.get("/api/v1/audit/events/", {"action": "organization.create"}).json()
    assert by_action["count"] == 6 and {e["action"] for e in by_action["results"]} == {"organization.create"}
    by_org = api.get("/api/v1/audit/events/", {"organization": "ent-a"}).json()
    assert by_org["count"] > 0 and {e["organization"] for e in by_org["results"]} == {"ent-a"}
    with transaction.atomic():
        worker_event = services.record(actor="worker:ent-a", action="test.worker_step", obj=world.ent_a)
    by_worker = api.get("/api/v1/audit/events/", {"actor": "worker:ent-a"}).json()
    assert [e["sequence"] for e in by_worker["results"]] == [worker_event.sequence]
    assert api.get("/api/v1/audit/events/", {"actor": "worker:ent-b"}).json()["count"] == 0
    by_user = api.get("/api/v1/audit/events/", {"actor": world.admin.username.upper()}).json()
    assert by_user["count"] > 0 and {e["actor_user"] for e in by_user["results"]} == {world.admin.username}
    by_actor_org = api.get("/api/v1/audit/events/", {"actor_org": "ent-a"}).json()
    assert worker_event.sequence in {e["sequence"] for e in by_actor_org["results"]}
    assert {e["actor_org"] for e in by_actor_org["results"]} == {"ent-a"}
    by_object = api.get("/api/v1/audit/events/", {"object_type": "accounts.organization",
                                                  "object_id": str(world.ent_a.pk)}).json()
    assert by_object["count"] >= 2
    assert {(e["object_type"], e["object_id"]) for e in by_object["results"]} == {("accounts.organization",
                                                                                     str(world.ent_a.pk))}
    moment = worker_event.occurred_at
    since = api.get("/api/v1/audit/events/", {"since": moment.isoformat()}).json()
    assert [e["sequence"] for e in since["results"]] == [worker_event.sequence]
    until = api.get("/api/v1/audit/events/", {"until": (moment - timedelta(microseconds=1)).isoformat()}).json()
    assert worker_event.sequence not in {e["sequence"] for e in until["results"]} and until["count"] > 0
    assert api.get("/api/v1/audit/events/", {"since": "not a date"}).status_code == 400
    # The log page filters the same way.
    page = login_as(world.admin).get(reverse("audit:event_list"), {"actor": "worker:ent-a"})
    assert page.status_code == 200 and b"test.worker_step" in page.content
    api.force_authenticate(world.ent_a_manager)  # not an auditor
    assert api.get("/api/v1/audit/events/").json()["count"] == 0


@pytest.mark.django_db
def test_evidence_bundle_verifies_offline_and_redacts_what_the_auditor_may_not_read(world, tmp_path):
    last = AuditEvent.objects.order_by("-sequence").first().sequence
    api = APIClient()
    api.force_authenticate(world.ent_a_auditor)
    response = api.get("/api/v1/audit/events/export/", {"first": 1, "last": last})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(response.content)
    key = tmp_path / "platform.pem"
    key.write_bytes(api.get("/api/v1/audit/events/platform-key/").content)
    lines = [json.loads(line) for line in zipfile.ZipFile(bundle).read("events.jsonl").splitlines()]
    shown = [line for line in lines if not line.get("redacted")]
    assert shown and all(json.loads(json.dumps(line))["payload"]["subject_org"] == "ent-a" for line in shown)
    assert any(line.get("redacted") for line in lines)
    ok = subprocess.run([sys.executable, "-m", "audit.core.verify_bundle", str(bundle), str(key)], cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # Edit one line: the offline check names the problem and fails.
    archive = zipfile.ZipFile(bundle)
    edited = io.BytesIO()
    with zipfile.ZipFile(edited, "w") as out:
        for item in archive.infolist():
            data = archive.read(item.filename)
            if item.filename == "events.jsonl":
                data = data.replace(b'"action":"', b'"action":"x', 1)
            out.writestr(item, data)
    forged = tmp_path / "forged.zip"
    forged.write_bytes(edited.getvalue())
    bad = subprocess.run([sys.executable, "-m", "audit.core.verify_bundle", str(forged), str(key)], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert AuditEvent.objects.filter(action="audit.export").exists()


@pytest.mark.django_db
def test_export_refuses_bad_ranges_and_non_auditors(world):
    api = APIClient()
    api.force_authenticate(world.ent_a_auditor)
    assert api.get("/api/v1/audit/events/export/", {"first": 5, "last": 2}).status_code == 400
    assert api.get("/api/v1/audit/events/export/", {"first": 1, "last": 10**9}).status_code == 400
    assert api.get("/api/v1/audit/events/export/", {"first": "x", "last": 2}).status_code == 400
    api.force_authenticate(world.ent_a_manager)
    assert api.get("/api/v1/audit/events/export/", {"first": 1, "last": 2}).status_code == 403


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_verification_runs_on_a_real_worker_and_reports_a_break(celery_worker_process):
    from audit.models import ChainVerification
    from tests.audit.test_chain_db import tamper
    from tests.conftest import wait_for

    world = build_world()
    api = APIClient()
    api.force_authenticate(world.firm_auditor)
    started = api.post("/api/v1/audit/verifications/")
    assert started.status_code == 202
    done = wait_for(lambda: ChainVerification.objects.filter(pk=started.json()["id"], status="intact").first(),
                    timeout=60, message="the verification to finish")
    assert done.checked == done.total and "intact" in done.message
    from django.db import transaction

    with transaction.atomic():
        tamper(f"UPDATE {AuditEvent._meta.db_table} SET action = 'x' WHERE sequence = 2")
    second = api.post("/api/v1/audit/verifications/").json()["id"]
    broken = wait_for(lambda: ChainVerification.objects.filter(pk=second, status="broken").first(), timeout=60,
                      message="the second verification")
    assert (broken.broken_sequence, broken.reason) == (2, "field_changed")
    assert api.get(f"/api/v1/audit/verifications/{second}/").json()["status"] == "broken"
    api.force_authenticate(world.ent_a_manager)  # not an auditor
    assert api.post("/api/v1/audit/verifications/").status_code == 403


@pytest.mark.django_db
def test_log_pages_render_for_auditors_and_filter(world, login_as):
    client = login_as(world.ent_a_auditor)
    page = client.get(reverse("audit:event_list"), {"action": "user.create"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Verify now" in text and "Export evidence" in text and "user.create" in text
    assert "organization.create" not in text  # filtered out
    first = AuditEvent.objects.filter(organization=world.ent_a).first()
    detail = client.get(reverse("audit:event_detail", args=[first.sequence]))
    assert detail.status_code == 200 and first.mac in detail.content.decode()
    bundle = client.get(reverse("audit:evidence_export"), {"first": 1, "last": first.sequence})
    assert bundle.status_code == 200 and bundle["Content-Type"] == "application/zip"
    assert client.get(reverse("audit:platform_key")).content.startswith(b"-----BEGIN PUBLIC KEY-----")
