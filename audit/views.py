from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Organization
from accounts.selectors import organization_get

from . import selectors, services
from .filtersets import AuditEventFilterSet
from .models import AuditEvent


def _can_audit(user) -> bool:
    return user.has_perm("accounts.audit_organization") or selectors.audited_organizations(user=user).exists()


@login_required
def event_list_view(request):
    filterset = AuditEventFilterSet(request.GET or None, queryset=selectors.event_list(user=request.user))
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    return render(request, "audit/event_list.html", {
        "filterset": filterset, "page": page, "can_audit": _can_audit(request.user),
        "verifications": selectors.verification_list(user=request.user)[:5],
        "audited_organizations": selectors.audited_organizations(user=request.user),
    })


@login_required
def event_detail_view(request, sequence: int):
    try:
        event = selectors.event_get(user=request.user, sequence=sequence)
    except AuditEvent.DoesNotExist as exc:
        raise Http404 from exc
    history = selectors.object_history(user=request.user, object_type=event.object_type, object_id=event.object_id)
    return render(request, "audit/event_detail.html", {"event": event, "history": history})


@login_required
@require_POST
def verification_create_view(request):
    verification = services.chain_verification_request(actor=request.user)
    messages.info(request, _("Verification started; progress is shown below."))
    return redirect(f"{request.build_absolute_uri('/audit/')}#verification-{verification.pk}")


@login_required
def verification_status_view(request, pk: int):
    verification = selectors.verification_list(user=request.user).filter(pk=pk).first()
    if verification is None:
        raise Http404
    return JsonResponse({
        "id": verification.pk, "status": verification.status, "status_label": verification.get_status_display(),
        "checked": verification.checked, "total": verification.total, "percent": verification.progress_percent,
        "broken_sequence": verification.broken_sequence, "reason": verification.reason,
        "message": verification.message,
    })


@login_required
def evidence_export_view(request):
    try:
        first = int(request.GET.get("first", "1"))
        last = int(request.GET.get("last", "0"))
        bundle = services.evidence_export(actor=request.user, first_sequence=first, last_sequence=last)
    except (ValueError, ValidationError) as exc:
        messages.error(request, exc.messages[0] if isinstance(exc, ValidationError) else _("Give whole numbers."))
        return redirect("audit:event_list")
    response = HttpResponse(bundle, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="presstrust-audit-{first}-{last}.zip"'
    return response


@login_required
def platform_key_view(request):
    response = HttpResponse(services.platform_public_key_pem(), content_type="application/x-pem-file")
    response["Content-Disposition"] = 'attachment; filename="presstrust-platform-ed25519.pub.pem"'
    return response


@login_required
@require_POST
def audit_access_view(request, pk: int, action: str):
    try:
        organization = organization_get(user=request.user, pk=pk)
    except Organization.DoesNotExist as exc:
        raise Http404 from exc
    firm = selectors.audit_firm_directory().filter(pk=request.POST.get("audit_firm")).first()
    if firm is None or action not in ("grant", "revoke"):
        messages.error(request, _("Choose an audit firm."))
        return redirect("accounts:organization_detail", pk=pk)
    if action == "grant":
        services.audit_access_grant(actor=request.user, organization=organization, audit_firm=firm)
        messages.success(request, _("%(firm)s may now read this organisation's audit log.") % {"firm": firm.name})
    else:
        services.audit_access_revoke(actor=request.user, organization=organization, audit_firm=firm)
        messages.success(request, _("%(firm)s no longer reads this organisation's audit log.") % {"firm": firm.name})
    return redirect("accounts:organization_detail", pk=pk)


