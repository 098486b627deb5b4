"""Evidence bundles: round trip, tampering, wrong keys, the offline CLI, and the no-Django boundary."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.core import MAC_FIELDS, build_bundle, canonical_json, load_signing_key, public_key_pem, verify_bundle
from audit.core.verify_bundle import EVENT_FIELDS

from .conftest import CHAIN_LENGTH, forge

REPO_ROOT = Path(__file__).resolve().parents[3]
CREATED = dt.datetime(2025, 4, 1, 12, 0, tzinfo=dt.timezone.utc)
RANGE = {"from_sequence": 1, "to_sequence": CHAIN_LENGTH, "requested_by": "auditor@firm"}


def _bundle(chain, keyring, signing_key, **kwargs) -> bytes:
    return build_bundle(chain, keyring.public_info(), signing_key, range_info=RANGE, created_at=CREATED, **kwargs)


def _members(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rezip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _resign(members: dict[str, bytes], signing_key, lines: list[bytes], **manifest_changes) -> bytes:
    """Rewrite events.jsonl and re-sign an updated manifest, as a key-holding (buggy) exporter would."""
    events = b"".join(lines)
    manifest = json.loads(members["manifest.json"])
    manifest.update(events_sha256=hashlib.sha256(events).hexdigest(), **manifest_changes)
    manifest_bytes = canonical_json(manifest)
    signature = signing_key.sign(manifest_bytes)
    return _rezip({**members, "events.jsonl": events, "manifest.json": manifest_bytes, "manifest.sig": signature})


@pytest.fixture
def public_pem(signing_key) -> bytes:
    return public_key_pem(signing_key)


def test_round_trip(chain, keyring, signing_key, public_pem):
    bundle = _bundle(chain, keyring, signing_key)
    members = _members(bundle)
    assert set(members) == {"events.jsonl", "manifest.json", "manifest.sig", "README.txt"}
    lines = members["events.jsonl"].splitlines(keepends=True)
    assert lines == [canonical_json(event.to_record()) + b"\n" for event in chain]
    manifest = json.loads(members["manifest.json"])
    assert manifest["event_count"] == CHAIN_LENGTH
    assert (manifest["first_sequence"], manifest["last_sequence"]) == (1, CHAIN_LENGTH)
    assert manifest["anchor_prev_mac"] == chain[0].prev_mac and manifest["anchor_last_mac"] == chain[-1].mac
    assert manifest["events_sha256"] == hashlib.sha256(members["events.jsonl"]).hexdigest()
    assert manifest["key_ids"] == ["k1", "k2"]
    assert manifest["range"] == RANGE
    assert manifest["created_at"] == "2025-04-01T12:00:00.000000Z"
    assert "fingerprint" in json.dumps(manifest["keyring"])

    result = verify_bundle(bundle, public_pem)
    assert result.ok, result.message
    assert (result.event_count, result.first_sequence, result.last_sequence) == (CHAIN_LENGTH, 1, CHAIN_LENGTH)


def test_bundle_of_a_middle_range_with_redactions(chain, keyring, signing_key, public_pem):
    bundle = _bundle(chain[5:15], keyring, signing_key, visible=lambda event: event.sequence % 2 == 0)
    result = verify_bundle(bundle, public_pem)
    assert result.ok, result.message
    assert (result.first_sequence, result.last_sequence, result.manifest["redacted_count"]) == (6, 15, 5)
    lines = [json.loads(line) for line in _members(bundle)["events.jsonl"].splitlines()]
    hidden = [line for line in lines if line.get("redacted")]
    assert [line["sequence"] for line in hidden] == [7, 9, 11, 13, 15]
    assert all("payload" not in line and "actor_user" not in line for line in hidden)


def test_build_refuses_broken_or_empty_ranges(chain, keyring, signing_key):
    with pytest.raises(ValueError, match="consecutive"):
        _bundle(chain[:5] + chain[6:], keyring, signing_key)
    with pytest.raises(ValueError, match="link"):
        _bundle(chain[:5] + [forge(chain[5], prev_mac="a" * 64)] + chain[6:], keyring, signing_key)
    with pytest.raises(ValueError, match="no events"):
        _bundle([], keyring, signing_key)


def test_edited_line_is_rejected(chain, keyring, signing_key, public_pem):
    members = _members(_bundle(chain, keyring, signing_key))
    members["events.jsonl"] = members["events.jsonl"].replace(b'"actor_user":"user3"', b'"actor_user":"user0"', 1)
    result = verify_bundle(_rezip(members), public_pem)
    assert (result.ok, result.problem) == (False, "events_hash_mismatch")
    assert "modified after signing" in result.message


def test_deleted_line_is_rejected_and_located(chain, keyring, signing_key, public_pem):
    members = _members(_bundle(chain, keyring, signing_key))
    lines = members["events.jsonl"].splitlines(keepends=True)
    del lines[4]
    members["events.jsonl"] = b"".join(lines)
    result = verify_bundle(_rezip(members), public_pem)
    assert (result.problem, result.line, result.sequence) == ("events_hash_mismatch", 5, 6)


def test_edited_manifest_is_rejected(chain, keyring, signing_key, public_pem):
    members = _members(_bundle(chain, keyring, signing_key))
    members["manifest.json"] = members["manifest.json"].replace(b'"event_count":20', b'"event_count":19')
    result = verify_bundle(_rezip(members), public_pem)
    assert (result.ok, result.problem) == (False, "bad_signature")


def test_edited_line_with_recomputed_hash_still_fails_the_signature(chain, keyring, signing_key, public_pem):
    members = _members(_bundle(chain, keyring, signing_key))
    events = members["events.jsonl"].replace(b'"samples":120003', b'"samples":999999')
    manifest = json.loads(members["manifest.json"])
    manifest["events_sha256"] = hashlib.sha256(events).hexdigest()
    members.update({"events.jsonl": events, "manifest.json": canonical_json(manifest)})
    assert verify_bundle(_rezip(members), public_pem).problem == "bad_signature"


def test_wrong_public_key_is_rejected(chain, keyring, signing_key):
    other = public_key_pem(Ed25519PrivateKey.generate())
    result = verify_bundle(_bundle(chain, keyring, signing_key), other)
    assert (result.ok, result.problem) == (False, "wrong_public_key")


@pytest.mark.parametrize(
    "pem",
    [
        b"not a key",
        rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    ],
    ids=["garbage", "rsa"],
)
def test_unusable_public_key_is_rejected(chain, keyring, signing_key, pem):
    assert verify_bundle(_bundle(chain, keyring, signing_key), pem).problem == "bad_public_key"


def test_not_a_bundle(chain, keyring, signing_key, public_pem):
    assert verify_bundle(b"PK\x03\x04 truncated", public_pem).problem == "not_a_bundle"
    members = _members(_bundle(chain, keyring, signing_key))
    del members["manifest.sig"]
    assert verify_bundle(_rezip(members), public_pem).problem == "not_a_bundle"
    members = _members(_bundle(chain, keyring, signing_key))
    members["extra.bin"] = b"x"
    assert verify_bundle(_rezip(members), public_pem).problem == "not_a_bundle"


@pytest.mark.parametrize(
    ("index", "edit", "problem", "line"),
    [
        (6, "delete", "sequence_gap", 7),
        (3, "pretty", "bad_line", 4),
        (3, b"{not json\n", "bad_line", 4),
        (2, {"prev_mac": "a" * 64}, "broken_link", 3),
        (0, {"prev_mac": "a" * 64}, "anchor_mismatch", 1),
        (2, {"key_id": "k7"}, "unlisted_key", 3),
        (2, {"extra": 1}, "bad_line", 3),
    ],
    ids=["gap", "non-canonical", "not-json", "broken-link", "first-anchor", "unlisted-key", "extra-field"],
)
def test_signed_but_inconsistent_events_are_located(chain, keyring, signing_key, public_pem, index, edit, problem, line):
    members = _members(_bundle(chain, keyring, signing_key))
    lines = members["events.jsonl"].splitlines(keepends=True)
    record = json.loads(lines[index])
    if edit == "delete":
        del lines[index]
    elif edit == "pretty":
        lines[index] = json.dumps(record).encode() + b"\n"  # valid JSON, but with spaces
    elif isinstance(edit, bytes):
        lines[index] = edit
    else:
        lines[index] = canonical_json({**record, **edit}) + b"\n"
    result = verify_bundle(_resign(members, signing_key, lines), public_pem)
    assert (result.ok, result.problem, result.line) == (False, problem, line), result.message


def test_signed_but_wrong_last_anchor_and_count(chain, keyring, signing_key, public_pem):
    members = _members(_bundle(chain, keyring, signing_key))
    lines = members["events.jsonl"].splitlines(keepends=True)
    result = verify_bundle(_resign(members, signing_key, lines, anchor_last_mac="b" * 64), public_pem)
    assert (result.problem, result.sequence) == ("anchor_mismatch", CHAIN_LENGTH)
    result = verify_bundle(
        _resign(members, signing_key, lines[:-1], anchor_last_mac=chain[-2].mac), public_pem
    )
    assert result.problem == "count_mismatch"


def test_event_field_list_matches_chain_module():
    assert EVENT_FIELDS == set(MAC_FIELDS) | {"mac"}


def test_load_signing_key_round_trip(signing_key):
    pem = signing_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert public_key_pem(load_signing_key(pem.decode())) == public_key_pem(signing_key)
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="Ed25519"):
        load_signing_key(rsa_pem)


# --- command line ---------------------------------------------------------------------------------


def _run(args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def bundle_files(tmp_path, chain, keyring, signing_key, public_pem):
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(_bundle(chain, keyring, signing_key))
    key = tmp_path / "platform.pem"
    key.write_bytes(public_pem)
    return bundle, key


def test_cli_valid_bundle_exits_0(bundle_files):
    bundle, key = bundle_files
    completed = _run(["-m", "audit.core.verify_bundle", str(bundle), str(key)])
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("VALID")


def test_cli_tampered_bundle_exits_1_with_reason(bundle_files):
    bundle, key = bundle_files
    members = _members(bundle.read_bytes())
    members["events.jsonl"] = members["events.jsonl"].replace(b"devices.batch.ingest", b"devices.batch.delete", 1)
    bundle.write_bytes(_rezip(members))
    completed = _run(["-m", "audit.core.verify_bundle", str(bundle), str(key)])
    assert completed.returncode == 1
    assert "events_hash_mismatch" in completed.stderr


def test_cli_wrong_key_and_missing_file_exit_1(bundle_files, tmp_path):
    bundle, _ = bundle_files
    other = tmp_path / "other.pem"
    other.write_bytes(public_key_pem(Ed25519PrivateKey.generate()))
    completed = _run(["-m", "audit.core.verify_bundle", str(bundle), str(other)])
    assert (completed.returncode, "wrong_public_key" in completed.stderr) == (1, True)
    completed = _run(["-m", "audit.core.verify_bundle", str(tmp_path / "absent.zip"), str(other)])
    assert (completed.returncode, "unreadable" in completed.stderr) == (1, True)


def test_cli_script_runs_standalone(bundle_files, tmp_path):
    # The auditor gets verify_bundle.py alone: it must not need the rest of the project.
    bundle, key = bundle_files
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(REPO_ROOT / "audit" / "core" / "verify_bundle.py", alone / "verify_bundle.py")
    completed = _run([str(alone / "verify_bundle.py"), str(bundle), str(key)], cwd=alone)
    assert completed.returncode == 0, completed.stderr


def test_core_imports_without_django():
    code = (
        "import sys; sys.modules['django'] = None\n"
        "import audit.core, audit.core.bundle, audit.core.canonical, audit.core.chain, "
        "audit.core.keyring, audit.core.verify, audit.core.verify_bundle\n"
        "assert not any(name == 'django' or name.startswith('django.') for name in sys.modules if sys.modules[name])\n"
    )
    completed = _run(["-c", code])
    assert completed.returncode == 0, completed.stderr
