"""Sensor-batch upload: every bad input gets its own error and leaves nothing behind; good ones round-trip."""
from __future__ import annotations

import io
from datetime import timedelta
import os

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from devices import services, storage
from devices.models import SensorBatch
from tests.conftest import shared_data_path
from tests.devices.conftest import STARTED, csv_upload, npy_upload, signal

pytestmark = pytest.mark.django_db


def _stored_files() -> list[str]:
    return storage.list_batch_files()


def _ingest(world, press, upload, **kwargs):
    params = {"sampling_rate_hz": 20000, "started_at": STARTED, **kwargs}
    return services.batch_ingest(actor=world.ent_a_manager, press=press, uploaded_file=upload, **params)


def test_npy_batch_is_stored_compressed_and_reads_back_exactly(world, press):
    data = signal()
    batch = _ingest(world, press, npy_upload(data), stroke_rate_spm=25, load_percent=70)
    assert batch.sample_count == 20000 and batch.channel_names == ["accel_x", "accel_y"]
    assert batch.storage_path.startswith(f"enterprises/{world.ent_a.slug}/presses/{press.pk}/")
    samples, names = services.batch_samples(actor=world.ent_a_manager, batch=batch)
    assert names == ["accel_x", "accel_y"] and samples.dtype == np.float32
    assert np.array_equal(samples, data.astype(np.float32))
    assert default_storage.size(batch.storage_path) < data.astype(np.float32).nbytes * 1.01
    summary = {c["name"]: c for c in batch.channel_summary}
    assert summary["accel_x"]["unit"] == "g"
    assert summary["accel_x"]["rms"] == pytest.approx(float(np.sqrt(np.mean(data[:, 0].astype(np.float32) ** 2))), rel=1e-4)
    assert AuditEvent.objects.filter(action="batch.upload", object_id=str(batch.pk)).exists()


def test_csv_with_header_maps_columns_by_name(world, press):
    data = signal(5000)
    batch = _ingest(world, press, csv_upload(data[:, ::-1], header=("accel_y", "accel_x")))
    samples, names = services.batch_samples(actor=world.ent_a_manager, batch=batch)
    assert names == ["accel_x", "accel_y"]
    assert np.allclose(samples[:, 0], data[:, 0], atol=1e-6)


def _bad_cases():
    good = signal(5000)
    nan = good.copy()
    nan[1234, 1] = np.nan
    constant = good.copy()
    constant[:, 0] = 0.25
    clipped = good.copy()
    clipped[::10, 1] = np.abs(good[:, 1]).max()
    clipped[1::10, 1] = np.abs(good[:, 1]).max()
    clipped[2::10, 1] = np.abs(good[:, 1]).max()
    truncated = io.BytesIO()
    np.save(truncated, good)
    return {
        "unreadable": (SimpleUploadedFile("x.npy", b"this is not numpy"), "bad_format", {}),
        "truncated": (SimpleUploadedFile("x.npy", truncated.getvalue()[:-5000]), "bad_format", {}),
        "wrong format for extension": (SimpleUploadedFile("x.mat", b"a,b\n1,2\n"), "bad_format", {}),
        "unknown extension": (SimpleUploadedFile("x.wav", b"RIFF...."), "bad_format", {}),
        "empty": (csv_upload(np.zeros((0, 2))), None, {}),
        "too short": (npy_upload(good[:100]), "too_short", {}),
        "nan": (npy_upload(nan), "non_finite", {}),
        "dead channel": (npy_upload(constant), "dead_channel", {}),
        "clipped": (npy_upload(clipped), "clipped", {}),
        "sampling rate": (npy_upload(good), "sampling_rate", {"sampling_rate_hz": 50}),
        "channel count": (npy_upload(good[:, :1]), None, {}),
        "mapping to missing column": (csv_upload(good), None, {"channel_mapping": {"nope": "accel_x"}}),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_each_bad_batch_gets_its_error_and_leaves_nothing(world, press, case):
    upload, code, kwargs = _bad_cases()[case]
    before_events = AuditEvent.objects.exclude(action="batch.reject").count()
    with pytest.raises(services.BatchRejected) as rejected:
        _ingest(world, press, upload, **kwargs)
    detail = rejected.value.detail
    if code is not None:
        assert detail["code"] == code, detail
    assert detail["message"]
    if case == "nan":
        assert (detail["row"], detail["channel"]) == (1234, "accel_y")
    assert not SensorBatch.objects.exists() and _stored_files() == []
    assert AuditEvent.objects.exclude(action="batch.reject").count() == before_events
    assert AuditEvent.objects.filter(action="batch.reject").count() == 1


def test_duplicate_oversized_retired_and_foreign_press(world, press, settings):
    upload = npy_upload(signal(4000))
    _ingest(world, press, upload)
    upload.seek(0)
    with pytest.raises(services.BatchRejected) as duplicate:
        _ingest(world, press, upload)
    assert duplicate.value.detail["code"] == "duplicate"
    settings.SENSOR_UPLOAD_MAX_BYTES = 1000
    with pytest.raises(services.BatchRejected) as large:
        _ingest(world, press, npy_upload(signal(4000, seed=2)))
    assert large.value.detail["code"] == "too_large"
    settings.SENSOR_UPLOAD_MAX_BYTES = 200_000_000
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.batch_ingest(actor=world.ent_b_manager, press=press, uploaded_file=npy_upload(signal(seed=3)),
                              sampling_rate_hz=20000, started_at=STARTED)
    services.press_retire(actor=world.ent_a_manager, press=press, reason="scrapped")
    with pytest.raises(services.BatchRejected) as retired:
        _ingest(world, press, npy_upload(signal(4000, seed=4)))
    assert retired.value.detail["code"] == "press_retired"
    assert SensorBatch.objects.count() == 1 and len(_stored_files()) == 1
    codes = list(AuditEvent.objects.filter(action="batch.reject").order_by("sequence").values_list("payload__code", flat=True))
    assert codes == ["duplicate", "too_large", "press_retired"]


def test_the_default_size_limit_is_200_megabytes():
    from portal.settings import base

    assert base.SENSOR_UPLOAD_MAX_BYTES == 200_000_000 or "SENSOR_UPLOAD_MAX_BYTES" in os.environ


def test_operating_condition_out_of_range_is_refused(world, press):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        _ingest(world, press, npy_upload(signal()), stroke_rate_spm=90)
    assert "stroke_rate_spm" in error.value.message_dict
    with pytest.raises(ValidationError) as future:
        _ingest(world, press, npy_upload(signal()), started_at=timezone.now() + timedelta(days=1))
    assert "started_at" in future.value.message_dict
    with pytest.raises(ValidationError) as no_rate:
        _ingest(world, press, npy_upload(signal()), sampling_rate_hz=None)
    assert "sampling_rate_hz" in no_rate.value.message_dict
    assert not SensorBatch.objects.exists() and _stored_files() == []
    refusals = AuditEvent.objects.filter(action="batch.reject").order_by("sequence")
    assert [sorted(event.payload["fields"]) for event in refusals] == [["stroke_rate_spm"], ["started_at"],
                                                                        ["sampling_rate_hz"]]
    assert {event.payload["code"] for event in refusals} == {"invalid_parameters"}


def test_file_is_removed_when_the_row_does_not_commit(world, press, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "record", boom)
    with pytest.raises(RuntimeError):
        _ingest(world, press, npy_upload(signal()))
    assert not SensorBatch.objects.exists() and _stored_files() == []


def test_orphan_sweep_removes_files_without_rows(world, press):
    from datetime import timedelta

    batch = _ingest(world, press, npy_upload(signal()))
    storage.write_batch_file(storage.batch_path(org_slug="ent-a", press_id=press.pk, content_hash="f" * 64), b"junk")
    found = services.orphan_files_sweep(dry_run=True, older_than=timedelta(0))
    assert len(found) == 1 and found[0].endswith("f" * 64 + ".npz")
    services.orphan_files_sweep(older_than=timedelta(0))
    assert _stored_files() == [batch.storage_path]


def test_orphan_sweep_keeps_fresh_files_and_treats_undated_ones_as_old(world, press, monkeypatch):
    """A file younger than the cut-off may belong to an upload still committing; a storage backend that
    cannot date its files (Django's Storage raises NotImplementedError) has its orphans swept anyway."""
    from datetime import timedelta

    from django.core.files.storage import default_storage

    storage.write_batch_file(storage.batch_path(org_slug="ent-a", press_id=press.pk, content_hash="e" * 64), b"junk")
    assert services.orphan_files_sweep(dry_run=True, older_than=timedelta(hours=1)) == []

    def undated(path):
        raise NotImplementedError("this storage does not keep modified times")

    monkeypatch.setattr(default_storage, "get_modified_time", undated)
    found = services.orphan_files_sweep(older_than=timedelta(hours=1))
    assert len(found) == 1 and found[0].endswith("e" * 64 + ".npz") and _stored_files() == []


def test_cwru_file_maps_channels_and_rpm_automatically(world):
    path = shared_data_path("cwru", "12k_Drive_End_OR007@6_1_131.mat")
    import datetime as dt

    cwru_press = services.press_register(
        actor=world.ent_a_manager, organization=world.ent_a, name="CWRU rig", site="Lab", make="Reliance",
        model="2 hp", rated_tonnage_t="1", stroke_rate_min_spm="1", stroke_rate_max_spm="100",
        commissioned_on=dt.date(2000, 1, 1),
        channels=[{"name": "DE", "kind": "acceleration", "unit": "g"}, {"name": "FE", "kind": "acceleration", "unit": "g"}])
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    batch = services.batch_ingest(actor=world.ent_a_manager, press=cwru_press, uploaded_file=upload, started_at=STARTED)
    assert batch.sampling_rate_hz == 12000 and batch.channel_names == ["DE", "FE"]
    assert batch.shaft_rpm == pytest.approx(1772, abs=2)
    assert batch.sample_count > 100_000


def test_upload_through_the_api_and_the_page(world, press, login_as):
    api = APIClient()
    api.force_authenticate(world.ent_a_manager)
    url = f"/api/v1/presses/{press.pk}/batches/"
    good = api.post(url, {"file": npy_upload(signal(seed=5)), "sampling_rate_hz": 20000,
                          "started_at": "2026-11-01T08:00:00Z"}, format="multipart")
    assert good.status_code == 201, good.content
    bad = np.zeros((5000, 2))
    bad[7, 0] = np.inf
    refused = api.post(url, {"file": npy_upload(bad), "sampling_rate_hz": 20000,
                             "started_at": "2026-11-01T08:00:00Z"}, format="multipart")
    assert refused.status_code == 400
    assert refused.json()["code"] in ("non_finite", "dead_channel") and refused.json()["row"] is not None
    assert api.get(url).json()["count"] == 1
    batch_id = good.json()["id"]
    samples = api.get(f"/api/v1/batches/{batch_id}/samples/")
    assert samples.status_code == 200
    assert np.load(io.BytesIO(samples.content))["samples"].shape == (20000, 2)
    # Browser form (XHR asks for JSON): the rejection names the check.
    client = login_as(world.ent_a_manager)
    page = client.post(f"/presses/{press.pk}/upload/", {"file": npy_upload(signal(100)), "sampling_rate_hz": "20000",
                                                        "started_at": "2026-11-01T08:00"}, HTTP_ACCEPT="application/json")
    assert page.status_code == 400 and page.json()["error"]["code"] == "too_short"
    ok = client.post(f"/presses/{press.pk}/upload/", {"file": npy_upload(signal(seed=9)), "sampling_rate_hz": "20000",
                                                      "started_at": "2026-11-01T09:00"}, HTTP_ACCEPT="application/json")
    assert ok.status_code == 201 and ok.json()["redirect"].startswith("/presses/batches/")


def test_lenders_never_read_samples(world, press):
    batch = _ingest(world, press, npy_upload(signal()))
    services.health_share_grant(actor=world.ent_a_manager, press=press, lender=world.lender_a)
    api = APIClient()
    api.force_authenticate(world.lender_a_officer)
    assert api.get(f"/api/v1/batches/{batch.pk}/samples/").status_code == 404
    assert api.get(f"/api/v1/presses/{press.pk}/").status_code == 404
    from devices.selectors import press_health_list

    assert list(press_health_list(user=world.lender_a_officer)) == [press]
    assert list(press_health_list(user=world.lender_b_officer)) == []
    share = press.health_shares.get()
    services.health_share_revoke(actor=world.ent_a_manager, share=share)
    assert list(press_health_list(user=world.lender_a_officer)) == []


def test_upload_memory_stays_bounded(world, press, tmp_path):
    """A large NPY upload is memory-mapped, validated in chunks and written once (peak < 3x the samples)."""
    import tracemalloc

    from django.core.files.uploadedfile import TemporaryUploadedFile

    data = np.random.default_rng(1).normal(size=(2_000_000, 2)).astype(np.float32)
    upload = TemporaryUploadedFile("big.npy", "application/octet-stream", 0, None)
    np.save(upload, data)
    upload.size = os.path.getsize(upload.temporary_file_path())
    upload.seek(0)
    raw_bytes = data.nbytes
    del data
    tracemalloc.start()
    _ingest(world, press, upload)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 3 * raw_bytes, f"peak {peak / 1e6:.1f} MB for {raw_bytes / 1e6:.1f} MB of samples"


def test_orphan_command(world, press):
    from io import StringIO

    from django.core.management import call_command

    storage.write_batch_file(storage.batch_path(org_slug="ent-a", press_id=press.pk, content_hash="e" * 64), b"junk")
    out = StringIO()
    call_command("orphan_batches", "--dry-run", "--older-than-minutes", "0", stdout=out)
    assert "1 orphan file(s) found" in out.getvalue() and len(_stored_files()) == 1
    call_command("orphan_batches", "--older-than-minutes", "0", stdout=StringIO())
    assert _stored_files() == []


def test_a_duplicate_that_races_past_the_check_is_refused_audited_and_leaves_no_file(world, press, monkeypatch):
    upload = npy_upload(signal(4000, seed=7))
    _ingest(world, press, upload)
    upload.seek(0)
    manager = type(SensorBatch.objects)
    real_filter = manager.filter

    def blind_filter(self, *args, **kwargs):  # the other request's row is not visible yet when it checks
        result = real_filter(self, *args, **kwargs)
        return result.none() if "content_hash" in kwargs else result

    monkeypatch.setattr(manager, "filter", blind_filter)
    with pytest.raises(services.BatchRejected) as raced:
        _ingest(world, press, upload)
    assert raced.value.detail["code"] == "duplicate"
    assert SensorBatch.objects.count() == 1 and len(_stored_files()) == 1
    assert AuditEvent.objects.filter(action="batch.reject", payload__code="duplicate").count() == 1


def test_an_s3_compatible_store_is_configured_from_the_environment_and_never_overwrites():
    import json
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    env = dict(os.environ, DEFAULT_FILE_STORAGE="storages.backends.s3.S3Storage", STORAGE_BUCKET="presstrust-batches",
               STORAGE_ENDPOINT_URL="https://s3.example.test")
    out = subprocess.run([sys.executable, "-c", "import json, portal.settings.base as b; print(json.dumps(b.STORAGES['default']))"],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    default = json.loads(out.stdout.strip().splitlines()[-1])
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert default["OPTIONS"]["bucket_name"] == "presstrust-batches" and default["OPTIONS"]["file_overwrite"] is False
