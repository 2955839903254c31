"""The organisation log's export and its offline verifier.

The organisation log (member e-profile changes, profile reads, refused edits,
organisation imports and row-by-row changes to the tree) is kept exactly like a
meeting's minutes: canonical-JSON entries as RFC 6962 Merkle leaves, signed C2SP
checkpoints (:class:`recorder.minutes_log.MinutesLog` does it). Unlike a meeting it
never closes, so its export is lean — entries and every checkpoint — and the verifier
recomputes the tree::

    {"format": "meetingd-org-log/v1", "origin": "...", "log_key": "<verifier key>",
     "entries": ["<canonical JSON>", ...], "checkpoints": ["<signed note>", ...]}

:func:`verify_org_log` checks every entry is canonical with contiguous ``seq``, every
checkpoint is signed by the log key for this origin, and the tree of the first ``size``
entries has the checkpoint's root (so any edited, dropped or re-ordered entry below a
checkpoint is found). An auditor pins the key with ``trusted_log_key`` and may pass
checkpoints they saw before (``known_checkpoints``) to detect a rewritten history.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from recorder.canonical import parse_canonical
from recorder.checkpoint import Checkpoint, open_checkpoint
from recorder.errors import RecorderError
from recorder.merkle import MerkleTree
from recorder.minutes_log import check_entry_fields
from recorder.note import VerifierKey

ORG_LOG_FORMAT = "meetingd-org-log/v1"

# Every entry type the organisation log holds (a log of its own, apart from the minutes'
# types in recorder/entry_types.py); the daemon refuses to append any other.
ORG_ENTRY_TYPES: dict[str, str] = {
    "profile_change": "an attributed change to a member's e-profile (kind, data, by, reason)",
    "profile_read": "someone read another member's profile",
    "profile_change_refused": "a profile change was refused (who tried, what, the error code)",
    "org_imported": "an administrator imported the organisation CSV (its SHA-256, counts)",
    "officer_key_enrolled": "a member enrolled the public key of a cosigning key made on their own "
    "device (verifier_key, fingerprint, origin browser|file, the fingerprint it replaced or null)",
    "org_changed": "one row of the tree changed: a committee or cell added, renamed or moved, a sub-site "
    "added, renamed or removed, an officer appointed or removed (change, by, reason, what it was and is)",
    "org_change_refused": "a change to the tree was refused (who tried, what, the target, the error code)",
}


def export_org_log(
    origin: str, log_key: VerifierKey, entries: Sequence[bytes | str], checkpoints: Sequence[str]
) -> dict[str, Any]:
    return {
        "format": ORG_LOG_FORMAT,
        "origin": origin,
        "log_key": log_key.encode(),
        "entries": [e.decode("utf-8") if isinstance(e, bytes) else e for e in entries],
        "checkpoints": list(checkpoints),
    }


@dataclass
class OrgLogReport:
    origin: str = ""
    size: int = 0
    checkpoints: int = 0
    log_key_fingerprint: str = ""
    errors: list[str] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.checkpoints > 0


def verify_org_log(
    doc: str | bytes | Mapping[str, Any],
    *,
    trusted_log_key: str | None = None,
    known_checkpoints: Sequence[str] = (),
) -> OrgLogReport:
    rep = OrgLogReport()
    try:
        data = json.loads(doc) if isinstance(doc, str | bytes) else doc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        rep.errors.append(f"export is not JSON: {exc}")
        return rep
    if not isinstance(data, Mapping) or data.get("format") != ORG_LOG_FORMAT:
        rep.errors.append(f"format is not {ORG_LOG_FORMAT}")
        return rep
    origin, entries, notes = data.get("origin"), data.get("entries"), data.get("checkpoints")
    if not isinstance(origin, str) or not isinstance(entries, list) or not isinstance(notes, list):
        rep.errors.append("origin, entries and checkpoints are required")
        return rep
    rep.origin = origin
    try:
        key = VerifierKey.parse(trusted_log_key or str(data.get("log_key")))
    except RecorderError as exc:
        rep.errors.append(f"log key: {exc}")
        return rep
    if trusted_log_key and data.get("log_key") != trusted_log_key:
        rep.errors.append("the export names another log key than the trusted one")
    rep.log_key_fingerprint = key.fingerprint
    tree = MerkleTree()
    for i, text in enumerate(entries):
        try:
            if not isinstance(text, str):
                raise RecorderError("not a string")
            value = parse_canonical(text)
            if not isinstance(value, dict):
                raise RecorderError("not a JSON object")
            check_entry_fields(value)
            if value["seq"] != i:
                raise RecorderError(f"seq {value['seq']} where {i} was expected")
        except RecorderError as exc:
            rep.errors.append(f"entry {i}: {exc}")
            continue
        tree.append(text.encode("utf-8"))
        rep.entries.append(value)
    rep.size = tree.size
    if rep.errors:
        return rep
    for k, note in enumerate([*notes, *known_checkpoints]):
        where = f"checkpoint {k}" if k < len(notes) else f"known checkpoint {k - len(notes)}"
        try:
            cp: Checkpoint = open_checkpoint(str(note), key, origin=origin).checkpoint
        except RecorderError as exc:
            rep.errors.append(f"{where}: {exc}")
            continue
        if cp.size > tree.size:
            rep.errors.append(f"{where} covers {cp.size} entries, the export has {tree.size}")
        elif tree.root(cp.size) != cp.root_hash:
            rep.errors.append(f"{where}: entries 0..{cp.size - 1} do not have the signed root")
        elif k < len(notes):
            rep.checkpoints += 1
    if rep.checkpoints and not rep.errors:
        last = open_checkpoint(str(notes[-1]), key, origin=origin).checkpoint
        if last.size != tree.size:
            rep.errors.append(f"the last checkpoint covers {last.size} of {tree.size} entries")
    return rep
