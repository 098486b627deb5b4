from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.roles import OrganizationKind
from devices.models import Press

from .models import AdjustmentProposal, Borrower, Covenant, Currency, Facility, LenderPolicy

DATE = forms.DateInput(attrs={"type": "date"})


class BorrowerForm(forms.Form):
    enterprise = forms.ModelChoiceField(label=_("Enterprise"), queryset=Organization.objects.none())
    name = forms.CharField(label=_("Name (defaults to the enterprise's)"), max_length=200, required=False)
    sector = forms.CharField(label=_("Sector"), max_length=120, required=False)
    established_on = forms.DateField(label=_("In business since"), widget=DATE)
    repayment_history = forms.ChoiceField(label=_("Repayment history"), choices=Borrower.RepaymentHistory.choices,
                                          initial=Borrower.RepaymentHistory.PAID_DULY)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enterprise"].queryset = Organization.objects.filter(kind=OrganizationKind.ENTERPRISE,
                                                                         status=Organization.Status.ACTIVE)


class FacilityForm(forms.Form):
    borrower = forms.ModelChoiceField(label=_("Borrower"), queryset=Borrower.objects.none())
    reference = forms.CharField(label=_("Reference"), max_length=40)
    facility_type = forms.ChoiceField(label=_("Type"), choices=Facility.FacilityType.choices)
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices)
    limit = forms.DecimalField(label=_("Limit"), max_digits=18, decimal_places=2, min_value=Decimal("0.01"))
    drawn_amount = forms.DecimalField(label=_("Drawn"), max_digits=18, decimal_places=2, min_value=Decimal("0"))
    base_rate_percent = forms.DecimalField(label=_("Base rate (%)"), max_digits=7, decimal_places=4)
    margin_percent = forms.DecimalField(label=_("Margin (%)"), max_digits=7, decimal_places=4)
    tenor_months = forms.IntegerField(label=_("Tenor (months)"), min_value=1, max_value=600)
    repayment_kind = forms.ChoiceField(label=_("Repayment"), choices=Facility.RepaymentKind.choices)
    interest_only_months = forms.IntegerField(label=_("Interest-only months"), min_value=0, initial=0, required=False)
    start_date = forms.DateField(label=_("Start date"), widget=DATE)

    def __init__(self, *args, borrowers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["borrower"].queryset = borrowers if borrowers is not None else Borrower.objects.none()


class CollateralForm(forms.Form):
    press = forms.ModelChoiceField(label=_("Pledged press"), queryset=Press.objects.none())
    appraised_value = forms.DecimalField(label=_("Appraised value"), max_digits=18, decimal_places=2,
                                         min_value=Decimal("0.01"))
    appraised_on = forms.DateField(label=_("Appraised on"), widget=DATE)

    def __init__(self, *args, presses=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["press"].queryset = presses if presses is not None else Press.objects.none()
        self.fields["press"].label_from_instance = lambda press: (
            f"{press.name} · {press.organization.name} · {press.make} {press.model}")


class CovenantForm(forms.Form):
    covenant_kind = forms.ChoiceField(label=_("Covenant"), choices=Covenant.CovenantKind.choices)
    threshold = forms.DecimalField(label=_("Threshold"), max_digits=12, decimal_places=4, min_value=0)


class BaseCollateralFormSet(forms.BaseFormSet):
    def __init__(self, *args, presses=None, **kwargs):
        self.presses = presses
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "presses": self.presses}


CollateralFormSet = forms.formset_factory(CollateralForm, formset=BaseCollateralFormSet, extra=2, can_delete=True)
CovenantFormSet = forms.formset_factory(CovenantForm, extra=3, can_delete=True)


def formset_rows(formset) -> list[dict]:
    return [{k: v for k, v in form.cleaned_data.items() if k != "DELETE"} for form in formset
            if form.has_changed() and not form.cleaned_data.get("DELETE")]


class StatementForm(forms.Form):
    period_start = forms.DateField(label=_("Period start"), widget=DATE)
    period_end = forms.DateField(label=_("Period end"), widget=DATE)
    unit = forms.ChoiceField(label=_("Amounts in"), choices=[("units", _("units")), ("thousands", _("thousands")),
                                                              ("millions", _("millions"))])
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices)
    revenue = forms.DecimalField(label=_("Revenue"), max_digits=20, decimal_places=4)
    ebitda = forms.DecimalField(label=_("EBITDA"), max_digits=20, decimal_places=4)
    interest_expense = forms.DecimalField(label=_("Interest expense"), max_digits=20, decimal_places=4)
    total_debt = forms.DecimalField(label=_("Total debt"), max_digits=20, decimal_places=4)
    current_assets = forms.DecimalField(label=_("Current assets"), max_digits=20, decimal_places=4)
    current_liabilities = forms.DecimalField(label=_("Current liabilities"), max_digits=20, decimal_places=4)
    cash = forms.DecimalField(label=_("Cash"), max_digits=20, decimal_places=4)
    scheduled_principal = forms.DecimalField(label=_("Scheduled principal repayments"), max_digits=20,
                                             decimal_places=4, required=False)


class StatementUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_(
        "Header: period_start, period_end, revenue, ebitda, interest_expense, total_debt, current_assets, "
        "current_liabilities, cash [, scheduled_principal, unit, currency]. Dates as YYYY-MM-DD."))


class ProposalForm(forms.Form):
    new_rate_percent = forms.DecimalField(label=_("New rate (%)"), max_digits=7, decimal_places=4)
    new_limit = forms.DecimalField(label=_("New limit"), max_digits=18, decimal_places=2, min_value=Decimal("0.01"))
    new_tenor_months = forms.IntegerField(label=_("New tenor (months)"), min_value=1, max_value=600)
    effective_date = forms.DateField(label=_("Effective date"), widget=DATE)
    reason_code = forms.ChoiceField(label=_("Reason"), choices=AdjustmentProposal.Reason.choices)
    message_to_borrower = forms.CharField(label=_("Message to the borrower (plain words)"), max_length=500,
                                          required=False, widget=forms.Textarea(attrs={"rows": 2}))
    internal_note = forms.CharField(label=_("Internal note (lender only)"), max_length=1000, required=False,
                                    widget=forms.Textarea(attrs={"rows": 2}))

    def clean_effective_date(self):
        value = self.cleaned_data["effective_date"]
        if value < timezone.localdate():
            raise forms.ValidationError(_("The effective date cannot lie in the past."))
        return value


class DecisionForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), max_length=1000, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))


POLICY_FORM_FIELDS = [
    "funding_cost", "hurdle_return", "risk_free_return", "operating_cost", "margin", "pd_appetite",
    "max_expected_loss", "capital_cap", "concentration_cap", "min_dscr", "product_min_rate", "product_max_rate",
    "product_min_limit", "product_max_limit", "product_min_tenor_months", "product_max_tenor_months",
    "rate_tolerance_bps", "limit_tolerance_fraction", "max_rate_move_bps", "max_limit_move_fraction",
    "single_approval_max_rate_bps", "single_approval_max_limit_fraction", "health_sensitivity", "health_reference_z",
    "health_tolerance_z", "health_max_grade_move", "health_smoothing", "downtime_days_per_failure",
    "press_revenue_share", "press_useful_life_years", "review_interval_days", "proposal_validity_days", "notice_days",
]


class PolicyForm(forms.ModelForm):
    class Meta:
        model = LenderPolicy
        fields = POLICY_FORM_FIELDS
