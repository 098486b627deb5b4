"""Keys and byte formats around the core's envelopes.

- **Aggregator key.** The platform aggregator holds one X25519 key pair (participants encrypt updates to
  its public half) and one AES-256 *state key* (it encrypts the aggregator's persisted strategy state,
  which contains participants' working models). Both live in an :class:`~federation.models.AggregatorKey`
  row, private halves wrapped with the platform key-encryption key (``PARTICIPANT_KEY_ENCRYPTION_KEY``,
  the same AES-GCM wrapping as participant keys, under the pseudo-organisation ``platform-aggregator``).
  The first aggregation creates it; rotating means adding a new version (updates sealed to the old one
  then no longer open, so rotate between tasks).
- **Participant signing key.** A participant's Ed25519 private key is unwrapped from its
  :class:`~accounts.models.ParticipantKey` only inside that participant's own local-train step.
- **Instructions** travel in the Celery message to the participant's queue as the core's array container
  (``PTAR``) in base64: the spec, the weights to start from, the frozen layers, the training settings,
  the seed and the privacy settings.
"""
from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, transaction

from accounts import keys as account_keys

from .core.envelope import decode_arrays, encode_arrays
from .core.messages import ClientInstruction, TrainingConfig
from .core.privacy import PrivacySettings
from .core.specs import flatten_weights, spec_from_dict, unflatten_weights
from .models import AggregatorKey

AGGREGATOR_KEY_OWNER = "platform-aggregator"
_RAW = (serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def _create_aggregator_key(version: int) -> AggregatorKey:
    private = X25519PrivateKey.generate()
    public_pem = account_keys.public_pem(private.public_key())
    state_key = AESGCM.generate_key(bit_length=256)
    return AggregatorKey.objects.create(
        version=version,
        encryption_public_pem=public_pem,
        encryption_private_encrypted=account_keys.wrap_private_key(
            private.private_bytes(*_RAW), org_slug=AGGREGATOR_KEY_OWNER, version=version, purpose="x25519"),
        state_key_encrypted=account_keys.wrap_private_key(
            state_key, org_slug=AGGREGATOR_KEY_OWNER, version=version, purpose="state"),
        fingerprint=hashlib.sha256(public_pem.encode()).hexdigest(),
    )


def aggregator_key() -> AggregatorKey:
    """The current aggregator key row, created on first use (race-safe)."""
    key = AggregatorKey.objects.filter(revoked_at__isnull=True).order_by("-version").first()
    if key is not None:
        return key
    try:
        with transaction.atomic():
            return _create_aggregator_key(1)
    except IntegrityError:
        return AggregatorKey.objects.filter(revoked_at__isnull=True).order_by("-version").first()


def aggregator_public_key(key: AggregatorKey | None = None) -> X25519PublicKey:
    key = key or aggregator_key()
    return serialization.load_pem_public_key(key.encryption_public_pem.encode())


def aggregator_private_key(key: AggregatorKey | None = None) -> X25519PrivateKey:
    key = key or aggregator_key()
    raw = account_keys.unwrap_private_key(bytes(key.encryption_private_encrypted), org_slug=AGGREGATOR_KEY_OWNER,
                                          version=key.version, purpose="x25519")
    return X25519PrivateKey.from_private_bytes(raw)


def _state_key(key: AggregatorKey) -> bytes:
    return account_keys.unwrap_private_key(bytes(key.state_key_encrypted), org_slug=AGGREGATOR_KEY_OWNER,
                                           version=key.version, purpose="state")


def seal_state(blob: bytes, *, task_uuid: str, step_index: int) -> bytes:
    """``version (4 bytes) | nonce | AES-GCM(blob)`` with the task and step as associated data."""
    key = aggregator_key()
    nonce = os.urandom(12)
    aad = f"state:{task_uuid}:{step_index}".encode()
    return key.version.to_bytes(4, "big") + nonce + AESGCM(_state_key(key)).encrypt(nonce, blob, aad)


def open_state(sealed: bytes, *, task_uuid: str, step_index: int) -> bytes:
    sealed = bytes(sealed)
    key = AggregatorKey.objects.get(version=int.from_bytes(sealed[:4], "big"))
    aad = f"state:{task_uuid}:{step_index}".encode()
    return AESGCM(_state_key(key)).decrypt(sealed[4:16], sealed[16:], aad)


def participant_signing_key(organization) -> tuple[Ed25519PrivateKey, int]:
    """The organisation's active Ed25519 private key (for its own worker only) and the key version."""
    from accounts.selectors import active_participant_key

    row = active_participant_key(organization)
    if row is None:
        raise LookupError(f"{organization.slug} has no active participant key")
    raw = account_keys.unwrap_private_key(bytes(row.signing_private_encrypted), org_slug=organization.slug,
                                          version=row.version, purpose="ed25519")
    return Ed25519PrivateKey.from_private_bytes(raw), row.version


def participant_verify_key(organization) -> Ed25519PublicKey | None:
    """The public half of the organisation's registered (active) signing key."""
    from accounts.selectors import active_participant_key

    row = active_participant_key(organization)
    if row is None:
        return None
    return serialization.load_pem_public_key(row.signing_public_pem.encode())


# --- Instructions on the wire ---------------------------------------------------------------------

INSTRUCTION_KIND = "presstrust.instruction"


def encode_instruction(instruction: ClientInstruction) -> str:
    metadata = {
        "kind": INSTRUCTION_KIND,
        "participant": instruction.participant,
        "step": instruction.step,
        "spec": instruction.spec.to_dict(),
        "frozen_layers": instruction.frozen_layers,
        "training": instruction.training.to_dict(),
        "seed": instruction.seed,
        "privacy": None if instruction.privacy is None else instruction.privacy.to_dict(),
    }
    return base64.b64encode(encode_arrays(flatten_weights(instruction.weights), metadata)).decode()


def decode_instruction(text: str) -> ClientInstruction:
    metadata, arrays = decode_arrays(base64.b64decode(text))
    if metadata.get("kind") != INSTRUCTION_KIND:
        raise ValueError("not a PressTrust instruction")
    return ClientInstruction(
        participant=metadata["participant"],
        step=int(metadata["step"]),
        spec=spec_from_dict(metadata["spec"]),
        weights=unflatten_weights(arrays),
        frozen_layers=int(metadata["frozen_layers"]),
        training=TrainingConfig.from_dict(metadata["training"]),
        seed=int(metadata["seed"]),
        privacy=None if metadata["privacy"] is None else PrivacySettings.from_dict(metadata["privacy"]),
    )


def encode_weights(weights) -> bytes:
    return encode_arrays(flatten_weights(weights), {"kind": "presstrust.weights"})


def decode_weights(blob: bytes):
    _metadata, arrays = decode_arrays(bytes(blob))
    return unflatten_weights(arrays)


def weights_sha256(weights) -> str:
    return hashlib.sha256(encode_weights(weights)).hexdigest()
