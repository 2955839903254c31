"""docs/e2e-ballots.md carries test vectors; they are what voting/e2e produces.

The vectors use a deterministic scalar source (below, and in the doc), so anyone can
regenerate them. Run with ``E2E_WRITE_VECTORS=1`` to rewrite the doc's block after a
deliberate change of the format (and say so in the commit).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voting.e2e import ballot as eb
from voting.e2e import group, keys, tally

DOC = Path(__file__).resolve().parents[2] / "docs" / "e2e-ballots.md"
BLOCK = re.compile(r"(<!-- vectors:begin -->\n```json\n)(.*?)(```\n<!-- vectors:end -->)", re.DOTALL)


def deterministic(label: str) -> Callable[[], int]:
    """The i-th call returns SHA-512(label ‖ u32be(i)) mod the group order (i from 0)."""
    counter = [0]

    def next_scalar() -> int:
        i = counter[0]
        counter[0] += 1
        digest = hashlib.sha512(label.encode() + i.to_bytes(4, "big")).digest()
        return int.from_bytes(digest, "little") % group.ORDER

    return next_scalar


def vectors() -> dict[str, Any]:
    x1, k1 = keys.make_trustee_key("41", "chair", deterministic("meetingd/e2e/vector/chair"))
    x2, k2 = keys.make_trustee_key("41", "secretary", deterministic("meetingd/e2e/vector/secretary"))
    y = keys.joint_key([k1, k2])
    ctx = eb.PollContext("41", "7", y, 3, 1, 1)
    b, rs = eb.encrypt_ballot(ctx, [0, 1, 0], deterministic("meetingd/e2e/vector/ballot"))
    eb.verify_ballot(ctx, b)
    sums = tally.homomorphic_sums(ctx, [b])
    p1 = tally.partial_decrypt(ctx, "chair", x1, sums, deterministic("meetingd/e2e/vector/dec-chair"))
    p2 = tally.partial_decrypt(ctx, "secretary", x2, sums, deterministic("meetingd/e2e/vector/dec-secretary"))
    key_challenge_input = keys.key_transcript("41", "chair", k1.share).data().hex()
    return {
        "trustee_secrets": {"chair": group.scalar_hex(x1), "secretary": group.scalar_hex(x2)},
        "trustee_keys": [k1.to_dict(), k2.to_dict()],
        "key_transcript_prefix_chair": key_challenge_input,
        "poll": ctx.to_dict(),
        "marks": [0, 1, 0],
        "randomness": [group.scalar_hex(r) for r in rs],
        "ballot": b.to_dict(),
        "tracker": b.tracker(),
        "sums": tally.sums_to_list(sums),
        "decryptions": [p1.to_dict(), p2.to_dict()],
        "counts": list(tally.combine(sums, [p1, p2], 1)),
    }


def test_the_documents_vectors_are_what_the_code_produces() -> None:
    text = DOC.read_text()
    found = BLOCK.search(text)
    assert found, "docs/e2e-ballots.md has no vectors block"
    produced = json.dumps(vectors(), indent=2) + "\n"
    if os.environ.get("E2E_WRITE_VECTORS") == "1":
        DOC.write_text(text[: found.start(2)] + produced + text[found.end(2) :])
        return
    assert json.loads(found.group(2)) == json.loads(produced)


def test_the_documents_vectors_verify_from_their_json_alone() -> None:
    found = BLOCK.search(DOC.read_text())
    assert found
    v = json.loads(found.group(2))
    ks = [keys.TrusteeKey.from_dict(k) for k in v["trustee_keys"]]
    for k in ks:
        keys.verify_trustee_key(v["poll"]["meeting_id"], k)
    p = v["poll"]
    ctx = eb.PollContext(
        p["meeting_id"], p["poll_id"], keys.joint_key(ks), p["n_options"], p["min_marks"], p["max_marks"]
    )
    assert ctx.public_key.hex() == p["public_key"]
    b = eb.EncryptedBallot.from_dict(v["ballot"])
    eb.verify_ballot(ctx, b)
    assert b.tracker() == v["tracker"]
    assert list(eb.audit_ballot(ctx, b, v["randomness"])) == v["marks"]
    sums = tally.homomorphic_sums(ctx, [b])
    parts = [tally.PartialDecryption.from_dict(d) for d in v["decryptions"]]
    for k, part in zip(ks, parts, strict=True):
        tally.verify_partial(ctx, k.share, sums, part)
    assert list(tally.combine(sums, parts, 1)) == v["counts"] == v["marks"]
