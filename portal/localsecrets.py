"""Secrets for the embedded and test shapes, where nobody sets environment variables.

Production never calls this: its settings refuse to start without the real secrets in the environment.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def generate_secrets(seed: bytes | None = None) -> dict[str, str]:
    """Fresh secrets; with ``seed`` they are derived deterministically (tests only)."""

    def random_bytes(label: str, length: int = 32) -> bytes:
        if seed is None:
            return os.urandom(length)
        return hashlib.sha256(seed + label.encode()).digest()[:length]

    signing = Ed25519PrivateKey.from_private_bytes(random_bytes("platform-ed25519"))
    signing_pem = signing.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "SECRET_KEY": base64.urlsafe_b64encode(random_bytes("django", 48)).decode(),
        "AUDIT_HMAC_KEYS": "k1:" + base64.b64encode(random_bytes("audit-k1")).decode(),
        "AUDIT_HMAC_CURRENT": "k1",
        "PARTICIPANT_KEY_ENCRYPTION_KEY": base64.b64encode(random_bytes("kek")).decode(),
        "PLATFORM_SIGNING_KEY_PEM": signing_pem,
    }


def load_or_create_local_secrets(var_dir: Path) -> dict[str, str]:
    """Read ``var/secrets.json``, creating it (mode 0600) on first use."""
    path = Path(var_dir) / "secrets.json"
    if path.exists():
        stored = json.loads(path.read_text())
        missing = {k: v for k, v in generate_secrets().items() if k not in stored}
        if not missing:
            return stored
        stored.update(missing)
    else:
        stored = generate_secrets()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stored, indent=2))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return stored
