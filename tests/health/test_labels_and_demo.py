"""Translatable advice mirrors the core; the demo seeding shows a developing fault and is idempotent."""
from __future__ import annotations

import time

import pytest

from health.core.advice import MAINTENANCE_ADVICE
from health.labels import ADVICE_TEXTS, advice_text


def test_every_advice_of_the_core_has_its_translatable_text():
    assert {key: str(text) for key, text in ADVICE_TEXTS.items()} == MAINTENANCE_ADVICE


def test_advice_is_translated():
    from django.utils import translation

    with translation.override("en"):
        assert advice_text("bearing.outer_race.alarm").startswith("Outer-race defect developing")
    assert advice_text("unknown.key.alarm") == "unknown.key.alarm"


@pytest.mark.django_db
def test_demo_seeding_shows_an_open_alarm_and_is_idempotent():
    import accounts.demo
    import health.demo
    from devices.models import HealthShare, SensorBatch
    from health.models import HealthAlarm, HealthRun
    from portal.demo import DemoContext

    context = DemoContext()
    accounts.demo.seed(context)
    started = time.monotonic()
    health.demo.seed(context)
    assert time.monotonic() - started < 60
    faulty = context.organizations["ent1"].presses.get(name__startswith="L1-400")
    alarm = HealthAlarm.objects.get(press=faulty, status="open")
    assert (alarm.component, alarm.fault) == ("bearing", "outer_race") and alarm.level >= 2
    assert not HealthAlarm.objects.exclude(press=faulty).exists()  # the healthy presses stay Normal
    assert not HealthRun.objects.exclude(status="done").exists()
    levels = list(HealthRun.objects.filter(press=faulty).order_by("recorded_at").values_list("level", flat=True))
    assert levels[:4] == [0, 0, 0, 0] and levels[-1] >= 2  # a baseline, then a growing fault
    share = HealthShare.objects.get(press=faulty)
    assert share.lender == context.organizations["bank1"] and share.revoked_at is None
    counts = (SensorBatch.objects.count(), HealthRun.objects.count(), HealthAlarm.objects.count(),
              HealthShare.objects.count())
    health.demo.seed(context)
    assert (SensorBatch.objects.count(), HealthRun.objects.count(), HealthAlarm.objects.count(),
            HealthShare.objects.count()) == counts


@pytest.mark.django_db
def test_an_interrupted_demo_seeding_is_completed():
    import accounts.demo
    import health.demo
    from devices.models import SensorBatch
    from health.models import HealthRun
    from portal.demo import DemoContext

    context = DemoContext()
    accounts.demo.seed(context)
    spec = health.demo.PRESSES[1]
    press = health.demo._press(context, spec)
    health.demo._history(context, press, spec, seed=2)
    kept = set(SensorBatch.objects.filter(press=press).order_by("started_at")[:3].values_list("pk", flat=True))
    HealthRun.objects.filter(press=press).exclude(batch_id__in=kept).delete()
    SensorBatch.objects.filter(press=press).exclude(pk__in=kept).delete()  # as if it had stopped after three
    health.demo.seed(context)
    batches = SensorBatch.objects.filter(press=press).order_by("started_at")
    assert batches.count() == spec.healthy_batches
    assert set(batches.values_list("pk", flat=True)[:3]) == kept
    assert HealthRun.objects.filter(press=press, status="done").count() == spec.healthy_batches
