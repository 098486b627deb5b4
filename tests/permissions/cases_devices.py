"""Presses and batches: the enterprise's managers act, its auditors read, nobody else learns they exist.
A lender with a health share sees only health (health cases), never the press record or its samples."""
import datetime as dt
import io

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from .registry import Case, declare

ENT_A_READERS = {"ent_a_manager": 200, "ent_a_auditor": 200}


def press_of_a(world):
    if "press_a" not in world.objects:
        from devices import services

        world.objects["press_a"] = services.press_register(
            actor=world.ent_a_manager, organization=world.ent_a, name="Matrix press", site="A", make="M", model="X",
            rated_tonnage_t="100", stroke_rate_min_spm="10", stroke_rate_max_spm="50",
            commissioned_on=dt.date(2020, 1, 1), channels=[{"name": "acc", "kind": "acceleration", "unit": "g"}])
        # Shared with lender A: the share must not open the press record or the samples.
        services.health_share_grant(actor=world.ent_a_manager, press=world.objects["press_a"], lender=world.lender_a)
    return world.objects["press_a"]


def batch_of_a(world):
    if "batch_a" not in world.objects:
        from devices import services

        buffer = io.BytesIO()
        np.save(buffer, np.random.default_rng(0).normal(size=(4096, 1)))
        world.objects["batch_a"] = services.batch_ingest(
            actor=world.ent_a_manager, press=press_of_a(world), uploaded_file=SimpleUploadedFile("m.npy", buffer.getvalue()),
            sampling_rate_hz=10000, started_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    return world.objects["batch_a"]


def share_of_a(world):
    return press_of_a(world).health_shares.get()


def _upload(world):
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(7).normal(size=(4096, 1)))
    return {"file": SimpleUploadedFile("u.npy", buffer.getvalue()), "sampling_rate_hz": "10000",
            "started_at": "2026-01-02T00:00:00Z"}


declare(
    Case("press page", "devices:press_detail", lambda w: reverse("devices:press_detail", args=[press_of_a(w).pk]),
         expect=ENT_A_READERS),
    Case("press edit page", "devices:press_edit", lambda w: reverse("devices:press_edit", args=[press_of_a(w).pk]),
         expect={"ent_a_manager": 200, "ent_a_auditor": 403}),
    Case("press retire", "devices:press_retire", lambda w: reverse("devices:press_retire", args=[press_of_a(w).pk]),
         method="post", data={"reason": "matrix"}, expect={"ent_a_manager": 302, "ent_a_auditor": 403}),
    Case("press API detail", "press-detail", lambda w: reverse("press-detail", args=[press_of_a(w).pk]), api=True,
         expect=ENT_A_READERS),
    Case("press API edit", "press-detail", lambda w: reverse("press-detail", args=[press_of_a(w).pk]), api=True,
         method="patch", data={"site": "B"}, expect={"ent_a_manager": 200, "ent_a_auditor": 403}),
    Case("press API retire", "press-retire", lambda w: reverse("press-retire", args=[press_of_a(w).pk]), api=True,
         method="post", data={"reason": "matrix"}, expect={"ent_a_manager": 200, "ent_a_auditor": 403}),
    Case("batch list API", "press-batches", lambda w: reverse("press-batches", args=[press_of_a(w).pk]), api=True,
         expect=ENT_A_READERS),
    Case("batch upload API", "press-batches", lambda w: reverse("press-batches", args=[press_of_a(w).pk]), api=True,
         method="post", data=_upload, format="multipart", expect={"ent_a_manager": 201, "ent_a_auditor": 403}),
    Case("batch upload page", "devices:batch_upload", lambda w: reverse("devices:batch_upload", args=[press_of_a(w).pk]),
         method="post", data=_upload, expect={"ent_a_manager": 302, "ent_a_auditor": 403}),
    Case("press shares API", "press-shares", lambda w: reverse("press-shares", args=[press_of_a(w).pk]), api=True,
         expect={"ent_a_manager": 200, "ent_a_auditor": 403}),
    Case("share create page", "devices:health_share_create",
         lambda w: reverse("devices:health_share_create", args=[press_of_a(w).pk]), method="post",
         data=lambda w: {"lender": w.lender_b.pk}, expect={"ent_a_manager": 302, "ent_a_auditor": 403}),
    Case("share revoke page", "devices:health_share_revoke",
         lambda w: reverse("devices:health_share_revoke", args=[press_of_a(w).pk, share_of_a(w).pk]), method="post",
         expect={"ent_a_manager": 302, "ent_a_auditor": 403}),
    Case("share API detail", "healthshare-detail", lambda w: reverse("healthshare-detail", args=[share_of_a(w).pk]),
         api=True, expect={"ent_a_manager": 200}),
    Case("share API revoke", "healthshare-revoke", lambda w: reverse("healthshare-revoke", args=[share_of_a(w).pk]),
         api=True, method="post", expect={"ent_a_manager": 200}),
    Case("batch page", "devices:batch_detail", lambda w: reverse("devices:batch_detail", args=[batch_of_a(w).pk]),
         expect=ENT_A_READERS),
    Case("batch samples download", "devices:batch_download",
         lambda w: reverse("devices:batch_download", args=[batch_of_a(w).pk]),
         expect={"ent_a_manager": 200, "ent_a_auditor": 403}),
    Case("batch API detail", "sensorbatch-detail", lambda w: reverse("sensorbatch-detail", args=[batch_of_a(w).pk]),
         api=True, expect=ENT_A_READERS),
    Case("batch API samples", "sensorbatch-samples", lambda w: reverse("sensorbatch-samples", args=[batch_of_a(w).pk]),
         api=True, expect={"ent_a_manager": 200, "ent_a_auditor": 403}),
)
