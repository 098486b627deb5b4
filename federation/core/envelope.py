"""Sealed envelopes for participants' updates: serialised without pickle, signed, encrypted, bound.

Array container, version 1 (used for an update's payload and for storing any list of weight arrays)::

    b"PTAR" | u8 version = 1 | u32 header length (little-endian) | header (UTF-8 JSON) | array data

The header is a JSON object whose ``"arrays"`` entry lists ``{"dtype": "<f8" or "<f4", "shape": [...]}``
for each array; the array data is the arrays' raw little-endian bytes, C order, back to back, and must
fill the rest of the container exactly. Other header entries are metadata.

An update's payload is such a container whose header also holds ``kind = "presstrust.update"``,
``task_id``, ``step``, ``participant``, ``first_layer``, ``num_samples``, ``class_counts`` and
``train_loss``; its arrays are the trained layers ``[W, b, W, b, ...]``.

Envelope, version 1::

    b"PTEV" | u8 version = 1 | u16 binding length | binding (UTF-8 JSON: task_id, step, participant)
    | 32-byte ephemeral X25519 public key | 12-byte nonce | u32 ciphertext length | ciphertext

- signature: Ed25519 (RFC 8032) by the participant over ``SIGNATURE_CONTEXT + payload``;
- key: X25519 (RFC 7748) between a fresh ephemeral key and the aggregator's key, then HKDF-SHA256
  (RFC 5869) with salt ``ephemeral public || aggregator public`` and info ``KEY_CONTEXT`` -> 32 bytes;
- ciphertext: AES-256-GCM of ``signature (64 bytes) || payload`` with every envelope byte before the
  ciphertext as associated data, so the clear binding cannot be changed without detection.

:func:`open_update` checks everything and raises a distinct :class:`EnvelopeError` subclass for each
failure: :class:`MalformedEnvelope`, :class:`TruncatedEnvelope`, :class:`BindingMismatch`,
:class:`ReplayedEnvelope`, :class:`TamperedCiphertext`, :class:`ForgedSignature`,
:class:`NonFiniteWeights`, :class:`ShapeMismatch`.
"""
from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .messages import ClientUpdate
from .specs import flatten_weights, unflatten_weights

ARRAY_MAGIC = b"PTAR"
ENVELOPE_MAGIC = b"PTEV"
FORMAT_VERSION = 1
SIGNATURE_CONTEXT = b"presstrust/update-signature/v1\x00"
KEY_CONTEXT = b"presstrust/update-envelope/v1"
UPDATE_KIND = "presstrust.update"
_ALLOWED_DTYPES = {"<f8": np.dtype("<f8"), "<f4": np.dtype("<f4")}
_SIGNATURE_BYTES = 64
_KEY_BYTES = 32
_NONCE_BYTES = 12


class EnvelopeError(ValueError):
    """An update envelope was refused."""


class MalformedEnvelope(EnvelopeError):
    """Not an envelope/container of a supported version, or its structure is inconsistent."""


class TruncatedEnvelope(EnvelopeError):
    """The envelope ends before the lengths it declares."""


class BindingMismatch(EnvelopeError):
    """The envelope is bound to another task, participant or (future) step than expected."""


class ReplayedEnvelope(EnvelopeError):
    """The envelope belongs to an earlier step of this task (a replay)."""


class TamperedCiphertext(EnvelopeError):
    """Decryption failed: the ciphertext or its associated data was altered, or the wrong key."""


class ForgedSignature(EnvelopeError):
    """The payload is not signed by the participant's registered key."""


class NonFiniteWeights(EnvelopeError):
    """The update contains NaN or infinite values."""


class ShapeMismatch(EnvelopeError):
    """The update's arrays do not have the shapes the task's model spec requires."""


@dataclass(frozen=True)
class EnvelopeBinding:
    task_id: str
    step: int
    participant: str

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "step": self.step, "participant": self.participant}


# --- array container ----------------------------------------------------------------------------


def encode_arrays(arrays: Sequence[np.ndarray], metadata: dict[str, Any] | None = None) -> bytes:
    """Serialise float arrays (stored as little-endian float64) with JSON ``metadata``."""
    metadata = dict(metadata or {})
    if "arrays" in metadata:
        raise ValueError("'arrays' is reserved in the container header")
    prepared = [np.ascontiguousarray(np.asarray(a, dtype="<f8")) for a in arrays]
    metadata["arrays"] = [{"dtype": "<f8", "shape": list(a.shape)} for a in prepared]
    header = json.dumps(metadata, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    return b"".join(
        [ARRAY_MAGIC, struct.pack("<BI", FORMAT_VERSION, len(header)), header]
        + [a.tobytes() for a in prepared]
    )


def decode_arrays(blob: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Inverse of :func:`encode_arrays`: ``(metadata, arrays)``; raises :class:`MalformedEnvelope`."""
    blob = bytes(blob)
    prefix = len(ARRAY_MAGIC) + 5
    if len(blob) < prefix or blob[: len(ARRAY_MAGIC)] != ARRAY_MAGIC:
        raise MalformedEnvelope("not a PressTrust array container")
    version, header_length = struct.unpack_from("<BI", blob, len(ARRAY_MAGIC))
    if version != FORMAT_VERSION:
        raise MalformedEnvelope(f"unsupported array container version {version}")
    if len(blob) < prefix + header_length:
        raise MalformedEnvelope("array container header is cut short")
    try:
        metadata = json.loads(blob[prefix : prefix + header_length].decode())
        specs = metadata.pop("arrays")
        layout = [(_ALLOWED_DTYPES[s["dtype"]], tuple(int(n) for n in s["shape"])) for s in specs]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedEnvelope(f"unreadable array container header: {exc}") from exc
    arrays, offset = [], prefix + header_length
    for dtype, shape in layout:
        if any(n < 0 for n in shape):
            raise MalformedEnvelope("negative array dimension")
        size = dtype.itemsize * math.prod(shape)
        if offset + size > len(blob):
            raise MalformedEnvelope("array data is shorter than the header declares")
        values = np.frombuffer(blob, dtype=dtype, count=math.prod(shape), offset=offset)
        arrays.append(values.reshape(shape).astype(np.float64))
        offset += size
    if offset != len(blob):
        raise MalformedEnvelope("array data is longer than the header declares")
    return metadata, arrays


# --- update payload -----------------------------------------------------------------------------


def encode_update_payload(update: ClientUpdate, *, task_id: str) -> bytes:
    """The signed part of an envelope: the update bound to ``task_id``, its step and participant."""
    loss = update.train_loss if math.isfinite(update.train_loss) else None
    metadata = {
        "kind": UPDATE_KIND,
        "task_id": task_id,
        "step": int(update.step),
        "participant": update.participant,
        "first_layer": int(update.first_layer),
        "num_samples": int(update.num_samples),
        "class_counts": [int(c) for c in update.class_counts],
        "train_loss": loss,
    }
    return encode_arrays(flatten_weights(update.layers), metadata)


def decode_update_payload(payload: bytes) -> tuple[EnvelopeBinding, ClientUpdate]:
    """Inverse of :func:`encode_update_payload` (no signature or value checks)."""
    metadata, arrays = decode_arrays(payload)
    try:
        if metadata["kind"] != UPDATE_KIND:
            raise MalformedEnvelope(f"payload kind {metadata['kind']!r} is not an update")
        binding = EnvelopeBinding(str(metadata["task_id"]), int(metadata["step"]), str(metadata["participant"]))
        loss = metadata["train_loss"]
        update = ClientUpdate(
            participant=binding.participant,
            step=binding.step,
            first_layer=int(metadata["first_layer"]),
            layers=unflatten_weights(arrays),
            num_samples=int(metadata["num_samples"]),
            class_counts=tuple(int(c) for c in metadata["class_counts"]),
            train_loss=float("nan") if loss is None else float(loss),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, EnvelopeError):
            raise
        raise MalformedEnvelope(f"incomplete update payload: {exc}") from exc
    return binding, update


# --- envelope -----------------------------------------------------------------------------------


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _content_key(shared_secret: bytes, ephemeral_public: bytes, aggregator_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + aggregator_public,
        info=KEY_CONTEXT,
    ).derive(shared_secret)


def seal_update(
    update: ClientUpdate,
    *,
    task_id: str,
    signing_key: Ed25519PrivateKey,
    aggregator_key: X25519PublicKey,
) -> bytes:
    """Sign ``update`` with the participant's Ed25519 key and encrypt it to the aggregator's X25519
    key, bound to ``task_id``, the update's step and participant. Returns the envelope bytes."""
    payload = encode_update_payload(update, task_id=task_id)
    signature = signing_key.sign(SIGNATURE_CONTEXT + payload)
    binding = EnvelopeBinding(task_id, int(update.step), update.participant)
    return _encrypt(binding, signature + payload, aggregator_key)


def _encrypt(binding: EnvelopeBinding, plaintext: bytes, aggregator_key: X25519PublicKey) -> bytes:
    """Frame and encrypt ``plaintext`` (signature || payload) under ``binding``."""
    binding_json = json.dumps(binding.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    if len(binding_json) > 0xFFFF:
        raise ValueError("task id or participant name too long for an envelope")
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw_public(ephemeral.public_key())
    key = _content_key(ephemeral.exchange(aggregator_key), ephemeral_public, _raw_public(aggregator_key))
    nonce = os.urandom(_NONCE_BYTES)
    associated = b"".join(
        [
            ENVELOPE_MAGIC,
            struct.pack("<BH", FORMAT_VERSION, len(binding_json)),
            binding_json,
            ephemeral_public,
            nonce,
            struct.pack("<I", len(plaintext) + 16),  # AES-GCM appends a 16-byte tag
        ]
    )
    return associated + AESGCM(key).encrypt(nonce, plaintext, associated)


@dataclass(frozen=True)
class _ParsedEnvelope:
    binding: EnvelopeBinding
    ephemeral_public: bytes
    nonce: bytes
    associated: bytes
    ciphertext: bytes


def _parse_envelope(envelope: bytes) -> _ParsedEnvelope:
    envelope = bytes(envelope)
    fixed = len(ENVELOPE_MAGIC) + 3
    if len(envelope) < len(ENVELOPE_MAGIC):
        raise TruncatedEnvelope("envelope shorter than its magic number")
    if envelope[: len(ENVELOPE_MAGIC)] != ENVELOPE_MAGIC:
        raise MalformedEnvelope("not a PressTrust update envelope")
    if len(envelope) < fixed:
        raise TruncatedEnvelope("envelope ends inside its header")
    version, binding_length = struct.unpack_from("<BH", envelope, len(ENVELOPE_MAGIC))
    if version != FORMAT_VERSION:
        raise MalformedEnvelope(f"unsupported envelope version {version}")
    ciphertext_start = fixed + binding_length + _KEY_BYTES + _NONCE_BYTES + 4
    if len(envelope) < ciphertext_start:
        raise TruncatedEnvelope("envelope ends inside its header")
    try:
        raw = json.loads(envelope[fixed : fixed + binding_length].decode())
        binding = EnvelopeBinding(str(raw["task_id"]), int(raw["step"]), str(raw["participant"]))
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise MalformedEnvelope(f"unreadable envelope binding: {exc}") from exc
    offset = fixed + binding_length
    ephemeral_public = envelope[offset : offset + _KEY_BYTES]
    nonce = envelope[offset + _KEY_BYTES : offset + _KEY_BYTES + _NONCE_BYTES]
    (ciphertext_length,) = struct.unpack_from("<I", envelope, ciphertext_start - 4)
    available = len(envelope) - ciphertext_start
    if available < ciphertext_length:
        raise TruncatedEnvelope(f"ciphertext has {available} of its {ciphertext_length} bytes")
    if available > ciphertext_length:
        raise MalformedEnvelope("bytes after the ciphertext")
    return _ParsedEnvelope(
        binding, ephemeral_public, nonce, envelope[:ciphertext_start], envelope[ciphertext_start:]
    )


def read_binding(envelope: bytes) -> EnvelopeBinding:
    """The task, step and participant an envelope claims (unauthenticated until :func:`open_update`)."""
    return _parse_envelope(envelope).binding


def open_update(
    envelope: bytes,
    *,
    task_id: str,
    step: int,
    participant: str,
    participant_key: Ed25519PublicKey,
    aggregator_key: X25519PrivateKey,
    expected_shapes: Sequence[Sequence[int]],
) -> ClientUpdate:
    """Decrypt, authenticate and validate an update for ``task_id``'s current ``step`` from
    ``participant``; ``expected_shapes`` lists the shapes of its arrays (weight, bias, ...), e.g.
    :meth:`ClientInstruction.expected_update_shapes`. Raises an :class:`EnvelopeError` subclass."""
    parsed = _parse_envelope(envelope)
    claimed = parsed.binding
    if claimed.task_id != task_id:
        raise BindingMismatch(f"envelope is for task {claimed.task_id!r}, not {task_id!r}")
    if claimed.participant != participant:
        raise BindingMismatch(f"envelope is from {claimed.participant!r}, not {participant!r}")
    if claimed.step < step:
        raise ReplayedEnvelope(f"envelope is for step {claimed.step}; step {step} is being collected")
    if claimed.step != step:
        raise BindingMismatch(f"envelope is for future step {claimed.step}, not {step}")
    shared = aggregator_key.exchange(X25519PublicKey.from_public_bytes(parsed.ephemeral_public))
    key = _content_key(shared, parsed.ephemeral_public, _raw_public(aggregator_key.public_key()))
    try:
        plaintext = AESGCM(key).decrypt(parsed.nonce, parsed.ciphertext, parsed.associated)
    except InvalidTag as exc:
        raise TamperedCiphertext("envelope does not decrypt: altered, or not for this aggregator") from exc
    signature, payload = plaintext[:_SIGNATURE_BYTES], plaintext[_SIGNATURE_BYTES:]
    try:
        participant_key.verify(signature, SIGNATURE_CONTEXT + payload)
    except InvalidSignature as exc:
        raise ForgedSignature(f"update is not signed by {participant!r}'s key") from exc
    inner, update = decode_update_payload(payload)
    if inner != claimed:
        raise BindingMismatch(f"signed payload is bound to {inner}, envelope to {claimed}")
    arrays = flatten_weights(update.layers)
    shapes = [tuple(np.shape(a)) for a in arrays]
    wanted = [tuple(int(n) for n in shape) for shape in expected_shapes]
    if shapes != wanted:
        raise ShapeMismatch(f"update arrays have shapes {shapes}, the model spec needs {wanted}")
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise NonFiniteWeights("update contains NaN or infinite weights")
    return update
