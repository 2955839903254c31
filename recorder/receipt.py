"""Signed ballot receipts: the server's signed word that a ballot is in the log.

The ``cast_ballot`` ack carries a C2SP signed note by the meeting's log key (the key
that signs its checkpoints, named after the log origin) whose text is::

    meetingd-receipt/v1
    origin <log origin>
    poll <poll id>
    receipt <the ballot's receipt or tracker>
    index <leaf index of the entry that records it>     (absent when not yet known)
    time <POSIX seconds, the server's clock>

The first line keeps it from ever parsing as a checkpoint. For an open poll ``index`` is
the ``ballot_cast`` entry; for a secret poll it is absent (the entry naming the voter
must not be tied to the receipt) and the receipt must appear in the poll's
``poll_result``. ``meetingd verify BUNDLE --receipt FILE`` checks it: a receipt signed
by the log key that the bundle does not contain is evidence against the server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recorder.errors import NoteError
from recorder.note import Ed25519Signer, VerifierKey, open_note
from recorder.verifier import Finding

RECEIPT_HEADER = "meetingd-receipt/v1"
_FIELD_RE = re.compile(r"(origin|poll|receipt|index|time) (\S+)")
_INT_RE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Receipt:
    origin: str
    poll_id: str
    receipt: str
    index: int | None
    time: int

    def text(self) -> str:
        lines = [RECEIPT_HEADER, f"origin {self.origin}", f"poll {self.poll_id}", f"receipt {self.receipt}"]
        if self.index is not None:
            lines.append(f"index {self.index}")
        lines.append(f"time {self.time}")
        return "\n".join(lines) + "\n"

    def sign(self, signer: Ed25519Signer) -> str:
        return signer.sign_note(self.text())

    @classmethod
    def parse(cls, text: str) -> Receipt:
        lines = text.split("\n")
        if lines[0] != RECEIPT_HEADER or lines[-1] != "":
            raise NoteError(f"not a {RECEIPT_HEADER} statement")
        fields: dict[str, str] = {}
        for line in lines[1:-1]:
            m = _FIELD_RE.fullmatch(line)
            if m is None or m.group(1) in fields:
                raise NoteError(f"receipt line {line!r} is malformed or repeated")
            fields[m.group(1)] = m.group(2)
        for name in ("origin", "poll", "receipt", "time"):
            if name not in fields:
                raise NoteError(f"receipt lacks its {name!r} line")
        for name in ("index", "time"):
            if name in fields and not _INT_RE.fullmatch(fields[name]):
                raise NoteError(f"receipt {name} {fields[name]!r} is not a decimal")
        index = int(fields["index"]) if "index" in fields else None
        return cls(fields["origin"], fields["poll"], fields["receipt"], index, int(fields["time"]))


def open_receipt(note: str, log_key: VerifierKey) -> Receipt:
    """Verify the log key's signature on a receipt note; return the statement."""
    return Receipt.parse(open_note(note, [log_key]).text)


def _holds(entries: Sequence[Mapping[str, Any]], r: Receipt) -> str | None:
    """Why the entries do not hold ``r`` (None when they do)."""

    def same_poll(e: Mapping[str, Any]) -> bool:
        return str(e.get("poll_id")) == r.poll_id

    if r.index is not None:
        if r.index >= len(entries):
            return f"entry {r.index} is not in the bundle (it has {len(entries)} entries)"
        e = entries[r.index]
        if not (same_poll(e) and e.get("receipt") == r.receipt and e.get("type") == "ballot_cast"):
            return f"entry {r.index} is not the ballot with receipt {r.receipt}"
        return None
    if any(
        same_poll(e) and e.get("type") == "ballot_cast" and e.get("receipt") == r.receipt for e in entries
    ):
        return None
    for e in entries:
        if e.get("type") == "poll_result" and same_poll(e):
            receipts = e.get("receipts")
            if isinstance(receipts, list) and any(
                isinstance(x, Mapping) and x.get("receipt") == r.receipt for x in receipts
            ):
                return None
            return f"the result of poll {r.poll_id} does not publish receipt {r.receipt}"
    return f"no entry of poll {r.poll_id} holds receipt {r.receipt}"


def receipt_findings(note: str, bundle_text: str, policy: Any, where: str) -> Iterator[Finding]:
    """Check one signed receipt against a bundle (its log key, or the policy's)."""
    loc = f"receipt[{where}]"
    try:
        doc = json.loads(bundle_text)
        entries = [json.loads(e) for e in doc["entries"]]
        key = policy.log if policy is not None else VerifierKey.parse(doc["log_key"])
    except (ValueError, KeyError, TypeError) as exc:
        yield Finding(loc, f"cannot read the bundle: {exc}")
        return
    try:
        r = open_receipt(note, key)
    except NoteError as exc:
        yield Finding(loc, f"not a receipt signed by the log key: {exc}")
        return
    if r.origin != doc.get("origin"):
        yield Finding(loc, f"the receipt is for log {r.origin!r}, not {doc.get('origin')!r}")
        return
    why = _holds([e if isinstance(e, Mapping) else {} for e in entries], r)
    if why is not None:
        yield Finding(
            loc, f"evidence against the server: it signed receipt {r.receipt} of poll {r.poll_id}, but {why}"
        )
