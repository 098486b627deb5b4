"""Press registry and batch upload pages (enterprise managers; auditors read)."""
from __future__ import annotations

import io

import numpy as np
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.views import apply_form_errors

from . import selectors, services
from .filtersets import PressFilterSet
from .forms import (BatchUploadForm, ChannelFormSet, ComponentFormSet, HealthShareForm, PressForm, RetireForm,
                    formset_rows)
from .models import HealthShare, Press, SensorBatch


def _press_or_404(request, pk) -> Press:
    try:
        return selectors.press_get(user=request.user, pk=pk)
    except Press.DoesNotExist as exc:
        raise Http404 from exc


@login_required
def press_list_view(request):
    filterset = PressFilterSet(request.GET or None, queryset=selectors.press_list(user=request.user))
    can_register = request.user.organization is not None and request.user.has_perm(
        "accounts.change_organization", request.user.organization) and request.user.organization.kind == "enterprise"
    return render(request, "devices/press_list.html", {
        "filterset": filterset, "presses": Paginator(filterset.qs, 50).get_page(request.GET.get("page")),
        "can_register": can_register})


def _press_form_page(request, press: Press | None):
    initial_components = initial_channels = None
    if press is not None:
        initial_components = list(press.components.values("name", "kind", "shaft_revolutions_per_stroke", "ball_count",
                                                          "ball_diameter_mm", "pitch_diameter_mm", "contact_angle_deg",
                                                          "gear_teeth"))
        initial_channels = [{"name": c.name, "kind": c.kind, "unit": c.unit, "location": c.location,
                             "component": c.component.name if c.component_id else ""}
                            for c in press.channels.select_related("component")]
    form = PressForm(request.POST or None, instance=press)
    components = ComponentFormSet(request.POST or None, prefix="components", initial=initial_components)
    channels = ChannelFormSet(request.POST or None, prefix="channels", initial=initial_channels)
    if request.method == "POST" and form.is_valid() and components.is_valid() and channels.is_valid():
        fields = {k: form.cleaned_data[k] for k in services.PRESS_FIELDS}
        try:
            if press is None:
                press = services.press_register(actor=request.user, organization=request.user.organization,
                                                components=formset_rows(components), channels=formset_rows(channels),
                                                **fields)
                messages.success(request, _("Press %(name)s registered.") % {"name": press.name})
            else:
                press = services.press_update(actor=request.user, press=press, components=formset_rows(components),
                                              channels=formset_rows(channels), **fields)
                messages.success(request, _("Press saved."))
        except ValidationError as exc:
            apply_form_errors(form, exc)
        else:
            return redirect("devices:press_detail", pk=press.pk)
    return render(request, "devices/press_form.html", {"form": form, "components": components, "channels": channels,
                                                       "press": press})


@login_required
def press_create_view(request):
    org = request.user.organization
    if org is None or org.kind != "enterprise" or not request.user.has_perm("accounts.change_organization", org):
        raise PermissionDenied
    return _press_form_page(request, None)


@login_required
def press_edit_view(request, pk: int):
    press = _press_or_404(request, pk)
    if not request.user.has_perm("devices.change_press", press):
        raise PermissionDenied
    return _press_form_page(request, press)


@login_required
def press_detail_view(request, pk: int):
    press = _press_or_404(request, pk)
    batches = Paginator(selectors.batch_list(user=request.user, press=press), 25).get_page(request.GET.get("page"))
    can_edit = request.user.has_perm("devices.change_press", press)
    return render(request, "devices/press_detail.html", {
        "press": press, "batches": batches, "can_edit": can_edit and press.is_active,
        "can_upload": request.user.has_perm("devices.upload_batch", press) and press.is_active,
        "upload_form": BatchUploadForm(), "retire_form": RetireForm(),
        "share_form": HealthShareForm() if can_edit else None,
        "shares": selectors.health_share_list(press=press) if can_edit else [],
        "components": press.components.all(), "channels": press.channels.select_related("component"),
        "max_upload_bytes": settings.SENSOR_UPLOAD_MAX_BYTES,
    })


@login_required
@require_POST
def press_retire_view(request, pk: int):
    press = _press_or_404(request, pk)
    form = RetireForm(request.POST)
    try:
        services.press_retire(actor=request.user, press=press, reason=form.data.get("reason", ""))
        messages.success(request, _("The press is retired; its data is kept."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("devices:press_detail", pk=press.pk)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def batch_upload_view(request, pk: int):
    press = _press_or_404(request, pk)
    if not request.user.has_perm("devices.upload_batch", press):
        raise PermissionDenied
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > settings.SENSOR_UPLOAD_MAX_BYTES + 1_000_000:  # refuse before reading the body
        error = {"code": "too_large", "message": _("The file is larger than the %(mb)d MB limit.")
                 % {"mb": settings.SENSOR_UPLOAD_MAX_BYTES // 1_000_000}}
        if _wants_json(request):
            return JsonResponse({"error": error}, status=413)
        messages.error(request, error["message"])
        return redirect("devices:press_detail", pk=press.pk)
    form = BatchUploadForm(request.POST, request.FILES)
    error = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            batch = services.batch_ingest(actor=request.user, press=press, uploaded_file=data["file"],
                                          started_at=data["started_at"], sampling_rate_hz=data["sampling_rate_hz"],
                                          stroke_rate_spm=data["stroke_rate_spm"], load_percent=data["load_percent"],
                                          channel_mapping=data["channel_mapping"])
        except services.BatchRejected as exc:
            error = exc.detail
        except ValidationError as exc:
            error = {"code": "invalid", "message": " ".join(exc.messages)}
        else:
            url = reverse("devices:batch_detail", args=[batch.pk])
            if _wants_json(request):
                return JsonResponse({"batch": batch.pk, "redirect": url}, status=201)
            messages.success(request, _("Batch accepted and queued for health analysis."))
            return redirect(url)
    else:
        error = {"code": "invalid", "message": "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())}
    if _wants_json(request):
        return JsonResponse({"error": error}, status=400)
    return render(request, "devices/upload_rejected.html", {"press": press, "error": error}, status=400)


@login_required
def batch_detail_view(request, pk: int):
    try:
        batch = selectors.batch_get(user=request.user, pk=pk)
    except SensorBatch.DoesNotExist as exc:
        raise Http404 from exc
    return render(request, "devices/batch_detail.html", {
        "batch": batch, "can_download": request.user.has_perm("devices.download_sensorbatch", batch),
        "can_label": request.user.has_perm("devices.change_press", batch.press)})


@login_required
def batch_download_view(request, pk: int):
    try:
        batch = selectors.batch_get(user=request.user, pk=pk)
    except SensorBatch.DoesNotExist as exc:
        raise Http404 from exc
    samples, names = services.batch_samples(actor=request.user, batch=batch)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, samples=samples, channel_names=np.array(names))
    response = HttpResponse(buffer.getvalue(), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}.npz"'
    return response


@login_required
@require_POST
def health_share_create_view(request, pk: int):
    press = _press_or_404(request, pk)
    form = HealthShareForm(request.POST)
    if not request.user.has_perm("devices.change_press", press):
        raise PermissionDenied
    if form.is_valid():
        try:
            services.health_share_grant(actor=request.user, press=press, lender=form.cleaned_data["lender"],
                                        expires_at=form.cleaned_data["expires_at"])
            messages.success(request, _("The lender now sees this press's health summary."))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, _("Choose a lender."))
    return redirect("devices:press_detail", pk=press.pk)


@login_required
@require_POST
def health_share_revoke_view(request, pk: int, share_id: int):
    press = _press_or_404(request, pk)
    share = HealthShare.objects.filter(pk=share_id, press=press).first()
    if share is None:
        raise Http404
    try:
        services.health_share_revoke(actor=request.user, share=share)
        messages.success(request, _("Share revoked."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("devices:press_detail", pk=press.pk)
