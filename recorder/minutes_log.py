"""``MinutesLog``: one meeting's append-only, signed minutes (pure, in memory).

Every meeting fact is one entry: a JSON object with at least ``type`` (str),
``seq`` (int, contiguous: each entry's ``seq`` is the previous one plus one)
and ``at`` (UTC ISO-8601 string, the server's claim). The entry is stored and
hashed as its RFC 8785 canonical bytes, and becomes leaf ``index`` of an RFC
6962 Merkle tree. :meth:`MinutesLog.checkpoint` signs the tree head as a C2SP
checkpoint; it refuses to sign a tree that is inconsistent with any checkpoint
signed before (which can happen only to a log restored from tampered or
truncated storage).

The log does no I/O: adapters persist ``canonical`` bytes and checkpoint notes
and rebuild the log with :meth:`MinutesLog.restore`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from meeting.errors import InvalidInput, InvalidState
from recorder.bundle import Bundle
from recorder.canonical import canonicalize, parse_canonical
from recorder.checkpoint import Checkpoint, add_cosignatures, open_checkpoint
from recorder.errors import CanonicalJSONError, NoteError, ProofError, RecorderError
from recorder.merkle import MerkleTree
from recorder.note import Ed25519Signer, NoteSignature, VerifierKey, parse_signed_note

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("type", "seq", "at")


class AppendedEntry(NamedTuple):
    leaf_index: int  # not `index`: that would shadow tuple.index
    leaf_hash: bytes
    canonical: bytes


def check_entry_fields(entry: Mapping[str, Any]) -> None:
    """Raise :class:`CanonicalJSONError` if ``type``, ``seq`` or ``at`` is missing or wrong."""
    missing = [f for f in REQUIRED_FIELDS if f not in entry]
    if missing:
        raise CanonicalJSONError(f"entry lacks required field(s): {', '.join(missing)}")
    if not isinstance(entry["type"], str) or not entry["type"]:
        raise CanonicalJSONError("entry 'type' must be a non-empty string")
    seq = entry["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise CanonicalJSONError("entry 'seq' must be a non-negative integer")
    at = entry["at"]
    if not isinstance(at, str):
        raise CanonicalJSONError("entry 'at' must be an ISO-8601 string")
    try:
        when = datetime.fromisoformat(at)
    except ValueError as exc:
        raise CanonicalJSONError(f"entry 'at' {at!r} is not ISO-8601") from exc
    if when.utcoffset() != timedelta(0):
        raise CanonicalJSONError(f"entry 'at' {at!r} is not UTC")


class MinutesLog:
    """The minutes of one meeting: entries, Merkle tree and signed checkpoints."""

    def __init__(self, origin: str) -> None:
        if not origin or "\n" in origin:
            raise InvalidInput("minutes log origin must be one non-empty line")
        self.origin = origin
        self._tree = MerkleTree()
        self._entries: list[bytes] = []
        self._next_seq: int | None = None
        self._checkpoints: list[str] = []
        self._signed: list[Checkpoint] = []

    # ----------------------------------------------------------------- state
    @property
    def size(self) -> int:
        return self._tree.size

    def root(self, size: int | None = None) -> bytes:
        try:
            return self._tree.root(size)
        except ProofError as exc:
            raise InvalidInput(str(exc)) from exc

    def entry(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise InvalidInput(f"entry index {index} is outside 0..{self.size - 1}")
        return self._entries[index]

    @property
    def entries(self) -> tuple[bytes, ...]:
        return tuple(self._entries)

    @property
    def checkpoints(self) -> tuple[str, ...]:
        """Signed checkpoint notes, oldest first (the last one may carry cosignatures)."""
        return tuple(self._checkpoints)

    @property
    def latest_checkpoint(self) -> str | None:
        return self._checkpoints[-1] if self._checkpoints else None

    # ----------------------------------------------------------------- append
    def append(self, entry: Mapping[str, Any]) -> AppendedEntry:
        """Append one entry; return ``(index, leaf_hash, canonical_bytes)``.

        Raises :class:`InvalidInput` if the entry lacks ``type``/``seq``/``at``,
        has a non-contiguous ``seq``, or holds values that are not portable JSON
        (integers beyond 2**53, NaN, non-string keys...).
        """
        try:
            check_entry_fields(entry)
            canonical = canonicalize(dict(entry))
        except CanonicalJSONError as exc:
            raise InvalidInput(f"minutes entry rejected: {exc}") from exc
        seq = entry["seq"]
        if self._next_seq is not None and seq != self._next_seq:
            raise InvalidInput(f"minutes entry seq {seq} is not the next seq {self._next_seq}")
        return self._append_canonical(canonical, seq)

    def _append_canonical(self, canonical: bytes, seq: int) -> AppendedEntry:
        h = self._tree.append(canonical)
        self._entries.append(canonical)
        self._next_seq = seq + 1
        index = self._tree.size - 1
        logger.debug("origin=%s appended entry index=%d seq=%d", self.origin, index, seq)
        return AppendedEntry(index, h, canonical)

    # ----------------------------------------------------------------- restore
    @classmethod
    def restore(
        cls,
        origin: str,
        entries: Iterable[bytes | str],
        checkpoints: Iterable[str] = (),
        *,
        log_key: VerifierKey | None = None,
    ) -> MinutesLog:
        """Rebuild a log from stored canonical entries and signed checkpoint notes.

        Each stored entry must be canonical JSON with contiguous ``seq``.
        Checkpoints must name ``origin`` (and verify under ``log_key`` if given).
        A stored checkpoint that the entries do not match is kept: the log then
        refuses to sign until the storage is repaired (see :meth:`checkpoint`).
        """
        log = cls(origin)
        for i, raw in enumerate(entries):
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            try:
                value = parse_canonical(text)
                if not isinstance(value, dict):
                    raise CanonicalJSONError("entry is not a JSON object")
                check_entry_fields(value)
            except (CanonicalJSONError, UnicodeDecodeError) as exc:
                raise InvalidState(f"stored minutes entry {i} is invalid: {exc}") from exc
            seq = value["seq"]
            if log._next_seq is not None and seq != log._next_seq:
                raise InvalidState(f"stored minutes entry {i} has seq {seq}, expected {log._next_seq}")
            log._append_canonical(text.encode("utf-8"), seq)
        for k, note in enumerate(checkpoints):
            try:
                if log_key is not None:
                    cp = open_checkpoint(note, log_key, origin=origin).checkpoint
                else:
                    cp = Checkpoint.parse(parse_signed_note(note).text)
            except RecorderError as exc:
                raise InvalidState(f"stored checkpoint {k} is invalid: {exc}") from exc
            if cp.origin != origin:
                raise InvalidState(f"stored checkpoint {k} is for origin {cp.origin!r}")
            log._checkpoints.append(note)
            log._signed.append(cp)
        logger.info("origin=%s restored entries=%d checkpoints=%d", origin, log.size, len(log._signed))
        return log

    # ----------------------------------------------------------------- signing
    def inconsistencies(self) -> list[str]:
        """Why the current tree contradicts previously signed checkpoints (empty if none)."""
        problems: list[str] = []
        for k, cp in enumerate(self._signed):
            if cp.size > self.size:
                problems.append(
                    f"checkpoint {k} was signed at size {cp.size} but the log has {self.size} entries"
                )
            elif self._tree.root(cp.size) != cp.root_hash:
                problems.append(f"checkpoint {k} root does not match entries 0..{cp.size - 1}")
        for a in range(len(self._signed)):
            for b in range(a + 1, len(self._signed)):
                x, y = self._signed[a], self._signed[b]
                if x.size == y.size and x.root_hash != y.root_hash:
                    problems.append(f"checkpoints {a} and {b} sign different roots at size {x.size}")
        return problems

    def checkpoint(self, signer: Ed25519Signer) -> str:
        """Sign the current tree head; return the signed note text.

        Raises :class:`InvalidState` if the tree is inconsistent with a
        previously signed checkpoint. Signing again at an unchanged size returns
        the previous note (with any cosignatures it gathered).
        """
        problems = self.inconsistencies()
        if problems:
            logger.error("origin=%s refusing to sign: %s", self.origin, "; ".join(problems))
            raise InvalidState("refusing to sign an inconsistent checkpoint: " + "; ".join(problems))
        cp = Checkpoint(self.origin, self.size, self._tree.root())
        if self._signed and self._signed[-1] == cp:
            return self._checkpoints[-1]
        note = signer.sign_note(cp.body())
        self._checkpoints.append(note)
        self._signed.append(cp)
        logger.info("origin=%s signed checkpoint size=%d", self.origin, cp.size)
        return note

    def add_cosignatures(self, cosignatures: Iterable[NoteSignature]) -> str:
        """Attach cosignature lines to the latest checkpoint; return its new text.

        The caller (who knows the officers' keys) should verify them first with
        :func:`recorder.cosignature.verify_cosignature`.
        """
        if not self._checkpoints:
            raise InvalidState("there is no checkpoint to cosign yet")
        try:
            note = add_cosignatures(self._checkpoints[-1], cosignatures)
        except NoteError as exc:
            raise InvalidInput(str(exc)) from exc
        self._checkpoints[-1] = note
        return note

    # ----------------------------------------------------------------- proofs
    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        try:
            return self._tree.inclusion_proof(index, size)
        except ProofError as exc:
            raise InvalidInput(str(exc)) from exc

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        try:
            return self._tree.consistency_proof(old_size, new_size)
        except ProofError as exc:
            raise InvalidInput(str(exc)) from exc

    # ----------------------------------------------------------------- export
    def export(
        self,
        log_key: VerifierKey,
        cosigners: Mapping[str, VerifierKey] | None = None,
        *,
        witnesses: Iterable[VerifierKey] = (),
        minutes_html: str | None = None,
        v1: bool = False,
    ) -> Bundle:
        """Build the offline-verifiable export bundle (see ``docs/minutes-format.md``).

        ``cosigners`` maps a role (``"chair"``, ``"secretary"``) to its
        cosignature/v1 verifier key; ``witnesses`` are the witness keys the server
        knows. The latest checkpoint must cover every entry. ``v1=True`` writes
        the old format with per-entry proofs (kept for comparison).
        """
        if not self._signed or self._signed[-1].size != self.size:
            raise InvalidState("sign a checkpoint covering every entry before exporting")
        fields: dict[str, Any] = {
            "origin": self.origin,
            "entries": [e.decode("utf-8") for e in self._entries],
            "checkpoints": list(self._checkpoints),
            "log_key": log_key,
            "cosigners": dict(cosigners or {}),
            "minutes_html": minutes_html,
        }
        if v1:
            return Bundle.build_v1(self._tree, **fields)
        return Bundle.build(witnesses=tuple(witnesses), **fields)
