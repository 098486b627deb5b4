"""Offline verification of a PressTrust audit evidence bundle.

Usage::

    python -m audit.core.verify_bundle BUNDLE.zip PLATFORM_PUBLIC_KEY.pem

Exit status 0 when the bundle is valid, 1 otherwise (with a message naming the problem and, where it
can, the line of ``events.jsonl`` and the sequence number), 2 for a usage error.

This file is deliberately self-contained (Python standard library + ``cryptography``) so that it can
be handed to an auditor on its own and run as ``python verify_bundle.py ...`` as well.

What an offline check can and cannot prove. The HMAC key of the chain stays with the platform, so
nobody outside can recompute an event's MAC. What the bundle proves instead:

1. ``manifest.sig`` is a valid Ed25519 signature (RFC 8032) of the exact bytes of ``manifest.json``
   under the platform's public key: the manifest is what the platform exported.
2. The SHA-256 of ``events.jsonl`` equals the manifest's ``events_sha256``: no line was edited,
   added, removed or moved since export.
3. Every line is canonical JSON (sorted keys, no whitespace) with the expected fields; the sequence
   numbers run without gaps from the manifest's ``first_sequence`` to ``last_sequence``.
4. Linkage: each event's ``prev_mac`` equals the ``mac`` of the line before it; the first
   ``prev_mac`` equals the manifest's ``anchor_prev_mac`` and the last ``mac`` its
   ``anchor_last_mac``, and every key id is listed in the manifest.

Together: the export is exactly what the platform held and verified at ``created_at``. The anchors let
an auditor chain consecutive bundles (one bundle's ``anchor_last_mac`` is the next one's
``anchor_prev_mac``) and compare them with a later export: if the platform's log is rewritten later,
its MACs no longer match the anchors signed here.

Events the auditor may not see are "redacted": their line keeps only ``sequence``, ``prev_mac``,
``mac``, ``key_id`` and ``"redacted": true``, enough for the linkage check above.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import re
import sys
import zipfile
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_FORMAT_VERSION",
    "EVENT_FIELDS",
    "BundleVerification",
    "main",
    "public_key_fingerprint",
    "verify_bundle",
]

BUNDLE_FORMAT = "presstrust-audit-bundle"
BUNDLE_FORMAT_VERSION = 1
EVENTS_NAME = "events.jsonl"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
README_NAME = "README.txt"
REQUIRED_MEMBERS = frozenset({EVENTS_NAME, MANIFEST_NAME, SIGNATURE_NAME})
OPTIONAL_MEMBERS = frozenset({README_NAME})

#: Fields of a full event line (the ChainEvent fields of ``audit.core.chain``; kept in step by a test).
EVENT_FIELDS = frozenset(
    {
        "sequence", "occurred_at", "actor_user", "actor_org", "actor_kind", "action", "object_type",
        "object_id", "before_digest", "after_digest", "payload", "key_id", "prev_mac", "mac",
    }
)
REDACTED_FIELDS = frozenset({"sequence", "prev_mac", "mac", "key_id", "redacted"})

_MANIFEST_FIELDS = {
    "format": str,
    "format_version": int,
    "created_at": str,
    "range": dict,
    "event_count": int,
    "redacted_count": int,
    "first_sequence": int,
    "last_sequence": int,
    "anchor_prev_mac": str,
    "anchor_last_mac": str,
    "events_sha256": str,
    "key_ids": list,
    "keyring": dict,
    "signature_algorithm": str,
    "public_key_fingerprint": str,
}
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True)
class BundleVerification:
    """Outcome of ``verify_bundle``.

    ok              True when every check passed
    problem         None, or a short code: not_a_bundle, bad_public_key, wrong_public_key,
                    bad_signature, bad_manifest, events_hash_mismatch, bad_line, sequence_gap,
                    broken_link, anchor_mismatch, unlisted_key, count_mismatch
    message         human-readable explanation (what was checked, or what failed and where)
    event_count     lines checked (all of them when ok)
    first_sequence  manifest range start (None if the manifest could not be read)
    last_sequence   manifest range end (None if the manifest could not be read)
    line            1-based line of events.jsonl where the problem sits, if it sits on a line
    sequence        sequence number concerned, if known
    manifest        the parsed manifest once its signature verified, else None
    """

    ok: bool
    problem: str | None
    message: str
    event_count: int = 0
    first_sequence: int | None = None
    last_sequence: int | None = None
    line: int | None = None
    sequence: int | None = None
    manifest: dict[str, Any] | None = None


class _Problem(Exception):
    def __init__(self, problem: str, message: str, *, line: int | None = None, sequence: int | None = None):
        super().__init__(message)
        self.problem = problem
        self.message = message
        self.line = line
        self.sequence = sequence


def canonical_line(record: Any) -> bytes:
    """Canonical JSON of a JSON-native value (sorted keys, no whitespace, UTF-8) - as audit.core.canonical."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def public_key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte Ed25519 public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def _load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _Problem("bad_public_key", f"the public key is not a readable PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise _Problem("bad_public_key", f"the public key is {type(key).__name__}, not Ed25519")
    return key


def _open_bundle(bundle_bytes: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(bundle_bytes))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _Problem("not_a_bundle", f"not a ZIP archive: {exc}") from exc
    names = [info.filename for info in archive.infolist()]
    if len(names) != len(set(names)):
        raise _Problem("not_a_bundle", "the archive lists a member twice")
    missing = REQUIRED_MEMBERS - set(names)
    if missing:
        raise _Problem("not_a_bundle", f"the archive lacks {', '.join(sorted(missing))}")
    unexpected = set(names) - REQUIRED_MEMBERS - OPTIONAL_MEMBERS
    if unexpected:
        raise _Problem("not_a_bundle", f"the archive holds unexpected members: {', '.join(sorted(unexpected))}")
    return archive


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:  # CRC error, truncation
        raise _Problem("not_a_bundle", f"{name} cannot be read from the archive: {exc}") from exc


def _check_manifest(manifest_bytes: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(manifest_bytes)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Problem("bad_manifest", f"manifest.json is not JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise _Problem("bad_manifest", "manifest.json is not a JSON object")
    for field, kind in _MANIFEST_FIELDS.items():
        value = manifest.get(field)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _Problem("bad_manifest", f"manifest field {field!r} is missing or not a {kind.__name__}")
    if manifest["format"] != BUNDLE_FORMAT or manifest["format_version"] != BUNDLE_FORMAT_VERSION:
        raise _Problem(
            "bad_manifest",
            f"unsupported bundle format {manifest['format']!r} v{manifest['format_version']} "
            f"(this verifier reads {BUNDLE_FORMAT!r} v{BUNDLE_FORMAT_VERSION})",
        )
    for field in ("anchor_prev_mac", "anchor_last_mac", "events_sha256"):
        if not _HEX64.fullmatch(manifest[field]):
            raise _Problem("bad_manifest", f"manifest field {field!r} is not 64 lower-case hex digits")
    if manifest["event_count"] != manifest["last_sequence"] - manifest["first_sequence"] + 1:
        raise _Problem("bad_manifest", "manifest event_count does not match its first/last sequence")
    return manifest


def _check_line(raw: bytes, number: int) -> dict[str, Any]:
    if not raw.endswith(b"\n"):
        raise _Problem("bad_line", f"line {number} of events.jsonl is not terminated by a newline", line=number)
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Problem("bad_line", f"line {number} of events.jsonl is not JSON: {exc}", line=number) from exc
    if not isinstance(record, dict):
        raise _Problem("bad_line", f"line {number} of events.jsonl is not a JSON object", line=number)
    sequence = record.get("sequence")
    sequence = sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None
    if canonical_line(record) + b"\n" != raw:
        raise _Problem("bad_line", f"line {number} is not in canonical form", line=number, sequence=sequence)
    expected_fields = REDACTED_FIELDS if record.get("redacted") is True else EVENT_FIELDS
    if set(record) != expected_fields:
        raise _Problem(
            "bad_line",
            f"line {number} has fields {sorted(record)}, expected {sorted(expected_fields)}",
            line=number,
            sequence=sequence,
        )
    if sequence is None:
        raise _Problem("bad_line", f"line {number}: sequence is not an integer", line=number)
    for field in ("prev_mac", "mac"):
        if not isinstance(record[field], str) or not _HEX64.fullmatch(record[field]):
            raise _Problem("bad_line", f"line {number}: {field} is not 64 hex digits", line=number, sequence=sequence)
    if not isinstance(record["key_id"], str):
        raise _Problem("bad_line", f"line {number}: key_id is not a string", line=number, sequence=sequence)
    return record


def _check_events(archive: zipfile.ZipFile, manifest: dict[str, Any]) -> int:
    """One streaming pass: hash the file and check every line; returns the number of lines."""
    hasher = hashlib.sha256()
    first_problem: _Problem | None = None
    expected_sequence = manifest["first_sequence"]
    prev_mac = manifest["anchor_prev_mac"]
    listed_keys = set(manifest["key_ids"])
    count = 0
    try:
        with archive.open(EVENTS_NAME) as stream:
            for number, raw in enumerate(stream, start=1):
                hasher.update(raw)
                count = number
                if first_problem is not None:
                    continue
                try:
                    record = _check_line(raw, number)
                    sequence = record["sequence"]
                    if sequence != expected_sequence:
                        raise _Problem(
                            "sequence_gap",
                            f"line {number}: expected sequence {expected_sequence}, found {sequence}",
                            line=number,
                            sequence=sequence,
                        )
                    if record["prev_mac"] != prev_mac:
                        what = "the manifest's anchor_prev_mac" if number == 1 else f"the mac of sequence {sequence - 1}"
                        code = "anchor_mismatch" if number == 1 else "broken_link"
                        raise _Problem(
                            code,
                            f"line {number}: prev_mac of sequence {sequence} does not equal {what}",
                            line=number,
                            sequence=sequence,
                        )
                    if record["key_id"] not in listed_keys:
                        raise _Problem(
                            "unlisted_key",
                            f"line {number}: key id {record['key_id']!r} is not listed in the manifest",
                            line=number,
                            sequence=sequence,
                        )
                    prev_mac = record["mac"]
                    expected_sequence += 1
                except _Problem as problem:
                    first_problem = problem
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _Problem("not_a_bundle", f"events.jsonl cannot be read from the archive: {exc}") from exc

    if hasher.hexdigest() != manifest["events_sha256"]:
        where = f"; first inconsistency at line {first_problem.line}: {first_problem.message}" if first_problem else ""
        raise _Problem(
            "events_hash_mismatch",
            "events.jsonl was modified after signing: its SHA-256 does not match the manifest" + where,
            line=first_problem.line if first_problem else None,
            sequence=first_problem.sequence if first_problem else None,
        )
    if first_problem is not None:
        raise first_problem
    if count != manifest["event_count"]:
        raise _Problem("count_mismatch", f"events.jsonl has {count} lines; the manifest announces {manifest['event_count']}")
    if prev_mac != manifest["anchor_last_mac"]:
        raise _Problem(
            "anchor_mismatch",
            f"the mac of the last event (sequence {expected_sequence - 1}) does not equal the manifest's anchor_last_mac",
            line=count,
            sequence=expected_sequence - 1,
        )
    return count


def verify_bundle(bundle_bytes: bytes, public_key_pem_bytes: bytes) -> BundleVerification:
    """Check an evidence bundle offline (see the module docstring for what that proves).

    bundle_bytes          the ZIP produced by ``audit.core.bundle.build_bundle``
    public_key_pem_bytes  the platform's Ed25519 public key, PEM (SubjectPublicKeyInfo)
    Returns a BundleVerification; never raises for malformed input.
    """
    manifest: dict[str, Any] | None = None
    try:
        public_key = _load_public_key(public_key_pem_bytes)
        archive = _open_bundle(bundle_bytes)
        with archive:
            manifest_bytes = _read_member(archive, MANIFEST_NAME)
            signature = _read_member(archive, SIGNATURE_NAME)
            try:
                public_key.verify(signature, manifest_bytes)
            except InvalidSignature:
                claimed = _claimed_fingerprint(manifest_bytes)
                given = public_key_fingerprint(public_key)
                if claimed is not None and claimed != given:
                    raise _Problem(
                        "wrong_public_key",
                        f"manifest.sig does not verify: the manifest names signing key {claimed[:16]}..., "
                        f"the key given is {given[:16]}... (wrong public key, or an edited manifest)",
                    ) from None
                raise _Problem(
                    "bad_signature",
                    "manifest.sig is not a valid signature of manifest.json under this public key: "
                    "the manifest or the signature was altered",
                ) from None
            manifest = _check_manifest(manifest_bytes)
            count = _check_events(archive, manifest)
    except _Problem as problem:
        return BundleVerification(
            ok=False,
            problem=problem.problem,
            message=problem.message,
            first_sequence=manifest["first_sequence"] if manifest else None,
            last_sequence=manifest["last_sequence"] if manifest else None,
            line=problem.line,
            sequence=problem.sequence,
            manifest=manifest,
        )
    redacted = manifest["redacted_count"]
    return BundleVerification(
        ok=True,
        problem=None,
        message=(
            f"bundle valid: signature OK, events.jsonl SHA-256 OK, {count} events "
            f"(sequences {manifest['first_sequence']}..{manifest['last_sequence']}, {redacted} redacted) "
            f"continuous and linked to the signed anchors"
        ),
        event_count=count,
        first_sequence=manifest["first_sequence"],
        last_sequence=manifest["last_sequence"],
        manifest=manifest,
    )


def _claimed_fingerprint(manifest_bytes: bytes) -> str | None:
    try:
        claimed = json.loads(manifest_bytes).get("public_key_fingerprint")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return claimed if isinstance(claimed, str) else None


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status (0 valid, 1 invalid or unreadable)."""
    parser = argparse.ArgumentParser(
        prog="python -m audit.core.verify_bundle",
        description="Verify a PressTrust audit evidence bundle offline.",
    )
    parser.add_argument("bundle", help="the evidence bundle (.zip)")
    parser.add_argument("public_key", help="the platform's Ed25519 public key (PEM)")
    args = parser.parse_args(argv)
    try:
        with open(args.bundle, "rb") as handle:
            bundle_bytes = handle.read()
        with open(args.public_key, "rb") as handle:
            pem = handle.read()
    except OSError as exc:
        print(f"INVALID (unreadable): {exc}", file=sys.stderr)
        return 1
    result = verify_bundle(bundle_bytes, pem)
    if result.ok:
        print(f"VALID: {result.message}")
        return 0
    print(f"INVALID ({result.problem}): {result.message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
