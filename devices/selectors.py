"""Read-side queries for presses and batches, scoped by object permissions."""
from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from accounts.permissions import objects_for

from .models import HealthShare, Press, SensorBatch


def press_list(*, user, search: str = "", include_retired: bool = True) -> QuerySet[Press]:
    qs = objects_for(user, "devices.view_press", Press.objects.select_related("organization"))
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(site__icontains=search) | Q(make__icontains=search)
                       | Q(model__icontains=search))
    if not include_retired:
        qs = qs.filter(status=Press.Status.ACTIVE)
    return qs.annotate(batch_count=Count("batches", distinct=True),
                       last_batch_at=Max("batches__started_at")).order_by("organization__name", "name")


def press_get(*, user, pk) -> Press:
    """The press if ``user`` may see it; raises Press.DoesNotExist otherwise (views answer 404)."""
    return objects_for(user, "devices.view_press", Press.objects.select_related("organization")).get(pk=pk)


def press_health_list(*, user) -> QuerySet[Press]:
    """Presses whose health summary ``user`` may see: their own enterprise's, or shared with their lender
    by a live (not revoked, not expired) health share."""
    granted = objects_for(user, "devices.view_press_health", Press.objects.all())
    if user.organization_id is None:
        return granted
    now = timezone.now()
    live_share = Q(health_shares__lender_id=user.organization_id, health_shares__revoked_at__isnull=True) & (
        Q(health_shares__expires_at__isnull=True) | Q(health_shares__expires_at__gt=now))
    return granted.filter(Q(organization_id=user.organization_id) | live_share).distinct()


def batch_list(*, user, press: Press | None = None) -> QuerySet[SensorBatch]:
    qs = objects_for(user, "devices.view_sensorbatch", SensorBatch.objects.select_related("press", "uploaded_by"))
    if press is not None:
        qs = qs.filter(press=press)
    return qs.order_by("-started_at")


def batch_get(*, user, pk) -> SensorBatch:
    return batch_list(user=user).get(pk=pk)


def health_share_list(*, press: Press) -> QuerySet[HealthShare]:
    return press.health_shares.select_related("lender", "granted_by")
