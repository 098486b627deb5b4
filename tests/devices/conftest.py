from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from devices import services


@pytest.fixture
def press(world):
    return services.press_register(
        actor=world.ent_a_manager, organization=world.ent_a, name="P-400 line 1", site="Plant 1", make="Schuler",
        model="MSD 400", rated_tonnage_t="400", stroke_rate_min_spm="10", stroke_rate_max_spm="40",
        commissioned_on=dt.date(2015, 3, 1),
        components=[{"name": "crank bearing", "kind": "crank_bearing", "ball_count": 9, "ball_diameter_mm": "7.94",
                     "pitch_diameter_mm": "39.04", "contact_angle_deg": 0}],
        channels=[{"name": "accel_x", "kind": "acceleration", "unit": "g", "location": "crank housing",
                   "component": "crank bearing"},
                  {"name": "accel_y", "kind": "acceleration", "unit": "g", "location": "crank housing"}],
    )


def signal(n=20000, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (n, channels)).astype(np.float64)


def npy_upload(array, name="batch.npy"):
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/octet-stream")


def csv_upload(array, header=("accel_x", "accel_y"), name="batch.csv"):
    lines = [",".join(header)] if header else []
    lines += [",".join(f"{v:.6f}" for v in row) for row in array]
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode(), content_type="text/csv")


STARTED = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.timezone.utc)
