"""Write-side services for presses, sensor batches and health shares (each audited in its transaction)."""
from __future__ import annotations

import logging
import tempfile
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.permissions import grant, revoke
from accounts.roles import OrganizationKind, Role
from audit.services import record

from . import core, storage
from .models import Channel, Component, HealthShare, Press, SensorBatch

logger = logging.getLogger(__name__)

MANAGER_PRESS_PERMS = ["devices.view_press", "devices.change_press", "devices.upload_batch",
                       "devices.download_samples", "devices.view_press_health"]
AUDITOR_PRESS_PERMS = ["devices.view_press", "devices.view_press_health"]
LENDER_SHARE_PERMS = ["devices.view_press_health"]

# Units accepted per channel kind (what a sensor of that kind can report).
UNITS_BY_KIND = {
    Channel.Kind.ACCELERATION: {"g", "m/s²", "m/s^2", "m/s2"},
    Channel.Kind.VELOCITY: {"mm/s", "m/s", "in/s"},
    Channel.Kind.DISPLACEMENT: {"µm", "um", "mm"},
    Channel.Kind.CURRENT: {"A", "mA"},
    Channel.Kind.PRESSURE: {"bar", "kPa", "MPa", "psi"},
    Channel.Kind.FORCE: {"kN", "N", "t"},
    Channel.Kind.TRIGGER: {"V", "-", "1"},
}

PRESS_FIELDS = ("name", "site", "make", "model", "rated_tonnage_t", "stroke_rate_min_spm", "stroke_rate_max_spm",
                "commissioned_on")


def _press_state(press: Press) -> dict:
    state = {field: getattr(press, field) for field in PRESS_FIELDS}
    state["status"] = press.status
    state["components"] = [
        {"name": c.name, "kind": c.kind, "ball_count": c.ball_count, "ball_diameter_mm": c.ball_diameter_mm,
         "pitch_diameter_mm": c.pitch_diameter_mm, "contact_angle_deg": c.contact_angle_deg,
         "gear_teeth": c.gear_teeth, "shaft_revolutions_per_stroke": c.shaft_revolutions_per_stroke}
        for c in press.components.order_by("name")]
    state["channels"] = [{"name": c.name, "kind": c.kind, "unit": c.unit, "location": c.location,
                          "component": c.component.name if c.component_id else None}
                         for c in press.channels.select_related("component").order_by("name")]
    return state


def _check_press_fields(fields: dict) -> None:
    errors = {}
    for name in ("name", "site", "make", "model"):
        if not str(fields.get(name) or "").strip():
            errors[name] = _("This field is required.")
    try:
        tonnage = Decimal(str(fields.get("rated_tonnage_t")))
        if tonnage <= 0 or tonnage > 100000:
            errors["rated_tonnage_t"] = _("Rated tonnage must be between 0 and 100,000 t.")
    except Exception:
        errors["rated_tonnage_t"] = _("Give the rated tonnage in tonnes.")
    try:
        low, high = Decimal(str(fields.get("stroke_rate_min_spm"))), Decimal(str(fields.get("stroke_rate_max_spm")))
        if low <= 0 or high > 2000 or low > high:
            errors["stroke_rate_max_spm"] = _("The stroke rate range must satisfy 0 < minimum ≤ maximum ≤ 2000 strokes/min.")
    except Exception:
        errors["stroke_rate_min_spm"] = _("Give the stroke rate range in strokes per minute.")
    commissioned = fields.get("commissioned_on")
    if commissioned is None:
        errors["commissioned_on"] = _("This field is required.")
    elif commissioned > timezone.localdate():
        errors["commissioned_on"] = _("The commissioning date cannot be in the future.")
    if errors:
        raise ValidationError(errors)


def _check_components(components: list[dict]) -> None:
    names = [c.get("name", "").strip() for c in components]
    if len(set(names)) != len(names) or not all(names):
        raise ValidationError({"components": _("Each component needs a unique name.")})
    for component in components:
        kind = component.get("kind")
        if kind not in Component.Kind.values:
            raise ValidationError({"components": _("Unknown component kind %(kind)s.") % {"kind": kind}})
        if kind in (Component.Kind.MAIN_BEARING, Component.Kind.CRANK_BEARING):
            geometry = [component.get(k) for k in ("ball_count", "ball_diameter_mm", "pitch_diameter_mm")]
            if any(value in (None, "") for value in geometry):
                raise ValidationError({"components": _(
                    "Bearing %(name)s needs the number of rolling elements, their diameter and the pitch diameter.")
                    % {"name": component["name"]}})
            balls, ball_d, pitch_d = int(geometry[0]), Decimal(str(geometry[1])), Decimal(str(geometry[2]))
            angle = Decimal(str(component.get("contact_angle_deg") or 0))
            if balls < 3 or ball_d <= 0 or pitch_d <= ball_d or not (0 <= angle < 90):
                raise ValidationError({"components": _(
                    "Bearing %(name)s: the geometry is impossible (need at least 3 rolling elements, "
                    "0 < ball diameter < pitch diameter, 0 ≤ contact angle < 90°).") % {"name": component["name"]}})
        if kind == Component.Kind.GEAR and not component.get("gear_teeth"):
            raise ValidationError({"components": _("Gear %(name)s needs its number of teeth.") % {"name": component["name"]}})


def _check_channels(channels: list[dict], component_names: set[str]) -> None:
    names = [c.get("name", "").strip() for c in channels]
    if len(set(names)) != len(names) or not all(names):
        raise ValidationError({"channels": _("Each channel needs a unique name.")})
    for channel in channels:
        kind, unit = channel.get("kind"), channel.get("unit", "").strip()
        if kind not in Channel.Kind.values:
            raise ValidationError({"channels": _("Unknown channel kind %(kind)s.") % {"kind": kind}})
        if unit not in UNITS_BY_KIND[kind]:
            raise ValidationError({"channels": _("Channel %(name)s: %(unit)s is not a unit of %(kind)s (use one of %(units)s).")
                                   % {"name": channel["name"], "unit": unit or "—", "kind": Channel.Kind(kind).label,
                                      "units": ", ".join(sorted(UNITS_BY_KIND[kind]))}})
        component = channel.get("component")
        if component and component not in component_names:
            raise ValidationError({"channels": _("Channel %(name)s refers to an unknown component %(component)s.")
                                   % {"name": channel["name"], "component": component}})


def _replace_parts(press: Press, components: list[dict], channels: list[dict]) -> None:
    existing = {c.name: c for c in press.components.all()}
    keep = set()
    for spec in components:
        values = {k: spec.get(k) for k in ("kind", "ball_count", "ball_diameter_mm", "pitch_diameter_mm",
                                           "contact_angle_deg", "gear_teeth")}
        values = {k: (None if v == "" else v) for k, v in values.items()}
        values["shaft_revolutions_per_stroke"] = spec.get("shaft_revolutions_per_stroke") or 1
        Component.objects.update_or_create(press=press, name=spec["name"].strip(), defaults=values)
        keep.add(spec["name"].strip())
    by_name = {c.name: c for c in press.components.all()}
    channel_names = set()
    for spec in channels:
        Channel.objects.update_or_create(press=press, name=spec["name"].strip(), defaults={
            "kind": spec["kind"], "unit": spec["unit"].strip(), "location": spec.get("location", ""),
            "component": by_name.get(spec.get("component") or "")})
        channel_names.add(spec["name"].strip())
    press.channels.exclude(name__in=channel_names).delete()
    for name, component in existing.items():
        if name not in keep:
            component.delete()


@transaction.atomic
def press_register(*, actor: User, organization: Organization, components: list[dict] | None = None,
                   channels: list[dict] | None = None, **fields) -> Press:
    if organization.kind != OrganizationKind.ENTERPRISE or not actor.has_perm("accounts.change_organization", organization):
        raise PermissionDenied(_("Only the enterprise's managers can register its presses."))
    components, channels = components or [], channels or []
    _check_press_fields(fields)
    _check_components(components)
    _check_channels(channels, {c["name"].strip() for c in components})
    if Press.objects.filter(organization=organization, name=fields["name"].strip()).exists():
        raise ValidationError({"name": _("A press with this name already exists in your enterprise.")})
    press = Press.objects.create(organization=organization, **{k: fields[k] for k in PRESS_FIELDS})
    _replace_parts(press, components, channels)
    grant(MANAGER_PRESS_PERMS, press, organization, roles=[Role.ENTERPRISE_MANAGER])
    grant(AUDITOR_PRESS_PERMS, press, organization, roles=[Role.AUDITOR])
    record(actor=actor, action="press.register", obj=press, after=_press_state(press))
    return press


@transaction.atomic
def press_update(*, actor: User, press: Press, components: list[dict] | None = None,
                 channels: list[dict] | None = None, **fields) -> Press:
    press = Press.objects.select_for_update().get(pk=press.pk)
    if not actor.has_perm("devices.change_press", press):
        raise PermissionDenied(_("You may not edit this press."))
    if not press.is_active:
        raise ValidationError(_("A retired press cannot be edited."))
    before = _press_state(press)
    merged = {field: fields.get(field, getattr(press, field)) for field in PRESS_FIELDS}
    _check_press_fields(merged)
    if Press.objects.filter(organization=press.organization, name=merged["name"].strip()).exclude(pk=press.pk).exists():
        raise ValidationError({"name": _("A press with this name already exists in your enterprise.")})
    if components is not None or channels is not None:
        components = components if components is not None else before["components"]
        channels = channels if channels is not None else before["channels"]
        _check_components(components)
        _check_channels(channels, {c["name"].strip() for c in components})
        _replace_parts(press, components, channels)
    for field, value in merged.items():
        setattr(press, field, value)
    press.save()
    record(actor=actor, action="press.update", obj=press, before=before, after=_press_state(press))
    return press


@transaction.atomic
def press_retire(*, actor: User, press: Press, reason: str) -> Press:
    press = Press.objects.select_for_update().get(pk=press.pk)
    if not actor.has_perm("devices.change_press", press):
        raise PermissionDenied(_("You may not retire this press."))
    if not press.is_active:
        raise ValidationError(_("The press is already retired."))
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason for retiring the press.")})
    before = _press_state(press)
    press.status, press.retired_at, press.retired_reason = Press.Status.RETIRED, timezone.now(), reason.strip()
    press.save(update_fields=["status", "retired_at", "retired_reason"])
    record(actor=actor, action="press.retire", obj=press, before=before, after=_press_state(press),
           payload={"reason": press.retired_reason})
    return press


# --- Sensor batches --------------------------------------------------------------------------------

class BatchRejected(ValidationError):
    """A batch that may not be stored; carries the core's structured error (code, row, column, channel)."""

    def __init__(self, detail: dict):
        super().__init__(detail["message"], code=detail["code"])
        self.detail = detail


def _reject(*, actor: User, press: Press, filename: str, detail: dict) -> BatchRejected:
    # The rejection is audited in a transaction of its own: nothing of the batch is kept, its refusal is.
    with transaction.atomic():
        record(actor=actor, action="batch.reject", obj=press, payload={"filename": filename[:200], **detail})
    return BatchRejected(detail)


def _audit_refusal(*, actor: User, press: Press, filename: str, error: ValidationError) -> None:
    """Audit a batch refused for its parameters (start time, operating condition, sampling rate)."""
    fields = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    with transaction.atomic():
        record(actor=actor, action="batch.reject", obj=press, payload={
            "filename": filename[:200], "code": "invalid_parameters",
            "fields": {name: [str(m) for m in messages] for name, messages in fields.items()}})


def _check_batch_parameters(press: Press, started_at, stroke_rate_spm, load_percent):
    if started_at is None:
        raise ValidationError({"started_at": _("Give the time the recording started.")})
    if started_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"started_at": _("The start time is in the future.")})
    stroke_rate = _float_or_none(stroke_rate_spm, "stroke_rate_spm", 0, 2000, "strokes/min")
    if stroke_rate is not None and not (float(press.stroke_rate_min_spm) <= stroke_rate <= float(press.stroke_rate_max_spm)):
        raise ValidationError({"stroke_rate_spm": _("%(rate)s strokes/min is outside this press's range %(low)s–%(high)s.")
                               % {"rate": stroke_rate, "low": press.stroke_rate_min_spm, "high": press.stroke_rate_max_spm}})
    return stroke_rate, _float_or_none(load_percent, "load_percent", 0, 150, "%")


def _upload_source(uploaded_file):
    path = getattr(uploaded_file, "temporary_file_path", None)
    if callable(path):
        return path()
    uploaded_file.seek(0)
    return uploaded_file.read()


def _float_or_none(value, name: str, low: float, high: float, unit: str):
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError({name: _("Give a number in %(unit)s.") % {"unit": unit}}) from None
    if not (low <= number <= high) or number != number:
        raise ValidationError({name: _("%(value)s is outside %(low)s–%(high)s %(unit)s.")
                               % {"value": value, "low": low, "high": high, "unit": unit}})
    return number


def batch_ingest(*, actor: User, press: Press, uploaded_file, started_at: datetime,
                 sampling_rate_hz: float | None = None, stroke_rate_spm=None, load_percent=None,
                 channel_mapping: dict[str, str] | None = None) -> SensorBatch:
    """Validate an uploaded signal file whole, then store it and its row together; or store nothing.

    Raises PermissionDenied, ValidationError for bad parameters, or BatchRejected (the file's problem,
    with where it is). A rejection is audited; nothing else remains of a rejected batch.
    """
    from health.core.validation import MIN_SAMPLES

    press = Press.objects.select_related("organization").get(pk=press.pk)  # its current state, not a stale copy
    if not actor.has_perm("devices.upload_batch", press):
        raise PermissionDenied(_("You may not upload batches to this press."))
    filename = getattr(uploaded_file, "name", "upload") or "upload"
    if not press.is_active:
        raise _reject(actor=actor, press=press, filename=filename, detail={
            "code": "press_retired", "message": _("The press is retired; it takes no new batches."),
            "row": None, "column": None, "channel": None})
    size = uploaded_file.size
    if size > settings.SENSOR_UPLOAD_MAX_BYTES:
        raise _reject(actor=actor, press=press, filename=filename, detail={
            "code": "too_large", "message": _("The file is %(size).1f MB; the limit is %(limit).1f MB.")
            % {"size": size / 1e6, "limit": settings.SENSOR_UPLOAD_MAX_BYTES / 1e6},
            "row": None, "column": None, "channel": None})
    try:
        stroke_rate, load = _check_batch_parameters(press, started_at, stroke_rate_spm, load_percent)
    except ValidationError as error:
        _audit_refusal(actor=actor, press=press, filename=filename, error=error)
        raise


    digest = core.content_hash(uploaded_file.chunks())
    duplicate = SensorBatch.objects.filter(press=press, content_hash=digest).first()
    if duplicate is not None:
        raise _reject(actor=actor, press=press, filename=filename, detail={
            "code": "duplicate", "message": _("This file was already uploaded to this press as batch %(id)s.")
            % {"id": duplicate.pk}, "row": None, "column": None, "channel": None})
    expected = list(press.channels.order_by("name").values_list("name", flat=True)) or None
    try:
        table = core.read_signal_file(_upload_source(uploaded_file), filename=filename)
        rate = float(sampling_rate_hz) if sampling_rate_hz not in (None, "") else table.sampling_rate_hint_hz
        if rate is None:
            error = ValidationError({"sampling_rate_hz": _("Give the sampling rate in Hz.")})
            _audit_refusal(actor=actor, press=press, filename=filename, error=error)
            raise error
        mapping = channel_mapping or None
        if mapping is None and expected and set(expected) <= set(table.channel_names):
            mapping = {name: name for name in expected}  # e.g. a CWRU file's DE/FE onto channels DE/FE
        report = core.validate_signal_table(table, sampling_rate_hz=rate, min_samples=MIN_SAMPLES,
                                            channel_mapping=mapping, expected_channels=expected)
        samples = report.extract_float32(table)
    except core.BatchValidationError as error:
        raise _reject(actor=actor, press=press, filename=filename, detail=error.as_dict()) from error
    units = dict(press.channels.values_list("name", "unit"))
    path = storage.batch_path(org_slug=press.organization.slug, press_id=press.pk, content_hash=digest)
    with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as encoded:
        core.write_batch(encoded, samples, list(report.channel_names))
        del samples, table
        saved_path = storage.write_batch_file_from(path, encoded)  # before the row commits ...
    try:
        with transaction.atomic():
            batch = SensorBatch.objects.create(
                press=press, organization=press.organization, uploaded_by=actor, original_filename=filename[:255],
                file_format=table_format(filename), size_bytes=size, content_hash=digest, storage_path=saved_path,
                sampling_rate_hz=rate, started_at=started_at, stroke_rate_spm=stroke_rate, load_percent=load,
                shaft_rpm=report.rpm, sample_count=report.n_samples, duration_s=report.duration_s,
                channel_names=list(report.channel_names), warnings=list(report.warnings),
                channel_summary=[{"name": c.name, "unit": units.get(c.name, ""), "rms": c.rms, "peak": c.peak,
                                  "crest_factor": c.crest_factor} for c in report.channels],
            )
            grant(["devices.view_sensorbatch"], batch, press.organization, roles=[Role.ENTERPRISE_MANAGER, Role.AUDITOR])
            grant(["devices.download_sensorbatch"], batch, press.organization, roles=[Role.ENTERPRISE_MANAGER])
            record(actor=actor, action="batch.upload", obj=batch, after={
                "press": press.pk, "content_hash": digest, "samples": report.n_samples,
                "channels": list(report.channel_names), "sampling_rate_hz": rate})
            transaction.on_commit(lambda: _enqueue_analysis(batch))
    except IntegrityError as exc:  # the same file raced in through another request
        storage.delete_batch_file(saved_path)
        raise _reject(actor=actor, press=press, filename=filename, detail={
            "code": "duplicate", "message": _("This file was just uploaded to this press by another request."),
            "row": None, "column": None, "channel": None}) from exc
    except BaseException:
        storage.delete_batch_file(saved_path)  # ... and removed if the row does not commit
        raise
    return batch


def table_format(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower()[:10] if "." in filename else ""


def _enqueue_analysis(batch: SensorBatch) -> None:
    from health.services import batch_analysis_enqueue

    batch_analysis_enqueue(batch=batch)


def batch_samples(*, actor: User, batch: SensorBatch):
    """The stored samples of a batch (float32, n_samples × n_channels) and their channel names."""
    if not actor.has_perm("devices.download_sensorbatch", batch):
        raise PermissionDenied(_("You may not read this batch's samples."))
    return core.decode_batch(storage.read_batch_file(batch.storage_path))


def batch_samples_for_analysis(batch: SensorBatch):
    """For the enterprise's own worker (the health analysis): no user, the batch's own storage area."""
    return core.decode_batch(storage.read_batch_file(batch.storage_path))


def orphan_files_sweep(*, dry_run: bool = False, older_than: timedelta = timedelta(hours=1)) -> list[str]:
    """Batch files with no row (a crash between writing the file and committing the row)."""
    from django.core.files.storage import default_storage

    known = set(SensorBatch.objects.values_list("storage_path", flat=True))
    cutoff = timezone.now() - older_than
    orphans = []
    for path in storage.list_batch_files():
        if path in known:
            continue
        try:
            modified = default_storage.get_modified_time(path)
        except (NotImplementedError, FileNotFoundError):
            modified = None
        if modified is not None and modified > cutoff:
            continue  # may belong to an upload still committing
        orphans.append(path)
        if not dry_run:
            storage.delete_batch_file(path)
    if orphans and not dry_run:
        with transaction.atomic():
            record(actor=None, action="batch.orphan_sweep", payload={"removed": len(orphans)})
    return orphans


# --- Health shares ---------------------------------------------------------------------------------

@transaction.atomic
def health_share_grant(*, actor: User, press: Press, lender: Organization, expires_at=None) -> HealthShare:
    if not actor.has_perm("devices.change_press", press):
        raise PermissionDenied(_("Only the enterprise's managers can share a press's health."))
    if lender.kind != OrganizationKind.LENDER:
        raise ValidationError({"lender": _("Health can only be shared with a lender.")})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    if press.health_shares.filter(lender=lender, revoked_at__isnull=True).exists():
        raise ValidationError({"lender": _("This lender already sees this press's health.")})
    share = HealthShare.objects.create(press=press, lender=lender, granted_by=actor, expires_at=expires_at)
    grant(LENDER_SHARE_PERMS, press, lender, roles=[Role.LOAN_OFFICER, Role.AUDITOR])
    record(actor=actor, action="health_share.grant", obj=share, organization=press.organization,
           payload={"press": press.pk, "lender": lender.slug,
                    "expires_at": expires_at.isoformat() if expires_at else None})
    return share


@transaction.atomic
def health_share_revoke(*, actor: User, share: HealthShare) -> HealthShare:
    press = share.press
    if not actor.has_perm("devices.change_press", press):
        raise PermissionDenied(_("Only the enterprise's managers can revoke a share."))
    if share.revoked_at is not None:
        raise ValidationError(_("The share is already revoked."))
    share.revoked_at = timezone.now()
    share.save(update_fields=["revoked_at"])
    revoke(LENDER_SHARE_PERMS, press, share.lender, roles=[Role.LOAN_OFFICER, Role.AUDITOR])
    record(actor=actor, action="health_share.revoke", obj=share, organization=press.organization,
           payload={"press": press.pk, "lender": share.lender.slug})
    return share


def lender_directory():
    return Organization.objects.filter(kind=OrganizationKind.LENDER, status=Organization.Status.ACTIVE)
