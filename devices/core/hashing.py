"""Streaming content hash of an uploaded file."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["content_hash"]


def content_hash(file_bytes_iter: Iterable[bytes] | bytes | bytearray | memoryview) -> str:
    """SHA-256 (64 lower-case hex digits) of the concatenated chunks, read once (constant memory).

    ``file_bytes_iter`` is an iterable of byte chunks (e.g. Django ``UploadedFile.chunks()`` or
    ``iter(lambda: f.read(1 << 20), b"")``); a single bytes-like object is hashed as is.
    """
    if isinstance(file_bytes_iter, (bytes, bytearray, memoryview)):
        return hashlib.sha256(file_bytes_iter).hexdigest()
    hasher = hashlib.sha256()
    for chunk in file_bytes_iter:
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError(f"content_hash expects byte chunks, got {type(chunk).__name__}")
        hasher.update(chunk)
    return hasher.hexdigest()
