"""Demo health history: presses of the demo enterprises with simulated vibration batches (the core's press
simulator), analysed at once with the same service the worker runs, so the dashboards show history on
first start. One press develops an outer-race fault and ends with an open alarm; its health is shared
with the lender bank1. Idempotent: a press that already has batches is left alone.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from devices import services as device_services
from devices.models import HealthShare, Press

from .core.simulate import severity_profile, simulate_press_signal
from .services import batch_analyze

RATE_HZ = 20000.0
DURATION_S = 4.0  # four strokes at 60 strokes/min: enough to remove the stroke-synchronous average


@dataclass(frozen=True)
class DemoPress:
    organization: str
    manager: str
    name: str
    site: str
    make: str
    model: str
    tonnage: str
    stroke_rate_spm: float
    load_percent: float
    shaft_revolutions_per_stroke: int
    healthy_batches: int
    faulty_batches: int = 0
    final_severity: float = 0.0
    share_with: str | None = None


PRESSES = [
    DemoPress("ent1", "ent1_manager", "L1-400 servo press", "Kunshan plant, hall 2", "Schuler", "MSD 400", "400",
              60.0, 80.0, 24, healthy_batches=4, faulty_batches=10, final_severity=2.0, share_with="bank1"),
    DemoPress("ent1", "ent1_manager", "L2-250 transfer press", "Kunshan plant, hall 1", "Aida", "NS2-2500", "250",
              64.0, 60.0, 30, healthy_batches=8),
    DemoPress("ent2", "ent2_manager", "P-630 link press", "Werk Remscheid", "Müller Weingarten", "PKZ 630", "630",
              70.0, 70.0, 32, healthy_batches=6),
]


def _press(context, spec: DemoPress) -> Press:
    organization = context.organizations[spec.organization]
    press = Press.objects.filter(organization=organization, name=spec.name).first()
    if press is not None:
        return press
    return device_services.press_register(
        actor=context.users[spec.manager], organization=organization, name=spec.name, site=spec.site, make=spec.make,
        model=spec.model, rated_tonnage_t=spec.tonnage, stroke_rate_min_spm="20", stroke_rate_max_spm="80",
        commissioned_on=dt.date(2016, 4, 1),
        components=[{"name": "main shaft bearing", "kind": "main_bearing", "ball_count": 9, "ball_diameter_mm": "20",
                     "pitch_diameter_mm": "100", "contact_angle_deg": 0,
                     "shaft_revolutions_per_stroke": spec.shaft_revolutions_per_stroke}],
        channels=[{"name": "accel_main", "kind": "acceleration", "unit": "g", "location": "main shaft bearing housing",
                   "component": "main shaft bearing"},
                  {"name": "stroke_trigger", "kind": "trigger", "unit": "V", "location": "crank angle sensor"}])


def _upload(samples: np.ndarray, name: str) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    np.save(buffer, samples.astype(np.float32))
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/octet-stream")


def _history(context, press: Press, spec: DemoPress, seed: int) -> None:
    """Upload and analyse the press's batches; a run interrupted half-way is completed, not repeated (each
    batch is deterministic and named by its index)."""
    manager = context.users[spec.manager]
    n = spec.healthy_batches + spec.faulty_batches
    severities = np.concatenate([np.zeros(spec.healthy_batches),
                                 severity_profile(spec.faulty_batches, onset_window=0,
                                                  final_severity=spec.final_severity)])
    existing = {batch.original_filename: batch for batch in press.batches.all()}
    earliest = min((batch.started_at for batch in existing.values()), default=None)
    first = (earliest if earliest is not None else timezone.now() - dt.timedelta(days=n)).replace(
        hour=0, minute=0, second=0, microsecond=0)
    rng = np.random.default_rng(seed)
    for index, severity in enumerate(severities):
        # the day-to-day scatter of a real operating point, inside the press's condition band
        stroke_rate = round(spec.stroke_rate_spm + float(rng.uniform(0.0, 2.0)), 1)
        hour = int(rng.integers(6, 18))
        noise = rng.standard_normal(int(RATE_HZ * DURATION_S))
        filename = f"{press.name[:6]}-{index:03d}.npy"
        with transaction.atomic():  # the worker's copy of the task then finds the batch already analysed
            batch = existing.get(filename)
            if batch is None:
                simulated = simulate_press_signal(
                    RATE_HZ, DURATION_S, stroke_rate_spm=stroke_rate, snr_db=-8.0,
                    shaft_hz=stroke_rate / 60.0 * spec.shaft_revolutions_per_stroke,
                    bearing_fault="outer" if severity > 0 else None, severity=float(severity),
                    seed=seed * 1000 + index)
                # a 5 V stroke pulse with a little electrical noise; columns in the press's channel order
                signal = np.column_stack([simulated.signal, 5.0 * simulated.trigger + 0.02 * noise])
                batch = device_services.batch_ingest(
                    actor=manager, press=press, uploaded_file=_upload(signal, filename),
                    started_at=first + dt.timedelta(days=index, hours=hour), sampling_rate_hz=RATE_HZ,
                    stroke_rate_spm=stroke_rate, load_percent=spec.load_percent)
            batch_analyze(batch_id=batch.pk)


def seed(context) -> None:
    for number, spec in enumerate(PRESSES):
        press = _press(context, spec)
        if press.batches.count() < spec.healthy_batches + spec.faulty_batches:
            _history(context, press, spec, seed=number + 1)
        if spec.share_with:
            lender = context.organizations[spec.share_with]
            live = HealthShare.objects.filter(press=press, lender=lender, revoked_at__isnull=True).exists()
            if not live:
                device_services.health_share_grant(actor=context.users[spec.manager], press=press, lender=lender)
    context.notes.append("Health: L1-400 servo press (Huadong) has an open alarm for a developing outer-race "
                         "defect and shares its health with Jiangnan Industrial Bank.")
