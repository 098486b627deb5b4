from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.roles import OrganizationKind

from .models import Aggregation, BatchLabel, LabelSource, ModelKind


class TaskForm(forms.Form):
    """The task wizard: purpose, model, data, labels, aggregation, rounds, privacy, participants."""

    purpose = forms.CharField(label=_("Purpose"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text=_("What the model is for; every enterprise sees this in its request."))
    model_kind = forms.ChoiceField(label=_("Model"), choices=ModelKind.choices, initial=ModelKind.FAULT_STATE)
    hidden_sizes = forms.CharField(label=_("Hidden layers"), initial="16",
                                   help_text=_("Units per hidden layer, e.g. 16 or 32,16 (a small network over the "
                                               "health features of each signal window)."))
    enterprises = forms.ModelMultipleChoiceField(label=_("Enterprises"), queryset=Organization.objects.none(),
                                                 widget=forms.CheckboxSelectMultiple)
    presses = forms.ModelMultipleChoiceField(
        label=_("Presses (optional)"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Presses you can see; each enterprise chooses its own presses when it accepts if you name none."))
    period_start = forms.DateField(label=_("Data from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label=_("Data until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    label_source = forms.ChoiceField(label=_("Labels"), choices=LabelSource.choices, initial=LabelSource.BATCH_LABEL)
    aggregation = forms.ChoiceField(label=_("Aggregation"), choices=Aggregation.choices, initial=Aggregation.FEDMA)
    compare = forms.BooleanField(label=_("Also run FedAvg on the same data to compare"), required=False)
    rounds = forms.IntegerField(label=_("Rounds"), min_value=1, max_value=50, initial=2,
                                help_text=_("FedMA: passes over all layers; FedAvg: communication rounds."))
    local_epochs = forms.IntegerField(label=_("Local epochs"), min_value=1, max_value=100, initial=5)
    learning_rate = forms.FloatField(label=_("Learning rate"), min_value=0.0001, max_value=1, initial=0.02)
    batch_size = forms.IntegerField(label=_("Mini-batch size"), min_value=1, max_value=4096, initial=16)
    use_privacy = forms.BooleanField(label=_("Differential privacy"), required=False)
    epsilon = forms.FloatField(label=_("Privacy budget ε"), required=False, min_value=0.01, initial=8.0)
    delta = forms.FloatField(label=_("δ"), required=False, min_value=1e-12, max_value=0.1, initial=1e-5)
    min_participants = forms.IntegerField(label=_("Minimum participants"), min_value=1, initial=2)
    straggler_warning_s = forms.IntegerField(label=_("Warn a slow participant after (s)"), min_value=1, initial=300)
    straggler_timeout_s = forms.IntegerField(label=_("Drop it from the step after (s)"), min_value=2, initial=900)
    hierarchical = forms.BooleanField(label=_("Aggregate each enterprise's sites first (edge), then across "
                                              "enterprises (cloud)"), required=False)
    grant_days = forms.IntegerField(label=_("Grants expire after (days)"), min_value=1, max_value=365, initial=30)
    seed = forms.IntegerField(label=_("Seed"), min_value=0, initial=0)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from devices.selectors import press_health_list

        self.fields["enterprises"].queryset = Organization.objects.filter(
            kind=OrganizationKind.ENTERPRISE, status=Organization.Status.ACTIVE).order_by("name")
        self.fields["presses"].queryset = press_health_list(user=user).select_related("organization").order_by(
            "organization__name", "name")
        self.fields["presses"].label_from_instance = lambda press: f"{press.organization.name} · {press.name}"

    def clean_hidden_sizes(self):
        try:
            sizes = tuple(int(part) for part in self.cleaned_data["hidden_sizes"].replace(" ", "").split(",") if part)
        except ValueError:
            raise forms.ValidationError(_("Write the units as whole numbers separated by commas.")) from None
        if not sizes:
            raise forms.ValidationError(_("Give at least one hidden layer."))
        return sizes

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        use_privacy = data.pop("use_privacy")
        if not use_privacy:
            data["epsilon"] = data["delta"] = None
        data["grant_expires_at"] = timezone.now() + timedelta(days=data.pop("grant_days"))
        data["enterprises"] = list(data["enterprises"])
        data["presses"] = list(data["presses"])
        return data


class GrantAcceptForm(forms.Form):
    presses = forms.ModelMultipleChoiceField(label=_("Presses whose data the task may use"), queryset=None,
                                             widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, grant=None, **kwargs):
        super().__init__(*args, **kwargs)
        from devices.models import Press

        self.fields["presses"].queryset = Press.objects.filter(organization_id=grant.organization_id).order_by("name")
        if not self.is_bound:
            requested = list(grant.requested_presses.values_list("pk", flat=True))
            self.fields["presses"].initial = requested or list(
                self.fields["presses"].queryset.filter(status=Press.Status.ACTIVE).values_list("pk", flat=True))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False,
                             widget=forms.TextInput(attrs={"placeholder": _("Reason (optional)")}))


class BatchLabelForm(forms.Form):
    condition = forms.ChoiceField(label=_("Condition"), choices=BatchLabel.Condition.choices)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)
