"""Where batch files live: ``enterprises/<org-slug>/presses/<press-id>/<content-hash>.npz`` in the
configured Django storage (local files by default; an S3-compatible backend by setting)."""
from __future__ import annotations

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

PREFIX = "enterprises"


def batch_path(*, org_slug: str, press_id: int, content_hash: str) -> str:
    return f"{PREFIX}/{org_slug}/presses/{press_id}/{content_hash}.npz"


def write_batch_file(path: str, data: bytes) -> str:
    return default_storage.save(path, ContentFile(data))


def write_batch_file_from(path: str, fileobj) -> str:
    """Store an already written file object (streamed by the storage backend, not read whole).

    An existing file at ``path`` is never replaced: it may belong to a concurrent upload of the same
    content, whose row is about to commit. The storage picks a free name instead (Django's
    ``get_available_name``) and that name, returned here, is what the batch row records; a file left
    by a failed attempt is the orphan sweep's to remove."""
    fileobj.seek(0)
    return default_storage.save(path, File(fileobj))


def read_batch_file(path: str) -> bytes:
    with default_storage.open(path, "rb") as handle:
        return handle.read()


def delete_batch_file(path: str) -> None:
    if path and default_storage.exists(path):
        default_storage.delete(path)


def list_batch_files() -> list[str]:
    """Every stored batch file path (walks the storage tree)."""
    found: list[str] = []

    def walk(folder: str) -> None:
        try:
            directories, files = default_storage.listdir(folder)
        except FileNotFoundError:
            return
        for name in files:
            if name.endswith(".npz"):
                found.append(f"{folder}/{name}")
        for directory in directories:
            walk(f"{folder}/{directory}")

    walk(PREFIX)
    return found
