"""Per-request checks on the signed-in user: suspended organisations and the second factor."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

# Paths a user who still owes the second factor may reach (the sign-in pages load the script catalog and the
# icon; neither holds any data).
_OPEN_PREFIXES = ("/static/", "/i18n/", "/jsi18n/", "/healthz", "/favicon.ico")


class AccountStatusMiddleware:
    """Signs out members of a suspended organisation (inactive users are already refused by Django)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.organization_id is not None:
            if not user.organization.is_active:
                logout(request)
                messages.error(request, _("Your organisation is suspended. Contact the platform operator."))
                return redirect("accounts:login")
        return self.get_response(request)


class SecondFactorRequiredMiddleware:
    """Loan officers, auditors and admins must pass TOTP before anything else (django-otp)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.requires_second_factor and not user.is_verified():
            allowed = {
                reverse("accounts:otp_verify"), reverse("accounts:otp_enrol"), reverse("accounts:logout"),
            }
            path = request.path
            if path not in allowed and not path.startswith(_OPEN_PREFIXES):
                if path.startswith("/api/"):
                    return JsonResponse({"detail": _("Second factor required: sign in with your authenticator code.")},
                                        status=403)
                return redirect("accounts:otp_verify")
        return self.get_response(request)
