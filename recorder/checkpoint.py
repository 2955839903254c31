"""C2SP ``tlog-checkpoint``: the signed tree head of a meeting's minutes log.

Body (https://c2sp.org/tlog-checkpoint)::

    <origin>
    <tree size, decimal, no leading zeroes>
    <root hash, base64>
    [extension lines...]

The body is the text of a signed note (:mod:`recorder.note`), signed by the
server's minutes key and cosigned (:mod:`recorder.cosignature`) by the chair and
the secretary.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from recorder.cosignature import Cosignature, verify_cosignature
from recorder.errors import CheckpointError, CosignatureError, NoteError
from recorder.merkle import HASH_SIZE
from recorder.note import (
    SIG_COSIGNATURE_V1,
    Ed25519Signer,
    NoteSignature,
    SignedNote,
    VerifierKey,
    b64decode_strict,
    b64encode,
    open_note,
    parse_signed_note,
)

logger = logging.getLogger(__name__)

_SIZE_RE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Checkpoint:
    """Origin, tree size and root hash of a log (plus optional extension lines)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("checkpoint origin must be one non-empty line")
        if self.size < 0:
            raise CheckpointError(f"checkpoint size {self.size} is negative")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(
                f"checkpoint root hash has {len(self.root_hash)} bytes, expected {HASH_SIZE}"
            )
        for ext in self.extensions:
            if not ext or "\n" in ext:
                raise CheckpointError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint body (a note text)."""
        if not body.endswith("\n"):
            raise CheckpointError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(f"checkpoint body has {len(lines)} lines, needs at least 3")
        origin, size_text, root_text, *extensions = lines
        if not _SIZE_RE.fullmatch(size_text):
            raise CheckpointError(f"checkpoint size {size_text!r} is not a canonical decimal")
        try:
            root = b64decode_strict(root_text, "checkpoint root hash")
        except NoteError as exc:
            raise CheckpointError(str(exc)) from exc
        return cls(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Ed25519Signer) -> str:
    """Return the signed-note text of ``checkpoint`` signed by ``signer``."""
    return signer.sign_note(checkpoint.body())


def add_cosignatures(note: str, cosignatures: Iterable[NoteSignature]) -> str:
    """Append cosignature lines to a signed checkpoint note, skipping duplicates."""
    parsed = parse_signed_note(note)
    present = {(s.name, s.key_id) for s in parsed.signatures}
    extra = [c for c in cosignatures if (c.name, c.key_id) not in present]
    return parsed.with_signatures(*extra).encode()


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint whose log signature verified, with its verified cosignatures."""

    checkpoint: Checkpoint
    note: SignedNote
    cosignatures: tuple[Cosignature, ...]


def open_checkpoint(
    note: str,
    log_key: VerifierKey,
    *,
    origin: str | None = None,
    cosigner_keys: Iterable[VerifierKey] = (),
    require_cosigners: bool = False,
) -> VerifiedCheckpoint:
    """Verify a signed checkpoint note.

    The log key's signature must verify, the origin must match (if given), and
    every cosignature from a known cosigner must verify. With
    ``require_cosigners`` every cosigner key must have cosigned. Raises
    :class:`NoteError` (or its subclass ``CosignatureError``) or
    :class:`CheckpointError` naming what failed.
    """
    parsed = open_note(note, [log_key])
    checkpoint = Checkpoint.parse(parsed.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
    cosigs: list[Cosignature] = []
    for key in cosigner_keys:
        if key.sig_type != SIG_COSIGNATURE_V1:
            raise CosignatureError(f"cosigner key {key.name} is not a cosignature/v1 key")
        lines = [s for s in parsed.signatures if key.matches(s)]
        if not lines:
            if require_cosigners:
                raise CosignatureError(f"checkpoint is not cosigned by {key.name}")
            continue
        for sig in lines:
            cosigs.append(verify_cosignature(parsed.text, sig, key))
    return VerifiedCheckpoint(checkpoint=checkpoint, note=parsed, cosignatures=tuple(cosigs))
