"""Translatable names for what the health core reports by key: levels, faults, components, advice.

The core speaks English and stable keys (``bearing.outer_race.alarm``); the portal stores the keys and
shows these translations. The advice texts repeat the core's English source strings word for word so
``makemessages`` can extract them; ``tests/health/test_labels.py`` fails if the two drift apart.
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

LEVEL_CHOICES = [(0, _("Normal")), (1, _("Warning")), (2, _("Alarm")), (3, _("Danger"))]
LEVEL_LABELS = dict(LEVEL_CHOICES)

FAULT_LABELS = {
    "outer_race": _("outer-race defect"),
    "inner_race": _("inner-race defect"),
    "ball": _("rolling-element defect"),
    "cage": _("cage defect"),
    "mesh": _("gear-mesh problem"),
    "tooth": _("local tooth damage"),
    "stroke": _("abnormal stroke-synchronous impacts"),
    "impulsive": _("impulsive vibration without a matching fault frequency"),
    "velocity": _("high broadband vibration velocity (ISO 10816-3)"),
    "none": _("no fault"),
}

COMPONENT_LABELS = {
    "bearing": _("bearing"),
    "gear": _("gear"),
    "press": _("press"),
    "iso": _("machine"),
    "general": _("machine"),
}

ADVICE_TEXTS = {
    "general.none.normal": _("No action needed; keep monitoring at the usual interval."),
    "general.impulsive.warning": _("Impulsive vibration above the healthy baseline without a matching fault frequency; check sensor mounting and cabling, then shorten the monitoring interval."),
    "general.impulsive.alarm": _("Strong impulsive vibration without a matching fault frequency; inspect for looseness, rubbing or impacts and verify the machine's geometry data."),
    "general.impulsive.danger": _("Severe impulsive vibration; stop at the next safe opportunity and inspect the drive train."),
    "bearing.outer_race.warning": _("Early outer-race defect signature; check lubrication and shorten the monitoring interval."),
    "bearing.outer_race.alarm": _("Outer-race defect developing; plan bearing replacement at the next scheduled stop and order the part."),
    "bearing.outer_race.danger": _("Advanced outer-race damage; replace the bearing as soon as possible and reduce load until then."),
    "bearing.inner_race.warning": _("Early inner-race defect signature; check lubrication and fit, and shorten the monitoring interval."),
    "bearing.inner_race.alarm": _("Inner-race defect developing; plan bearing replacement at the next scheduled stop."),
    "bearing.inner_race.danger": _("Advanced inner-race damage; replace the bearing as soon as possible; risk of seizure."),
    "bearing.ball.warning": _("Possible rolling-element defect; check lubricant condition and contamination, and trend closely."),
    "bearing.ball.alarm": _("Rolling-element defect developing; plan bearing replacement and inspect the lubricant for debris."),
    "bearing.ball.danger": _("Advanced rolling-element damage; replace the bearing as soon as possible."),
    "bearing.cage.warning": _("Possible cage irregularity; check lubrication and trend closely."),
    "bearing.cage.alarm": _("Cage defect developing; plan bearing replacement; a broken cage can seize the bearing."),
    "bearing.cage.danger": _("Severe cage defect; stop and replace the bearing before it seizes."),
    "gear.mesh.warning": _("Gear-mesh modulation above baseline; check lubrication, alignment and backlash."),
    "gear.mesh.alarm": _("Gear-mesh problem developing (wear or misalignment); inspect the tooth contact pattern at the next stop."),
    "gear.mesh.danger": _("Severe gear-mesh problem; stop and inspect the gearbox."),
    "gear.tooth.warning": _("Once-per-revolution gear impacts; possible local tooth damage, inspect at the next stop."),
    "gear.tooth.alarm": _("Local tooth damage likely (crack or spall); plan gear inspection and replacement."),
    "gear.tooth.danger": _("Severe local tooth damage; stop to avoid tooth breakage."),
    "press.stroke.warning": _("Stroke-synchronous impacts changed from the healthy stroke pattern; check die set, gibs and clutch/brake timing."),
    "press.stroke.alarm": _("Abnormal stroke-synchronous impacts; inspect die, slide guides (gibs) and connection play before the next production run."),
    "press.stroke.danger": _("Severe stroke-synchronous impacts; stop the press and inspect die, slide and crank connection."),
    "iso.velocity.alarm": _("Broadband vibration velocity in ISO 10816-3 zone C: restricted operation; plan corrective maintenance."),
    "iso.velocity.danger": _("Broadband vibration velocity in ISO 10816-3 zone D: vibration can cause damage; stop and correct."),
}


def level_label(level: int | None) -> str:
    return str(LEVEL_LABELS.get(level, _("Not analysed") if level is None else level))


def advice_text(key: str) -> str:
    """The advice for ``key`` in the active language (the key itself if the core added one we lack)."""
    text = ADVICE_TEXTS.get(key)
    return str(text) if text is not None else key


def fault_text(*, component: str, fault: str, label: str = "", frequency_hz: float | None = None,
               component_name: str = "") -> str:
    """e.g. "outer-race defect of main bearing (BPFO 90.1 Hz)"."""
    from django.utils.text import capfirst
    from django.utils.translation import gettext

    what = str(FAULT_LABELS.get(fault, fault))
    if component in ("general", "iso"):
        return capfirst(what)
    where = component_name or str(COMPONENT_LABELS.get(component, component))
    text = capfirst(gettext("%(fault)s of %(component)s") % {"fault": what, "component": where})
    if label and frequency_hz is not None:
        text += f" ({label} {frequency_hz:.1f} Hz)"
    return text
