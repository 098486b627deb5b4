"""Press health: the enterprise's managers act, its auditors read everything; a lender with a live health
share (lender A) sees the press's level and trend only, and nothing of its runs, spectra, kurtograms,
baselines, alarms or batches; everyone else does not learn the press exists."""
from django.test import override_settings
from django.urls import reverse

from .registry import Case, declare

ENT_A_READERS = {"ent_a_manager": 200, "ent_a_auditor": 200}
HEALTH_READERS = {**ENT_A_READERS, "lender_a_officer": 200, "lender_a_officer2": 200, "lender_a_auditor": 200}
MANAGER_PAGE_ACTION = {"ent_a_manager": 302, "ent_a_auditor": 403}
MANAGER_API_ACTION = {"ent_a_manager": 200, "ent_a_auditor": 403}


def health_press(world):
    """A press of enterprise A shared with lender A, with one analysed batch showing a bearing fault: a
    run, a (learning) baseline and an open alarm."""
    if "health_press" not in world.objects:
        from devices import services as device_services
        from health.services import batch_analyze
        from tests.health.conftest import ingest, register_press, simulated

        press = register_press(world, name="Health matrix press")
        device_services.health_share_grant(actor=world.ent_a_manager, press=press, lender=world.lender_a)
        batch = ingest(world, press, simulated("outer", seed=3, severity=3.0), index=0)
        with override_settings(HEALTH_KURTOGRAM_LEVEL=4):
            (run,) = batch_analyze(batch_id=batch.pk)
        world.objects.update(health_press=press, health_batch=batch, health_run=run,
                             health_alarm=run.alarms.get(), health_baseline=run.baseline)
    return world.objects["health_press"]


def _obj(name):
    def get(world):
        health_press(world)
        return world.objects[name].pk
    return get


press_id, run_id, alarm_id = _obj("health_press"), _obj("health_run"), _obj("health_alarm")
baseline_id, batch_id = _obj("health_baseline"), _obj("health_batch")
THRESHOLDS = {"warning_z": 4, "alarm_z": 8, "danger_z": 16, "reason": "matrix"}

declare(
    # pages
    Case("health press page", "health:press", lambda w: reverse("health:press", args=[press_id(w)]),
         expect=HEALTH_READERS),
    Case("health run page", "health:run_detail", lambda w: reverse("health:run_detail", args=[run_id(w)]),
         expect=ENT_A_READERS),
    Case("health alarm page", "health:alarm_detail", lambda w: reverse("health:alarm_detail", args=[alarm_id(w)]),
         expect=ENT_A_READERS),
    Case("health alarm acknowledge", "health:alarm_acknowledge",
         lambda w: reverse("health:alarm_acknowledge", args=[alarm_id(w)]), method="post", data={"comment": "seen"},
         expect=MANAGER_PAGE_ACTION),
    Case("health alarm resolve", "health:alarm_resolve",
         lambda w: reverse("health:alarm_resolve", args=[alarm_id(w)]), method="post", data={"comment": "fixed"},
         expect=MANAGER_PAGE_ACTION),
    Case("health baseline reset", "health:baseline_reset",
         lambda w: reverse("health:baseline_reset", args=[baseline_id(w)]), method="post", data={"reason": "m"},
         expect=MANAGER_PAGE_ACTION),
    Case("health thresholds override", "health:thresholds_override",
         lambda w: reverse("health:thresholds_override", args=[baseline_id(w)]), method="post", data=THRESHOLDS,
         expect=MANAGER_PAGE_ACTION),
    Case("health mark batch healthy", "health:batch_mark_healthy",
         lambda w: reverse("health:batch_mark_healthy", args=[batch_id(w)]), method="post",
         expect=MANAGER_PAGE_ACTION),
    # press health API: summary and trend for lenders with a share; the chart series for the enterprise only
    Case("press health API", "presshealth-detail", lambda w: reverse("presshealth-detail", args=[press_id(w)]),
         api=True, expect=HEALTH_READERS),
    Case("press health trend API", "presshealth-trend", lambda w: reverse("presshealth-trend", args=[press_id(w)]),
         api=True, expect=HEALTH_READERS),
    Case("press health timeseries API", "presshealth-timeseries",
         lambda w: reverse("presshealth-timeseries", args=[press_id(w)]), api=True, expect=ENT_A_READERS),
    Case("press health indicators API", "presshealth-indicators",
         lambda w: reverse("presshealth-indicators", args=[press_id(w)]), api=True, expect=ENT_A_READERS),
    Case("press health conditions API", "presshealth-conditions",
         lambda w: reverse("presshealth-conditions", args=[press_id(w)]), api=True, expect=ENT_A_READERS),
    # runs, spectra, kurtograms
    Case("health run API", "healthrun-detail", lambda w: reverse("healthrun-detail", args=[run_id(w)]), api=True,
         expect=ENT_A_READERS),
    Case("health run SES API", "healthrun-ses", lambda w: reverse("healthrun-ses", args=[run_id(w)]), api=True,
         expect=ENT_A_READERS),
    Case("health run kurtogram API", "healthrun-kurtogram", lambda w: reverse("healthrun-kurtogram", args=[run_id(w)]),
         api=True, expect=ENT_A_READERS),
    # alarms
    Case("health alarm API", "healthalarm-detail", lambda w: reverse("healthalarm-detail", args=[alarm_id(w)]),
         api=True, expect=ENT_A_READERS),
    Case("health alarm acknowledge API", "healthalarm-acknowledge",
         lambda w: reverse("healthalarm-acknowledge", args=[alarm_id(w)]), api=True, method="post",
         data={"comment": "seen"}, expect=MANAGER_API_ACTION),
    Case("health alarm resolve API", "healthalarm-resolve",
         lambda w: reverse("healthalarm-resolve", args=[alarm_id(w)]), api=True, method="post",
         data={"comment": "fixed"}, expect=MANAGER_API_ACTION),
    # baselines and thresholds
    Case("health baseline API", "healthbaseline-detail",
         lambda w: reverse("healthbaseline-detail", args=[baseline_id(w)]), api=True, expect=ENT_A_READERS),
    Case("health baseline reset API", "healthbaseline-reset",
         lambda w: reverse("healthbaseline-reset", args=[baseline_id(w)]), api=True, method="post",
         data={"reason": "m"}, expect=MANAGER_API_ACTION),
    Case("health thresholds API", "healthbaseline-thresholds",
         lambda w: reverse("healthbaseline-thresholds", args=[baseline_id(w)]), api=True, method="post",
         data=THRESHOLDS, expect=MANAGER_API_ACTION),
    # a batch's analysis status
    Case("batch health API", "batchhealth-detail", lambda w: reverse("batchhealth-detail", args=[batch_id(w)]),
         api=True, expect=ENT_A_READERS),
    Case("batch mark healthy API", "batchhealth-mark-healthy",
         lambda w: reverse("batchhealth-mark-healthy", args=[batch_id(w)]), api=True, method="post",
         expect=MANAGER_API_ACTION),
)
