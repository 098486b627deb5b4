"""The tabular upload API: multipart upload through the same service, scoped lists, clear errors."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from federation.core.tabular_schemas import production_csv, simulate_production
from federation.tabular_models import TabularDataset

pytestmark = pytest.mark.django_db


def _client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_upload_list_and_errors(world, django_assert_max_num_queries):
    text = production_csv(simulate_production(periods=24, heavy_share=0.4, seed=9))
    client = _client(world.ent_a_manager)
    response = client.post("/api/v1/federation/datasets/", {
        "kind": "production", "name": "API upload", "file": SimpleUploadedFile("r.csv", text.encode())},
        format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["rows"] == 24 and "content" not in response.json()
    bad = client.post("/api/v1/federation/datasets/", {
        "kind": "production", "name": "Bad", "file": SimpleUploadedFile("r.csv", b"a,b\n1,2\n")}, format="multipart")
    assert bad.status_code == 400 and "does not fit the shared schema" in str(bad.json())
    assert TabularDataset.objects.count() == 1
    with django_assert_max_num_queries(8):
        listed = client.get("/api/v1/federation/datasets/")
    assert [row["name"] for row in listed.json()["results"]] == ["API upload"]
    assert _client(world.ent_b_manager).get("/api/v1/federation/datasets/").json()["results"] == []
