"""Offline verification of a minutes export bundle.

``verify_bundle`` checks, with no server and no network:

* the bundle structure and the verifier keys (optionally against trusted keys);
* every entry is RFC 8785 canonical JSON with ``type``, ``seq``, ``at``, and the
  ``seq`` values are contiguous;
* every checkpoint's log signature and every cosignature, that the final
  checkpoint is cosigned by every listed cosigner, and that no two checkpoints
  sign different roots for the same size (equivocation);
* every checkpoint's root against the entries, the consistency proof between
  successive checkpoints, and each entry's inclusion proof against the final
  checkpoint;
* optionally, poll tallies through a ``tally_checker`` supplied by the caller.

It returns a :class:`Report` listing :class:`Finding` s, each with a location
such as ``entries[12]``, ``inclusion_proofs[12]``, ``checkpoints[3].signature``,
``checkpoints[3].cosignature[chair]`` or ``consistency_proofs[2]``.

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
from typing import Any

from recorder.bundle import Bundle, parse_tlog_proof
from recorder.canonical import parse_canonical
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
    SignedNote,
    VerifierKey,
    open_note,
    parse_signed_note,
    verify_ed25519_signature,
)

logger = logging.getLogger(__name__)

MAX_FINDINGS_PER_SECTION = 50


@dataclass(frozen=True)
class Finding:
    """One problem: where (``entries[3]``, ``checkpoints[1].signature``...) and what."""

    location: str
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        return f"{self.severity}: {self.location}: {self.message}"


TallyChecker = Callable[[Sequence[Mapping[str, Any]]], Iterable[Finding]]
"""Recomputes poll tallies from the parsed entries; yields findings for mismatches."""


@dataclass(frozen=True)
class VerifiedCosignature:
    role: str
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

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def locations(self) -> list[str]:
        return [f.location for f in self.errors]

    def summary(self) -> str:
        head = "VALID" if self.ok else f"INVALID ({len(self.errors)} error(s))"
        lines = [
            f"{head}: origin {self.origin!r}, {self.size} entries, root {self.root_hash}",
            f"log key fingerprint {self.log_key_fingerprint}",
        ]
        lines += [
            f"cosigned by {c.role} ({c.name}, key {c.fingerprint}) at {c.timestamp}"
            for c in self.cosignatures
        ]
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


def _parse_keys(
    bundle: Bundle,
    out: _Collector,
    trusted_log_key: str | None,
    trusted_cosigners: Mapping[str, str] | None,
) -> tuple[VerifierKey | None, list[tuple[str, VerifierKey]]]:
    log_key: VerifierKey | None = None
    try:
        log_key = VerifierKey.parse(bundle.log_key)
        if log_key.sig_type != SIG_ED25519:
            out.add("log_key", "the log key is not an Ed25519 (type 0x01) key")
            log_key = None
    except NoteError as exc:
        out.add("log_key", str(exc))
    if trusted_log_key is not None and bundle.log_key != trusted_log_key:
        out.add("log_key", "the bundle's log key is not the trusted log key")
        try:
            log_key = VerifierKey.parse(trusted_log_key)
        except NoteError as exc:
            out.add("trusted_log_key", str(exc))
            log_key = None
    cosigners: list[tuple[str, VerifierKey]] = []
    for i, c in enumerate(bundle.cosigners):
        try:
            key = VerifierKey.parse(c.key)
        except NoteError as exc:
            out.add(f"cosigners[{i}]", str(exc))
            continue
        if key.sig_type != SIG_COSIGNATURE_V1:
            out.add(f"cosigners[{i}]", f"{c.role} key is not a cosignature/v1 (type 0x04) key")
            continue
        cosigners.append((c.role, key))
    if trusted_cosigners is not None:
        have = {c.role: c.key for c in bundle.cosigners}
        for role, key_text in trusted_cosigners.items():
            if have.get(role) != key_text:
                out.add(f"cosigners[{role}]", f"the {role}'s key is missing or not the trusted key")
        cosigners = [(r, k) for r, k in cosigners if have.get(r) == trusted_cosigners.get(r)]
        for role, key_text in trusted_cosigners.items():
            if have.get(role) != key_text:
                try:
                    cosigners.append((role, VerifierKey.parse(key_text)))
                except NoteError as exc:
                    out.add(f"trusted_cosigners[{role}]", str(exc))
    return log_key, cosigners


def _check_checkpoint_note(
    k: int,
    note: SignedNote,
    log_key: VerifierKey | None,
    cosigners: list[tuple[str, VerifierKey]],
    is_final: bool,
    out: _Collector,
    report: Report,
) -> None:
    where = f"checkpoints[{k}]"
    if log_key is not None:
        mine = [s for s in note.signatures if log_key.matches(s)]
        if not mine:
            out.add(f"{where}.signature", f"no signature by the log key {log_key.name}")
        for sig in mine:
            try:
                verify_ed25519_signature(note.text, sig, log_key)
            except NoteError as exc:
                out.add(f"{where}.signature", str(exc))
    for role, key in cosigners:
        lines = [s for s in note.signatures if key.matches(s)]
        if not lines and is_final:
            out.add(f"{where}.cosignature[{role}]", f"no {role} cosignature on the last checkpoint")
        for sig in lines:
            try:
                cos = verify_cosignature(note.text, sig, key)
            except NoteError as exc:
                out.add(f"{where}.cosignature[{role}]", str(exc))
                continue
            if is_final:
                report.cosignatures.append(
                    VerifiedCosignature(role, key.name, cos.timestamp, cos.fingerprint)
                )


def verify_bundle(
    bundle: Bundle | str | bytes | Mapping[str, Any],
    *,
    trusted_log_key: str | None = None,
    trusted_cosigners: Mapping[str, str] | None = None,
    tally_checker: TallyChecker | None = None,
) -> Report:
    """Verify an export bundle fully offline; see the module docstring.

    ``trusted_log_key`` / ``trusted_cosigners`` (role -> verifier key string)
    pin the keys an auditor obtained out of band; without them the bundle's own
    keys are used and the report prints their fingerprints for comparison.
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
    log_key, cosigners = _parse_keys(bundle, out, trusted_log_key, trusted_cosigners)
    if log_key is not None:
        report.log_key_fingerprint = log_key.fingerprint

    # Entries: canonical form, required fields, contiguous seq; leaf hashes.
    parsed: list[Mapping[str, Any]] = []
    leaves: list[bytes] = []
    seqs: dict[int, int] = {}  # position -> seq, for the contiguity check
    for i, text in enumerate(bundle.entries):
        data = text.encode("utf-8", "surrogatepass")
        leaves.append(leaf_hash(data))
        try:
            value = parse_canonical(text)
        except CanonicalJSONError as exc:
            out.add(f"entries[{i}]", str(exc))
            continue
        seq = _check_entry(i, value, out)
        if seq is not None:
            seqs[i] = seq
        if isinstance(value, dict):
            parsed.append(value)
    _check_seq(seqs, out)
    tree = MerkleTree(leaves)
    report.size = tree.size

    # Checkpoints: signatures, cosignatures, origin, roots against entries.
    checkpoints: list[Checkpoint | None] = []
    if not bundle.checkpoints:
        out.add("checkpoints", "the bundle has no checkpoint")
    last = len(bundle.checkpoints) - 1
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
        _check_checkpoint_note(k, note, log_key, cosigners, k == last, out, report)
        if cp.size > tree.size:
            out.add(where, f"signed at size {cp.size} but the bundle has {tree.size} entries")
        elif tree.root(cp.size) != cp.root_hash:
            out.add(where, f"root does not match entries[0:{cp.size}]")
    _check_equivocation(checkpoints, out)
    _check_consistency(bundle, checkpoints, out)

    final = checkpoints[-1] if checkpoints else None
    if final is not None:
        report.root_hash = final.root_hash.hex()
        if final.size != tree.size:
            out.add(
                "entries",
                f"the bundle has {tree.size} entries, the final checkpoint covers {final.size}",
            )
        _check_inclusion(bundle, final, tree, leaves, out)

    if bundle.minutes_html is not None:
        _check_html(bundle.minutes_html, parsed, out)
    if tally_checker is not None:
        try:
            for finding in tally_checker(parsed):
                out.add(finding.location, finding.message, finding.severity)
        except Exception as exc:  # a plug-in must not crash the verifier
            logger.exception("tally checker failed")
            out.add("tally", f"the tally checker failed: {exc!r}")
    out.close()
    return report


def _check_seq(seqs: Mapping[int, int], out: _Collector) -> None:
    """``seq`` values must run contiguously, in position order.

    An entry whose seq is not the one its position should hold (in sorted
    order) is out of order, so both entries of a swap are named; a gap or a
    repeat in the sorted sequence names the entry after it.
    """
    positions = sorted(seqs)
    ordered = sorted(seqs.values())
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
