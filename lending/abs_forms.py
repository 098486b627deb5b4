"""ABS forms. Percentages on the page, fractions in the definition: the forms convert, the services validate (a bad
structure is reported by ``lending.core.abs`` through ``abs_services.validated_definition``, once)."""
from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from . import abs_engine
from .abs_services import DEFAULT_SCENARIOS, MAX_SCENARIOS, MAX_SEED, MIN_SCENARIOS

HUNDRED = Decimal(100)


def _fraction(percent) -> float | None:
    return None if percent is None else float(Decimal(percent) / HUNDRED)


def _percent(fraction) -> Decimal | None:
    return None if fraction is None else (Decimal(str(fraction)) * HUNDRED).normalize()


class FacilityPickField(forms.MultipleChoiceField):
    """Ids of picked facilities. Which ones may join is the service's decision (it names each refused one)."""

    def valid_value(self, value) -> bool:
        return True

    def to_python(self, value):
        values = super().to_python(value)
        try:
            return [int(v) for v in values]
        except ValueError:
            raise forms.ValidationError(_("Pick facilities from the list."), code="invalid") from None


class PoolFilterForm(forms.Form):
    q = forms.CharField(label=_("Reference or borrower"), required=False)
    sector = forms.CharField(label=_("Industry"), required=False)
    currency = forms.ChoiceField(label=_("Currency"), required=False,
                                 choices=[("", _("Any")), ("EUR", "EUR"), ("CNY", "CNY"), ("USD", "USD")])
    max_grade = forms.IntegerField(label=_("Grade at most"), required=False, min_value=1, max_value=10)


class PoolForm(forms.Form):
    name = forms.CharField(label=_("Pool name"), max_length=120)
    description = forms.CharField(label=_("Description"), max_length=500, required=False)
    facilities = FacilityPickField(label=_("Facilities"), required=False)


class PoolReviseForm(forms.Form):
    description = forms.CharField(label=_("Description"), max_length=500, required=False)
    facilities = FacilityPickField(label=_("Facilities"), required=False)


class TrancheForm(forms.Form):
    name = forms.CharField(label=_("Tranche"), max_length=60, required=False)
    # xgettext:no-python-format
    attachment = forms.DecimalField(label=_("Attachment (% of pool)"), required=False, decimal_places=6)
    # xgettext:no-python-format
    detachment = forms.DecimalField(label=_("Detachment (% of pool)"), required=False, decimal_places=6)
    coupon = forms.DecimalField(label=_("Coupon (% a year)"), required=False, decimal_places=6)
    oc = forms.DecimalField(label=_("OC trigger (×)"), required=False, decimal_places=4,
                            help_text=_("collateral / notes down to this class"))
    ic = forms.DecimalField(label=_("IC trigger (×)"), required=False, decimal_places=4)

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return not any(data.get(k) not in (None, "") for k in ("name", "attachment", "detachment", "coupon"))


TrancheFormSet = forms.formset_factory(TrancheForm, extra=0, min_num=1, validate_min=False)


class DealSettingsForm(forms.Form):
    waterfall = forms.ChoiceField(label=_("Principal waterfall"), choices=[
        ("sequential", _("Sequential (senior first)")), ("pro_rata", _("Pro rata while the tests pass"))])
    horizon_months = forms.IntegerField(label=_("Horizon (months)"), required=False, min_value=1, max_value=1200,
                                        help_text=_("blank: the pool's longest remaining term"))
    senior_fee = forms.DecimalField(label=_("Senior fees (% a year)"), initial=Decimal("0.5"), decimal_places=6)
    # xgettext:no-python-format
    reserve_target = forms.DecimalField(label=_("Reserve target (% of performing balance)"), initial=Decimal("1"),
                                        decimal_places=6)
    # xgettext:no-python-format
    reserve_floor = forms.DecimalField(label=_("Reserve floor (% of closing balance)"), initial=Decimal("0.5"),
                                       decimal_places=6)
    # xgettext:no-python-format
    reserve_initial = forms.DecimalField(label=_("Reserve funded at closing (% of pool)"), initial=Decimal("1"),
                                         decimal_places=6)
    cpr = forms.DecimalField(label=_("Prepayment (CPR, % a year)"), initial=Decimal("5"), decimal_places=6)
    recovery_lag_months = forms.IntegerField(label=_("Recovery lag (months)"), initial=6, min_value=0, max_value=120)
    correlation = forms.DecimalField(label=_("Asset correlation"), initial=Decimal("0.15"), decimal_places=6,
                                     help_text=_("one-factor Gaussian copula, 0 to 1"))

    def settings(self) -> dict:
        """The definition without its tranches (STRUCTURE.json layout, fractions)."""
        data = self.cleaned_data
        settings = {
            "waterfall": data["waterfall"], "senior_fee_rate": _fraction(data["senior_fee"]),
            "reserve": {"target_fraction": _fraction(data["reserve_target"]),
                        "floor_fraction": _fraction(data["reserve_floor"]),
                        "initial_fraction": _fraction(data["reserve_initial"])},
            "assumptions": {"cpr": _fraction(data["cpr"]), "recovery_lag_months": data["recovery_lag_months"],
                            "correlation": float(data["correlation"])},
        }
        if data.get("horizon_months"):
            settings["horizon_months"] = data["horizon_months"]
        return settings

    @staticmethod
    def initial_from(definition: dict) -> dict:
        reserve, assumptions = definition.get("reserve", {}), definition.get("assumptions", {})
        return {"waterfall": definition.get("waterfall", "sequential"),
                "horizon_months": definition.get("horizon_months"),
                "senior_fee": _percent(definition.get("senior_fee_rate", 0.0)),
                "reserve_target": _percent(reserve.get("target_fraction", 0.0)),
                "reserve_floor": _percent(reserve.get("floor_fraction", 0.0)),
                "reserve_initial": _percent(reserve.get("initial_fraction", 0.0)),
                "cpr": _percent(assumptions.get("cpr", 0.0)),
                "recovery_lag_months": assumptions.get("recovery_lag_months", 6),
                "correlation": Decimal(str(assumptions.get("correlation", 0.15)))}


class StructureForm(forms.Form):
    name = forms.CharField(label=_("Structure name"), max_length=120)


DEFAULT_TRANCHES = [
    {"name": "A", "attachment": Decimal("12"), "detachment": Decimal("100"), "coupon": Decimal("4.5"),
     "oc": Decimal("1.10")},
    {"name": "B", "attachment": Decimal("6"), "detachment": Decimal("12"), "coupon": Decimal("7")},
    {"name": "Equity", "attachment": Decimal("0"), "detachment": Decimal("6")},
]


def tranche_initial(definition: dict) -> list[dict]:
    oc, ic = definition.get("oc", {}), definition.get("ic", {})
    return [{"name": t["name"], "attachment": _percent(t["attachment"]), "detachment": _percent(t["detachment"]),
             "coupon": _percent(t.get("coupon", 0.0)), "oc": oc.get(t["name"]), "ic": ic.get(t["name"])}
            for t in definition.get("tranches", [])]


def definition_from(tranches: TrancheFormSet, settings: DealSettingsForm) -> dict:
    """The STRUCTURE.json definition from the page (blank tranche rows are skipped; a half-filled row is kept so
    the engine names what is missing)."""
    rows = [form.cleaned_data for form in tranches.forms if not form.is_blank()]
    definition = {**settings.settings(), "tranches": [], "oc": {}, "ic": {}}
    for row in rows:
        tranche = {"name": (row.get("name") or "").strip()}
        for key in ("attachment", "detachment"):
            if row.get(key) is not None:
                tranche[key] = _fraction(row[key])
        tranche["coupon"] = _fraction(row.get("coupon") or Decimal(0))
        definition["tranches"].append(tranche)
        for key in ("oc", "ic"):
            if row.get(key) is not None:
                definition[key][tranche["name"]] = float(row[key])
    return definition


class SizingForm(forms.Form):
    name = forms.CharField(label=_("Structure name"), max_length=120)
    equity_name = forms.CharField(label=_("Equity tranche"), max_length=60, initial="Equity")
    metric = forms.ChoiceField(label=_("Size to"), choices=[
        ("probability_of_loss", _("Probability of any loss")), ("expected_loss", _("Expected loss"))])
    scenarios = forms.IntegerField(label=_("Scenarios"), initial=DEFAULT_SCENARIOS, min_value=MIN_SCENARIOS,
                                   max_value=MAX_SCENARIOS)
    seed = forms.IntegerField(label=_("Seed"), required=False, min_value=0, max_value=MAX_SEED,
                              help_text=_("blank: a random seed (recorded)"))


CUSTOM = "custom"


class SizingTargetForm(forms.Form):
    name = forms.CharField(label=_("Tranche"), max_length=60, required=False)
    band = forms.ChoiceField(label=_("Target band (illustrative)"), required=False)
    # xgettext:no-python-format
    custom = forms.DecimalField(label=_("or a target (% of the tranche)"), required=False, decimal_places=6,
                                help_text=_("overrides the band"))
    coupon = forms.DecimalField(label=_("Coupon (% a year)"), required=False, decimal_places=6)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["band"].choices = [(band, band) for band in abs_engine.rating_bands()] + [
            (CUSTOM, _("custom target"))]

    def target(self):
        """A number typed in wins over the band (a fraction of the tranche); else the band's name."""
        data = self.cleaned_data
        if data.get("custom") is not None:
            return _fraction(data["custom"])
        return None if data.get("band") in (CUSTOM, "", None) else data["band"]


SizingTargetFormSet = forms.formset_factory(SizingTargetForm, extra=0, min_num=1, validate_min=False)

DEFAULT_TARGETS = [{"name": "A", "band": "AAA", "coupon": Decimal("4")},
                   {"name": "B", "band": "BBB", "coupon": Decimal("7")}]


class RunForm(forms.Form):
    pool = forms.ModelChoiceField(label=_("Pool version"), queryset=None, empty_label=None)
    scenarios = forms.IntegerField(label=_("Scenarios"), initial=DEFAULT_SCENARIOS, min_value=MIN_SCENARIOS,
                                   max_value=MAX_SCENARIOS)
    seed = forms.IntegerField(label=_("Seed"), required=False, min_value=0, max_value=MAX_SEED,
                              help_text=_("blank: a random seed (recorded)"))

    def __init__(self, *args, pools=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pool"].queryset = pools
        self.fields["pool"].label_from_instance = lambda pool: f"{pool.name} v{pool.version}"


class WhatIfForm(forms.Form):
    correlation = forms.DecimalField(label=_("Asset correlation"), required=False, decimal_places=6,
                                     help_text=_("blank: unchanged"))
    pd_multiplier = forms.DecimalField(label=_("PD multiplier (×)"), initial=Decimal("1"), decimal_places=4)
    grade_shift = forms.IntegerField(label=_("PD grades (+ worse)"), initial=0)
    health_notches = forms.BooleanField(label=_("Every pledged press one alarm level worse"), required=False)
