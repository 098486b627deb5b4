"""The analysis service in-process: baselines from the first batches, fault frequencies from the press's
geometry, alarms on a level rise, idempotency, and bad stored samples."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from audit.models import AuditEvent
from devices import core, storage
from devices.models import SensorBatch
from health import services
from health.core.validation import MIN_SAMPLES
from health.models import HealthAlarm, HealthBaseline, HealthRun, HealthRunChart, PressHealthState
from tests.health.conftest import BPFO_HZ, START, healthy_then_faulty, ingest, simulated

pytestmark = pytest.mark.django_db


def _actions(**filters):
    return list(AuditEvent.objects.filter(action__startswith="health.", **filters).order_by("sequence")
                .values_list("action", flat=True))


def test_first_batches_form_the_baseline_and_a_faulty_batch_raises_an_alarm(world, press):
    batches = healthy_then_faulty(world, press, healthy=3, faulty=1, severity=2.0)
    runs = list(HealthRun.objects.order_by("recorded_at"))
    assert [run.status for run in runs] == ["done"] * 4
    baseline = HealthBaseline.objects.get()
    assert baseline.status == "ready" and baseline.channel_name == "accel"
    assert baseline.condition_key == "fs=20000|spm=30-40|load=50-75"
    assert [run.baseline_member for run in runs] == [True, True, True, False]
    assert baseline.baseline["n_windows"] >= 5 and baseline.monitor["baseline"]
    # the members' indices were computed against the baseline they formed, and look healthy
    assert all(abs(run.health_index_z) < 3 for run in runs[:3])

    faulty = runs[-1]
    assert faulty.shaft_hz == pytest.approx(25.0)
    assert faulty.health_index_z > 6 and faulty.level >= 2
    top = faulty.top_fault
    assert (top["component"], top["fault"], top["label"]) == ("bearing", "outer_race", "BPFO")
    assert top["found_hz"] == pytest.approx(BPFO_HZ, rel=0.02)
    assert faulty.band["low_hz"] <= 3000 <= faulty.band["high_hz"]
    assert set(faulty.indicators) == {"kurtosis", "negentropy", "gini", "smoothness"}
    assert HealthRunChart.objects.get(run=faulty).ses["frequency_hz"]

    alarm = HealthAlarm.objects.get()
    assert alarm.status == "open" and alarm.level == faulty.level and alarm.run == faulty
    assert (alarm.component, alarm.fault, alarm.fault_label) == ("bearing", "outer_race", "BPFO")
    assert alarm.component_name == "flywheel bearing"
    assert alarm.advice_key == f"bearing.outer_race.{['normal', 'warning', 'alarm', 'danger'][alarm.level]}"

    state = PressHealthState.objects.get(press=press)
    assert state.level == faulty.level and state.last_batch_id == batches[-1].pk
    assert [point[2] for point in state.trend] == [0, 0, 0, faulty.level]
    assert all(point[1] is not None for point in state.trend)  # members got their z at the fit
    assert _actions() == ["health.analyze"] * 2 + ["health.baseline_fit", "health.analyze", "health.alarm_raise",
                                                    "health.analyze"]


def test_analysis_is_idempotent(world, press):
    batches = healthy_then_faulty(world, press, healthy=3, faulty=1)

    def snapshot():
        return (list(HealthRun.objects.order_by("pk").values("pk", "status", "level", "health_index_z", "faults",
                                                             "indicators", "baseline_member")),
                list(HealthAlarm.objects.values("pk", "level", "status")),
                list(HealthBaseline.objects.values("pk", "baseline", "monitor", "generation")),
                AuditEvent.objects.count())

    before = snapshot()
    for batch in batches:  # a redelivered task, or the same task run again by hand
        again = services.batch_analyze(batch_id=batch.pk)
        assert [run.status for run in again] == ["done"]
    assert snapshot() == before
    assert HealthAlarm.objects.count() == 1


def test_a_worker_killed_before_commit_loses_nothing(world, press):
    batches = healthy_then_faulty(world, press, healthy=3, faulty=0)
    batch = ingest(world, press, simulated("outer", seed=9, severity=2.0), index=9)
    services._mark_running(batch, ["accel"])  # what a worker had done when it was killed
    assert HealthRun.objects.get(batch=batch).status == "running"
    runs = services.batch_analyze(batch_id=batch.pk)  # the redelivered message
    assert [run.status for run in runs] == ["done"]
    assert HealthAlarm.objects.filter(run=runs[0]).count() == 1
    # the result is the core's verdict against the stored baseline, whatever happened before
    from health.analysis import analyze_channel
    from health.core.baseline import HealthyBaseline

    baseline = HealthBaseline.objects.get()
    x, _names = core.decode_batch(storage.read_batch_file(batch.storage_path))
    plan = services._make_plan(batch, ["accel"], {c.name: c for c in press.channels.all()})
    expected = analyze_channel(x[:, 0], plan.channels[0].setup, baseline=HealthyBaseline.from_dict(baseline.baseline))
    assert runs[0].health_index_z == pytest.approx(expected.health_index_z)
    assert len(batches) == 3


def _stored_batch(world, press, samples: np.ndarray, index: int) -> SensorBatch:
    """A batch row and file written directly (uploads refuse such data; the task must still cope)."""
    digest = f"{index:064x}"
    path = storage.write_batch_file(storage.batch_path(org_slug=press.organization.slug, press_id=press.pk,
                                                       content_hash=digest),
                                    core.encode_batch(samples.astype(np.float32).reshape(-1, 1), ["accel"]))
    return SensorBatch.objects.create(
        press=press, organization=press.organization, uploaded_by=world.ent_a_manager, original_filename="bad.npy",
        file_format="npy", size_bytes=100, content_hash=digest, storage_path=path, sampling_rate_hz=20000,
        started_at=START + dt.timedelta(days=index), stroke_rate_spm=30, load_percent=70,
        sample_count=samples.size, duration_s=samples.size / 20000, channel_names=["accel"])


def _nan():
    samples = simulated(None, seed=1)
    samples[5000] = np.nan
    return samples


@pytest.mark.parametrize("samples, message", [
    (_nan(), "NaN"),
    (simulated(None, seed=2)[: MIN_SAMPLES - 1], f"at least {MIN_SAMPLES}"),
    (np.zeros(0), "empty"),
    (np.ones(6000), "constant"),
], ids=["nan", "too short", "empty", "constant"])
def test_bad_stored_samples_give_a_failed_run_with_the_reason(world, press, samples, message):
    batch = _stored_batch(world, press, samples, index=1)
    runs = services.batch_analyze(batch_id=batch.pk)
    assert [run.status for run in runs] == ["failed"]
    assert message in runs[0].error and runs[0].level is None
    assert HealthAlarm.objects.count() == 0 and not HealthBaseline.objects.exists()
    event = AuditEvent.objects.get(action="health.analyze")
    assert event.payload["failed"] == ["accel"]
    assert services.batch_analyze(batch_id=batch.pk)[0].status == "failed"  # final: no retry loop
    assert AuditEvent.objects.filter(action="health.analyze").count() == 1


def test_a_missing_file_is_a_failed_run(world, press):
    batch = _stored_batch(world, press, simulated(None, seed=3), index=2)
    storage.delete_batch_file(batch.storage_path)
    run = services.batch_analyze(batch_id=batch.pk)[0]
    assert run.status == "failed" and "could not be read" in run.error


def test_an_unknown_batch_id_is_ignored(db):
    assert services.batch_analyze(batch_id=987654) == []


def test_batches_of_another_condition_get_their_own_baseline(world, press):
    healthy_then_faulty(world, press, healthy=3, faulty=0)
    batch = ingest(world, press, simulated(None, seed=5), index=5, stroke_rate_spm=22, load_percent=95)
    run = services.batch_analyze(batch_id=batch.pk)[0]
    assert HealthBaseline.objects.count() == 2
    assert run.baseline.condition_key == "fs=20000|spm=20-30|load=75-100"
    assert run.baseline.status == "learning" and run.baseline_member and run.health_index_z is None
    assert run.shaft_hz == pytest.approx(22 / 60 * 50)


def test_only_vibration_channels_are_analysed(world):
    from devices import services as device_services
    from health.selectors import batch_analysis_report

    press = device_services.press_register(
        actor=world.ent_a_manager, organization=world.ent_a, name="Two channels", site="S", make="M", model="X",
        rated_tonnage_t="100", stroke_rate_min_spm="20", stroke_rate_max_spm="40", commissioned_on=dt.date(2020, 1, 1),
        channels=[{"name": "accel", "kind": "acceleration", "unit": "g"},
                  {"name": "motor", "kind": "current", "unit": "A"}])
    samples = np.column_stack([simulated(None, seed=1), 10 + simulated(None, seed=2)])
    batch = ingest(world, press, samples, index=1)
    assert batch_analysis_report(batch=batch)["status"] == "queued"
    runs = services.batch_analyze(batch_id=batch.pk)
    assert [run.channel_name for run in runs] == ["accel"]
    assert runs[0].component is None and all(fault["component"] != "bearing" for fault in runs[0].faults)
    report = batch_analysis_report(batch=batch)
    assert report["status"] == "done" and report["percent"] == 100 and [r["channel"] for r in report["runs"]] == ["accel"]


def test_a_cwru_file_gives_its_own_shaft_speed(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from devices import services as device_services
    from tests.conftest import shared_data_path

    path = shared_data_path("cwru", "12k_Drive_End_OR007@6_0_130.mat")
    press = device_services.press_register(
        actor=world.ent_a_manager, organization=world.ent_a, name="CWRU rig", site="Lab", make="Reliance", model="2 hp",
        rated_tonnage_t="1", stroke_rate_min_spm="1", stroke_rate_max_spm="100", commissioned_on=dt.date(2020, 1, 1),
        components=[{"name": "drive-end bearing", "kind": "main_bearing", "ball_count": 9, "ball_diameter_mm": "7.94",
                     "pitch_diameter_mm": "39.04", "contact_angle_deg": 0}],
        channels=[{"name": "DE", "kind": "acceleration", "unit": "g", "component": "drive-end bearing"},
                  {"name": "FE", "kind": "acceleration", "unit": "g"}])
    batch = device_services.batch_ingest(actor=world.ent_a_manager, press=press,
                                         uploaded_file=SimpleUploadedFile(path.name, path.read_bytes()),
                                         started_at=START, sampling_rate_hz=12000)
    runs = {run.channel_name: run for run in services.batch_analyze(batch_id=batch.pk)}
    assert set(runs) == {"DE", "FE"}
    drive_end = runs["DE"]
    assert drive_end.shaft_hz == pytest.approx(batch.shaft_rpm / 60)
    assert drive_end.top_fault["fault"] == "outer_race"
    assert drive_end.top_fault["found_hz"] == pytest.approx(3.5848 * batch.shaft_rpm / 60, rel=0.02)
    assert drive_end.level >= 1 and HealthAlarm.objects.filter(channel_name="DE").exists()


def test_batches_whose_analysis_never_ran_are_found_and_analysed(world, press):
    from io import StringIO

    from django.core.management import call_command

    batch = ingest(world, press, simulated(None, seed=4), index=4)  # its queueing never happens in this test
    out = StringIO()
    call_command("health_analyze_pending", "--older-than-minutes", "30", stdout=out)
    assert "0 batch(es) queued" in out.getvalue()
    call_command("health_analyze_pending", "--older-than-minutes", "0", "--sync", stdout=out)
    assert f"batch {batch.pk}: accel done" in out.getvalue()
    out = StringIO()
    call_command("health_analyze_pending", "--older-than-minutes", "0", stdout=out)
    assert "0 batch(es) queued" in out.getvalue()


def test_finished_runs_tell_lending_and_federation(world, press, monkeypatch):
    """The health app hands on, in the run's own transaction: an alarm (raised or risen) asks lending to
    review the facilities the press secures; each finished run is queued for scoring when a federated
    model applies to the press, and not otherwise."""
    reviews, scored = [], []
    models_by_call = iter([[], [], [], ["a model"]])  # a model becomes active before the fourth batch
    monkeypatch.setattr("lending.services.facility_reviews_for_press",
                        lambda press_id, trigger: reviews.append((press_id, trigger)) or [])
    monkeypatch.setattr("federation.services.applicable_versions", lambda p: next(models_by_call))
    monkeypatch.setattr("federation.services.prediction_enqueue_for_health_run",
                        lambda *, run_id: scored.append(run_id))
    healthy_then_faulty(world, press, healthy=3, faulty=1, severity=2.0)
    runs = list(HealthRun.objects.order_by("recorded_at"))
    assert runs[-1].level >= 2 and all(run.level == 0 for run in runs[:3])
    assert reviews == [(press.pk, "health_alarm")]
    assert scored == [runs[-1].pk]


@pytest.mark.parametrize("unit, rms, zone", [("mm/s", 0.5, "A"), ("in/s", 0.5, "D"), ("m/s", 0.002, "B")])
def test_velocity_channels_get_their_iso_10816_zone_in_any_unit(world, unit, rms, zone, login_as):
    from django.urls import reverse

    from devices import services as device_services

    press = device_services.press_register(
        actor=world.ent_a_manager, organization=world.ent_a, name=f"Velocity press {unit}", site="Plant 1",
        make="Schuler", model="MSD 400", rated_tonnage_t="400", stroke_rate_min_spm="20", stroke_rate_max_spm="40",
        commissioned_on=dt.date(2015, 3, 1), components=[],
        channels=[{"name": "vel", "kind": "velocity", "unit": unit, "location": "frame"}])
    t = np.arange(int(20000)) / 20000.0
    noise = np.random.default_rng(1).normal(scale=rms * 0.01, size=t.size)
    samples = rms * np.sqrt(2) * np.sin(2 * np.pi * 80.0 * t) + noise  # 80 Hz, inside ISO's 10-1000 Hz band
    batch = ingest(world, press, samples)
    services.batch_analyze(batch_id=batch.pk)
    run = HealthRun.objects.get(batch=batch)
    assert run.status == "done", run.error
    assert run.iso_zone["zone"] == zone
    assert run.iso_zone["velocity_rms_mm_s"] == pytest.approx(rms * {"mm/s": 1, "in/s": 25.4, "m/s": 1000}[unit], rel=0.05)
    page = login_as(world.ent_a_manager).get(reverse("health:run_detail", args=[run.pk]))
    assert page.status_code == 200 and b'id="iso-zone"' in page.content and b"mm/s RMS" in page.content
