from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import Channel, Component, Press


class PressForm(forms.ModelForm):
    class Meta:
        model = Press
        fields = ["name", "site", "make", "model", "rated_tonnage_t", "stroke_rate_min_spm", "stroke_rate_max_spm",
                  "commissioned_on"]
        widgets = {"commissioned_on": forms.DateInput(attrs={"type": "date"})}


class ComponentForm(forms.Form):
    name = forms.CharField(label=_("Component"), max_length=120)
    # The initial value is the choice the browser shows selected, so an untouched extra row counts as unchanged.
    kind = forms.ChoiceField(label=_("Kind"), choices=Component.Kind.choices, initial=Component.Kind.choices[0][0])
    shaft_revolutions_per_stroke = forms.DecimalField(label=_("Shaft rev/stroke"), required=False, initial=1,
                                                      min_value=0.0001)
    ball_count = forms.IntegerField(label=_("Rolling elements"), required=False, min_value=1)
    ball_diameter_mm = forms.DecimalField(label=_("Element dia. (mm)"), required=False, min_value=0)
    pitch_diameter_mm = forms.DecimalField(label=_("Pitch dia. (mm)"), required=False, min_value=0)
    contact_angle_deg = forms.DecimalField(label=_("Contact angle (°)"), required=False, min_value=0, max_value=89.99)
    gear_teeth = forms.IntegerField(label=_("Gear teeth"), required=False, min_value=1)


class ChannelForm(forms.Form):
    name = forms.CharField(label=_("Channel"), max_length=60)
    kind = forms.ChoiceField(label=_("Kind"), choices=Channel.Kind.choices, initial=Channel.Kind.choices[0][0])
    unit = forms.CharField(label=_("Unit"), max_length=20)
    location = forms.CharField(label=_("Location"), max_length=200, required=False)
    component = forms.CharField(label=_("Component"), max_length=120, required=False)


ComponentFormSet = forms.formset_factory(ComponentForm, extra=1, can_delete=True)
ChannelFormSet = forms.formset_factory(ChannelForm, extra=2, can_delete=True)


def formset_rows(formset) -> list[dict]:
    rows = []
    for form in formset:
        if not form.has_changed() or form.cleaned_data.get("DELETE"):
            continue
        rows.append({k: v for k, v in form.cleaned_data.items() if k != "DELETE"})
    return rows


class BatchUploadForm(forms.Form):
    file = forms.FileField(label=_("Signal file"), help_text=_("CSV, NPY/NPZ, MATLAB .mat (v5) or Parquet; up to %(mb)d MB")
                           % {"mb": settings.SENSOR_UPLOAD_MAX_BYTES // 1_000_000})
    sampling_rate_hz = forms.FloatField(label=_("Sampling rate (Hz)"), required=False,
                                        help_text=_("Read from CWRU file names when empty."))
    started_at = forms.DateTimeField(label=_("Recording started"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    stroke_rate_spm = forms.FloatField(label=_("Stroke rate (strokes/min)"), required=False)
    load_percent = forms.FloatField(label=_("Load (%)"), required=False)
    channel_mapping = forms.CharField(label=_("Column → channel"), required=False,
                                      help_text=_("Optional, e.g. 'col1=accel_x, col2=accel_y'; by name when empty."))

    def clean_channel_mapping(self):
        text = self.cleaned_data["channel_mapping"].strip()
        if not text:
            return None
        mapping = {}
        for part in text.split(","):
            if "=" not in part:
                raise forms.ValidationError(_("Write each pair as column=channel."))
            column, channel = (p.strip() for p in part.split("=", 1))
            if not column or not channel:
                raise forms.ValidationError(_("Write each pair as column=channel."))
            mapping[column] = channel
        return mapping


class RetireForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


class HealthShareForm(forms.Form):
    lender = forms.ModelChoiceField(label=_("Lender"), queryset=None)
    expires_at = forms.DateTimeField(label=_("Expires"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from .services import lender_directory

        self.fields["lender"].queryset = lender_directory()
