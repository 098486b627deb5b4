"""The embedded default: one laptop, SQLite, local files, filesystem broker.

Secrets that production takes from the environment are generated once into ``var/secrets.json`` so
a fresh checkout runs with one command, and stay stable across restarts.
"""
from .base import *  # noqa: F401,F403
from .base import env
from portal.localsecrets import load_or_create_local_secrets

DEBUG = env.bool("DEBUG", default=True)
_secrets = load_or_create_local_secrets(VAR_DIR)  # noqa: F405
SECRET_KEY = SECRET_KEY or _secrets["SECRET_KEY"]  # noqa: F405
AUDIT_HMAC_KEYS = AUDIT_HMAC_KEYS or _secrets["AUDIT_HMAC_KEYS"]  # noqa: F405
AUDIT_HMAC_CURRENT = AUDIT_HMAC_CURRENT or _secrets["AUDIT_HMAC_CURRENT"]  # noqa: F405
PARTICIPANT_KEY_ENCRYPTION_KEY = PARTICIPANT_KEY_ENCRYPTION_KEY or _secrets["PARTICIPANT_KEY_ENCRYPTION_KEY"]  # noqa: F405
PLATFORM_SIGNING_KEY_PEM = PLATFORM_SIGNING_KEY_PEM or _secrets["PLATFORM_SIGNING_KEY_PEM"]  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
