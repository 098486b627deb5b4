import struct
from dataclasses import replace

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from federation.core import envelope as env
from federation.core.messages import ClientUpdate

ATTACK_CLASSES = [
    env.ForgedSignature,
    env.BindingMismatch,
    env.ReplayedEnvelope,
    env.TruncatedEnvelope,
    env.TamperedCiphertext,
    env.NonFiniteWeights,
    env.ShapeMismatch,
    env.MalformedEnvelope,
]
SHAPES = [(4, 3), (4,), (2, 4), (2,)]


@pytest.fixture(scope="module")
def keys():
    return {
        "participant": Ed25519PrivateKey.generate(),
        "impostor": Ed25519PrivateKey.generate(),
        "aggregator": X25519PrivateKey.generate(),
        "other_aggregator": X25519PrivateKey.generate(),
    }


def make_update(step=3, participant="plant-a", fill=None):
    rng = np.random.default_rng(step)
    layers = [(rng.normal(size=(4, 3)), rng.normal(size=4)), (rng.normal(size=(2, 4)), rng.normal(size=2))]
    if fill is not None:
        layers[1][0][0, 0] = fill
    return ClientUpdate(
        participant=participant, step=step, first_layer=0, layers=layers,
        num_samples=120, class_counts=(70, 50), train_loss=0.42,
    )


def seal(keys, update, task_id="task-7", signer="participant", aggregator="aggregator"):
    return env.seal_update(
        update, task_id=task_id, signing_key=keys[signer],
        aggregator_key=keys[aggregator].public_key(),
    )


def open_(keys, blob, task_id="task-7", step=3, participant="plant-a", shapes=SHAPES):
    return env.open_update(
        blob, task_id=task_id, step=step, participant=participant,
        participant_key=keys["participant"].public_key(), aggregator_key=keys["aggregator"],
        expected_shapes=shapes,
    )


def test_error_classes_are_distinct_subclasses_of_envelope_error():
    assert len(set(ATTACK_CLASSES)) == len(ATTACK_CLASSES)
    for cls in ATTACK_CLASSES:
        assert issubclass(cls, env.EnvelopeError)
        others = [o for o in ATTACK_CLASSES if o is not cls]
        assert not any(issubclass(cls, o) for o in others)


def test_a_sealed_update_opens_to_the_same_update(keys):
    update = make_update()
    blob = seal(keys, update)
    opened = open_(keys, blob)
    assert opened.participant == "plant-a" and opened.step == 3
    assert opened.num_samples == 120 and opened.class_counts == (70, 50)
    assert opened.train_loss == pytest.approx(0.42)
    for (w, b), (w2, b2) in zip(update.layers, opened.layers):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)
    assert env.read_binding(blob) == env.EnvelopeBinding("task-7", 3, "plant-a")
    assert b"plant-a" in blob and update.layers[0][0].tobytes() not in blob  # bound in clear, content hidden


def test_forged_signature_is_refused(keys):
    blob = seal(keys, make_update(), signer="impostor")
    with pytest.raises(env.ForgedSignature):
        open_(keys, blob)


@pytest.mark.parametrize(
    "expected",
    [{"task_id": "task-8"}, {"participant": "plant-b"}, {"step": 2}],
    ids=["other-task", "other-participant", "future-step"],
)
def test_wrong_binding_is_refused(keys, expected):
    blob = seal(keys, make_update())
    with pytest.raises(env.BindingMismatch):
        open_(keys, blob, **expected)


def test_signed_payload_rewrapped_under_another_binding_is_refused(keys):
    """A participant's genuine signed payload for one task, re-encrypted under another task's
    binding (anyone can encrypt to the aggregator), is caught by the signed inner binding."""
    payload = env.encode_update_payload(make_update(), task_id="task-7")
    signature = keys["participant"].sign(env.SIGNATURE_CONTEXT + payload)
    blob = env._encrypt(
        env.EnvelopeBinding("task-9", 3, "plant-a"), signature + payload, keys["aggregator"].public_key()
    )
    with pytest.raises(env.BindingMismatch, match="signed payload"):
        open_(keys, blob, task_id="task-9")


def test_replay_of_an_older_step_is_refused(keys):
    blob = seal(keys, make_update(step=3))
    with pytest.raises(env.ReplayedEnvelope):
        open_(keys, blob, step=4)


def test_relabelled_replay_is_refused_as_tampering(keys):
    """Rewriting the clear step of an old envelope breaks the AES-GCM associated data."""
    blob = bytearray(seal(keys, make_update(step=3)))
    index = blob.index(b'"step":3')
    blob[index + 7] = ord("4")
    with pytest.raises(env.TamperedCiphertext):
        open_(keys, bytes(blob), step=4)


def test_truncated_ciphertext_is_refused(keys):
    blob = seal(keys, make_update())
    for cut in (1, 40, len(blob) - 60):
        with pytest.raises(env.TruncatedEnvelope):
            open_(keys, blob[:-cut])


def test_altered_ciphertext_and_wrong_recipient_are_refused(keys):
    blob = bytearray(seal(keys, make_update()))
    blob[-30] ^= 0x01
    with pytest.raises(env.TamperedCiphertext):
        open_(keys, bytes(blob))
    other = seal(keys, make_update(), aggregator="other_aggregator")
    with pytest.raises(env.TamperedCiphertext):
        open_(keys, other)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused(keys, value):
    blob = seal(keys, make_update(fill=value))
    with pytest.raises(env.NonFiniteWeights):
        open_(keys, blob)


def test_shapes_that_do_not_fit_the_spec_are_refused(keys):
    blob = seal(keys, make_update())
    with pytest.raises(env.ShapeMismatch):
        open_(keys, blob, shapes=[(4, 5), (4,), (2, 4), (2,)])
    with pytest.raises(env.ShapeMismatch):
        open_(keys, blob, shapes=SHAPES[:2])


def test_garbage_and_unknown_versions_are_malformed(keys):
    with pytest.raises(env.MalformedEnvelope):
        open_(keys, b"GIF89a" + bytes(100))
    blob = bytearray(seal(keys, make_update()))
    blob[4] = 2
    with pytest.raises(env.MalformedEnvelope, match="version"):
        open_(keys, bytes(blob))
    with pytest.raises(env.MalformedEnvelope):
        open_(keys, bytes(seal(keys, make_update())) + b"extra")


def test_array_container_round_trips_and_refuses_pickle_like_input():
    arrays = [np.arange(6.0).reshape(2, 3), np.array([1.5, -2.0], dtype=np.float32)]
    blob = env.encode_arrays(arrays, {"model": "mlp", "round": 3})
    metadata, decoded = env.decode_arrays(blob)
    assert metadata == {"model": "mlp", "round": 3}
    np.testing.assert_array_equal(decoded[0], arrays[0])
    np.testing.assert_array_equal(decoded[1], arrays[1])
    assert blob[:4] == b"PTAR" and struct.unpack_from("<B", blob, 4)[0] == 1
    with pytest.raises(env.MalformedEnvelope, match="shorter"):
        env.decode_arrays(blob[:-8])
    header = b'{"arrays":[{"dtype":"|O","shape":[1]}]}'
    with pytest.raises(env.MalformedEnvelope):
        env.decode_arrays(b"PTAR" + struct.pack("<BI", 1, len(header)) + header + bytes(8))


def test_loss_that_is_not_a_number_survives_as_nan(keys):
    update = replace(make_update(), train_loss=float("nan"))
    opened = open_(keys, seal(keys, update))
    assert np.isnan(opened.train_loss)
