"""Uploaded tabular data of federated tasks: a lender's historical loan book or an enterprise's production
records, validated against a shared schema (``federation.core.tabular_schemas``) when uploaded.

The CSV stays the organisation's own: it is stored once, whole, in the same transaction as its audit
event (so a failed upload leaves no row and no file behind), read only by the organisation's own worker
when a task it granted trains or evaluates, and shown to no other organisation.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TabularDataset(models.Model):
    class Kind(models.TextChoices):
        LOAN_BOOK = "loan_book", _("Loan book")
        PRODUCTION = "production", _("Production records")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("owner"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    schema = models.JSONField()  # the schema it was validated against (federation.core.tabular to_dict())
    column_map = models.JSONField(default=dict)  # schema column -> the file's own column
    content = models.BinaryField()  # the CSV as uploaded (UTF-8)
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField()
    summary = models.JSONField(default=dict)  # per target: rows measured, mean / default rate
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("tabular data set")
        constraints = [models.UniqueConstraint(fields=["organization", "sha256"], name="one_upload_per_file_and_owner")]

    def __str__(self) -> str:
        return self.name
