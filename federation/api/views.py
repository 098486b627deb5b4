from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.models import Organization
from accounts.roles import OrganizationKind
from portal.api.viewsets import ScopedReadOnlyViewSet

from .. import selectors, services
from ..models import BatchLabel, DataUseGrant, FederatedTask, ModelUpdate
from . import serializers as s


class FederatedTaskViewSet(ScopedReadOnlyViewSet):
    """Federated tasks the caller's organisation started or was asked to join."""

    serializer_class = s.TaskSerializer
    filterset_fields = ["status", "strategy_name", "model_kind"]
    object_permissions = {"cancel": services.TASK_MANAGE, "start": services.TASK_MANAGE,
                          "progress": services.TASK_VIEW, "updates": services.TASK_VIEW}

    def get_queryset(self):
        return FederatedTask.objects.select_related("initiator").prefetch_related("participants__organization")

    @extend_schema(request=s.TaskCreateSerializer, responses={201: s.TaskSerializer})
    def create(self, request):
        data = s.TaskCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        slugs = values.pop("enterprises")
        enterprises = list(Organization.objects.filter(slug__in=slugs, kind=OrganizationKind.ENTERPRISE))
        if len(enterprises) != len(set(slugs)):
            raise ValidationError({"enterprises": ["Unknown enterprise."]})
        from devices.models import Press

        press_ids = values.pop("presses")
        presses = list(Press.objects.filter(pk__in=press_ids))
        if len(presses) != len(set(press_ids)):
            raise ValidationError({"presses": ["Unknown press."]})
        task = services.task_create(actor=request.user, enterprises=enterprises, presses=presses, **values)
        return Response(s.TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TaskReasonSerializer, responses=s.TaskSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = s.TaskReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_cancel(actor=request.user, task=self.get_object(), reason=data.validated_data["reason"])
        return Response(s.TaskSerializer(task).data)

    @extend_schema(request=None, responses=s.TaskSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        task = services.task_start(actor=request.user, task=self.get_object())
        return Response(s.TaskSerializer(task).data)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        """Status, steps, per-participant progress and chart data of the task (the task page polls it)."""
        return Response(selectors.task_progress(user=request.user, task=self.get_object()))

    @extend_schema(methods=["GET"], responses=s.ModelUpdateSerializer(many=True))
    @extend_schema(methods=["POST"], request=s.UpdateSubmitSerializer,
                   responses={201: s.ModelUpdateSerializer, 200: s.ModelUpdateSerializer, 400: s.RejectionSerializer})
    @action(detail=True, methods=["get", "post"])
    def updates(self, request, pk=None):
        """GET: your organisation's updates to this task. POST: hand in your sealed update for the step
        being collected (a site worker, authenticated as a member of the participant organisation)."""
        task = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(selectors.update_list(user=request.user, task=task))
            return self.get_paginated_response(s.ModelUpdateSerializer(page, many=True).data)
        data = s.UpdateSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        before = ModelUpdate.objects.filter(step__task=task, status=ModelUpdate.Status.RECEIVED).count()
        try:
            update = services.update_submit(actor=request.user, task=task, envelope=data.validated_data["envelope"],
                                            metrics=data.validated_data["metrics"], sites=data.validated_data["sites"],
                                            training_seconds=data.validated_data["training_seconds"])
        except services.UpdateRejected as rejected:
            return Response({"reason": rejected.reason, "detail": rejected.messages[0]},
                            status=status.HTTP_400_BAD_REQUEST)
        created = ModelUpdate.objects.filter(step__task=task, status=ModelUpdate.Status.RECEIVED).count() > before
        return Response(s.ModelUpdateSerializer(update).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class DataUseGrantViewSet(ScopedReadOnlyViewSet):
    """Data-use grant requests: the data owner decides; the requester follows them."""

    serializer_class = s.GrantSerializer
    filterset_fields = ["status"]
    object_permissions = {"accept": services.GRANT_DECIDE, "decline": services.GRANT_DECIDE,
                          "revoke": services.GRANT_DECIDE}

    def get_queryset(self):
        return DataUseGrant.objects.select_related("organization", "requester", "requested_by").prefetch_related(
            "requested_presses", "presses")

    @extend_schema(request=s.GrantAcceptSerializer, responses=s.GrantSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        from devices.models import Press

        grant = self.get_object()
        data = s.GrantAcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        presses = None
        if data.validated_data["presses"] is not None:
            ids = data.validated_data["presses"]
            presses = list(Press.objects.filter(pk__in=ids, organization_id=grant.organization_id))
            if len(presses) != len(set(ids)):
                raise ValidationError({"presses": ["Choose presses of your own enterprise."]})
        grant = services.grant_accept(actor=request.user, grant=grant, presses=presses)
        return Response(s.GrantSerializer(grant).data)

    @extend_schema(request=s.TaskReasonSerializer, responses=s.GrantSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        data = s.TaskReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        grant = services.grant_decline(actor=request.user, grant=self.get_object(), reason=data.validated_data["reason"])
        return Response(s.GrantSerializer(grant).data)

    @extend_schema(request=s.TaskReasonSerializer, responses=s.GrantSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        data = s.TaskReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        grant = services.grant_revoke(actor=request.user, grant=self.get_object(), reason=data.validated_data["reason"])
        return Response(s.GrantSerializer(grant).data)


class _SelectorScopedViewSet(viewsets.GenericViewSet):
    """Scoped by a selector (not by per-object permissions): outside it is 404; actions are checked in
    the services (403)."""

    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return self.serializer_class.Meta.model.objects.none()
        return self.scoped_queryset()

    def get_object(self):
        try:
            return self.get_queryset().get(pk=self.kwargs["pk"])
        except (ValueError, self.get_queryset().model.DoesNotExist) as exc:
            raise NotFound from exc


class ModelVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _SelectorScopedViewSet):
    """The model registry: global model versions of tasks the caller's organisation started or joined."""

    serializer_class = s.ModelVersionSerializer
    filterset_fields = ["model_kind", "is_active", "task"]

    def scoped_queryset(self):
        return selectors.version_list(user=self.request.user)

    @extend_schema(request=None, responses=s.ModelVersionSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Use this version for inference (the task's initiator)."""
        version = services.model_version_activate(actor=request.user, version=self.get_object())
        return Response(s.ModelVersionSerializer(version).data)


class ModelUpdateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _SelectorScopedViewSet):
    """Your organisation's own model updates (metadata; envelopes never leave the aggregator)."""

    serializer_class = s.ModelUpdateSerializer

    def scoped_queryset(self):
        return selectors.update_list(user=self.request.user)


class PredictionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _SelectorScopedViewSet):
    """Predictions for presses whose health the caller may see (own enterprise, or a live health share)."""

    serializer_class = s.PredictionSerializer
    filterset_fields = ["press", "source"]

    def scoped_queryset(self):
        return selectors.prediction_list(user=self.request.user)


class BatchLabelViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Labels of your enterprise's batches (the ``batch_label`` source of federated tasks); POST sets one."""

    serializer_class = s.BatchLabelSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        from devices.selectors import batch_list

        if getattr(self, "swagger_fake_view", False):
            return BatchLabel.objects.none()
        return BatchLabel.objects.filter(batch__in=batch_list(user=self.request.user).values("pk")).select_related(
            "set_by").order_by("-set_at")

    @extend_schema(request=s.BatchLabelSerializer, responses={200: s.BatchLabelSerializer})
    def create(self, request):
        from devices.selectors import batch_list

        data = s.BatchLabelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = batch_list(user=request.user).filter(pk=data.validated_data["batch"].pk).first()
        if batch is None:
            raise NotFound
        label = services.batch_label_set(actor=request.user, batch=batch, condition=data.validated_data["condition"],
                                         note=data.validated_data.get("note", ""))
        return Response(s.BatchLabelSerializer(label).data)
