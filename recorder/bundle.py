"""The minutes export bundle: one JSON file an auditor verifies offline.

Structure (documented in ``docs/minutes-format.md``)::

    {
      "format": "meetingd-minutes-bundle/v1",
      "origin": "<log origin>",
      "log_key": "<signed-note verifier key of the server's minutes key>",
      "cosigners": [{"role": "chair", "key": "<verifier key, type 0x04>"}, ...],
      "entries": ["<RFC 8785 canonical JSON text>", ...],
      "checkpoints": ["<signed-note text of a tlog-checkpoint>", ...],
      "consistency_proofs": [{"old_size": n, "new_size": m, "hashes": ["<base64>", ...]}, ...],
      "inclusion_proofs": [["<base64>", ...], ...],
      "minutes_html": "<optional rendered minutes>"
    }

``inclusion_proofs[i]`` proves ``entries[i]`` (leaf ``i``) against the last
checkpoint; its hashes are exactly the hash lines of a C2SP ``tlog-proof``
(:meth:`Bundle.tlog_proof` renders one). ``consistency_proofs[k]`` goes from
``checkpoints[k]`` to ``checkpoints[k+1]``.

This module imports only the stdlib and other verifier-safe recorder modules.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from recorder.checkpoint import Checkpoint
from recorder.errors import BundleFormatError, NoteError
from recorder.merkle import MerkleTree
from recorder.note import VerifierKey, b64encode, parse_signed_note

logger = logging.getLogger(__name__)

BUNDLE_FORMAT = "meetingd-minutes-bundle/v1"
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
    consistency_proofs: tuple[ConsistencyProof, ...]
    inclusion_proofs: tuple[tuple[str, ...], ...]
    minutes_html: str | None = field(default=None)

    # ---------------------------------------------------------------- build
    @classmethod
    def build(
        cls,
        *,
        origin: str,
        tree: MerkleTree,
        entries: Sequence[str],
        checkpoints: Sequence[str],
        log_key: VerifierKey,
        cosigners: Mapping[str, VerifierKey],
        minutes_html: str | None = None,
    ) -> Bundle:
        """Assemble a bundle; proofs are computed from ``tree`` for the checkpoint sizes."""
        if not checkpoints:
            raise BundleFormatError("a bundle needs at least one checkpoint")
        sizes = [Checkpoint.parse(parse_signed_note(n).text).size for n in checkpoints]
        final = sizes[-1]
        if final != len(entries) or final != tree.size:
            raise BundleFormatError(f"the last checkpoint covers {final} entries, the log has {len(entries)}")
        consistency = tuple(
            ConsistencyProof(a, b, tuple(b64encode(h) for h in tree.consistency_proof(a, b)))
            for a, b in itertools.pairwise(sizes)
        )
        inclusion = tuple(tuple(b64encode(h) for h in tree.inclusion_proof(i, final)) for i in range(final))
        return cls(
            origin=origin,
            log_key=log_key.encode(),
            cosigners=tuple(Cosigner(role, key.encode()) for role, key in cosigners.items()),
            entries=tuple(entries),
            checkpoints=tuple(checkpoints),
            consistency_proofs=consistency,
            inclusion_proofs=inclusion,
            minutes_html=minutes_html,
        )

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "origin": self.origin,
            "log_key": self.log_key,
            "cosigners": [{"role": c.role, "key": c.key} for c in self.cosigners],
            "entries": list(self.entries),
            "checkpoints": list(self.checkpoints),
            "consistency_proofs": [
                {"old_size": p.old_size, "new_size": p.new_size, "hashes": list(p.hashes)}
                for p in self.consistency_proofs
            ],
            "inclusion_proofs": [list(p) for p in self.inclusion_proofs],
        }
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
        if doc.get("format") != BUNDLE_FORMAT:
            raise BundleFormatError(f"format is {doc.get('format')!r}, expected {BUNDLE_FORMAT}")
        known = {
            "format", "origin", "log_key", "cosigners", "entries", "checkpoints",
            "consistency_proofs", "inclusion_proofs", "minutes_html",
        }  # fmt: skip
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
        for i, p in enumerate(_list(doc, "consistency_proofs")):
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
            _strs(p, f"inclusion_proofs[{i}]") for i, p in enumerate(_list(doc, "inclusion_proofs"))
        )
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
        )

    # ---------------------------------------------------------------- tlog-proof
    def tlog_proof(self, index: int) -> str:
        """The C2SP ``tlog-proof`` text for ``entries[index]`` against the last checkpoint."""
        if not 0 <= index < len(self.inclusion_proofs):
            raise BundleFormatError(f"no inclusion proof for entry {index}")
        lines = [TLOG_PROOF_HEADER, f"index {index}", *self.inclusion_proofs[index]]
        return "\n".join(lines) + "\n\n" + self.checkpoints[-1]


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
