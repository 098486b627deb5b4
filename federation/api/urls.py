from rest_framework.routers import DefaultRouter

from . import tabular, views

router = DefaultRouter()
router.register("federation/tasks", views.FederatedTaskViewSet, basename="federatedtask")
router.register("federation/grants", views.DataUseGrantViewSet, basename="datausegrant")
router.register("federation/models", views.ModelVersionViewSet, basename="modelversion")
router.register("federation/updates", views.ModelUpdateViewSet, basename="modelupdate")
router.register("federation/predictions", views.PredictionViewSet, basename="prediction")
router.register("federation/batch-labels", views.BatchLabelViewSet, basename="batchlabel")
router.register("federation/datasets", tabular.TabularDatasetViewSet, basename="tabulardataset")
urlpatterns = router.urls
