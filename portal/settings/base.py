"""Settings shared by every deployment shape.

Everything deployment-specific comes from environment variables (django-environ); the defaults are the
embedded shape: SQLite, files under ``var/``, kombu's filesystem broker.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

VAR_DIR = Path(env("PRESSTRUST_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "portal",
    "accounts",
    "audit",
    "devices",
    "health",
    "federation",
    "lending",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.AccountStatusMiddleware",
    "accounts.middleware.SecondFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'presstrust.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE takes the write lock at BEGIN so
    # concurrent writers (audit chain appends) queue instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["portal.formats"]  # zh_Hans: amounts grouped by thousands (portal/formats/zh_Hans)
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STORAGE_ROOT = Path(env("STORAGE_ROOT", default=str(VAR_DIR / "storage")))
MEDIA_ROOT = STORAGE_ROOT
MEDIA_URL = "/media/"
STORAGES = {
    "default": {
        "BACKEND": env("DEFAULT_FILE_STORAGE", default="django.core.files.storage.FileSystemStorage"),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if STORAGES["default"]["BACKEND"].startswith("storages.backends.s3"):
    # An S3-compatible object store (django-storages[s3]); credentials come from boto3's usual variables.
    # Batch files are never overwritten: a concurrent upload of the same content gets a name of its own.
    STORAGES["default"]["OPTIONS"] = {
        "bucket_name": env("STORAGE_BUCKET"), "endpoint_url": env("STORAGE_ENDPOINT_URL", default=None),
        "location": env("STORAGE_PREFIX", default=""), "file_overwrite": False, "default_acl": None,
    }

# Uploads: anything above 2.5 MB streams to a temporary file, never fully into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 10_485_760
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR", default=None)
SENSOR_UPLOAD_MAX_BYTES = env.int("SENSOR_UPLOAD_MAX_BYTES", default=200_000_000)  # 200 MB

# Health analysis (defaults in health/conf.py); set any of these in the environment to override.
for _name, _cast in (("HEALTH_BASELINE_BATCHES", int), ("HEALTH_ALARM_ESCALATE_AFTER_HOURS", float),
                     ("HEALTH_ESCALATION_CHECK_SECONDS", float), ("HEALTH_KURTOGRAM_LEVEL", int),
                     ("HEALTH_STROKE_RATE_BAND_SPM", float), ("HEALTH_LOAD_BAND_PERCENT", float),
                     ("HEALTH_CHART_MAX_POINTS", int), ("HEALTH_TREND_POINTS", int),
                     ("HEALTH_WARNING_Z", float), ("HEALTH_ALARM_Z", float), ("HEALTH_DANGER_Z", float)):
    if _name in os.environ:
        globals()[_name] = _cast(env.str(_name))

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ActiveTokenAuthentication",  # first: unauthenticated answers are 401
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
    "DEFAULT_VERSIONING_CLASS": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PressTrust API",
    "DESCRIPTION": "Press health, federated learning, dynamic credit and ABS for enterprises and lenders.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "kind"/"status" choice field; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "OrganizationKindEnum": "accounts.roles.OrganizationKind",
        "ComponentKindEnum": "devices.models.Component.Kind",
        "ChannelKindEnum": "devices.models.Channel.Kind",
    },
}

# --- Security: lockouts and second factor ---------------------------------------------------
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout_response"
AXES_VERBOSE = False
OTP_TOTP_ISSUER = "PressTrust"
OTP_TOTP_THROTTLE_FACTOR = 1
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False
ANONYMOUS_USER_NAME = None  # guardian: no anonymous object permissions

INVITATION_TTL = timedelta(days=env.int("INVITATION_TTL_DAYS", default=7))

# --- Keys -----------------------------------------------------------------------------------
# Versioned audit HMAC keys "k2:<base64>,k1:<base64>" and the id of the one that signs new events.
AUDIT_HMAC_KEYS = env("AUDIT_HMAC_KEYS", default="")
AUDIT_HMAC_CURRENT = env("AUDIT_HMAC_CURRENT", default="")
# How long a writer whose event waits unsealed waits for the transaction holding the audit chain
# before leaving the sealing to the workers' sweep (their heartbeat).
AUDIT_SEAL_WAIT_SECONDS = env.float("AUDIT_SEAL_WAIT_SECONDS", default=10.0)
# Key-encryption key (base64, 32 bytes) for participant private keys at rest.
PARTICIPANT_KEY_ENCRYPTION_KEY = env("PARTICIPANT_KEY_ENCRYPTION_KEY", default="")
# The platform's Ed25519 signing key (PEM, PKCS8) for evidence bundles.
PLATFORM_SIGNING_KEY_PEM = env("PLATFORM_SIGNING_KEY_PEM", default="")

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
BROKER_DIR = Path(env("BROKER_DIR", default=str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_RESULT_BACKEND = None  # fan-in is recorded in the database, never through chord results
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Seconds between worker heartbeats written to the database (health check reads them).
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=10)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The filesystem transport has no host; kombu warns "No hostname was supplied" on every connection,
    # which would fill the embedded portal's console with noise.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}

# Lockouts are per account (the issue asks to lock the account); an IP-wide lock would lock out every
# user of a plant behind one NAT address, so axes' advice to add ip_address is deliberately declined.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
