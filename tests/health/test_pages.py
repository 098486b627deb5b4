"""Health pages render for each side, link into the devices pages, and the managers' forms work."""
from __future__ import annotations

import pytest
from django.urls import reverse

from devices import services as device_services
from health.models import HealthAlarm, HealthBaseline, HealthRun
from tests.health.conftest import healthy_then_faulty

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysed(world, press):
    healthy_then_faulty(world, press, healthy=3, faulty=1)
    device_services.health_share_grant(actor=world.ent_a_manager, press=press, lender=world.lender_a)
    return press


def test_fleet_page_shows_levels_and_open_alarms(world, analysed, login_as):
    page = login_as(world.ent_a_manager).get(reverse("health:fleet")).content.decode()
    assert analysed.name in page and 'class="sparkline"' in page
    assert "Outer-race defect of flywheel bearing (BPFO 90.0 Hz)" in page
    assert "Outer-race defect developing" in page or "Advanced outer-race damage" in page
    assert "/health/plotly.min.js?v=" in page and "cdn" not in page.lower()


def test_lender_fleet_and_reduced_press_page(world, analysed, client):
    from tests.factories import verified_login

    verified_login(client, world.lender_a_officer)
    fleet = client.get(reverse("health:fleet")).content.decode()
    assert analysed.name in fleet and 'id="open-alarms"' not in fleet and "outer-race" not in fleet.lower()
    page = client.get(reverse("health:press", args=[analysed.pk])).content.decode()
    assert 'id="chart-trend"' in page and reverse("presshealth-trend", args=[analysed.pk]) in page
    assert 'id="fl-prediction"' in page  # the federated model's prediction travels with the shared health
    for detail in ('id="chart-ses"', 'id="chart-kurtogram"', 'id="chart-indicators"', "timeseries", 'id="press-alarms"',
                   "outer-race"):
        assert detail not in page.lower()


def test_press_health_page_for_the_enterprise(world, analysed, login_as):
    client = login_as(world.ent_a_manager)
    page = client.get(reverse("health:press", args=[analysed.pk])).content.decode()
    for element in ('id="chart-index"', 'id="chart-indicators"', 'id="chart-ses"', 'id="chart-kurtogram"',
                    'id="chart-conditions"', 'action="/health/baselines/', 'id="fl-prediction"',
                    reverse("federation:press_predictions", args=[analysed.pk])):
        assert element in page
    assert "30–40 strokes/min" in page and "50–75 % load" in page
    auditor_page = login_as(world.ent_a_auditor).get(reverse("health:press", args=[analysed.pk])).content.decode()
    assert 'id="chart-ses"' in auditor_page and 'action="/health/baselines/' not in auditor_page


def test_run_and_alarm_pages(world, analysed, login_as):
    client = login_as(world.ent_a_manager)
    run = HealthRun.objects.order_by("-recorded_at").first()
    page = client.get(reverse("health:run_detail", args=[run.pk])).content.decode()
    assert "BPFO" in page and 'data-run-url="/api/v1/health/runs/' in page
    alarm = HealthAlarm.objects.get()
    page = client.get(reverse("health:alarm_detail", args=[alarm.pk])).content.decode()
    assert 'id="acknowledge-form"' in page and 'id="resolve-form"' in page


def test_alarm_forms_need_a_comment(world, analysed, login_as):
    client = login_as(world.ent_a_manager)
    alarm = HealthAlarm.objects.get()
    response = client.post(reverse("health:alarm_acknowledge", args=[alarm.pk]), {"comment": ""}, follow=True)
    assert "Give a comment" in response.content.decode()
    alarm.refresh_from_db()
    assert alarm.status == "open"
    client.post(reverse("health:alarm_acknowledge", args=[alarm.pk]), {"comment": "inspection booked"})
    client.post(reverse("health:alarm_resolve", args=[alarm.pk]), {"comment": "bearing replaced"})
    alarm.refresh_from_db()
    assert alarm.status == "resolved" and alarm.acknowledge_comment == "inspection booked"


def test_threshold_and_reset_forms(world, analysed, login_as):
    client = login_as(world.ent_a_manager)
    baseline = HealthBaseline.objects.get()
    response = client.post(reverse("health:thresholds_override", args=[baseline.pk]),
                           {"warning_z": "4", "alarm_z": "8", "danger_z": "16", "reason": ""}, follow=True)
    assert "reason" in response.content.decode()
    client.post(reverse("health:thresholds_override", args=[baseline.pk]),
                {"warning_z": "4", "alarm_z": "8", "danger_z": "16", "reason": "die change"})
    baseline.refresh_from_db()
    assert baseline.thresholds["alarm_z"] == 8 and baseline.thresholds_override_reason == "die change"
    client.post(reverse("health:baseline_reset", args=[baseline.pk]), {"reason": "bearing replaced"})
    baseline.refresh_from_db()
    assert baseline.status == "learning"


def test_devices_pages_link_to_health(world, analysed, login_as):
    client = login_as(world.ent_a_manager)
    press_page = client.get(reverse("devices:press_detail", args=[analysed.pk])).content.decode()
    assert 'id="press-health-summary"' in press_page and reverse("health:press", args=[analysed.pk]) in press_page
    assert "1 open alarm" in press_page
    batch = HealthRun.objects.order_by("-recorded_at").first().batch
    batch_page = client.get(reverse("devices:batch_detail", args=[batch.pk])).content.decode()
    assert 'id="batch-health"' in batch_page and 'data-status="done"' in batch_page
    assert "Outer-race defect" in batch_page and "Mark as healthy" in batch_page
    assert f'{reverse("federation:label_list")}?press={analysed.pk}' in batch_page
    response = client.post(reverse("health:batch_mark_healthy", args=[batch.pk]), follow=True)
    assert "Batch marked healthy" in response.content.decode()


def test_plotly_is_served_from_the_installed_package(client):
    response = client.get(reverse("health:plotly_js"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    body = b"".join(response.streaming_content)
    assert len(body) > 1_000_000 and b"plotly" in body[:2000].lower()
    assert "immutable" in response["Cache-Control"]
