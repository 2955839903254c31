"""C2SP tlog-witness ``add-checkpoint``, the witness's side, as a pure decision.

https://c2sp.org/tlog-witness: the request body is ``old <size>``, zero to 63 base64
consistency proof lines, an empty line, then a signed checkpoint. The witness answers:

* 400 a malformed body, or an old size larger than the checkpoint's size;
* 404 an origin it does not witness;
* 403 no signature from a key it trusts for that origin verifies;
* 409 the old size is not the size it last cosigned for that origin (the body is that
  size, ``text/x.tlog.size``), or the sizes are equal and the roots differ;
* 422 the consistency proof does not verify;
* 200 it records the new (size, root) and returns its cosignature line(s).

:func:`decide` takes the request and the witness's latest state for the origin and
returns what to answer and what to store; the adapter does the I/O atomically.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

from recorder.checkpoint import Checkpoint
from recorder.errors import CheckpointError, NoteError, ProofError
from recorder.merkle import HASH_SIZE, verify_consistency
from recorder.note import SIG_ED25519, SignedNote, VerifierKey, parse_signed_note, verify_ed25519_signature

MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD_RE = re.compile(r"old (0|[1-9][0-9]*)")


@dataclass(frozen=True)
class Latest:
    size: int
    root_hash: bytes


@dataclass(frozen=True)
class Decision:
    status: int
    message: str
    checkpoint: Checkpoint | None = None  # 200: what to cosign and store
    note: SignedNote | None = None
    latest_size: int | None = None  # 409 on size mismatch: the body
    suspicious: bool = False  # 409 on root mismatch, 422: possible evidence of a fork


@dataclass(frozen=True)
class Request:
    old_size: int
    proof: tuple[bytes, ...]
    note: SignedNote
    checkpoint: Checkpoint


def parse_request(body: bytes) -> Request:
    """Raise :class:`ValueError` (400) unless ``body`` has the add-checkpoint form."""
    if len(body) > MAX_BODY_BYTES:
        raise ValueError(f"body of {len(body)} bytes is larger than {MAX_BODY_BYTES}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("body is not UTF-8") from None
    head, sep, note_text = text.partition("\n\n")
    if not sep:
        raise ValueError("no empty line before the checkpoint")
    lines = head.split("\n")
    m = _OLD_RE.fullmatch(lines[0])
    if m is None:
        raise ValueError(f"first line {lines[0][:40]!r} is not 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ValueError(f"{len(lines) - 1} consistency proof lines, more than {MAX_PROOF_LINES}")
    proof = []
    for i, line in enumerate(lines[1:]):
        try:
            h = binascii.a2b_base64(line, strict_mode=True)
        except binascii.Error:
            raise ValueError(f"proof line {i} is not base64") from None
        if len(h) != HASH_SIZE or base64.b64encode(h).decode() != line:
            raise ValueError(f"proof line {i} is not a canonical base64 SHA-256 hash")
        proof.append(h)
    try:
        note = parse_signed_note(note_text)
        checkpoint = Checkpoint.parse(note.text)
    except (NoteError, CheckpointError) as exc:
        raise ValueError(f"not a signed checkpoint: {exc}") from None
    return Request(int(m.group(1)), tuple(proof), note, checkpoint)


def decide(
    body: bytes, keys_for: Callable[[str], list[VerifierKey]], latest: Callable[[str], Latest | None]
) -> Decision:
    """What a witness answers to ``body``. ``keys_for(origin)`` are the log keys trusted for
    an origin (empty: unknown origin); ``latest(origin)`` the last cosigned state."""
    try:
        req = parse_request(body)
    except ValueError as exc:
        return Decision(400, str(exc))
    cp = req.checkpoint
    keys = [k for k in keys_for(cp.origin) if k.sig_type == SIG_ED25519]
    if not keys:
        return Decision(404, f"unknown origin {cp.origin!r}")
    verified = False
    for key in keys:
        for sig in req.note.signatures:
            if key.matches(sig):
                try:
                    verify_ed25519_signature(req.note.text, sig, key)
                except NoteError:
                    continue
                verified = True
    if not verified:
        return Decision(403, f"no valid signature by a trusted key of {cp.origin!r}")
    if req.old_size > cp.size:
        return Decision(400, f"old size {req.old_size} is larger than the checkpoint size {cp.size}")
    state = latest(cp.origin)
    have = state.size if state is not None else 0
    if req.old_size != have:
        return Decision(
            409, f"old size {req.old_size} is not the latest cosigned size {have}", latest_size=have
        )
    if req.old_size == 0:
        if req.proof:
            return Decision(400, "the consistency proof must be empty when the old size is 0")
    elif state is not None and req.old_size == cp.size:
        if req.proof or state.root_hash != cp.root_hash:
            return Decision(
                409, f"size {cp.size} was cosigned with another root hash", latest_size=have, suspicious=True
            )
    elif state is not None:
        try:
            verify_consistency(req.old_size, cp.size, state.root_hash, cp.root_hash, req.proof)
        except ProofError as exc:
            return Decision(
                422, f"consistency proof from {req.old_size} to {cp.size} fails: {exc}", suspicious=True
            )
    return Decision(200, "cosigned", checkpoint=cp, note=req.note)


def add_checkpoint_body(old_size: int, proof: list[bytes], note: str) -> bytes:
    """The client's request body (the cell server pushing a checkpoint)."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")
