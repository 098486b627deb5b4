"""Maintenance advice per component, fault and level, as plain data with stable keys.

Keys are ``<component>.<fault>.<level>`` with level ``normal``, ``warning``, ``alarm`` or
``danger`` (for example ``bearing.outer_race.alarm``). The portal stores and translates by key; the
English text here is the source string. The wording follows common practice for rolling-element
bearing and gear condition monitoring (Randall, "Vibration-based Condition Monitoring", Wiley 2011;
ISO 13373-1 / ISO 17359 guidance on condition-monitoring follow-up).
"""

from __future__ import annotations

from dataclasses import dataclass

from .thresholds import LEVEL_NAMES

MAINTENANCE_ADVICE: dict[str, str] = {
    "general.none.normal": "No action needed; keep monitoring at the usual interval.",
    "general.impulsive.warning": "Impulsive vibration above the healthy baseline without a matching fault frequency; check sensor mounting and cabling, then shorten the monitoring interval.",
    "general.impulsive.alarm": "Strong impulsive vibration without a matching fault frequency; inspect for looseness, rubbing or impacts and verify the machine's geometry data.",
    "general.impulsive.danger": "Severe impulsive vibration; stop at the next safe opportunity and inspect the drive train.",
    "bearing.outer_race.warning": "Early outer-race defect signature; check lubrication and shorten the monitoring interval.",
    "bearing.outer_race.alarm": "Outer-race defect developing; plan bearing replacement at the next scheduled stop and order the part.",
    "bearing.outer_race.danger": "Advanced outer-race damage; replace the bearing as soon as possible and reduce load until then.",
    "bearing.inner_race.warning": "Early inner-race defect signature; check lubrication and fit, and shorten the monitoring interval.",
    "bearing.inner_race.alarm": "Inner-race defect developing; plan bearing replacement at the next scheduled stop.",
    "bearing.inner_race.danger": "Advanced inner-race damage; replace the bearing as soon as possible; risk of seizure.",
    "bearing.ball.warning": "Possible rolling-element defect; check lubricant condition and contamination, and trend closely.",
    "bearing.ball.alarm": "Rolling-element defect developing; plan bearing replacement and inspect the lubricant for debris.",
    "bearing.ball.danger": "Advanced rolling-element damage; replace the bearing as soon as possible.",
    "bearing.cage.warning": "Possible cage irregularity; check lubrication and trend closely.",
    "bearing.cage.alarm": "Cage defect developing; plan bearing replacement; a broken cage can seize the bearing.",
    "bearing.cage.danger": "Severe cage defect; stop and replace the bearing before it seizes.",
    "gear.mesh.warning": "Gear-mesh modulation above baseline; check lubrication, alignment and backlash.",
    "gear.mesh.alarm": "Gear-mesh problem developing (wear or misalignment); inspect the tooth contact pattern at the next stop.",
    "gear.mesh.danger": "Severe gear-mesh problem; stop and inspect the gearbox.",
    "gear.tooth.warning": "Once-per-revolution gear impacts; possible local tooth damage, inspect at the next stop.",
    "gear.tooth.alarm": "Local tooth damage likely (crack or spall); plan gear inspection and replacement.",
    "gear.tooth.danger": "Severe local tooth damage; stop to avoid tooth breakage.",
    "press.stroke.warning": "Stroke-synchronous impacts changed from the healthy stroke pattern; check die set, gibs and clutch/brake timing.",
    "press.stroke.alarm": "Abnormal stroke-synchronous impacts; inspect die, slide guides (gibs) and connection play before the next production run.",
    "press.stroke.danger": "Severe stroke-synchronous impacts; stop the press and inspect die, slide and crank connection.",
    "iso.velocity.alarm": "Broadband vibration velocity in ISO 10816-3 zone C: restricted operation; plan corrective maintenance.",
    "iso.velocity.danger": "Broadband vibration velocity in ISO 10816-3 zone D: vibration can cause damage; stop and correct.",
}


@dataclass(frozen=True)
class Advice:
    """A maintenance advice: its stable ``key`` and English ``text``."""

    key: str
    text: str

    def to_dict(self) -> dict:
        """JSON-able ``{"key", "text"}``."""
        return {"key": self.key, "text": self.text}


def maintenance_advice(component: str | None, fault: str | None, level: int) -> Advice:
    """Advice for a component/fault at a level 0..3.

    Level 0 always gives ``general.none.normal``. Otherwise the exact key
    ``<component>.<fault>.<level name>`` is used when known, else ``general.impulsive.<level>``.
    Output: :class:`Advice` (key + English text).
    """
    level = int(level)
    if level <= 0:
        key = "general.none.normal"
        return Advice(key, MAINTENANCE_ADVICE[key])
    level_key = LEVEL_NAMES[min(level, len(LEVEL_NAMES) - 1)].lower()
    key = f"{component}.{fault}.{level_key}"
    if key not in MAINTENANCE_ADVICE:
        key = f"general.impulsive.{level_key}"
    return Advice(key, MAINTENANCE_ADVICE[key])
