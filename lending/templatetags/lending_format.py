"""Formatting of credit numbers in templates: percentages, basis points, money, ratios, labels."""
from __future__ import annotations

import math
from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

register = template.Library()


def _number(value):
    if value in (None, ""):
        return None
    if value == "inf":
        return math.inf
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@register.filter
def pct(value, digits=2):
    """A fraction as a percentage: 0.0525 → "5.25 %"."""
    number = _number(value)
    if number is None:
        return "—"
    if math.isinf(number):
        return "∞"
    return f"{number_format(Decimal(str(number)) * 100, int(digits))} %"


def _signed_hundredths(value, digits, unit: str) -> str:
    number = _number(value)
    if number is None:
        return "—"
    sign = "+" if number > 0 else ""
    return f"{sign}{number_format(Decimal(str(number)) * 100, int(digits))} {unit}"


@register.filter
def signed_pct(value, digits=2):
    """A change of a percentage in percentage points: 0.015 → "+1.50 pp"."""
    return _signed_hundredths(value, digits, "pp")


@register.filter
def signed_rel_pct(value, digits=1):
    """A relative change of an amount: -0.125 → "-12.5 %" (not points: the amount itself moved)."""
    return _signed_hundredths(value, digits, "%")


@register.filter
def money(value, digits=0):
    number = _number(value)
    if number is None:
        return "—"
    if math.isinf(number):
        return _("no cap")
    return number_format(Decimal(str(value)) if not isinstance(value, float) else Decimal(str(round(value, 2))),
                         int(digits), force_grouping=True)


@register.filter
def ratio(value, digits=2):
    number = _number(value)
    if number is None:
        return "—"
    if math.isinf(number):
        return "∞"
    return number_format(Decimal(str(round(number, 6))), int(digits))


@register.filter
def bps(value):
    number = _number(value)
    if number is None:
        return "—"
    return f"{'+' if number > 0 else ''}{int(round(number))} bp"


@register.filter
def rate_change_bps(proposal):
    return bps((proposal.new_rate - proposal.old_rate) * 10000)


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


CONSTRAINT_LABELS = {
    "cash_flow_capacity": N_("Cash flow at the minimum debt-service cover"),
    "collateral_advance_value": N_("Collateral advance value"),
    "expected_loss_budget": N_("Expected-loss budget"),
    "capital_allocation": N_("Capital allocation"),
    "concentration_cap": N_("Single-name limit"),
    "product_maximum": N_("Product maximum"),
    "pd_appetite": N_("PD appetite"),
    "min_dscr": N_("Minimum debt-service cover"),
    "limit_cap": N_("Single-name limit"),
    "product_rate_bounds": N_("Product rate bounds"),
    "product_limit_bounds": N_("Product limit bounds"),
    "product_tenor_bounds": N_("Product tenor bounds"),
    "max_rate_move": N_("Largest rate move per review"),
    "max_limit_move": N_("Largest limit move per review"),
    "remaining_useful_life": N_("Remaining useful life of the pledged presses"),
}


@register.filter
def constraint_label(name):
    return _(CONSTRAINT_LABELS.get(name, name))


COVENANT_VALUE_LABELS = {"max_alarm_days": N_("days"), "max_health_index_z": "z"}


@register.filter
def covenant_unit(kind):
    return _(COVENANT_VALUE_LABELS.get(kind, "×"))


@register.filter
def covenant_label(kind):
    from lending.models import Covenant

    try:
        return Covenant.CovenantKind(kind).label
    except ValueError:
        return kind


@register.filter
def covenant_status(status):
    from lending.models import Covenant

    try:
        return Covenant.CovenantStatus(status).label
    except ValueError:
        return status


TREND_LABELS = {"deteriorating": N_("deteriorating"), "stable": N_("stable"), "recovering": N_("recovering")}


@register.filter
def trend_label(trend):
    return _(TREND_LABELS[trend]) if trend in TREND_LABELS else "—"
