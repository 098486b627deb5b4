"""Health API: what each side sees, chart data with units, downsampling of long series, query budgets."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from devices import services as device_services
from devices.models import SensorBatch
from health.downsample import minmax_indices
from health.models import HealthAlarm, HealthBaseline, HealthRun
from tests.health.conftest import START, healthy_then_faulty, register_press

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def analysed(world, press):
    healthy_then_faulty(world, press, healthy=3, faulty=1)
    device_services.health_share_grant(actor=world.ent_a_manager, press=press, lender=world.lender_a)
    return press


def test_the_enterprise_sees_runs_spectra_and_alarms(world, analysed):
    manager = api(world.ent_a_manager)
    runs = manager.get("/api/v1/health/runs/", {"press": analysed.pk}).json()["results"]
    assert len(runs) == 4 and runs[0]["level"] >= 2 and runs[0]["advice"]["text"]
    run_id = runs[0]["id"]
    ses = manager.get(f"/api/v1/health/runs/{run_id}/ses/").json()
    assert 0 < len(ses["frequency_hz"]) == len(ses["amplitude"]) <= 2048
    assert {c["label"] for c in ses["candidates"]} >= {"BPFO", "BPFI", "2xBSF", "FTF"}
    assert ses["faults"][0]["label"] == "BPFO" and ses["band"]["bandwidth_hz"] > 0
    kurtogram = manager.get(f"/api/v1/health/runs/{run_id}/kurtogram/").json()
    matrix = kurtogram["matrices"]["cyclic_negentropy"]
    assert len(matrix) == len(kurtogram["levels"]) and len(matrix[0]) == len(kurtogram["frequency_hz"])
    assert kurtogram["selection_method"] == "ses_negentropy"

    series = manager.get(f"/api/v1/health/presses/{analysed.pk}/timeseries/").json()
    channel = series["channels"][0]
    assert channel["name"] == "accel" and len(channel["t"]) == 4 and channel["latest_run"] == run_id
    assert channel["thresholds"] == {"warning_z": 3.0, "alarm_z": 6.0, "danger_z": 12.0}
    assert series["alarms"][0]["label"] == "BPFO"
    indicators = manager.get(f"/api/v1/health/presses/{analysed.pk}/indicators/").json()
    assert len(indicators["series"]) == 8 and all(len(s["value"]) == 4 for s in indicators["series"])
    conditions = manager.get(f"/api/v1/health/presses/{analysed.pk}/conditions/").json()
    assert conditions["stroke_rate_spm"] == [30.0] * 4

    alarms = manager.get("/api/v1/health/alarms/", {"unresolved": "true"}).json()["results"]
    assert alarms[0]["fault"] == "outer_race" and "Outer-race defect" in alarms[0]["description"]
    batch = manager.get(f"/api/v1/health/batches/{runs[0]['batch']}/").json()
    assert batch["status"] == "done" and batch["runs"][0]["finding"].startswith("Outer-race defect")


def test_a_lender_with_a_live_share_sees_level_and_trend_only(world, analysed):
    lender = api(world.lender_a_officer)
    fleet = lender.get("/api/v1/health/presses/").json()["results"]
    assert [p["id"] for p in fleet] == [analysed.pk]
    assert fleet[0]["level"] >= 2 and fleet[0]["open_alarms"] is None and len(fleet[0]["trend"]) == 4
    trend = lender.get(f"/api/v1/health/presses/{analysed.pk}/trend/").json()
    assert len(trend["t"]) == 4 and trend["level"][-1] >= 2
    run = HealthRun.objects.filter(press=analysed).first()
    for url in (f"/api/v1/health/presses/{analysed.pk}/timeseries/", f"/api/v1/health/presses/{analysed.pk}/indicators/",
                f"/api/v1/health/runs/{run.pk}/", f"/api/v1/health/runs/{run.pk}/ses/",
                f"/api/v1/health/runs/{run.pk}/kurtogram/", f"/api/v1/health/batches/{run.batch_id}/",
                f"/api/v1/health/alarms/{HealthAlarm.objects.get().pk}/"):
        assert lender.get(url).status_code == 404, url
    assert lender.get("/api/v1/health/runs/").json()["results"] == []
    assert lender.get("/api/v1/health/alarms/").json()["results"] == []
    assert api(world.lender_b_officer).get(f"/api/v1/health/presses/{analysed.pk}/trend/").status_code == 404
    # the manager's own summary carries the open alarm count
    own = api(world.ent_a_manager).get(f"/api/v1/health/presses/{analysed.pk}/").json()
    assert own["open_alarms"] == 1


def test_alarm_and_threshold_actions_through_the_api(world, analysed):
    alarm = HealthAlarm.objects.get()
    manager, auditor = api(world.ent_a_manager), api(world.ent_a_auditor)
    assert manager.post(f"/api/v1/health/alarms/{alarm.pk}/acknowledge/", {}, format="json").status_code == 400
    assert auditor.post(f"/api/v1/health/alarms/{alarm.pk}/acknowledge/", {"comment": "x"}, format="json").status_code == 403
    acknowledged = manager.post(f"/api/v1/health/alarms/{alarm.pk}/acknowledge/", {"comment": "inspection booked"},
                                format="json")
    assert acknowledged.status_code == 200 and acknowledged.json()["status"] == "acknowledged"
    resolved = manager.post(f"/api/v1/health/alarms/{alarm.pk}/resolve/", {"comment": "replaced"}, format="json")
    assert resolved.json()["resolve_comment"] == "replaced"

    baseline = HealthBaseline.objects.get()
    response = manager.post(f"/api/v1/health/baselines/{baseline.pk}/thresholds/",
                            {"warning_z": 2.5, "alarm_z": 5, "danger_z": 10}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = manager.post(f"/api/v1/health/baselines/{baseline.pk}/thresholds/",
                            {"warning_z": 2.5, "alarm_z": 5, "danger_z": 10, "reason": "tighter"}, format="json")
    assert response.json()["thresholds"]["alarm_z"] == 5 and response.json()["thresholds_override_reason"] == "tighter"
    response = manager.post(f"/api/v1/health/baselines/{baseline.pk}/reset/", {"reason": "new bearing"}, format="json")
    assert response.json()["status"] == "learning" and response.json()["member_count"] == 0


def _many_runs(world, n: int, spike_at: int):
    """A press with ``n`` analysed batches (rows only: the chart endpoints never read files)."""
    press = register_press(world, name="Year of batches")
    batches = SensorBatch.objects.bulk_create([
        SensorBatch(press=press, organization=world.ent_a, uploaded_by=world.ent_a_manager, original_filename="b.npy",
                    file_format="npy", size_bytes=1, content_hash=f"{i:064x}", storage_path=f"x/{i}.npz",
                    sampling_rate_hz=20000, started_at=START + dt.timedelta(hours=i), stroke_rate_spm=30 + i % 7,
                    load_percent=70, sample_count=20000, duration_s=1, channel_names=["accel"])
        for i in range(n)])
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1, n)
    z[spike_at] = 80.0
    HealthRun.objects.bulk_create([
        HealthRun(batch=batch, press=press, organization=world.ent_a, channel_name="accel",
                  recorded_at=batch.started_at, status="done", health_index=float(v), health_index_z=float(v),
                  level=3 if v > 12 else 0, batch_level=0,
                  indicators={name: {"time": 2 + abs(float(v)), "cyclic": 1 + abs(float(v))}
                              for name in ("kurtosis", "negentropy", "gini", "smoothness")})
        for batch, v in zip(batches, z)])
    return press


def test_chart_endpoints_downsample_a_year_of_batches(world):
    n = 8760
    press = _many_runs(world, n, spike_at=4321)
    manager = api(world.ent_a_manager)
    series = manager.get(f"/api/v1/health/presses/{press.pk}/timeseries/").json()
    channel = series["channels"][0]
    assert channel["n_total"] == n and len(channel["t"]) <= series["cap"] == 2000
    assert max(channel["z"]) == 80.0  # the spike survives
    assert channel["t"] == sorted(channel["t"])
    indicators = manager.get(f"/api/v1/health/presses/{press.pk}/indicators/").json()
    assert all(len(s["value"]) <= 2000 for s in indicators["series"]) and indicators["n_total"] == n
    assert len(manager.get(f"/api/v1/health/presses/{press.pk}/conditions/").json()["t"]) <= 2000
    trend = manager.get(f"/api/v1/health/presses/{press.pk}/trend/").json()
    assert trend["n_total"] == n and len(trend["t"]) <= 2000 and max(trend["z"]) == 80.0
    with override_settings(HEALTH_CHART_MAX_POINTS=300):
        assert len(manager.get(f"/api/v1/health/presses/{press.pk}/timeseries/").json()["channels"][0]["t"]) <= 300
    week = manager.get(f"/api/v1/health/presses/{press.pk}/trend/",
                       {"since": START.isoformat(), "until": (START + dt.timedelta(days=7)).isoformat()}).json()
    assert week["n_total"] == 7 * 24 + 1


def test_minmax_downsampling_keeps_extremes_in_order():
    values = np.sin(np.linspace(0, 40, 10001))
    values[777], values[9000] = 5.0, -5.0
    keep = minmax_indices(values, 1000)
    assert len(keep) <= 1000 and np.all(np.diff(keep) > 0)
    assert 777 in keep and 9000 in keep
    assert list(minmax_indices(values[:50], 1000)) == list(range(50))
    with_nan = values.copy()
    with_nan[:300] = np.nan
    assert len(minmax_indices(with_nan, 100)) <= 100


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", ["/api/v1/health/presses/", "/api/v1/health/runs/", "/api/v1/health/alarms/",
                                 "/api/v1/health/baselines/"])
def test_list_queries_do_not_grow_with_rows(world, url):
    manager = api(world.ent_a_manager)
    first = register_press(world, name="First")
    healthy_then_faulty(world, first, healthy=3, faulty=1)
    manager.get(url)
    few = _count(manager, url)
    for index in range(3):
        other = register_press(world, name=f"More {index}")
        healthy_then_faulty(world, other, healthy=1, faulty=1, severity=3.0)
    many = _count(manager, url)
    assert many == few and many <= 12, (few, many)
