from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

api_v1 = [
    path("", include("accounts.api.urls")),
    path("audit/", include("audit.api.urls")),
    path("", include("devices.api.urls")),
    path("", include("health.api.urls")),
    path("", include("federation.api.urls")),
    path("", include("lending.api.urls")),
    path("", include("lending.api.abs_urls")),
]

urlpatterns = [
    path("", views.home_view, name="home"),
    path("healthz", views.healthz_view, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page says.
    path("favicon.ico", views.favicon_view),
    path("accounts/", include("accounts.urls")),
    path("audit/", include("audit.urls")),
    path("presses/", include("devices.urls")),
    path("health/", include("health.urls")),
    path("federation/", include("federation.urls")),
    path("lending/abs/", include("lending.abs_urls")),
    path("lending/", include("lending.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("django-admin/", admin.site.urls),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.STATIC_URL, document_root=settings.STATIC_ROOT)
