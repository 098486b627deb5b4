"""Streaming verification of the audit chain.

``verify_chain`` reads the events once, in the order given (the Django side streams them ordered by
``sequence``), keeping only the expected next sequence number and the last verified MAC, so memory is
constant however long the chain. It stops at the first event that breaks the chain and names the
reason. The reasons, and how they are told apart
(``s`` = the next expected sequence number, ``p`` = the MAC of the last verified event, or the
anchor ``expected_prev_mac`` before the first one; "verifies" = its MAC recomputes under its key):

``missing``
    * the event carries sequence ``n > s`` and no event numbered ``s .. n-1`` appears anywhere later
      in the stream: events ``s .. n-1`` were deleted; or
    * the event carries sequence ``s``, does not link to ``p``, fails its MAC, no later event links
      to ``p``, but it verifies when its sequence is taken to be ``s+k`` (``1 <= k <= RENUMBER_PROBE``):
      ``k`` events were deleted and the later ones renumbered to hide the gap; or
    * the stream ends before ``expected_last_sequence`` (the chain head kept elsewhere): the tail
      was cut.
``reordered``
    * the event carries sequence ``n > s`` and an event numbered ``s .. n-1`` appears later in the
      stream (events moved in the stream; their sequence fields were left alone); or
    * the event carries sequence ``s``, fails, and its ``prev_mac`` is the MAC of the event after it,
      or the successor of ``p`` (an event whose ``prev_mac`` is ``p``) appears later than the next
      position (sequence fields swapped between events).
``inserted``
    * the event carries a sequence ``< s``: every smaller number has already been verified exactly
      once, so this is an extra event (a forged or replayed copy); or
    * the event carries sequence ``s`` and fails, and the event right after it links to ``p``: two
      events claim the same predecessor, the failing one is the extra; or
    * the event carries a sequence beyond ``expected_last_sequence`` (the chain head); or
    * the event verifies but does not link to ``p``: it is authentic, so the event before it (or the
      anchor the caller gave) is not its real predecessor - something was substituted in front of it.
``field_changed``
    the event carries sequence ``s`` but fails its MAC and none of the above explains it: a field
    (payload, digests, actor, ``prev_mac`` itself ...) was edited.
``unknown_key``
    the event carries sequence ``s`` and a ``key_id`` the keyring does not hold, so it cannot be
    verified (a forged key id, or a retired key removed from the configuration too early).

``sequence`` in the result is ``s`` (the first position holding the wrong event), except for an
inserted event carrying an already used or beyond-the-head number, where it is that number.
The failing event is classified by these tests, first match wins: beyond the head -> inserted;
``n > s`` -> reordered or missing; ``n < s`` -> inserted; unknown key id; verifies but unlinked ->
inserted; next event's mac is its prev_mac -> reordered; next event links to ``p`` -> inserted;
links to ``p`` -> field_changed; a later event links to ``p`` -> reordered; renumbering probe ->
missing; otherwise field_changed.

The checks beyond "sequence, link, MAC" run only on the failure path (one look-ahead event, a bounded
number of extra HMACs, or one pass over the rest of the stream), so a clean chain costs one HMAC per
event. What the chain alone cannot show: events cut from the very end (pass ``expected_last_sequence``
from the head counter or an exported bundle's anchor) and a rewrite by someone holding the HMAC key
(evidence bundles signed with the platform's Ed25519 key pin the state at export time).
"""
from __future__ import annotations

import dataclasses
import enum
import hmac
import itertools
from collections.abc import Iterable, Iterator

from .canonical import CanonicalEncodingError
from .chain import GENESIS_MAC, ChainEvent, mac_message
from .keyring import Keyring

__all__ = ["BreakReason", "RENUMBER_PROBE", "VerificationResult", "verify_chain"]

#: How many deleted-then-renumbered events the failure diagnosis looks for.
RENUMBER_PROBE = 1024


class BreakReason(enum.StrEnum):
    FIELD_CHANGED = "field_changed"
    MISSING = "missing"
    INSERTED = "inserted"
    REORDERED = "reordered"
    UNKNOWN_KEY = "unknown_key"


@dataclasses.dataclass(frozen=True, slots=True)
class VerificationResult:
    """Outcome of ``verify_chain``.

    ok                 True when every event verified and linked
    count              number of events verified before the result (all of them when ok)
    first_sequence     the sequence the verification started at
    last_sequence      sequence of the last verified event (None if none verified)
    last_mac           mac of the last verified event (the starting anchor if none verified)
    sequence           ok: last_sequence; broken: the sequence number of the first broken position
    reason             None when ok, else a BreakReason (compares equal to its string value)
    message            human-readable explanation
    expected_sequence  broken: the sequence number that should have come next
    found_sequence     broken: the sequence number the offending event carries (None at end of stream)
    unsealed           events written but not yet given their place in the chain, whose content MAC
                       verified (set by the stored-chain verifier; a core verification leaves it 0)
    """

    ok: bool
    count: int
    first_sequence: int
    last_sequence: int | None
    last_mac: str
    sequence: int | None
    reason: BreakReason | None
    message: str
    expected_sequence: int | None = None
    found_sequence: int | None = None
    unsealed: int = 0


def verify_chain(
    events: Iterable[ChainEvent],
    keyring: Keyring,
    *,
    expected_first_sequence: int = 1,
    expected_prev_mac: str = GENESIS_MAC,
    expected_last_sequence: int | None = None,
) -> VerificationResult:
    """Verify sequence continuity, prev_mac linkage and the HMAC of every event, streaming.

    events                   ChainEvents in sequence order (any iterable; consumed once)
    keyring                  the HMAC keys (all ids that ever signed)
    expected_first_sequence  sequence of the first event (1 for the whole chain)
    expected_prev_mac        prev_mac of the first event (GENESIS_MAC for the whole chain, else the
                             mac of event ``expected_first_sequence - 1``)
    expected_last_sequence   optional chain head; detects a cut tail and events beyond the head
    Returns a VerificationResult: ok with count / last sequence / last mac, or the first break with
    its reason (see the module docstring). Never raises for tampered data.
    """
    keys = {key_id: keyring.get(key_id) for key_id in keyring.key_ids}
    stream = iter(events)
    expected = expected_first_sequence
    prev_mac = expected_prev_mac
    digest = hmac.digest
    message_of = mac_message
    get_key = keys.get
    for event in stream:
        key = get_key(event.key_id)
        if event.sequence == expected and key is not None and event.prev_mac == prev_mac:
            try:
                # Plain comparison: the verifier compares stored values, it is no timing oracle.
                if digest(key, message_of(event), "sha256").hex() == event.mac:
                    prev_mac = event.mac
                    expected += 1
                    continue
            except CanonicalEncodingError:
                pass
        return _diagnose(
            event,
            stream,
            keys,
            expected=expected,
            prev_mac=prev_mac,
            first=expected_first_sequence,
            last_allowed=expected_last_sequence,
        )
    count = expected - expected_first_sequence
    last_sequence = expected - 1 if count else None
    if expected_last_sequence is not None and expected - 1 < expected_last_sequence:
        return _broken(
            BreakReason.MISSING,
            f"the chain ends at sequence {expected - 1} but its head is {expected_last_sequence}: "
            f"events {expected}..{expected_last_sequence} are missing from the end",
            sequence=expected,
            count=count,
            first=expected_first_sequence,
            prev_mac=prev_mac,
            expected=expected,
            found=None,
        )
    span = f"{expected_first_sequence}..{expected - 1}" if count else "(none)"
    return VerificationResult(
        ok=True,
        count=count,
        first_sequence=expected_first_sequence,
        last_sequence=last_sequence,
        last_mac=prev_mac,
        sequence=last_sequence,
        reason=None,
        message=f"chain intact: {count} events verified, sequences {span}",
    )


def _broken(
    reason: BreakReason,
    message: str,
    *,
    sequence: int,
    count: int,
    first: int,
    prev_mac: str,
    expected: int,
    found: int | None,
) -> VerificationResult:
    return VerificationResult(
        ok=False,
        count=count,
        first_sequence=first,
        last_sequence=expected - 1 if count else None,
        last_mac=prev_mac,
        sequence=sequence,
        reason=reason,
        message=message,
        expected_sequence=expected,
        found_sequence=found,
    )


def _verifies(event: ChainEvent, keys: dict[str, bytes], sequence: int | None = None) -> bool | None:
    """Does ``event``'s MAC recompute (optionally with another sequence)? None when its key is unknown."""
    try:
        key = keys.get(event.key_id)
    except TypeError:  # unhashable key id
        return None
    if key is None:
        return None
    if sequence is not None:
        event = dataclasses.replace(event, sequence=sequence)
    try:
        return hmac.digest(key, mac_message(event), "sha256").hex() == event.mac
    except (CanonicalEncodingError, TypeError, ValueError, AttributeError):
        return False


def _diagnose(
    event: ChainEvent,
    rest: Iterator[ChainEvent],
    keys: dict[str, bytes],
    *,
    expected: int,
    prev_mac: str,
    first: int,
    last_allowed: int | None,
) -> VerificationResult:
    """Classify the first event that failed the fast path (see the module docstring)."""
    count = expected - first

    def broken(reason: BreakReason, message: str, sequence: int = expected) -> VerificationResult:
        found = event.sequence if isinstance(event.sequence, int) else None
        return _broken(
            reason, message, sequence=sequence, count=count, first=first, prev_mac=prev_mac, expected=expected, found=found
        )

    found = event.sequence
    if isinstance(found, bool) or not isinstance(found, int):
        return broken(
            BreakReason.FIELD_CHANGED, f"the event after sequence {expected - 1} has a non-integer sequence {found!r}"
        )

    if last_allowed is not None and found > last_allowed:
        return broken(
            BreakReason.INSERTED,
            f"event {found} lies beyond the chain head {last_allowed}: it was inserted",
            sequence=found,
        )

    if found > expected:
        for later in rest:
            later_sequence = later.sequence
            if isinstance(later_sequence, int) and expected <= later_sequence < found:
                return broken(
                    BreakReason.REORDERED,
                    f"events are out of order: event {found} stands where event {expected} should be, "
                    f"and event {later_sequence} comes later in the stream",
                )
        gap = f"event {expected} is" if found == expected + 1 else f"events {expected}..{found - 1} are"
        return broken(BreakReason.MISSING, f"{gap} missing: expected sequence {expected}, got {found}")

    if found < expected:
        copy = " (a replayed copy of an authentic event)" if _verifies(event, keys) else ""
        return broken(
            BreakReason.INSERTED,
            f"sequence {found} appears again after event {expected - 1}: an extra event was inserted{copy}",
            sequence=found,
        )

    own = _verifies(event, keys)
    if own is None:
        return broken(
            BreakReason.UNKNOWN_KEY,
            f"event {expected} is signed with key id {event.key_id!r}, which the keyring does not hold",
        )
    links = event.prev_mac == prev_mac
    predecessor = f"event {expected - 1}" if expected > first else "the expected anchor"
    if own:  # it verifies, so the fast path failed on the link alone
        return broken(
            BreakReason.INSERTED,
            f"event {expected} verifies but its prev_mac does not match the MAC of {predecessor}: "
            f"{predecessor} is not its real predecessor (an event was substituted or spliced in before it)",
        )

    following = next(rest, None)
    if following is not None:
        if following.mac == event.prev_mac:
            return broken(
                BreakReason.REORDERED,
                f"event {expected} is out of order: its prev_mac is the MAC of the event after it "
                f"(sequence numbers were swapped)",
            )
        if following.prev_mac == prev_mac:
            return broken(
                BreakReason.INSERTED,
                f"event {expected} was inserted: the event after it links directly to {predecessor}",
            )
    if links:
        return broken(
            BreakReason.FIELD_CHANGED,
            f"event {expected} fails its MAC while its prev_mac links correctly: a field was changed",
        )
    remaining = rest if following is None else itertools.chain((following,), rest)
    for later in remaining:
        if later.prev_mac == prev_mac:
            return broken(
                BreakReason.REORDERED,
                f"event {expected} is out of order: the event that follows {predecessor} appears later "
                f"in the stream (numbered {later.sequence})",
            )
    for offset in range(1, RENUMBER_PROBE + 1):
        if _verifies(event, keys, sequence=expected + offset):
            gap = f"event {expected} was" if offset == 1 else f"events {expected}..{expected + offset - 1} were"
            return broken(
                BreakReason.MISSING,
                f"{gap} deleted and later events renumbered: the event numbered {expected} "
                f"verifies only as its original sequence {expected + offset}",
            )
    return broken(
        BreakReason.FIELD_CHANGED,
        f"event {expected} fails its MAC and does not link to {predecessor}: its fields (prev_mac "
        f"included) were changed",
    )
