"""Offline verification of a minutes export bundle, against an auditor's trust policy.

``verify_bundle`` checks, with no server and no network:

* the bundle structure; every entry is RFC 8785 canonical JSON with ``type``,
  ``seq`` and ``at``; ``seq`` equals the entry's position (leaf index, from 0);
  ``at`` never runs backwards;
* the Merkle tree, recomputed from the entries: every checkpoint's root must be
  the root of the entries it covers (which proves each checkpoint consistent with
  the previous one and every entry included), sizes never shrink, and the last
  checkpoint covers every entry (v1 bundles: their carried proofs are checked too);
* every checkpoint's log signature, and every cosignature line by a known key
  (officers and witnesses; a key's cosignature times never run backwards);
* the record is complete: closed (a ``meeting_closed`` entry) and sealed (the
  last entry, and the only one, is ``minutes_rendered`` covering every entry
  before it);
* with a :class:`~recorder.policy.TrustPolicy`: the bundle's log key is the
  policy's, every officer role of the policy cosigned the last checkpoint with the
  policy's key, and at least ``quorum`` distinct policy witnesses did; without
  one, the bundle's own keys are used and the report is *unpinned*;
* each checkpoint the auditor already holds (``known_checkpoints``) is signed by
  the log key and consistent with the bundle (a fork or a truncated bundle fails);
* the rendered minutes against their ``minutes_rendered`` hash, and any
  :class:`EntryCheck` plug-ins (poll tallies, end-to-end ballots...), each given
  the parsed entries.

It returns a :class:`Report` listing :class:`Finding` s, each with a location
such as ``entries[12]``, ``checkpoints[3].signature``,
``checkpoints[3].cosignature[chair]``, ``checkpoints[3].witnesses``, ``seal`` or
``known_checkpoints[0]``.

Dependencies: the stdlib, ``cryptography`` and ``rfc8785`` only (through the
verifier-safe recorder modules imported below).
"""

from __future__ import annotations

import binascii
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from recorder.bundle import Bundle, parse_tlog_proof
from recorder.canonical import CanonicalParser
from recorder.checkpoint import Checkpoint
from recorder.cosignature import verify_cosignature
from recorder.errors import (
    BundleFormatError,
    CanonicalJSONError,
    CheckpointError,
    NoteError,
    ProofError,
)
from recorder.merkle import (
    HASH_SIZE,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from recorder.note import (
    SIG_COSIGNATURE_V1,
    SIG_ED25519,
    NoteSignature,
    SignedNote,
    VerifierKey,
    open_note,
    parse_signed_note,
    verify_ed25519_signature,
)
from recorder.policy import TrustPolicy

logger = logging.getLogger(__name__)

MAX_FINDINGS_PER_SECTION = 50
CLOSED_TYPE = "meeting_closed"
SEAL_TYPE = "minutes_rendered"
PRESENCE_TYPES = frozenset(
    {"member_joined", "member_left", "quorum_reached", "quorum_lost", "quorum_changed", "poll_quorum_changed"}
)


@dataclass(frozen=True)
class Finding:
    """One problem: where (``entries[3]``, ``checkpoints[1].signature``...) and what."""

    location: str
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        return f"{self.severity}: {self.location}: {self.message}"


class FindingLike(Protocol):
    @property
    def location(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def severity(self) -> str: ...


TallyChecker = Callable[[Sequence[Mapping[str, Any]]], Iterable[FindingLike]]
"""Recomputes something from the parsed entries; yields findings for mismatches."""


@dataclass(frozen=True)
class EntryCheck:
    """A plug-in check over the parsed entries: poll tallies, encrypted ballots...

    ``name`` is printed in the report ("checked: tally"); ``types`` are the entry
    types it covers (documentation and the report); ``check`` gets every parsed
    entry in log order and yields findings (any object with ``location``,
    ``message`` and ``severity``). A check that raises is reported, not fatal.
    """

    name: str
    types: frozenset[str]
    check: TallyChecker


@dataclass(frozen=True)
class VerifiedCosignature:
    role: str  # an officer role, or "witness"
    name: str
    timestamp: int
    fingerprint: str


@dataclass
class Report:
    """The outcome of :func:`verify_bundle`."""

    findings: list[Finding] = field(default_factory=list)
    origin: str = ""
    size: int = 0
    root_hash: str = ""
    log_key_fingerprint: str = ""
    cosignatures: list[VerifiedCosignature] = field(default_factory=list)
    witnesses: list[VerifiedCosignature] = field(default_factory=list)
    pinned: bool = False  # checked against a trust policy
    closed: bool = False
    sealed: bool = False
    checked: list[str] = field(default_factory=list)  # what was checked, for the printout

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def status(self) -> str:
        """``valid`` (pinned by a policy), ``valid-unpinned`` or ``invalid``."""
        if not self.ok:
            return "invalid"
        return "valid" if self.pinned else "valid-unpinned"

    def locations(self) -> list[str]:
        return [f.location for f in self.errors]

    def summary(self) -> str:
        head = {"valid": "VALID", "valid-unpinned": "VALID BUT UNPINNED"}.get(
            self.status, f"INVALID ({len(self.errors)} error(s))"
        )
        lines = [
            f"{head}: origin {self.origin!r}, {self.size} entries, root {self.root_hash}",
            f"log key fingerprint {self.log_key_fingerprint}",
        ]
        lines += [
            f"cosigned by {c.role} ({c.name}, key {c.fingerprint}) at {c.timestamp}"
            for c in self.cosignatures + self.witnesses
        ]
        lines += [f"checked: {c}" for c in self.checked]
        lines += [str(f) for f in self.findings]
        return "\n".join(lines)


class _Collector:
    """Collects findings, capping each section so a truncated log stays readable."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.counts: Counter[str] = Counter()

    def add(self, location: str, message: str, severity: str = "error") -> None:
        section = location.split("[", 1)[0].split(".", 1)[0]
        self.counts[section] += 1
        if self.counts[section] <= MAX_FINDINGS_PER_SECTION:
            self.report.findings.append(Finding(location, message, severity))

    def close(self) -> None:
        for section, n in self.counts.items():
            if n > MAX_FINDINGS_PER_SECTION:
                self.report.findings.append(
                    Finding(section, f"{n - MAX_FINDINGS_PER_SECTION} further finding(s) omitted")
                )


def _decode_hashes(values: Sequence[str]) -> list[bytes]:
    out = []
    for i, v in enumerate(values):
        try:
            h = binascii.a2b_base64(v, strict_mode=True)
        except binascii.Error as exc:
            raise ProofError(f"hash {i} is not valid base64") from exc
        if len(h) != HASH_SIZE:
            raise ProofError(f"hash {i} has {len(h)} bytes, expected {HASH_SIZE}")
        out.append(h)
    return out


def _check_entry(i: int, value: Any, out: _Collector) -> int | None:
    """Check required fields; return the entry's seq if usable."""
    where = f"entries[{i}]"
    if not isinstance(value, dict):
        out.add(where, "entry is not a JSON object")
        return None
    for name in ("type", "seq", "at"):
        if name not in value:
            out.add(where, f"entry lacks required field {name!r}")
    if "type" in value and (not isinstance(value["type"], str) or not value["type"]):
        out.add(f"{where}.type", "type must be a non-empty string")
    at = value.get("at")
    if at is not None:
        try:
            ok = isinstance(at, str) and datetime.fromisoformat(at).utcoffset() == timedelta(0)
        except ValueError:
            ok = False
        if not ok:
            out.add(f"{where}.at", f"{at!r} is not a UTC ISO-8601 time")
    seq = value.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0:
        return seq
    if "seq" in value:
        out.add(f"{where}.seq", "seq must be a non-negative integer")
    return None


def _parse_key(text: str, want: int, where: str, out: _Collector) -> VerifierKey | None:
    try:
        key = VerifierKey.parse(text)
    except NoteError as exc:
        out.add(where, str(exc))
        return None
    if key.sig_type != want:
        out.add(where, f"key {key.name} has signature type 0x{key.sig_type:02x}, expected 0x{want:02x}")
        return None
    return key


@dataclass
class _Keys:
    log: VerifierKey | None
    officers: list[tuple[str, VerifierKey]]
    witnesses: list[VerifierKey]
    quorum: int


def _keys(bundle: Bundle, policy: TrustPolicy | None, out: _Collector) -> _Keys:
    """The keys to check against: the policy's, or (unpinned) the bundle's own."""
    own_log = _parse_key(bundle.log_key, SIG_ED25519, "log_key", out)
    if policy is not None:
        if own_log != policy.log:
            out.add(
                "log_key",
                "the bundle's log key is not the policy's log key "
                f"(bundle {own_log.fingerprint if own_log else '?'}, "
                f"policy {policy.log.fingerprint})",
            )
        if bundle.origin != policy.log.name:
            out.add(
                "origin", f"origin {bundle.origin!r} is not the policy log key's name {policy.log.name!r}"
            )
        have = {c.role: c.key for c in bundle.cosigners}
        for role, key in policy.officers:
            if role in have and have[role] != key.encode():
                out.add(
                    f"cosigners[{role}]",
                    f"the bundle lists another key for the {role} than the policy (the policy's key is used)",
                    "warning",
                )
        return _Keys(policy.log, list(policy.officers), list(policy.witnesses), policy.quorum)
    officers = []
    for i, c in enumerate(bundle.cosigners):
        officer = _parse_key(c.key, SIG_COSIGNATURE_V1, f"cosigners[{i}]", out)
        if officer is not None:
            officers.append((c.role, officer))
    witnesses = [
        k
        for i, w in enumerate(bundle.witnesses)
        if (k := _parse_key(w, SIG_COSIGNATURE_V1, f"witnesses[{i}]", out)) is not None
    ]
    return _Keys(own_log, officers, witnesses, 0)


def _check_checkpoint_note(
    k: int,
    note: SignedNote,
    keys: _Keys,
    is_final: bool,
    last_times: dict[bytes, int],
    out: _Collector,
    report: Report,
) -> None:
    where = f"checkpoints[{k}]"
    if keys.log is not None:
        mine = [s for s in note.signatures if keys.log.matches(s)]
        if not mine:
            out.add(f"{where}.signature", f"no signature by the log key {keys.log.name}")
        for sig in mine:
            try:
                verify_ed25519_signature(note.text, sig, keys.log)
            except NoteError as exc:
                out.add(f"{where}.signature", str(exc))

    def check(role: str, key: VerifierKey, sig: NoteSignature, loc: str) -> bool:
        try:
            cos = verify_cosignature(note.text, sig, key)
        except NoteError as exc:
            out.add(loc, str(exc))
            return False
        previous = last_times.get(key.public_key)
        if previous is not None and cos.timestamp < previous:
            out.add(
                loc,
                f"{key.name} cosigned this checkpoint at {cos.timestamp}, before its "
                f"cosignature of an earlier checkpoint ({previous}): time runs backwards",
            )
        last_times[key.public_key] = max(cos.timestamp, previous or 0)
        if is_final:
            done = VerifiedCosignature(role, key.name, cos.timestamp, cos.fingerprint)
            (report.witnesses if role == "witness" else report.cosignatures).append(done)
        return True

    for role, key in keys.officers:
        lines = [s for s in note.signatures if key.matches(s)]
        if not lines and is_final:
            out.add(f"{where}.cosignature[{role}]", f"no {role} cosignature on the last checkpoint")
        for sig in lines:
            check(role, key, sig, f"{where}.cosignature[{role}]")
    good = 0
    for key in keys.witnesses:
        for sig in (s for s in note.signatures if key.matches(s)):
            good += check("witness", key, sig, f"{where}.witness[{key.name}]")
    if is_final and good < keys.quorum:
        out.add(
            f"{where}.witnesses",
            f"cosigned by {good} of the policy's witnesses, the policy requires {keys.quorum}",
        )


def _check_times(parsed: Sequence[tuple[int, Mapping[str, Any]]], out: _Collector) -> None:
    """``at`` is a UTC ISO-8601 time, and never before the previous entry's."""
    previous: datetime | None = None
    last_text = None
    for i, value in parsed:
        text = value.get("at")
        if text == last_text:
            continue
        last_text = text
        try:
            when = datetime.fromisoformat(str(text))
        except ValueError:
            if isinstance(text, str) and text.endswith("Z"):
                out.add(f"entries[{i}].at", f"{text!r} is not a UTC ISO-8601 time")
            continue  # otherwise reported by _check_entry
        if when.utcoffset() != timedelta(0):
            if isinstance(text, str) and text.endswith("Z"):
                out.add(f"entries[{i}].at", f"{text!r} is not a UTC ISO-8601 time")
            continue
        if previous is not None and when < previous:
            out.add(
                f"entries[{i}].at",
                f"time {value.get('at')} is before the previous entry's "
                f"({previous.isoformat()}): times never run backwards",
            )
        previous = max(previous, when) if previous is not None else when


def _check_seal(
    parsed: Sequence[tuple[int, Mapping[str, Any]]], size: int, out: _Collector, report: Report
) -> None:
    """Closed: a ``meeting_closed`` entry; sealed: the last entry is the only ``minutes_rendered``,
    covering every entry before it."""
    closed = [i for i, e in parsed if e.get("type") == CLOSED_TYPE]
    seals = [i for i, e in parsed if e.get("type") == SEAL_TYPE]
    if not closed:
        out.add("seal", "the log has no meeting_closed entry: the meeting is not closed")
    elif len(closed) > 1:
        out.add(f"entries[{closed[1]}]", "a second meeting_closed entry")
    if not seals:
        out.add("seal", "the log is not sealed (no minutes_rendered entry): an incomplete record")
    else:
        for i in seals[:-1]:
            out.add(
                f"entries[{i}]",
                "a minutes_rendered entry before the last one: the log was appended to after a seal",
            )
        last = seals[-1]
        if last != size - 1:
            out.add(
                f"entries[{last}]",
                f"the seal is entry {last} but the log has {size} "
                "entries: something was appended after the seal",
            )
        covers = dict(parsed).get(last, {}).get("covers")
        if covers != last:
            out.add(
                f"entries[{last}].covers",
                f"the seal covers {covers!r} entries, expected {last} (every entry before it)",
            )
        if closed and closed[0] > last:
            out.add("seal", "the meeting was closed after the seal")
    for i, e in parsed:
        if closed and i > closed[0] and e.get("type") in PRESENCE_TYPES:
            out.add(f"entries[{i}]", f"a presence fact ({e.get('type')}) after the meeting closed", "warning")
    report.closed = bool(closed)
    report.sealed = bool(seals) and seals[-1] == size - 1


def _check_known(known: Sequence[str], keys: _Keys, origin: str, tree: MerkleTree, out: _Collector) -> None:
    """Checkpoints the auditor holds must be signed by the log key and consistent."""
    for k, text in enumerate(known):
        where = f"known_checkpoints[{k}]"
        try:
            if keys.log is None:
                raise NoteError("no usable log key to check it against")
            cp = Checkpoint.parse(open_note(text, [keys.log]).text)
        except (NoteError, CheckpointError) as exc:
            out.add(where, f"not a checkpoint signed by the log key: {exc}")
            continue
        if cp.origin != origin:
            out.add(where, f"is for origin {cp.origin!r}, not {origin!r}")
        elif cp.size > tree.size:
            out.add(
                where,
                f"the log key signed a checkpoint of size {cp.size}, but this bundle "
                f"has only {tree.size} entries: it is a truncated or forked copy",
            )
        elif tree.root(cp.size) != cp.root_hash:
            out.add(
                where,
                f"fork: the log key signed a different root for size {cp.size} than "
                "this bundle's entries give",
            )


def verify_bundle(
    bundle: Bundle | str | bytes | Mapping[str, Any],
    *,
    policy: TrustPolicy | None = None,
    known_checkpoints: Sequence[str] = (),
    checks: Sequence[EntryCheck] = (),
    tally_checker: TallyChecker | None = None,
) -> Report:
    """Verify an export bundle fully offline; see the module docstring.

    Without ``policy`` the bundle's own keys are used and ``report.status`` is at
    best ``valid-unpinned``. ``tally_checker`` is shorthand for one
    :class:`EntryCheck` named ``tally``.
    """
    report = Report()
    out = _Collector(report)
    if not isinstance(bundle, Bundle):
        try:
            bundle = Bundle.from_dict(bundle) if isinstance(bundle, Mapping) else Bundle.from_json(bundle)
        except BundleFormatError as exc:
            out.add("bundle", str(exc))
            out.close()
            return report
    report.origin = bundle.origin
    report.pinned = policy is not None
    keys = _keys(bundle, policy, out)
    if keys.log is not None:
        report.log_key_fingerprint = keys.log.fingerprint

    # Entries: canonical form, required fields, seq = position; leaf hashes.
    parsed: list[tuple[int, Mapping[str, Any]]] = []
    leaves: list[bytes] = []
    seqs: dict[int, int] = {}
    values = CanonicalParser().parse_many(bundle.entries)
    for i, (text, value) in enumerate(zip(bundle.entries, values, strict=True)):
        leaves.append(leaf_hash(text.encode("utf-8", "surrogatepass")))
        if isinstance(value, CanonicalJSONError):
            out.add(f"entries[{i}]", str(value))
            continue
        if (
            type(value) is dict
            and type(value.get("seq")) is int
            and value["seq"] >= 0
            and type(value.get("type")) is str
            and value["type"]
            and type(value.get("at")) is str
            and value["at"].endswith("Z")
        ):
            seqs[i] = value["seq"]  # the common case; "at" is parsed by _check_times
        else:
            seq = _check_entry(i, value, out)
            if seq is not None:
                seqs[i] = seq
        if isinstance(value, dict):
            parsed.append((i, value))
    _check_seq(seqs, out)
    _check_times(parsed, out)
    tree = MerkleTree(leaves)
    report.size = tree.size
    report.checked.append(
        f"{tree.size} entries: canonical JSON, seq = position from 0, "
        "times never backwards; Merkle tree recomputed"
    )

    # Checkpoints: signatures, cosignatures, origin, roots against the recomputed tree.
    checkpoints: list[Checkpoint | None] = []
    if not bundle.checkpoints:
        out.add("checkpoints", "the bundle has no checkpoint")
    last = len(bundle.checkpoints) - 1
    last_times: dict[bytes, int] = {}
    for k, text in enumerate(bundle.checkpoints):
        where = f"checkpoints[{k}]"
        try:
            note = parse_signed_note(text)
            cp = Checkpoint.parse(note.text)
        except (NoteError, CheckpointError) as exc:
            out.add(where, str(exc))
            checkpoints.append(None)
            continue
        checkpoints.append(cp)
        if cp.origin != bundle.origin:
            out.add(where, f"origin {cp.origin!r} is not the bundle origin {bundle.origin!r}")
        _check_checkpoint_note(k, note, keys, k == last, last_times, out, report)
        if cp.size > tree.size:
            out.add(where, f"signed at size {cp.size} but the bundle has {tree.size} entries")
        elif tree.root(cp.size) != cp.root_hash:
            out.add(
                where,
                f"root does not match entries[0:{cp.size}] (not consistent with the "
                "entries, so not with the other checkpoints)",
            )
    _locate_altered(checkpoints, tree, out)
    _check_equivocation(checkpoints, out)
    report.checked.append(
        f"{len(checkpoints)} checkpoint(s): log signature, roots against the "
        "recomputed tree (each consistent with the previous), sizes never "
        "shrink, cosignatures"
    )
    if bundle.is_v1:
        _check_consistency(bundle, checkpoints, out)

    final = checkpoints[-1] if checkpoints else None
    if final is not None:
        report.root_hash = final.root_hash.hex()
        if final.size != tree.size:
            out.add(
                "entries",
                f"the bundle has {tree.size} entries, the final checkpoint covers {final.size}",
            )
        if bundle.is_v1:
            _check_inclusion(bundle, final, tree, leaves, out)
    roles = ", ".join(r for r, _ in keys.officers) or "none"
    report.checked.append(
        f"last checkpoint cosigned by every officer ({roles}) and by "
        f"{keys.quorum} of {len(keys.witnesses)} witness(es)"
        + (" named in the policy" if policy else " (the bundle's own keys: unpinned)")
    )
    _check_seal(parsed, tree.size, out, report)
    report.checked.append(
        "closed (meeting_closed) and sealed (minutes_rendered is the last "
        "entry and covers every entry before it)"
    )
    if known_checkpoints:
        _check_known(known_checkpoints, keys, bundle.origin, tree, out)
        report.checked.append(f"{len(known_checkpoints)} known checkpoint(s) consistent with the bundle")

    entries = [e for _, e in parsed]
    if bundle.minutes_html is not None:
        _check_html(bundle.minutes_html, entries, out)
        report.checked.append("the rendered minutes against their minutes_rendered sha256")
    plugins = list(checks)
    if tally_checker is not None:
        plugins.append(EntryCheck("tally", frozenset({"poll_result"}), tally_checker))
    for plugin in plugins:
        try:
            for finding in plugin.check(entries):
                out.add(finding.location, finding.message, finding.severity)
        except Exception as exc:  # a plug-in must not crash the verifier
            logger.exception("entry check %s failed", plugin.name)
            out.add(plugin.name, f"the {plugin.name} check failed: {exc!r}")
        report.checked.append(f"{plugin.name} ({', '.join(sorted(plugin.types))})")
    out.close()
    return report


def _locate_altered(checkpoints: Sequence[Checkpoint | None], tree: MerkleTree, out: _Collector) -> None:
    """Name the smallest range of entries a bad root points at: between the largest
    checkpoint that matches and the smallest one above it that does not."""
    good = [
        cp.size
        for cp in checkpoints
        if cp is not None and cp.size <= tree.size and tree.root(cp.size) == cp.root_hash
    ]
    bad = [
        cp.size
        for cp in checkpoints
        if cp is not None and (cp.size > tree.size or tree.root(cp.size) != cp.root_hash)
    ]
    if not bad:
        return
    hi = min(bad)
    lo = max((g for g in good if g < hi), default=0)
    out.add(
        f"entries[{lo}:{min(hi, tree.size)}]",
        f"an entry in this range was altered, removed, inserted or moved: the signed "
        f"checkpoint of size {hi} does not match (size {lo} does)",
    )


def _check_seq(seqs: Mapping[int, int], out: _Collector) -> None:
    """``seq`` is the entry's position (leaf index), starting at 0.

    An entry whose seq is not the one its position should hold (in sorted
    order) is out of order, so both entries of a swap are named; a gap or a
    repeat in the sorted sequence names the entry after it; a log whose seq
    does not start at 0 names its first entry.
    """
    positions = sorted(seqs)
    ordered = sorted(seqs.values())
    if positions and positions[0] == 0 and ordered[0] != 0:
        out.add("entries[0].seq", f"seq starts at {ordered[0]}, not 0")
    for i, want in zip(positions, ordered, strict=True):
        if seqs[i] != want:
            out.add(f"entries[{i}].seq", f"seq {seqs[i]} is out of order at position {i}")
    for prev, (i, seq) in zip(ordered, zip(positions[1:], ordered[1:], strict=True), strict=False):
        if seq == prev:
            out.add(f"entries[{i}].seq", f"seq {seq} is repeated (duplicated entry)")
        elif seq != prev + 1:
            out.add(f"entries[{i}].seq", f"seq jumps from {prev} to {seq} (entries missing)")


def _check_equivocation(checkpoints: Sequence[Checkpoint | None], out: _Collector) -> None:
    seen: dict[int, tuple[int, bytes]] = {}
    previous = -1
    for k, cp in enumerate(checkpoints):
        if cp is None:
            continue
        if cp.size in seen and seen[cp.size][1] != cp.root_hash:
            out.add(
                f"checkpoints[{k}]",
                f"equivocation: checkpoints[{seen[cp.size][0]}] and checkpoints[{k}] sign "
                f"different roots for size {cp.size}",
            )
        seen.setdefault(cp.size, (k, cp.root_hash))
        if cp.size < previous:
            out.add(f"checkpoints[{k}]", f"size {cp.size} is smaller than the previous {previous}")
        previous = max(previous, cp.size)


def _check_consistency(bundle: Bundle, checkpoints: Sequence[Checkpoint | None], out: _Collector) -> None:
    pairs = max(len(checkpoints) - 1, 0)
    if len(bundle.consistency_proofs) != pairs:
        out.add(
            "consistency_proofs",
            f"{len(bundle.consistency_proofs)} proofs for {pairs} successive checkpoint pairs",
        )
    for k, proof in enumerate(bundle.consistency_proofs[:pairs]):
        where = f"consistency_proofs[{k}]"
        old, new = checkpoints[k], checkpoints[k + 1]
        if old is None or new is None:
            continue
        if (proof.old_size, proof.new_size) != (old.size, new.size):
            out.add(where, f"sizes {proof.old_size}->{proof.new_size} do not match the checkpoints")
            continue
        try:
            hashes = _decode_hashes(proof.hashes)
            if old.size == 0:
                if hashes:
                    raise ProofError("a proof from the empty tree must be empty")
                continue
            verify_consistency(old.size, new.size, old.root_hash, new.root_hash, hashes)
        except ProofError as exc:
            out.add(where, f"checkpoints[{k}] -> checkpoints[{k + 1}]: {exc}")


def _check_inclusion(
    bundle: Bundle, final: Checkpoint, tree: MerkleTree, leaves: Sequence[bytes], out: _Collector
) -> None:
    if len(bundle.inclusion_proofs) != len(bundle.entries):
        out.add(
            "inclusion_proofs",
            f"{len(bundle.inclusion_proofs)} inclusion proofs for {len(bundle.entries)} entries",
        )
    # If the entries reproduce the signed root, a failing proof is the proof's
    # fault; otherwise the entry it proves is the likely culprit.
    entries_match = final.size == tree.size and tree.root() == final.root_hash
    size, root = final.size, final.root_hash
    a2b = binascii.a2b_base64
    for i, proof_b64 in enumerate(bundle.inclusion_proofs[: len(leaves)]):
        try:
            try:
                proof = [a2b(h, strict_mode=True) for h in proof_b64]
            except binascii.Error:
                proof = _decode_hashes(proof_b64)  # raises, naming the bad hash
            verify_inclusion(i, size, leaves[i], proof, root)
        except ProofError as exc:
            if entries_match:
                out.add(f"inclusion_proofs[{i}]", str(exc))
            else:
                out.add(
                    f"entries[{i}]",
                    f"not included under the final checkpoint (entry altered, moved or its "
                    f"proof is wrong): {exc}",
                )


def _check_html(html: str, entries: Sequence[Mapping[str, Any]], out: _Collector) -> None:
    digests = [e.get("sha256") for e in entries if e.get("type") == "minutes_rendered" and "sha256" in e]
    if not digests:
        out.add("minutes_html", "not covered by the signed log (informational copy)", "warning")
        return
    if hashlib.sha256(html.encode("utf-8")).hexdigest() != digests[-1]:
        out.add("minutes_html", "does not match the sha256 recorded in the minutes_rendered entry")


def verify_tlog_proof(text: str, entry: bytes, log_key: VerifierKey, origin: str) -> Checkpoint:
    """Verify a standalone C2SP tlog-proof for one canonical entry; return its checkpoint.

    Raises :class:`NoteError`, :class:`CheckpointError` or :class:`ProofError`.
    """
    index, hashes_b64, note = parse_tlog_proof(text)
    parsed = open_note(note, [log_key])
    cp = Checkpoint.parse(parsed.text)
    if cp.origin != origin:
        raise CheckpointError(f"checkpoint origin {cp.origin!r} is not {origin!r}")
    verify_inclusion(index, cp.size, leaf_hash(entry), _decode_hashes(hashes_b64), cp.root_hash)
    return cp
