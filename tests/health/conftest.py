"""A press with a bearing whose fault frequencies the simulator knows, and simulated batch uploads."""
from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

RATE_HZ = 20000.0
STROKE_RATE_SPM = 30.0
REVOLUTIONS_PER_STROKE = 50  # a flywheel shaft: 30 strokes/min x 50 / 60 = 25 Hz
SHAFT_HZ = STROKE_RATE_SPM / 60.0 * REVOLUTIONS_PER_STROKE
BPFO_HZ = 3.6 * SHAFT_HZ  # the simulator's reference bearing: 9 balls, d/D = 0.2
START = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.timezone.utc)


def register_press(world, *, name="Line 1 press", organization=None, manager=None):
    from devices import services

    return services.press_register(
        actor=manager or world.ent_a_manager, organization=organization or world.ent_a, name=name, site="Plant 1",
        make="Schuler", model="MSD 400", rated_tonnage_t="400", stroke_rate_min_spm="20", stroke_rate_max_spm="40",
        commissioned_on=dt.date(2015, 3, 1),
        components=[{"name": "flywheel bearing", "kind": "main_bearing", "ball_count": 9, "ball_diameter_mm": "20",
                     "pitch_diameter_mm": "100", "contact_angle_deg": 0,
                     "shaft_revolutions_per_stroke": REVOLUTIONS_PER_STROKE}],
        channels=[{"name": "accel", "kind": "acceleration", "unit": "g", "location": "flywheel housing",
                   "component": "flywheel bearing"}])


@pytest.fixture(autouse=True)
def fast_kurtogram():
    """Analyses in this process use a level-4 kurtogram (the worker keeps its own setting)."""
    from django.test import override_settings

    with override_settings(HEALTH_KURTOGRAM_LEVEL=4):
        yield


@pytest.fixture
def press(world):
    return register_press(world)


def simulated(fault=None, *, seed=0, severity=1.0, duration_s=1.0, snr_db=-8.0):
    from health.core.simulate import simulate_bearing_signal

    return simulate_bearing_signal(RATE_HZ, duration_s, fault=fault, severity=severity, shaft_hz=SHAFT_HZ,
                                   snr_db=snr_db, seed=seed)


def npy_upload(samples, name="batch.npy"):
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(samples, dtype=np.float64).reshape(len(samples), -1))
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/octet-stream")


def ingest(world, press, samples, *, index=0, stroke_rate_spm=STROKE_RATE_SPM, load_percent=70.0, user=None):
    from devices import services

    return services.batch_ingest(actor=user or world.ent_a_manager, press=press,
                                 uploaded_file=npy_upload(samples, name=f"batch-{index}.npy"),
                                 started_at=START + dt.timedelta(hours=index), sampling_rate_hz=RATE_HZ,
                                 stroke_rate_spm=stroke_rate_spm, load_percent=load_percent)


def healthy_then_faulty(world, press, *, healthy=3, faulty=1, severity=2.0, analyse=True):
    """Upload ``healthy`` healthy batches and then ``faulty`` outer-race batches; analyse each in turn."""
    from health.services import batch_analyze

    batches = []
    for index in range(healthy + faulty):
        fault = "outer" if index >= healthy else None
        batch = ingest(world, press, simulated(fault, seed=index, severity=severity), index=index)
        if analyse:
            batch_analyze(batch_id=batch.pk)
        batches.append(batch)
    return batches
