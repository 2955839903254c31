"""Threshold trustees (2 of 3): the distributed key generation, every bad step refused
naming the trustee, and any two trustees decrypting the tally while the third is away."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from meeting.errors import Conflict, InvalidInput, InvalidState, MeetingError, NotAuthorised
from voting import BallotKind, Poll, PollConfig
from voting.e2e import ballot as eb
from voting.e2e import dkg, group, tally
from voting.e2e.board import EncryptedBox, verify_cast

TRUSTEES = ("chair", "secretary", "deputy")
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _keys(r: dkg.DkgRound) -> dict[str, int]:
    secrets = {}
    for t in r.trustees:
        e, key = dkg.make_enc_key(r.meeting_id, r.round, t)
        r.add_key(t, dkg.EncKey.from_dict(key.to_dict()))
        secrets[t] = e
    return secrets


def _deal(r: dkg.DkgRound) -> None:
    for t in r.trustees:
        d = dkg.make_dealing(r.meeting_id, r.round, t, r.threshold, r.ordered_keys())
        r.add_dealing(t, dkg.Dealing.from_dict(d.to_dict()))


def _complete_round() -> tuple[dkg.DkgRound, dict[str, int]]:
    r = dkg.DkgRound("9", 1, TRUSTEES)
    enc = _keys(r)
    _deal(r)
    shares = {}
    for t in TRUSTEES:
        x, bad = r.check_received(t, enc[t])
        assert bad == []
        r.add_confirmation(t, group.base_mul(x))
        shares[t] = x
    assert r.phase is dkg.Phase.COMPLETE
    return r, shares


ROUND, SHARES = _complete_round()


def _code(exc: pytest.ExceptionInfo[MeetingError]) -> tuple[str, object]:
    return exc.value.code, exc.value.details.get("trustee")


def test_any_two_of_three_trustees_decrypt_the_tally_and_one_alone_cannot() -> None:
    done = ROUND.complete()
    y = group.decode_point(done["public_key"], "public_key")
    vks = {t["trustee_id"]: group.decode_point(t["verification_key"], "vk") for t in done["trustees"]}
    indices = {t["trustee_id"]: t["index"] for t in done["trustees"]}
    ctx = eb.PollContext("9", "4", y, 3, 1, 1)
    ballots = [eb.encrypt_ballot(ctx, m)[0] for m in ([1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 0, 0])]
    sums = tally.homomorphic_sums(ctx, ballots)
    parts = {t: tally.partial_decrypt(ctx, t, SHARES[t], sums) for t in TRUSTEES}
    for t, p in parts.items():
        tally.verify_partial(ctx, vks[t], sums, p)
    for pair in itertools.combinations(TRUSTEES, 2):
        assert tally.combine(sums, [parts[t] for t in pair], 5, indices) == (3, 1, 1)
    assert tally.combine(sums, list(parts.values()), 5, indices) == (3, 1, 1)
    with pytest.raises(InvalidInput) as one:
        tally.combine(sums, [parts["chair"]], 5, indices)
    assert one.value.code == "tally_out_of_range"


def test_the_box_publishes_as_soon_as_two_have_decrypted_while_the_deputy_is_away() -> None:
    done = ROUND.complete()
    y = group.decode_point(done["public_key"], "public_key")
    ctx = eb.PollContext("9", "5", y, 3, 1, 1)
    poll = Poll("5", PollConfig.motion("Adopt?", kind=BallotKind.SECRET))
    poll.open(T0, quorate=True)
    vks = {t["trustee_id"]: group.decode_point(t["verification_key"], "vk") for t in done["trustees"]}
    box = EncryptedBox(poll, ctx, vks, 2, {t["trustee_id"]: t["index"] for t in done["trustees"]})
    for i, marks in enumerate(([1, 0, 0], [1, 0, 0], [0, 1, 0])):
        box.cast(f"m{i}", f"{i}" * 20, verify_cast(ctx, eb.encrypt_ballot(ctx, marks)[0].to_dict()), T0, True)
    poll.close(T0 + timedelta(minutes=1))
    box.add_decryption("secretary", tally.partial_decrypt(ctx, "secretary", SHARES["secretary"], box.sums()))
    assert box.counts() is None and box.waiting_for == ("chair", "deputy")
    wrong = tally.partial_decrypt(ctx, "chair", SHARES["deputy"], box.sums())
    with pytest.raises(InvalidInput) as bad:
        box.add_decryption("chair", wrong)
    assert bad.value.code == "invalid_decryption_proof"
    box.add_decryption("chair", tally.partial_decrypt(ctx, "chair", SHARES["chair"], box.sums()))
    assert box.waiting_for == () and box.counts() == (2, 1, 0)


def test_a_bad_share_is_shown_by_a_complaint_that_names_the_dealer_and_ends_the_round() -> None:
    r = dkg.DkgRound("9", 2, TRUSTEES)
    enc = _keys(r)
    for t in TRUSTEES:
        d = dkg.make_dealing("9", 2, t, 2, r.ordered_keys())
        if t == "deputy":  # the deputy's device sends the secretary a share off its polynomial
            bad = dkg.encrypt_share(
                "9", 2, t, "secretary", r.keys["secretary"].key, 12345, group.random_scalar
            )
            d = dataclasses.replace(d, shares=(d.shares[0], bad, d.shares[2]))
        r.add_dealing(t, d)
    _x, bad_dealers = r.check_received("secretary", enc["secretary"])
    assert bad_dealers == ["deputy"]
    # the chair's share checks out: a complaint against the chair is refused, naming the complainer
    unfounded = dkg.make_complaint("9", 2, "secretary", enc["secretary"], r.dealings["chair"])
    with pytest.raises(InvalidInput) as no:
        r.add_complaint("secretary", unfounded)
    assert _code(no) == ("complaint_unfounded", "secretary")
    # a complaint whose revealed key is not the complainer's is refused
    forged = dataclasses.replace(
        dkg.make_complaint("9", 2, "secretary", enc["secretary"], r.dealings["deputy"]),
        key=group.base_mul(7),
    )
    with pytest.raises(InvalidInput) as fp:
        r.add_complaint("secretary", forged)
    assert _code(fp) == ("invalid_complaint_proof", "secretary")
    r.add_complaint(
        "secretary", dkg.make_complaint("9", 2, "secretary", enc["secretary"], r.dealings["deputy"])
    )
    assert r.phase is dkg.Phase.FAILED and r.failed_by == "deputy"
    with pytest.raises(InvalidState) as ended:
        r.add_confirmation("chair", group.base_mul(r.check_received("chair", enc["chair"])[0]))
    assert _code(ended) == ("key_generation_failed", "deputy")


def test_bad_keys_and_dealings_are_refused_naming_the_trustee() -> None:
    r = dkg.DkgRound("9", 3, TRUSTEES)
    _e, key = dkg.make_enc_key("9", 3, "chair")
    with pytest.raises(InvalidInput) as other_round:
        r.add_key("chair", dkg.make_enc_key("9", 4, "chair")[1])
    assert _code(other_round) == ("invalid_key_proof", "chair")
    with pytest.raises(NotAuthorised):
        r.add_key("secretary", key)
    with pytest.raises(NotAuthorised) as outsider:
        r.add_key("m7", dkg.make_enc_key("9", 3, "m7")[1])
    assert outsider.value.code == "not_a_trustee"
    r.add_key("chair", key)
    with pytest.raises(Conflict):
        r.add_key("chair", key)
    with pytest.raises(InvalidState) as early:
        r.add_dealing("chair", dkg.make_dealing("9", 3, "chair", 2, [key]))
    assert early.value.code == "key_generation_step"
    for t in ("secretary", "deputy"):
        r.add_key(t, dkg.make_enc_key("9", 3, t)[1])
    good = dkg.make_dealing("9", 3, "secretary", 2, r.ordered_keys())
    with pytest.raises(InvalidInput) as proof:
        r.add_dealing(
            "secretary", dataclasses.replace(good, commitments=(group.base_mul(5), good.commitments[1]))
        )
    assert _code(proof) == ("invalid_dealing_proof", "secretary")
    with pytest.raises(InvalidInput) as few:
        r.add_dealing("secretary", dataclasses.replace(good, shares=good.shares[:2]))
    assert _code(few) == ("wrong_share_count", "secretary")
    with pytest.raises(InvalidInput) as degree:
        r.add_dealing("secretary", dkg.make_dealing("9", 3, "secretary", 3, r.ordered_keys()))
    assert _code(degree) == ("wrong_commitment_count", "secretary")
    r.add_dealing("secretary", good)
    with pytest.raises(Conflict):
        r.add_dealing("secretary", good)


def test_a_wrong_verification_key_is_refused() -> None:
    r = dkg.DkgRound("9", 5, TRUSTEES)
    enc = _keys(r)
    _deal(r)
    x, _ = r.check_received("chair", enc["chair"])
    with pytest.raises(InvalidInput) as wrong:
        r.add_confirmation("chair", group.base_mul(x + 1))
    assert _code(wrong) == ("invalid_verification_key", "chair")
    r.add_confirmation("chair", group.base_mul(x))
    with pytest.raises(InvalidState):
        r.complete()


def test_lagrange_weights_recover_the_constant_term() -> None:
    coefficients = [group.random_scalar(), group.random_scalar()]
    for pair in itertools.combinations((1, 2, 3), 2):
        weighted = sum(dkg.lagrange_at_zero(pair, j) * dkg.evaluate(coefficients, j) for j in pair)
        assert weighted % group.ORDER == coefficients[0]
