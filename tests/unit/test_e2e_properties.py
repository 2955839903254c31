# ruff: noqa: RUF003 (mathematical notation: α, β, ℓ, −)
"""Properties of the encrypted ballots and tally: the decrypted sum is the plaintext sum,
and altering any ciphertext, proof, share or context makes verification fail."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meeting.errors import Conflict, InvalidInput
from voting.e2e import ballot as eb
from voting.e2e import group, keys, tally
from voting.e2e.elgamal import Ciphertext
from voting.e2e.proofs import Response

FEW = settings(max_examples=15, deadline=None)


def _trustees(meeting: str = "m-1") -> tuple[list[int], list[keys.TrusteeKey]]:
    xs, ks = [], []
    for tid in ("chair", "secretary"):
        x, k = keys.make_trustee_key(meeting, tid)
        keys.verify_trustee_key(meeting, k)
        xs.append(x)
        ks.append(k)
    return xs, ks


XS, KEYS = _trustees()
Y = keys.joint_key(KEYS)
MOTION = eb.PollContext("m-1", "7", Y, 3, 1, 1)
ELECTION = eb.PollContext("m-1", "8", Y, 5, 0, 2)


def _marks(ctx: eb.PollContext) -> st.SearchStrategy[list[int]]:
    def ok(marks: list[int]) -> bool:
        return ctx.min_marks <= sum(marks) <= ctx.max_marks

    return st.lists(st.integers(0, 1), min_size=ctx.n_options, max_size=ctx.n_options).filter(ok)


@FEW
@given(st.data())
def test_decrypted_tally_of_random_ballots_equals_the_plaintext_sum(data: st.DataObject) -> None:
    ctx = data.draw(st.sampled_from([MOTION, ELECTION]))
    all_marks = data.draw(st.lists(_marks(ctx), min_size=1, max_size=6))
    ballots = []
    for marks in all_marks:
        b, _ = eb.encrypt_ballot(ctx, marks)
        parsed = eb.EncryptedBallot.from_dict(b.to_dict())
        eb.verify_ballot(ctx, parsed)
        ballots.append(parsed)
    sums = tally.homomorphic_sums(ctx, ballots)
    parts = [tally.partial_decrypt(ctx, k.trustee_id, x, sums) for x, k in zip(XS, KEYS, strict=True)]
    for k, p in zip(KEYS, parts, strict=True):
        tally.verify_partial(ctx, k.share, sums, tally.PartialDecryption.from_dict(p.to_dict()))
    expected = tuple(sum(col) for col in zip(*all_marks, strict=True))
    assert tally.combine(sums, parts, len(ballots)) == expected


def test_one_trustee_alone_cannot_decrypt() -> None:
    b, _ = eb.encrypt_ballot(MOTION, [1, 0, 0])
    sums = tally.homomorphic_sums(MOTION, [b])
    part = tally.partial_decrypt(MOTION, "chair", XS[0], sums)
    with pytest.raises(InvalidInput) as err:
        tally.combine(sums, [part], 1)
    assert err.value.code == "tally_out_of_range"


def _other_point() -> bytes:
    return group.base_mul(group.random_scalar())


def _ballot_mutations(b: eb.EncryptedBallot) -> list[eb.EncryptedBallot]:
    out = []
    for j in range(len(b.ciphertexts)):
        c = b.ciphertexts[j]
        for alt in (
            Ciphertext(_other_point(), c.beta),
            Ciphertext(c.alpha, _other_point()),
            Ciphertext(c.alpha, group.add(c.beta, group.GENERATOR)),
        ):
            cts = list(b.ciphertexts)
            cts[j] = alt
            out.append(dataclasses.replace(b, ciphertexts=tuple(cts)))
        for k in range(2):
            for bump in (
                Response(b.proofs[j][k].c + 1, b.proofs[j][k].s),
                Response(b.proofs[j][k].c, b.proofs[j][k].s + 1),
            ):
                proof = list(b.proofs[j])
                proof[k] = bump
                proofs = list(b.proofs)
                proofs[j] = tuple(proof)
                out.append(dataclasses.replace(b, proofs=tuple(proofs)))
    for k in range(len(b.sum_proof)):
        sp = list(b.sum_proof)
        sp[k] = Response(sp[k].c, sp[k].s + 1)
        out.append(dataclasses.replace(b, sum_proof=tuple(sp)))
    # swap two options' ciphertexts and proofs together: proofs bind the option index
    out.append(dataclasses.replace(b, ciphertexts=b.ciphertexts[::-1], proofs=b.proofs[::-1]))
    return out


@FEW
@given(st.data())
def test_every_altered_ballot_fails_verification(data: st.DataObject) -> None:
    ctx = data.draw(st.sampled_from([MOTION, ELECTION]))
    b, _ = eb.encrypt_ballot(ctx, data.draw(_marks(ctx)))
    eb.verify_ballot(ctx, b)
    mutations = _ballot_mutations(b)
    bad = data.draw(st.sampled_from(mutations))
    if bad == b:  # reversing a palindrome of options; nothing changed
        return
    with pytest.raises(InvalidInput) as err:
        eb.verify_ballot(ctx, bad)
    assert err.value.code == "invalid_proof"


def test_every_mutation_of_one_ballot_fails() -> None:
    b, _ = eb.encrypt_ballot(MOTION, [0, 1, 0])
    for bad in _ballot_mutations(b):
        with pytest.raises(InvalidInput):
            eb.verify_ballot(MOTION, bad)


def test_a_ballot_for_another_poll_or_key_fails() -> None:
    b, _ = eb.encrypt_ballot(MOTION, [1, 0, 0])
    other_poll = dataclasses.replace(MOTION, poll_id="9")
    with pytest.raises(InvalidInput) as err:
        eb.verify_ballot(other_poll, b)
    assert err.value.code == "ballot_for_another_poll"
    relabelled = dataclasses.replace(b, poll_id="9")
    with pytest.raises(InvalidInput) as err:
        eb.verify_ballot(other_poll, relabelled)
    assert err.value.code == "invalid_proof"
    other_key = dataclasses.replace(MOTION, public_key=KEYS[0].share)
    with pytest.raises(InvalidInput) as err:
        eb.verify_ballot(other_key, b)
    assert err.value.code == "invalid_proof"
    other_limits = dataclasses.replace(MOTION, min_marks=0)
    with pytest.raises(InvalidInput):
        eb.verify_ballot(other_limits, b)


def test_a_ballot_with_the_wrong_option_count_is_refused() -> None:
    b, _ = eb.encrypt_ballot(MOTION, [1, 0, 0])
    two = dataclasses.replace(MOTION, n_options=2)
    with pytest.raises(InvalidInput) as err:
        eb.verify_ballot(two, dataclasses.replace(b, poll_id="7"))
    assert err.value.code == "wrong_option_count"
    d = b.to_dict()
    d["proofs"] = d["proofs"][:2]
    with pytest.raises(InvalidInput) as err:
        eb.EncryptedBallot.from_dict(d)
    assert err.value.code == "wrong_option_count"


def test_a_prover_cannot_prove_two_marks_on_one_option() -> None:
    y = MOTION.public_key
    r = group.random_scalar()
    two = Ciphertext(group.base_mul(r), group.add(group.base_mul(2), group.mul(r, y)))
    honest, _ = eb.encrypt_ballot(MOTION, [1, 0, 0])
    forged = dataclasses.replace(honest, ciphertexts=(two, *honest.ciphertexts[1:]))
    with pytest.raises(InvalidInput):
        eb.verify_ballot(MOTION, forged)
    with pytest.raises(ValueError, match="not in the proven set"):
        from voting.e2e.proofs import prove_membership

        prove_membership(
            eb.option_transcript(MOTION, forged.ciphertexts, 0), (0, 1), 2, r, two.alpha, two.beta, y
        )


def test_marks_outside_the_limits_cannot_be_encrypted() -> None:
    for marks in ([1, 1, 0], [0, 0, 0], [2, 0, 0], [1, 0]):
        with pytest.raises(InvalidInput):
            eb.encrypt_ballot(MOTION, marks)


def test_parsing_refuses_unknown_fields_identity_and_big_scalars() -> None:
    b, _ = eb.encrypt_ballot(MOTION, [1, 0, 0])
    d = b.to_dict()
    d["extra"] = 1
    with pytest.raises(InvalidInput) as err:
        eb.EncryptedBallot.from_dict(d)
    assert err.value.details["field"] == "ballot.extra"
    d = b.to_dict()
    d["ciphertexts"][1]["beta"] = "00" * 32
    with pytest.raises(InvalidInput) as err:
        eb.EncryptedBallot.from_dict(d)
    assert (err.value.code, err.value.details["field"]) == ("identity_point", "ballot.ciphertexts[1].beta")
    d = b.to_dict()
    d["proofs"][2][1]["s"] = group.ORDER.to_bytes(32, "little").hex()
    with pytest.raises(InvalidInput) as err:
        eb.EncryptedBallot.from_dict(d)
    assert (err.value.code, err.value.details["field"]) == ("scalar_out_of_range", "ballot.proofs[2][1].s")


def test_the_tracker_changes_with_any_byte_of_the_ballot() -> None:
    b, _ = eb.encrypt_ballot(MOTION, [1, 0, 0])
    trackers = {b.tracker()} | {m.tracker() for m in _ballot_mutations(b)}
    assert len(trackers) == len(_ballot_mutations(b)) + 1
    assert eb.EncryptedBallot.from_dict(b.to_dict()).tracker() == b.tracker()


def test_benaloh_audit_recovers_the_marks_and_catches_a_lie() -> None:
    b, rs = eb.encrypt_ballot(MOTION, [0, 0, 1])
    assert eb.audit_ballot(MOTION, b, [group.scalar_hex(r) for r in rs]) == (0, 0, 1)
    wrong = [group.scalar_hex(rs[1]), group.scalar_hex(rs[0]), group.scalar_hex(rs[2])]
    with pytest.raises(InvalidInput) as err:
        eb.audit_ballot(MOTION, b, wrong)
    assert err.value.code == "audit_failed"


def test_altered_partial_decryptions_fail() -> None:
    bs = [eb.encrypt_ballot(MOTION, m)[0] for m in ([1, 0, 0], [0, 1, 0])]
    sums = tally.homomorphic_sums(MOTION, bs)
    part = tally.partial_decrypt(MOTION, "chair", XS[0], sums)
    tally.verify_partial(MOTION, KEYS[0].share, sums, part)
    bad_parts = [
        dataclasses.replace(part, factors=(group.add(part.factors[0], group.GENERATOR), *part.factors[1:])),
        dataclasses.replace(
            part, proofs=(Response(part.proofs[0].c, part.proofs[0].s + 1), *part.proofs[1:])
        ),
        dataclasses.replace(part, trustee_id="secretary"),
    ]
    for bad in bad_parts:
        with pytest.raises(InvalidInput) as err:
            tally.verify_partial(MOTION, KEYS[0].share, sums, bad)
        assert err.value.code == "invalid_decryption_proof"
    with pytest.raises(InvalidInput):  # another trustee's share
        tally.verify_partial(MOTION, KEYS[1].share, sums, part)
    other_sums = tally.homomorphic_sums(MOTION, bs[:1])
    with pytest.raises(InvalidInput):  # a decryption of anything but the published sums
        tally.verify_partial(MOTION, KEYS[0].share, other_sums, part)


def test_key_proofs_bind_meeting_and_trustee_and_shares_are_unique() -> None:
    k = KEYS[0]
    with pytest.raises(InvalidInput) as err:
        keys.verify_trustee_key("m-2", k)
    assert err.value.code == "invalid_key_proof"
    with pytest.raises(InvalidInput):
        keys.verify_trustee_key("m-1", dataclasses.replace(k, trustee_id="secretary"))
    with pytest.raises(InvalidInput):
        keys.verify_trustee_key("m-1", dataclasses.replace(k, share=KEYS[1].share))
    with pytest.raises(Conflict) as dup:
        keys.joint_key([k, k])
    assert dup.value.code == "duplicate_share"
    assert keys.TrusteeKey.from_dict(k.to_dict()) == k
