"""/api/v1/abs/pools/, /api/v1/abs/structures/, /api/v1/abs/runs/ (mounted in the API root)."""
from rest_framework.routers import DefaultRouter

from . import abs_views as views

router = DefaultRouter()
router.include_root_view = False
router.register("abs/pools", views.AssetPoolViewSet, basename="abs-pool")
router.register("abs/structures", views.CapitalStructureViewSet, basename="abs-structure")
router.register("abs/runs", views.SimulationRunViewSet, basename="abs-run")
urlpatterns = router.urls
