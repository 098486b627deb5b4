"""Health panels the devices pages include: a press's health summary and a batch's analysis status."""
from django import template

from .. import selectors
from ..labels import advice_text, fault_text, level_label

register = template.Library()


@register.inclusion_tag("health/_press_health.html", takes_context=True)
def press_health_summary(context, press):
    user = context["request"].user
    try:
        press = selectors.press_health_get(user=user, pk=press.pk)
    except press.DoesNotExist:
        return {"press": None}
    return {"press": press, "state": getattr(press, "health_state", None), "open_alarms": press.open_alarm_count}


@register.inclusion_tag("health/_batch_health.html", takes_context=True)
def batch_health_panel(context, batch):
    from django.urls import reverse

    user = context["request"].user
    report = selectors.batch_analysis_report(batch=batch)
    finished = report["status"] in ("done", "failed", "none")
    return {
        "batch": batch, "report": report, "finished": finished,
        "status_url": reverse("batchhealth-detail", args=[batch.pk]),
        "can_mark_healthy": (report["status"] == "done" and not all(row["baseline_member"] for row in report["runs"])
                             and user.has_perm("devices.change_press", batch.press)),
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag
def level_name(level):
    return level_label(level)


@register.simple_tag
def advice(key):
    return advice_text(key)


@register.simple_tag
def alarm_description(alarm):
    return fault_text(component=alarm.component, fault=alarm.fault, label=alarm.fault_label,
                      frequency_hz=alarm.fault_hz, component_name=alarm.component_name)


@register.simple_tag
def run_finding(run):
    top = run.top_fault
    if top is None:
        return ""
    return fault_text(component=top["component"], fault=top["fault"], label=top.get("label", ""),
                      frequency_hz=top.get("found_hz"), component_name=run.component_name)
