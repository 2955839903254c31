"""The trust policy file: a good one parses; every error names its line and cause."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.cosignature import Cosigner
from recorder.errors import PolicyError
from recorder.note import Ed25519Signer
from recorder.policy import parse_policy

LOG = Ed25519Signer("cell.example/minutes/7", Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)).verifier_key
CHAIR = Cosigner(
    "cell.example/minutes/member/C", Ed25519PrivateKey.from_private_bytes(b"\x02" * 32)
).verifier_key
W1 = Cosigner("w.example/one", Ed25519PrivateKey.from_private_bytes(b"\x03" * 32)).verifier_key
W2 = Cosigner("w.example/two", Ed25519PrivateKey.from_private_bytes(b"\x04" * 32)).verifier_key


def test_a_good_policy_parses_and_round_trips() -> None:
    text = (
        f"# c\n\nlog {LOG.encode()}\nofficer chair {CHAIR.encode()}\n"
        f"witness {W1.encode()}\nwitness {W2.encode()}\nquorum 1\n"
    )
    p = parse_policy(text)
    assert (p.log, p.officers, p.witnesses, p.quorum) == (LOG, (("chair", CHAIR),), (W1, W2), 1)
    assert parse_policy(p.encode()) == p
    assert parse_policy(f"log {LOG.encode()}\nwitness {W1.encode()}\n").quorum == 1  # default: all


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no 'log' line"),
        (f"log {LOG.encode()}\nlog {LOG.encode()}\n", "p:2: a second 'log' line"),
        (f"logs {LOG.encode()}\n", "p:1: unknown keyword 'logs'"),
        (f"log {CHAIR.encode()}\n", "p:1: the key must be an Ed25519 note key"),
        (f"log {LOG.encode()}\nofficer chair {LOG.encode()}\n", "p:2: the key must be a cosignature/v1 key"),
        (f"log {LOG.encode()}\nofficer Chair {CHAIR.encode()}\n", "p:2: role 'Chair'"),
        (
            f"log {LOG.encode()}\nofficer chair {CHAIR.encode()}\nofficer chair {W1.encode()}\n",
            "listed twice",
        ),
        (f"log {LOG.encode()}\nwitness {W1.encode()}\nwitness {W1.encode()}\n", "p:3: witness"),
        (f"log {LOG.encode()}\nwitness {W1.encode()}\nquorum 2\n", "quorum 2 is more than the 1"),
        (f"log {LOG.encode()}\nquorum -1\n", "p:2: quorum '-1'"),
        (
            f"log {LOG.encode()}\nofficer chair {W1.encode()}\nwitness {W1.encode()}\n",
            "one key is listed for two",
        ),
        (f"log {LOG.encode()[:-4]}AAA=\n", "p:1:"),
        (f"log {LOG.encode()} extra\n", "p:1: 'log' takes 1 value(s), got 2"),
    ],
)
def test_policy_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_policy(text, "p")
