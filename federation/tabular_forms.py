"""Forms of the tabular pages: uploads (with the column mapping), task creation, the data-set side of a
grant and a lender's adoption of a PD model."""
from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization

from .core.tabular_schemas import SCHEMAS
from .tabular import MAX_UPLOAD_BYTES, MODEL_TYPES, ORGANIZATION_KIND_OF, TARGETS
from .tabular_models import TabularDataset


class DatasetUploadForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    file = forms.FileField(label=_("CSV file"), help_text=_("A header row, then one row per loan or period; "
                                                              "UTF-8, comma or semicolon separated; up to 5 MB."))
    column_map = forms.CharField(
        label=_("Column mapping (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One line per column whose name differs from the schema's: schema_name = your_column."))

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB."))
        return upload

    def clean_column_map(self):
        mapping = {}
        for number, line in enumerate(self.cleaned_data["column_map"].splitlines(), start=1):
            if not line.strip():
                continue
            schema_name, sep, column = line.partition("=")
            if not sep or not schema_name.strip() or not column.strip():
                raise forms.ValidationError(_("Line %(n)d: write schema_name = your_column.") % {"n": number})
            mapping[schema_name.strip()] = column.strip()
        return mapping


class TabularTaskForm(forms.Form):
    purpose = forms.CharField(label=_("Purpose"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text=_("What the model is for; every participant sees this in its request."))
    model_type = forms.ChoiceField(label=_("Model"))
    target = forms.ChoiceField(label=_("Predicts"))
    organizations = forms.ModelMultipleChoiceField(label=_("Participants"), queryset=Organization.objects.none(),
                                                   widget=forms.CheckboxSelectMultiple)
    rounds = forms.IntegerField(label=_("Rounds"), min_value=1, max_value=50, required=False,
                                help_text=_("Blank: the model's tested default (FedAvg rounds, or FedMA passes)."))
    min_participants = forms.IntegerField(label=_("Minimum participants"), min_value=2, initial=2)
    validation_fraction = forms.FloatField(label=_("Hold-out share of each participant's rows"), min_value=0.05,
                                           max_value=0.5, initial=0.3)
    grant_days = forms.IntegerField(label=_("Grants expire after (days)"), min_value=1, max_value=365, initial=30)
    seed = forms.IntegerField(label=_("Seed"), min_value=0, initial=0)

    def __init__(self, *args, kind: str, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.fields["model_type"].choices = [(k, v["label"]) for k, v in MODEL_TYPES[kind].items()]
        schema = SCHEMAS[kind]
        self.fields["target"].choices = [(t.name, f"{t.label or t.name} ({t.unit})") for t in schema.targets
                                         if t.name in TARGETS[kind]]
        self.fields["organizations"].queryset = Organization.objects.filter(
            kind=ORGANIZATION_KIND_OF[kind], status=Organization.Status.ACTIVE).order_by("name")
        if user is not None and not self.is_bound:
            self.fields["organizations"].initial = [user.organization_id]

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["grant_expires_at"] = timezone.now() + timedelta(days=data.pop("grant_days"))
        data["organizations"] = list(data["organizations"])
        data["dataset_kind"] = self.kind
        return data


class GrantDatasetsForm(forms.Form):
    datasets = forms.ModelMultipleChoiceField(label=_("Your uploads the task may use"), queryset=None,
                                              widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, grant=None, **kwargs):
        super().__init__(*args, **kwargs)
        queryset = TabularDataset.objects.filter(organization_id=grant.organization_id,
                                                 kind=grant.task.dataset_kind).order_by("-created_at")
        self.fields["datasets"].queryset = queryset
        self.fields["datasets"].label_from_instance = lambda d: f"{d.name} · {d.rows} rows · {d.created_at:%Y-%m-%d}"
        if not self.is_bound:
            self.fields["datasets"].initial = list(queryset.values_list("pk", flat=True))
