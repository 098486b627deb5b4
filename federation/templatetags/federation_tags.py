"""``{% load federation_tags %}{% press_prediction press %}``: the newest federated-model prediction of a
press, for pages that show the press's health (the enterprise's own, or a lender's with a health share)."""
from django import template

from ..selectors import latest_prediction

register = template.Library()


@register.inclusion_tag("federation/_press_prediction.html", takes_context=True)
def press_prediction(context, press):
    request = context.get("request")
    user = getattr(request, "user", None)
    prediction = latest_prediction(press, user=user) if user is not None and user.is_authenticated else None
    return {"prediction": prediction, "press": press, "request": request}


@register.filter
def class_label(name: str) -> str:
    """A model class's readable, translated name (``outer_race`` -> "Outer-race fault")."""
    from django.utils.translation import gettext as _

    from ..models import BatchLabel

    labels = dict(BatchLabel.Condition.choices)
    labels.update({"normal": _("Normal"), "at_risk": _("At risk")})
    return str(labels.get(name, name))
