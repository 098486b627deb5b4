"""Home page, health check and small helpers shared by the apps' HTML views."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache

from .services import system_health


def apply_form_errors(form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: per field where the field exists, else on top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
def home_view(request):
    return render(request, "portal/home.html", {})


def favicon_view(request):
    """Browsers ask for /favicon.ico whatever the page links; send them to the static icon."""
    return redirect(static("img/favicon.svg"), permanent=True)


@never_cache
def healthz_view(request):
    """Database, broker and worker status; 200 when all are up, 503 otherwise."""
    report = system_health()
    return JsonResponse(report, status=200 if report["ok"] else 503)
