"""Simplified Chinese formats: Django's, except amounts are grouped by thousands with commas, as Chinese
banks and financial statements print them (Django's default for zh_Hans prints 9000000)."""
from django.conf.locale.zh_Hans.formats import *  # noqa: F401,F403

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
