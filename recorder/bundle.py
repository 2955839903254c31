"""The minutes export bundle: one JSON file an auditor verifies offline.

Structure of ``meetingd-minutes-bundle/v2`` (documented in ``docs/minutes-format.md``)::

    {
      "format": "meetingd-minutes-bundle/v2",
      "origin": "<log origin>",
      "log_key": "<signed-note verifier key of the server's minutes key>",
      "cosigners": [{"role": "chair", "key": "<verifier key, type 0x04>"}, ...],
      "witnesses": ["<verifier key, type 0x04>", ...],
      "entries": ["<RFC 8785 canonical JSON text>", ...],
      "checkpoints": ["<signed-note text of a tlog-checkpoint>", ...],
      "minutes_html": "<optional rendered minutes>"
    }

A v2 bundle carries no proofs: the verifier recomputes the Merkle tree from the
entries and checks every checkpoint's root against it, which proves each entry's
inclusion and each checkpoint's consistency with the previous one. The older
``meetingd-minutes-bundle/v1`` (the same plus ``inclusion_proofs`` for every entry and
``consistency_proofs`` between checkpoints, no ``witnesses``) is still read, and its
proofs are still checked. ``cosigners`` and ``witnesses`` are what the server says;
an auditor's trust policy decides which keys count.

This module imports only the stdlib and other verifier-safe recorder modules.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from recorder.checkpoint import Checkpoint
from recorder.errors import BundleFormatError, NoteError
from recorder.merkle import MerkleTree, leaf_hash
from recorder.note import VerifierKey, b64encode, parse_signed_note

logger = logging.getLogger(__name__)

BUNDLE_FORMAT = "meetingd-minutes-bundle/v2"
BUNDLE_FORMAT_V1 = "meetingd-minutes-bundle/v1"
BUNDLE_FORMATS = (BUNDLE_FORMAT, BUNDLE_FORMAT_V1)
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    hashes: tuple[str, ...]


@dataclass(frozen=True)
class Cosigner:
    role: str
    key: str


@dataclass(frozen=True)
class Bundle:
    """An export bundle, as data. Base64 and note texts are kept as strings."""

    origin: str
    log_key: str
    cosigners: tuple[Cosigner, ...]
    entries: tuple[str, ...]
    checkpoints: tuple[str, ...]
    consistency_proofs: tuple[ConsistencyProof, ...] = field(default=())
    inclusion_proofs: tuple[tuple[str, ...], ...] = field(default=())
    minutes_html: str | None = field(default=None)
    witnesses: tuple[str, ...] = field(default=())
    format: str = field(default=BUNDLE_FORMAT)

    @property
    def is_v1(self) -> bool:
        return self.format == BUNDLE_FORMAT_V1

    # ---------------------------------------------------------------- build
    @classmethod
    def build(
        cls,
        *,
        origin: str,
        entries: Sequence[str],
        checkpoints: Sequence[str],
        log_key: VerifierKey,
        cosigners: Mapping[str, VerifierKey],
        witnesses: Sequence[VerifierKey] = (),
        minutes_html: str | None = None,
    ) -> Bundle:
        """Assemble a (v2) bundle; the last checkpoint must cover every entry."""
        if not checkpoints:
            raise BundleFormatError("a bundle needs at least one checkpoint")
        final = Checkpoint.parse(parse_signed_note(checkpoints[-1]).text).size
        if final != len(entries):
            raise BundleFormatError(f"the last checkpoint covers {final} entries, the log has {len(entries)}")
        return cls(
            origin=origin,
            log_key=log_key.encode(),
            cosigners=tuple(Cosigner(role, key.encode()) for role, key in cosigners.items()),
            entries=tuple(entries),
            checkpoints=tuple(checkpoints),
            minutes_html=minutes_html,
            witnesses=tuple(w.encode() for w in witnesses),
        )

    @classmethod
    def build_v1(cls, tree: MerkleTree, **kwargs: Any) -> Bundle:
        """The old format with per-entry proofs (for compatibility tests and the benchmark)."""
        lean = cls.build(**kwargs)
        sizes = [Checkpoint.parse(parse_signed_note(n).text).size for n in lean.checkpoints]
        final = sizes[-1]
        consistency = tuple(
            ConsistencyProof(a, b, tuple(b64encode(h) for h in tree.consistency_proof(a, b)))
            for a, b in itertools.pairwise(sizes)
        )
        inclusion = tuple(tuple(b64encode(h) for h in tree.inclusion_proof(i, final)) for i in range(final))
        return dataclasses.replace(
            lean,
            format=BUNDLE_FORMAT_V1,
            witnesses=(),
            consistency_proofs=consistency,
            inclusion_proofs=inclusion,
        )

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": self.format,
            "origin": self.origin,
            "log_key": self.log_key,
            "cosigners": [{"role": c.role, "key": c.key} for c in self.cosigners],
        }
        if not self.is_v1:
            doc["witnesses"] = list(self.witnesses)
        doc["entries"] = list(self.entries)
        doc["checkpoints"] = list(self.checkpoints)
        if self.is_v1:
            doc["consistency_proofs"] = [
                {"old_size": p.old_size, "new_size": p.new_size, "hashes": list(p.hashes)}
                for p in self.consistency_proofs
            ]
            doc["inclusion_proofs"] = [list(p) for p in self.inclusion_proofs]
        if self.minutes_html is not None:
            doc["minutes_html"] = self.minutes_html
        return doc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Bundle:
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleFormatError(f"bundle is not JSON: {exc}") from exc
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Any) -> Bundle:
        """Parse the JSON structure; raise :class:`BundleFormatError` naming the bad field."""
        if not isinstance(doc, dict):
            raise BundleFormatError("bundle is not a JSON object")
        fmt = doc.get("format")
        if fmt not in BUNDLE_FORMATS:
            raise BundleFormatError(
                f"format is {fmt!r}, expected {BUNDLE_FORMAT} (or the older {BUNDLE_FORMAT_V1})"
            )
        v1 = fmt == BUNDLE_FORMAT_V1
        known = {"format", "origin", "log_key", "cosigners", "entries", "checkpoints", "minutes_html"} | (
            {"consistency_proofs", "inclusion_proofs"} if v1 else {"witnesses"}
        )
        unknown = sorted(set(doc) - known)
        if unknown:
            raise BundleFormatError(f"unknown bundle field(s): {', '.join(unknown)}")
        cosigners = []
        for i, c in enumerate(_list(doc, "cosigners")):
            if not isinstance(c, dict) or set(c) != {"role", "key"}:
                raise BundleFormatError(f"cosigners[{i}] must be an object with role and key")
            where = f"cosigners[{i}]"
            cosigners.append(Cosigner(_str(c, "role", where), _str(c, "key", where)))
        proofs = []
        for i, p in enumerate(_list(doc, "consistency_proofs") if v1 else []):
            where = f"consistency_proofs[{i}]"
            if not isinstance(p, dict) or set(p) != {"old_size", "new_size", "hashes"}:
                raise BundleFormatError(f"{where} must have old_size, new_size and hashes")
            proofs.append(
                ConsistencyProof(
                    _int(p, "old_size", where),
                    _int(p, "new_size", where),
                    _strs(p["hashes"], f"{where}.hashes"),
                )
            )
        inclusion = tuple(
            _strs(p, f"inclusion_proofs[{i}]")
            for i, p in enumerate(_list(doc, "inclusion_proofs") if v1 else [])
        )
        witnesses = () if v1 else _strs(doc.get("witnesses"), "witnesses")
        html = doc.get("minutes_html")
        if html is not None and not isinstance(html, str):
            raise BundleFormatError("minutes_html must be a string")
        return cls(
            origin=_str(doc, "origin", "bundle"),
            log_key=_str(doc, "log_key", "bundle"),
            cosigners=tuple(cosigners),
            entries=_strs(doc.get("entries"), "entries"),
            checkpoints=_strs(doc.get("checkpoints"), "checkpoints"),
            consistency_proofs=tuple(proofs),
            inclusion_proofs=inclusion,
            minutes_html=html,
            witnesses=witnesses,
            format=str(fmt),
        )

    # ---------------------------------------------------------------- tlog-proof
    def tlog_proof(self, index: int) -> str:
        """The C2SP ``tlog-proof`` text for ``entries[index]`` against the last checkpoint.

        The proof is recomputed from the entries (the bundle carries none).
        """
        if not 0 <= index < len(self.entries):
            raise BundleFormatError(f"no entry {index} (the bundle has {len(self.entries)})")
        size = Checkpoint.parse(parse_signed_note(self.checkpoints[-1]).text).size
        tree = MerkleTree(leaf_hash(e.encode("utf-8")) for e in self.entries[:size])
        return tlog_proof_text(index, tree.inclusion_proof(index, size), self.checkpoints[-1])


def tlog_proof_text(index: int, hashes: Sequence[bytes], checkpoint_note: str) -> str:
    """A C2SP ``tlog-proof``: header, index, one base64 hash per line, blank, checkpoint."""
    lines = [TLOG_PROOF_HEADER, f"index {index}", *(b64encode(h) for h in hashes)]
    return "\n".join(lines) + "\n\n" + checkpoint_note


def parse_tlog_proof(text: str) -> tuple[int, tuple[str, ...], str]:
    """Split a C2SP tlog-proof into ``(index, base64 hashes, checkpoint note)``.

    The optional ``extra`` line is accepted and ignored (it is not authenticated).
    """
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise NoteError("tlog-proof has no blank line before its checkpoint")
    lines = head.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise NoteError(f"tlog-proof does not start with {TLOG_PROOF_HEADER}")
    rest = lines[1:]
    if rest and rest[0].startswith("extra "):
        rest = rest[1:]
    if not rest or not rest[0].startswith("index "):
        raise NoteError("tlog-proof lacks its index line")
    index_text = rest[0][len("index ") :]
    if not index_text.isdigit() or (index_text != "0" and index_text.startswith("0")):
        raise NoteError(f"tlog-proof index {index_text!r} is not a canonical decimal")
    return int(index_text), tuple(rest[1:]), note


def _list(doc: Mapping[str, Any], name: str) -> list[Any]:
    value = doc.get(name)
    if not isinstance(value, list):
        raise BundleFormatError(f"{name} must be a list")
    return value


def _str(doc: Mapping[str, Any], name: str, where: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str):
        raise BundleFormatError(f"{where}.{name} must be a string")
    return value


def _int(doc: Mapping[str, Any], name: str, where: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BundleFormatError(f"{where}.{name} must be a non-negative integer")
    return value


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BundleFormatError(f"{where} must be a list of strings")
    return tuple(value)
