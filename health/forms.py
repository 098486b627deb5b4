from django import forms
from django.utils.translation import gettext_lazy as _


class CommentForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}), required=False,
                              help_text=_("Required: what was checked, decided or done."))


class ThresholdForm(forms.Form):
    warning_z = forms.FloatField(label=_("Warning (z)"), min_value=0.1)
    alarm_z = forms.FloatField(label=_("Alarm (z)"), min_value=0.1)
    danger_z = forms.FloatField(label=_("Danger (z)"), min_value=0.1)
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


class BaselineResetForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)
