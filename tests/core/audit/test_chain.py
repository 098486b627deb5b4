"""Sealing events and verifying the chain: every tampering case is detected and pinpointed."""
from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import uuid

import pytest

from audit.core import (
    GENESIS_MAC,
    MAC_FIELDS,
    MAX_PAYLOAD_BYTES,
    BreakReason,
    ChainEvent,
    Keyring,
    compute_mac,
    seal_event,
    verify_chain,
)

from .conftest import CHAIN_LENGTH, K1, K2, ROTATE_AFTER, START, forge, reseal_with


def _seal(keyring, **overrides):
    fields = dict(
        sequence=1,
        prev_mac=GENESIS_MAC,
        keyring=keyring,
        occurred_at=START,
        actor_kind="system",
        action="portal.start",
        object_type="portal.instance",
        object_id="1",
    )
    fields.update(overrides)
    return seal_event(**fields)


# --- sealing ---------------------------------------------------------------------------------


def test_sealed_event_mac_matches_compute_mac(keyring):
    event = _seal(keyring, payload={"a": 1})
    assert event.key_id == "k2"
    assert event.mac == compute_mac(event, keyring.get("k2"))
    assert event.mac == compute_mac(event.mac_fields(), keyring.get("k2"))
    assert len(event.mac) == 64


def test_occurred_at_is_stored_in_utc(keyring):
    event = _seal(keyring, occurred_at=dt.datetime(2025, 1, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    assert event.occurred_at == dt.datetime(2025, 1, 1, 8, 0, tzinfo=dt.timezone.utc)
    assert event.occurred_at.utcoffset() == dt.timedelta(0)


def test_payload_is_normalised_to_json_native_values(keyring):
    event = _seal(keyring, payload={"rate": decimal.Decimal("4.25"), "id": uuid.UUID(int=1), "at": START})
    assert event.payload == {"rate": "4.25", "id": str(uuid.UUID(int=1)), "at": "2025-03-01T08:00:00.000000Z"}


def test_compute_mac_rejects_wrong_field_set(keyring):
    fields = _seal(keyring).mac_fields()
    del fields["payload"]
    with pytest.raises(ValueError, match="missing"):
        compute_mac(fields, keyring.get("k1"))
    fields = {**_seal(keyring).mac_fields(), "extra": 1}
    with pytest.raises(ValueError, match="unexpected"):
        compute_mac(fields, keyring.get("k1"))


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"sequence": 0}, "sequence"),
        ({"sequence": True}, "sequence"),
        ({"prev_mac": "xyz"}, "prev_mac"),
        ({"prev_mac": "1" * 64}, "GENESIS"),
        ({"occurred_at": dt.datetime(2025, 1, 1)}, "aware"),
        ({"actor_kind": "robot"}, "actor_kind"),
        ({"actor_user": 7}, "actor_user"),
        ({"action": ""}, "action"),
        ({"object_id": 5}, "object_id"),
        ({"before_digest": "abc"}, "before_digest"),
        ({"payload": {"pd": 0.03}}, "float"),
        ({"payload": {"nested": [{"x": 1.5}]}}, "float"),
        ({"payload": ["not", "a", "mapping"]}, "mapping"),
        ({"payload": {"blob": "x" * MAX_PAYLOAD_BYTES}}, "limit"),
    ],
)
def test_seal_event_rejects_invalid_fields(keyring, overrides, fragment):
    with pytest.raises(ValueError, match=fragment):
        _seal(keyring, **overrides)


def test_record_round_trip_through_json_column_still_verifies(chain, keyring):
    # What the database does to an event: JSON-encode the payload and read it back.
    reloaded = [ChainEvent.from_record(json.loads(json.dumps(event.to_record()))) for event in chain]
    assert reloaded == chain
    assert verify_chain(reloaded, keyring).ok


# --- verification: intact chains -------------------------------------------------------------


def test_intact_chain_with_rotated_keys_verifies(chain, keyring):
    assert {event.key_id for event in chain[:ROTATE_AFTER]} == {"k1"}
    assert {event.key_id for event in chain[ROTATE_AFTER:]} == {"k2"}
    result = verify_chain(chain, keyring)
    assert result.ok and result.reason is None
    assert (result.count, result.last_sequence, result.last_mac) == (CHAIN_LENGTH, CHAIN_LENGTH, chain[-1].mac)
    assert "20 events" in result.message


def test_verify_consumes_a_generator(chain, keyring):
    result = verify_chain((event for event in chain), keyring)
    assert result.ok and result.count == CHAIN_LENGTH


def test_empty_chain_is_ok(keyring):
    result = verify_chain([], keyring)
    assert result.ok and result.count == 0 and result.last_sequence is None and result.last_mac == GENESIS_MAC


def test_range_verification_from_an_anchor(chain, keyring):
    result = verify_chain(chain[12:], keyring, expected_first_sequence=13, expected_prev_mac=chain[11].mac)
    assert result.ok and result.count == CHAIN_LENGTH - 12 and result.last_mac == chain[-1].mac


def test_range_with_wrong_anchor_is_pinpointed(chain, keyring):
    result = verify_chain(chain[12:], keyring, expected_first_sequence=13, expected_prev_mac=chain[10].mac)
    assert (result.ok, result.reason, result.sequence) == (False, BreakReason.INSERTED, 13)
    assert "anchor" in result.message


def test_rotation_needs_the_old_key(chain):
    only_new = Keyring.parse(f"k2:{K2}", "k2")
    result = verify_chain(chain, only_new)
    assert (result.reason, result.sequence, result.count) == ("unknown_key", 1, 0)
    only_old = Keyring.parse(f"k1:{K1}", "k1")
    result = verify_chain(chain, only_old)
    assert (result.reason, result.sequence, result.count) == ("unknown_key", ROTATE_AFTER + 1, ROTATE_AFTER)


# --- verification: tampering ------------------------------------------------------------------


def _check(result, reason, sequence, count=None):
    assert not result.ok
    assert result.reason == reason, result.message
    assert result.sequence == sequence, result.message
    if count is not None:
        assert result.count == count
    assert result.message


@pytest.mark.parametrize(
    "changes",
    [
        {"payload": {"press": "P-7", "samples": 1, "note": "übersteuert"}},
        {"actor_user": "mallory"},
        {"actor_org": None},
        {"occurred_at": START + dt.timedelta(minutes=7, microseconds=1)},
        {"after_digest": "0" * 64},
        {"action": "devices.batch.delete"},
        {"key_id": "k2"},  # re-attributed to another existing key
        {"mac": "f" * 64},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_changed_field_is_pinpointed(chain, keyring, changes):
    chain[6] = forge(chain[6], **changes)
    _check(verify_chain(chain, keyring), "field_changed", 7, count=6)


def test_changed_prev_mac_is_a_field_change(chain, keyring):
    chain[6] = forge(chain[6], prev_mac="a" * 64)
    _check(verify_chain(chain, keyring), "field_changed", 7)


def test_event_resealed_under_a_foreign_key_is_a_field_change(chain, keyring):
    chain[6] = reseal_with(chain[6], b"x" * 32, actor_user="mallory")
    _check(verify_chain(chain, keyring), "field_changed", 7)


def test_deleted_event_is_missing(chain, keyring):
    del chain[6]
    result = verify_chain(chain, keyring)
    _check(result, "missing", 7, count=6)
    assert (result.expected_sequence, result.found_sequence) == (7, 8)


def test_deleted_run_of_events_is_missing(chain, keyring):
    del chain[6:9]
    result = verify_chain(chain, keyring)
    _check(result, "missing", 7)
    assert "7..9" in result.message


def test_deleted_first_event_is_missing(chain, keyring):
    _check(verify_chain(chain[1:], keyring), "missing", 1, count=0)


def test_deleted_event_with_renumbering_is_missing(chain, keyring):
    del chain[6:8]
    chain[6:] = [forge(event, sequence=event.sequence - 2) for event in chain[6:]]
    result = verify_chain(chain, keyring)
    _check(result, "missing", 7)
    assert "7..8" in result.message and "renumbered" in result.message


def test_cut_tail_needs_the_head_and_is_then_missing(chain, keyring):
    truncated = chain[:-3]
    assert verify_chain(truncated, keyring).ok  # the chain alone cannot know its end
    result = verify_chain(truncated, keyring, expected_last_sequence=CHAIN_LENGTH)
    _check(result, "missing", CHAIN_LENGTH - 2)


def test_inserted_event_with_duplicate_sequence(chain, keyring):
    intruder = forge(chain[6], actor_user="mallory", prev_mac=chain[6].mac)
    chain.insert(7, intruder)
    result = verify_chain(chain, keyring)
    _check(result, "inserted", 7, count=7)
    assert (result.expected_sequence, result.found_sequence) == (8, 7)


def test_inserted_event_before_the_real_one_linking_correctly(chain, keyring):
    intruder = forge(chain[6], actor_user="mallory")  # same sequence 7, same prev_mac as the real 7
    chain.insert(6, intruder)
    _check(verify_chain(chain, keyring), "inserted", 7, count=6)


def test_inserted_event_with_renumbering(chain, keyring):
    intruder = forge(chain[6], action="lending.adjustment.approve", mac="b" * 64)
    renumbered = [forge(event, sequence=event.sequence + 1) for event in chain[6:]]
    tampered = chain[:6] + [intruder] + renumbered
    _check(verify_chain(tampered, keyring), "inserted", 7, count=6)


def test_inserted_event_with_garbage_link_and_renumbering(chain, keyring):
    intruder = forge(chain[6], prev_mac="c" * 64, mac="d" * 64)
    renumbered = [forge(event, sequence=event.sequence + 1) for event in chain[6:]]
    _check(verify_chain(chain[:6] + [intruder] + renumbered, keyring), "inserted", 7)


def test_replayed_authentic_event_is_inserted(chain, keyring):
    chain.insert(5, chain[4])  # event 5 twice
    result = verify_chain(chain, keyring)
    _check(result, "inserted", 5, count=5)
    assert "replayed" in result.message


def test_appended_forgery_beyond_head_is_inserted(chain, keyring):
    extra = forge(chain[-1], sequence=CHAIN_LENGTH + 1, prev_mac=chain[-1].mac, mac="e" * 64)
    # Without the head it is just an event whose MAC fails ...
    _check(verify_chain([*chain, extra], keyring), "field_changed", CHAIN_LENGTH + 1)
    # ... with it, it is recognised as an insertion.
    _check(verify_chain([*chain, extra], keyring, expected_last_sequence=CHAIN_LENGTH), "inserted", CHAIN_LENGTH + 1)


def test_swapped_adjacent_events_are_reordered(chain, keyring):
    chain[6], chain[7] = chain[7], chain[6]
    result = verify_chain(chain, keyring)
    _check(result, "reordered", 7, count=6)
    assert result.found_sequence == 8


def test_swapped_distant_events_are_reordered(chain, keyring):
    chain[4], chain[12] = chain[12], chain[4]
    _check(verify_chain(chain, keyring), "reordered", 5, count=4)


def test_moved_event_is_reordered_not_missing(chain, keyring):
    moved = chain.pop(6)
    chain.insert(15, moved)
    _check(verify_chain(chain, keyring), "reordered", 7)


def test_swapped_sequence_numbers_are_reordered(chain, keyring):
    # The rows stay, their sequence fields are exchanged, so ORDER BY sequence swaps them.
    seventh, eighth = chain[6], chain[7]
    chain[6], chain[7] = forge(eighth, sequence=7), forge(seventh, sequence=8)
    _check(verify_chain(chain, keyring), "reordered", 7, count=6)


def test_swapped_distant_sequence_numbers_are_reordered(chain, keyring):
    seventh, twelfth = chain[6], chain[11]
    chain[6], chain[11] = forge(twelfth, sequence=7), forge(seventh, sequence=12)
    _check(verify_chain(chain, keyring), "reordered", 7, count=6)


def test_unknown_key_id_is_pinpointed(chain, keyring):
    chain[3] = forge(chain[3], key_id="k9")
    result = verify_chain(chain, keyring)
    _check(result, "unknown_key", 4, count=3)
    assert "'k9'" in result.message


def test_first_break_wins(chain, keyring):
    chain[15] = forge(chain[15], actor_user="mallory")
    del chain[4]
    _check(verify_chain(chain, keyring), "missing", 5)


def test_malformed_payload_is_reported_not_raised(chain, keyring):
    chain[2] = forge(chain[2], payload={1: "int key"})
    _check(verify_chain(chain, keyring), "field_changed", 3)


def test_break_reason_values():
    assert {reason.value for reason in BreakReason} == {
        "field_changed", "missing", "inserted", "reordered", "unknown_key"
    }
    assert dataclasses.fields(ChainEvent)[-1].name == "mac"
    assert tuple(field.name for field in dataclasses.fields(ChainEvent))[:-1] == MAC_FIELDS


# --- content MAC and deferred linking ----------------------------------------------------------


def _prepare(keyring, **overrides):
    from audit.core import prepare_event

    fields = dict(keyring=keyring, occurred_at=START, actor_kind="user", actor_user="ann", actor_org="acme",
                  action="devices.batch.ingest", object_type="devices.sensorbatch", object_id="7",
                  payload={"samples": 120_000, "press": "P-7"})
    fields.update(overrides)
    return prepare_event(**fields)


def test_a_prepared_event_carries_its_content_mac_and_no_place(keyring):
    from audit.core import UNSEALED_SEQUENCE, compute_content_mac

    prepared = _prepare(keyring)
    assert (prepared.sequence, prepared.prev_mac, prepared.key_id) == (UNSEALED_SEQUENCE, "", "k2")
    assert prepared.mac == compute_content_mac(prepared, keyring.get("k2"))
    # The content MAC ignores any position it is given, and any change of content breaks it.
    assert compute_content_mac(dataclasses.replace(prepared, sequence=9, prev_mac="a" * 64), keyring.get("k2")) \
        == prepared.mac
    assert compute_content_mac(dataclasses.replace(prepared, action="x.y"), keyring.get("k2")) != prepared.mac


def test_linking_a_prepared_event_is_sealing_it(keyring):
    from audit.core import link_event, verify_chain

    prepared = _prepare(keyring)
    first = link_event(prepared, sequence=1, prev_mac=GENESIS_MAC, keyring=keyring)
    same = seal_event(sequence=1, prev_mac=GENESIS_MAC, keyring=keyring, occurred_at=START, actor_kind="user",
                      actor_user="ann", actor_org="acme", action="devices.batch.ingest",
                      object_type="devices.sensorbatch", object_id="7", payload={"samples": 120_000, "press": "P-7"})
    assert first == same
    assert first.mac != prepared.mac  # a content MAC is never a chain MAC (sequence 0 is no position)
    second = link_event(_prepare(keyring, object_id="8"), sequence=2, prev_mac=first.mac, keyring=keyring)
    assert verify_chain([first, second], keyring).ok
    # The same content at another place gets another chain MAC.
    assert link_event(prepared, sequence=2, prev_mac=first.mac, keyring=keyring).mac != first.mac


def test_link_event_keeps_the_content_key_across_a_rotation(keyring):
    from audit.core import link_event

    old_ring = Keyring.parse(f"k1:{K1}", "k1")
    prepared = _prepare(old_ring)
    linked = link_event(prepared, sequence=1, prev_mac=GENESIS_MAC, keyring=keyring)  # current key is k2 now
    assert linked.key_id == "k1" and linked.mac == compute_mac(linked, old_ring.get("k1"))


@pytest.mark.parametrize("sequence, prev_mac, fragment", [
    (0, GENESIS_MAC, "sequence must be an int >= 1"),
    (True, GENESIS_MAC, "sequence must be an int >= 1"),
    (2, "xyz", "prev_mac must be 64"),
    (1, "a" * 64, "GENESIS_MAC"),
])
def test_link_event_refuses_bad_positions(keyring, sequence, prev_mac, fragment):
    from audit.core import link_event

    with pytest.raises(ValueError, match=fragment):
        link_event(_prepare(keyring), sequence=sequence, prev_mac=prev_mac, keyring=keyring)


def test_link_event_refuses_an_unknown_key(keyring):
    from audit.core import UnknownKeyError, link_event

    prepared = dataclasses.replace(_prepare(keyring), key_id="k9")
    with pytest.raises(UnknownKeyError):
        link_event(prepared, sequence=1, prev_mac=GENESIS_MAC, keyring=keyring)


def test_content_mac_verifies_only_the_untouched_content_under_a_known_key(keyring):
    from audit.core import content_mac_verifies

    prepared = _prepare(keyring)
    assert content_mac_verifies(prepared, keyring)
    assert not content_mac_verifies(dataclasses.replace(prepared, object_id="8"), keyring)
    assert not content_mac_verifies(dataclasses.replace(prepared, key_id="k9"), keyring)
    assert not content_mac_verifies(dataclasses.replace(prepared, mac=""), keyring)
