"""The auditor's trust policy: which keys a minutes bundle must be signed by.

A policy is a small text file (``docs/minutes-format.md``, "Trust policy")::

    # comments and blank lines are ignored
    log <verifier key of the server's minutes key for this meeting, type 0x01>
    officer chair <verifier key, type 0x04>
    officer secretary <verifier key, type 0x04>
    witness <verifier key, type 0x04>
    witness <verifier key, type 0x04>
    quorum 1

``log`` appears exactly once; every ``officer`` role listed must have cosigned the
final checkpoint; ``quorum k`` is how many distinct listed witnesses must have
cosigned it (``0 <= k <=`` the number of ``witness`` lines; without a ``quorum``
line, k is the number of witnesses). Errors raise :class:`PolicyError` naming the
line. Imports only the verifier-safe recorder modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from recorder.errors import NoteError, PolicyError
from recorder.note import SIG_COSIGNATURE_V1, SIG_ED25519, VerifierKey

POLICY_KEYWORDS = ("log", "officer", "witness", "quorum")
_ROLE_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_INT_RE = re.compile(r"0|[1-9][0-9]{0,3}")


@dataclass(frozen=True)
class TrustPolicy:
    log: VerifierKey
    officers: tuple[tuple[str, VerifierKey], ...]
    witnesses: tuple[VerifierKey, ...]
    quorum: int

    def encode(self) -> str:
        lines = [f"log {self.log.encode()}"]
        lines += [f"officer {role} {key.encode()}" for role, key in self.officers]
        lines += [f"witness {key.encode()}" for key in self.witnesses]
        lines.append(f"quorum {self.quorum}")
        return "\n".join(lines) + "\n"


def _key(text: str, want: int, where: str) -> VerifierKey:
    try:
        key = VerifierKey.parse(text)
    except NoteError as exc:
        raise PolicyError(f"{where}: {exc}") from exc
    if key.sig_type != want:
        kind = (
            "an Ed25519 note key (type 0x01)" if want == SIG_ED25519 else "a cosignature/v1 key (type 0x04)"
        )
        raise PolicyError(f"{where}: the key must be {kind}, not type 0x{key.sig_type:02x}")
    return key


def parse_policy(text: str, source: str = "policy") -> TrustPolicy:
    """Parse a policy file's text; ``source`` (its path) prefixes every error."""
    log: VerifierKey | None = None
    officers: dict[str, VerifierKey] = {}
    witnesses: list[VerifierKey] = []
    quorum: int | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}:{number}"
        word, *args = line.split()
        if word not in POLICY_KEYWORDS:
            raise PolicyError(
                f"{where}: unknown keyword {word!r} (expected one of {', '.join(POLICY_KEYWORDS)})"
            )
        want = {"log": 1, "officer": 2, "witness": 1, "quorum": 1}[word]
        if len(args) != want:
            raise PolicyError(f"{where}: {word!r} takes {want} value(s), got {len(args)}")
        if word == "log":
            if log is not None:
                raise PolicyError(f"{where}: a second 'log' line (a policy names one log key)")
            log = _key(args[0], SIG_ED25519, where)
        elif word == "officer":
            role, key_text = args
            if not _ROLE_RE.fullmatch(role):
                raise PolicyError(f"{where}: role {role!r} is not a lowercase word")
            if role in officers:
                raise PolicyError(f"{where}: officer role {role!r} is listed twice")
            officers[role] = _key(key_text, SIG_COSIGNATURE_V1, where)
        elif word == "witness":
            key = _key(args[0], SIG_COSIGNATURE_V1, where)
            if any(w.name == key.name or w.public_key == key.public_key for w in witnesses):
                raise PolicyError(f"{where}: witness {key.name!r} is listed twice")
            witnesses.append(key)
        else:
            if quorum is not None:
                raise PolicyError(f"{where}: a second 'quorum' line")
            if not _INT_RE.fullmatch(args[0]):
                raise PolicyError(f"{where}: quorum {args[0]!r} is not a non-negative integer")
            quorum = int(args[0])
    if log is None:
        raise PolicyError(f"{source}: no 'log' line (the policy must name the log key)")
    k = len(witnesses) if quorum is None else quorum
    if k > len(witnesses):
        raise PolicyError(f"{source}: quorum {k} is more than the {len(witnesses)} witness(es) listed")
    cosigning = [k.public_key for k in officers.values()] + [w.public_key for w in witnesses]
    if len(set(cosigning)) != len(cosigning):
        raise PolicyError(f"{source}: one key is listed for two officers or witnesses")
    return TrustPolicy(log, tuple(officers.items()), tuple(witnesses), k)
