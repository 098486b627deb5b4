"""Sign-in (password, TOTP, lockout), profile, invitations and the admin's onboarding pages."""
from __future__ import annotations

import io

import segno
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from portal.views import apply_form_errors

from . import selectors, services
from .forms import (AcceptInvitationForm, InvitationForm, LanguageForm, LoginForm, OrganizationForm,
                    PasswordChangeForm, ReasonForm, TokenForm)
from .models import Organization, ParticipantKey, User
from .roles import ROLES_BY_KIND, Role


def _activate_language(request, response, language: str):
    translation.activate(language)
    response.set_cookie("django_language", language, samesite="Lax")
    return response


def lockout_response(request, original_response=None, credentials=None):
    """django-axes calls this when a user name is locked after repeated failures."""
    form = LoginForm(initial={"username": (credentials or {}).get("username", "")})
    return render(request, "accounts/login.html", {
        "form": form,
        "error": _("Too many failed sign-in attempts. This account is locked for a while; try again later."),
    }, status=429)


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("home")


def login_view(request):
    if request.user.is_authenticated and (not request.user.requires_second_factor or request.user.is_verified()):
        return redirect("home")
    form = LoginForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        username, password = form.cleaned_data["username"], form.cleaned_data["password"]
        user = authenticate(request, username=username, password=password)
        if user is None:
            if getattr(request, "axes_locked_out", False):
                services.auth_login_failed(username=username, reason="locked_out")
                return lockout_response(request, credentials={"username": username})
            reason, error = "bad_credentials", _("The user name or password is not correct.")
            existing = User.objects.filter(username__iexact=username).select_related("organization").first()
            if existing is not None and not existing.is_active and existing.check_password(password):
                reason, error = "suspended", _("This account is suspended. Contact your administrator.")
            services.auth_login_failed(username=username, reason=reason)
        elif user.organization_id and not user.organization.is_active:
            services.auth_login_failed(username=username, reason="organization_suspended")
            error = _("Your organisation is suspended. Contact the platform operator.")
        else:
            login(request, user)
            response = redirect(_safe_next(request))
            if user.requires_second_factor:
                # The second factor comes next; the sign-in is audited once it is passed.
                target = "accounts:otp_verify" if user.totpdevice_set.filter(confirmed=True).exists() else "accounts:otp_enrol"
                response = redirect(reverse(target) + "?next=" + _safe_next(request))
            else:
                services.auth_login_succeeded(user=user, second_factor=False)
            return _activate_language(request, response, user.language)
    return render(request, "accounts/login.html", {"form": form, "error": error,
                                                   "next": request.GET.get("next", "")},
                  status=401 if error else 200)


@login_required
def otp_verify_view(request):
    user = request.user
    if not user.requires_second_factor or user.is_verified():
        return redirect("home")
    if not user.totpdevice_set.filter(confirmed=True).exists():
        return redirect("accounts:otp_enrol")
    form = TokenForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            device = services.totp_verify(user=user, token=form.cleaned_data["token"])
        except services.SecondFactorThrottled:
            device = None
            error = _("Too many wrong codes. Wait a few seconds, then enter the current code.")
        if error:
            pass
        elif device is None:
            services.auth_login_failed(username=user.username, reason="bad_second_factor")
            error = _("That code is not correct or was already used. Wait for the next code and try again.")
        else:
            otp_login(request, device)
            services.auth_login_succeeded(user=user, second_factor=True)
            return redirect(_safe_next(request))
    return render(request, "accounts/otp_verify.html", {"form": form, "error": error}, status=401 if error else 200)


@login_required
def otp_enrol_view(request):
    user = request.user
    if user.totpdevice_set.filter(confirmed=True).exists():
        return redirect("accounts:otp_verify" if not user.is_verified() else "home")
    device = services.totp_enrolment_start(user=user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.totp_enrolment_confirm(user=user, device=device, token=form.cleaned_data["token"])
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            otp_login(request, device)
            services.auth_login_succeeded(user=user, second_factor=True)
            messages.success(request, _("Two-factor sign-in is set up."))
            return redirect(_safe_next(request))
    buffer = io.BytesIO()
    segno.make(device.config_url, error="m").save(buffer, kind="svg", scale=5, dark="#111", light="#fff")
    import base64

    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(request, "accounts/otp_enrol.html", {"form": form, "qr_svg": buffer.getvalue().decode(),
                                                        "secret": secret})


@require_POST
def logout_view(request):
    logout(request)
    return redirect("accounts:login")


@login_required
def profile_view(request):
    user = request.user
    language_form = LanguageForm(initial={"language": user.language})
    password_form = PasswordChangeForm()
    if request.method == "POST" and request.POST.get("form") == "language":
        language_form = LanguageForm(request.POST)
        if language_form.is_valid():
            services.user_set_language(user=user, language=language_form.cleaned_data["language"])
            messages.success(request, _("Language saved."))
            return _activate_language(request, redirect("accounts:profile"), user.language)
    elif request.method == "POST" and request.POST.get("form") == "password":
        password_form = PasswordChangeForm(request.POST)
        if password_form.is_valid():
            try:
                services.user_change_password(user=user, old_password=password_form.cleaned_data["old_password"],
                                              new_password=password_form.cleaned_data["new_password"])
            except ValidationError as exc:
                apply_form_errors(password_form, exc)
            else:
                from django.contrib.auth import update_session_auth_hash

                update_session_auth_hash(request, user)
                messages.success(request, _("Password changed."))
                return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"language_form": language_form, "password_form": password_form})


def invitation_accept_view(request, token: str):
    try:
        invitation = services.invitation_for_token(token)
    except ValidationError as exc:
        return render(request, "accounts/invitation_invalid.html", {"error": exc.messages[0]}, status=410)
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_accept(token=token, username=form.cleaned_data["username"],
                                       password=form.cleaned_data["password"],
                                       first_name=form.cleaned_data["first_name"],
                                       last_name=form.cleaned_data["last_name"])
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            messages.success(request, _("Your account is ready. Sign in to continue."))
            return redirect("accounts:login")
    return render(request, "accounts/invitation_accept.html", {"form": form, "invitation": invitation})


# --- Onboarding (platform admins) and organisation pages -------------------------------------

def _organization_or_404(request, pk) -> Organization:
    try:
        return selectors.organization_get(user=request.user, pk=pk)
    except Organization.DoesNotExist as exc:
        raise Http404 from exc


@login_required
def organization_list_view(request):
    organizations = selectors.organization_list(user=request.user)
    can_manage = request.user.has_perm("accounts.manage_organization")
    return render(request, "accounts/organization_list.html",
                  {"organizations": organizations, "can_manage": can_manage})


@login_required
def organization_create_view(request):
    if not request.user.has_perm("accounts.manage_organization"):
        raise PermissionDenied
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.organization_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            messages.success(request, _("Organisation %(name)s created.") % {"name": org.name})
            return redirect("accounts:organization_detail", pk=org.pk)
    return render(request, "accounts/organization_form.html", {"form": form})


@login_required
def organization_detail_view(request, pk: int):
    org = _organization_or_404(request, pk)
    can_manage = request.user.has_perm("accounts.manage_organization", org) or request.user.has_perm(
        "accounts.manage_organization")
    invite_link = request.session.pop("invite_link", None)
    return render(request, "accounts/organization_detail.html", {
        "org": org,
        "members": selectors.user_list(user=request.user, organization=org),
        "keys": selectors.participant_key_list(user=request.user, organization=org),
        "invitations": selectors.invitation_list(user=request.user, organization=org) if can_manage else [],
        "invitation_form": InvitationForm(),
        "reason_form": ReasonForm(),
        "can_manage": can_manage,
        "roles": [(role, Role(role).label) for role in ROLES_BY_KIND[org.kind]] if can_manage else [],
        "invite_link": invite_link,
        "worker_probe": _latest_probe(org) if can_manage else None,
        **_audit_access_context(request.user, org),
    })


def _audit_access_context(user, org: Organization) -> dict:
    from audit import selectors as audit_selectors

    can_grant = org.kind != "audit_firm" and (
        user.has_perm("accounts.change_organization", org) or user.has_perm("accounts.manage_organization"))
    if not can_grant:
        return {"can_grant_audit": False}
    return {"can_grant_audit": True, "audit_firms_with_access": audit_selectors.audit_firms_with_access(org),
            "audit_firm_directory": audit_selectors.audit_firm_directory()}


def _latest_probe(org: Organization):
    from portal.models import WorkerProbe

    return WorkerProbe.objects.filter(organization=org).first()


def _manage_post(request, org: Organization, action):
    try:
        action()
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("accounts:organization_detail", pk=org.pk)


@login_required
@require_POST
def organization_status_view(request, pk: int, status: str):
    org = _organization_or_404(request, pk)
    form = ReasonForm(request.POST)
    form.is_valid()

    def act():
        services.organization_set_status(actor=request.user, organization=org, status=status,
                                         reason=form.cleaned_data.get("reason", ""))
        messages.success(request, _("Organisation status changed."))

    return _manage_post(request, org, act)


@login_required
@require_POST
def invitation_create_view(request, pk: int):
    org = _organization_or_404(request, pk)
    form = InvitationForm(request.POST)

    def act():
        if not form.is_valid():
            raise ValidationError([e for errs in form.errors.values() for e in errs])
        _invitation, token = services.invitation_create(actor=request.user, organization=org,
                                                        email=form.cleaned_data["email"], role=form.cleaned_data["role"])
        request.session["invite_link"] = request.build_absolute_uri(reverse("accounts:invitation_accept", args=[token]))
        messages.success(request, _("Invitation created. Send the link below to the person invited."))

    return _manage_post(request, org, act)


@login_required
@require_POST
def user_status_view(request, pk: int, active: str):
    target = selectors.user_list(user=request.user).filter(pk=pk).first()
    if target is None:
        raise Http404
    form = ReasonForm(request.POST)
    form.is_valid()

    def act():
        services.user_set_active(actor=request.user, user=target, active=active == "reactivate",
                                 reason=form.cleaned_data.get("reason", ""))
        messages.success(request, _("User status changed."))

    return _manage_post(request, target.organization, act)


@login_required
@require_POST
def user_role_view(request, pk: int):
    target = selectors.user_list(user=request.user).filter(pk=pk).first()
    if target is None:
        raise Http404

    def act():
        services.user_set_role(actor=request.user, user=target, role=request.POST.get("role", ""))
        messages.success(request, _("Role changed."))

    return _manage_post(request, target.organization, act)


@login_required
@require_POST
def participant_key_issue_view(request, pk: int):
    org = _organization_or_404(request, pk)

    def act():
        services.participant_key_issue(actor=request.user, organization=org)
        messages.success(request, _("A new participant key pair was issued; the previous one is revoked."))

    return _manage_post(request, org, act)


@login_required
@require_POST
def worker_probe_view(request, pk: int):
    org = _organization_or_404(request, pk)
    if not request.user.has_perm("accounts.manage_organization"):
        raise PermissionDenied
    from portal.services import worker_probe_request

    worker_probe_request(actor=request.user, organization=org)
    messages.info(request, _("Asked the worker on queue %(queue)s to answer; refresh in a few seconds.")
                  % {"queue": org.queue_name})
    return redirect("accounts:organization_detail", pk=org.pk)


@login_required
def participant_key_download_view(request, pk: int, key_id: int, half: str):
    key = selectors.participant_key_list(user=request.user).filter(pk=key_id, organization_id=pk).first()
    if key is None or half not in ("signing", "encryption"):
        raise Http404
    pem = key.signing_public_pem if half == "signing" else key.encryption_public_pem
    response = HttpResponse(pem, content_type="application/x-pem-file")
    name = f"{key.organization.slug}-v{key.version}-{'ed25519' if half == 'signing' else 'x25519'}.pub.pem"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


