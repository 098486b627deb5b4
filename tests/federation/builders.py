"""Enterprises with presses and labelled, simulated sensor batches, built through the real services."""
from __future__ import annotations

import datetime as dt
import io

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile

from health.core.simulate import simulate_bearing_signal

SAMPLING_RATE_HZ = 20000.0
FAULTS = {"healthy": None, "outer_race": "outer", "inner_race": "inner", "rolling_element": "ball"}
START = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.timezone.utc)


def register_press(manager, organization, name: str, site: str = "Plant 1"):
    from devices import services

    return services.press_register(
        actor=manager, organization=organization, name=name, site=site, make="Schuler", model="MSD 400",
        rated_tonnage_t="400", stroke_rate_min_spm="10", stroke_rate_max_spm="40", commissioned_on=dt.date(2015, 3, 1),
        channels=[{"name": "acc", "kind": "acceleration", "unit": "g", "location": "crank housing"}])


def simulated_upload(condition: str, seed: int, duration_s: float = 1.0) -> SimpleUploadedFile:
    fault = FAULTS[condition]
    signal = simulate_bearing_signal(SAMPLING_RATE_HZ, duration_s, fault=fault, severity=1.0 if fault else 0.0,
                                     shaft_hz=20.0 + (seed % 5) * 2.0, snr_db=-5.0, seed=seed)
    buffer = io.BytesIO()
    np.save(buffer, signal[:, None].astype(np.float32))
    return SimpleUploadedFile(f"sim-{condition}-{seed}.npy", buffer.getvalue())


def labelled_batches(manager, press, conditions: dict[str, int], *, seed: int, day_offset: int = 0) -> list:
    """``conditions``: how many one-second batches of each condition to ingest and label."""
    from devices import services
    from federation.services import batch_label_set

    batches = []
    index = 0
    for condition, count in conditions.items():
        for _ in range(count):
            batch = services.batch_ingest(actor=manager, press=press,
                                          uploaded_file=simulated_upload(condition, seed * 1000 + index),
                                          sampling_rate_hz=SAMPLING_RATE_HZ,
                                          started_at=START + dt.timedelta(days=day_offset, hours=index))
            batch_label_set(actor=manager, batch=batch, condition=condition)
            batches.append(batch)
            index += 1
    return batches
