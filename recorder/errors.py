"""The recorder's error tree for the minutes formats and proofs.

These errors are raised by the pure format and proof modules (canonical JSON,
Merkle proofs, signed notes, checkpoints, cosignatures, key files). They derive
from :class:`ValueError` and import nothing outside the standard library, so the
offline verifier can use them without pulling in the meeting core.

:class:`recorder.minutes_log.MinutesLog` translates them into the domain errors
of :mod:`meeting.errors` at the core boundary.
"""

from __future__ import annotations


class RecorderError(ValueError):
    """Base of every error raised by the recorder's format and proof modules."""


class CanonicalJSONError(RecorderError):
    """A value cannot be, or a text is not, RFC 8785 canonical JSON within our limits."""


class ProofError(RecorderError):
    """A Merkle inclusion or consistency proof (or its inputs) does not verify."""


class NoteError(RecorderError):
    """A signed note is malformed, or a signature on it does not verify."""


class CheckpointError(RecorderError):
    """A checkpoint body is malformed or does not match what was expected."""


class CosignatureError(NoteError):
    """A tlog-cosignature/v1 signature is malformed or does not verify."""


class KeyFileError(RecorderError):
    """An encrypted key file is malformed, or cannot be opened with the passphrase."""


class BundleFormatError(RecorderError):
    """An export bundle does not have the documented structure."""


class PolicyError(RecorderError):
    """A trust policy file has an error; the message names the line."""
