from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("users", views.UserViewSet, basename="user")

urlpatterns = [
    path("auth/token/", views.token_obtain, name="token-obtain"),
    path("invitations/accept/", views.invitation_accept, name="invitation-accept"),
    *router.urls,
]
