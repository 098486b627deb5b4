"""Runs every declared case for every actor; see registry.py."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.factories import verified_login
from tests.fixtures import ACTORS

from . import registry

for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
    if module.name.startswith("cases_"):
        importlib.import_module(f"{__package__}.{module.name}")


class _Rollback(Exception):
    pass


def _request(case, world, actor, url):
    user = type(world.users[actor]).objects.get(pk=world.users[actor].pk)  # as stored now
    if case.api:
        from rest_framework.authtoken.models import Token

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        kwargs = {"format": case.format}
    else:
        from django.test import Client

        client = Client()
        verified_login(client, user)
        kwargs = {}
    data = case.payload(world)
    method = getattr(client, case.method)
    return method(url, data, **kwargs) if data is not None else method(url, **kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize("case", registry.CASES, ids=[c.name for c in registry.CASES])
def test_case_for_every_actor(case, world):
    if case.setup:
        case.setup(world)
    url = case.url(world)  # objects the URL needs are made once, outside the per-actor rollback
    got = {}
    for actor in ACTORS:
        # Each actor sees the world as it was: state changes of one request are rolled back.
        try:
            with transaction.atomic():
                got[actor] = _request(case, world, actor, url).status_code
                raise _Rollback
        except _Rollback:
            pass
    expected = {actor: case.expect.get(actor, case.default) for actor in ACTORS}
    assert got == expected


def _object_url_names(resolver: URLResolver, prefix: str = "") -> set[str]:
    names = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names |= _object_url_names(pattern, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            converters = pattern.pattern.converters if hasattr(pattern.pattern, "converters") else {}
            regex = pattern.pattern.regex.pattern
            if converters or "(?P<pk>" in regex or "(?P<sequence>" in regex:
                names.add(prefix + pattern.name)
    return names


def test_every_object_url_is_declared():
    declared = {case.url_name for case in registry.CASES} | set(registry.EXEMPT_URL_NAMES)
    names = {n for n in _object_url_names(get_resolver()) if not n.startswith(("admin:", "django-admin"))}
    names = {n for n in names if n.split(":")[0] not in ("admin",) and not n.endswith(("-list", "api-root"))}
    ignored_framework = {"set_language", "javascript-catalog", "api-schema", "api-docs"}
    missing = sorted(names - declared - ignored_framework)
    assert not missing, f"object URLs without a permission-matrix case: {missing}"
