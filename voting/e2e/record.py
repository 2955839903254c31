"""Re-check an encrypted poll from the minutes alone (``meetingd verify``).

The minutes entries of a secret poll (docs/e2e-ballots.md, "Minutes entries"):

* ``e2e_trustee_key`` — a trustee's public share and proof of knowledge (n-of-n);
* ``e2e_trustees_named`` / ``e2e_dkg_key`` / ``e2e_dkg_dealing`` / ``e2e_dkg_confirmation``
  / ``e2e_dkg_complaint`` / ``e2e_dkg_complete`` — with a deputy, each step of the
  trustees' key generation (``voting.e2e.dkg``), replayed and re-checked here;
* ``e2e_poll_key`` — at open: the poll's context (the public key and limits every
  ballot proof is bound to) and the trustees whose shares make up the key;
* ``voter_marked`` — at close, who voted (in voter order; no ballot);
* ``e2e_ballot`` — at close, every ballot on the board with its tracker, sorted by
  tracker, superseded ones marked;
* ``e2e_board_closed`` — the homomorphic sums of the counted ballots;
* ``e2e_partial_decryption`` / ``e2e_partial_decryption_refused`` — each trustee's;
* ``poll_result`` — with ``e2e.counts``, the decrypted electronic counts.

:func:`e2e_findings` checks every proof, the trackers, the sums, the decryptions and
the counts; :func:`find_tracker` tells a voter where their tracker is on the board.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from meeting.errors import MeetingError
from voting.e2e.ballot import EncryptedBallot, PollContext, verify_ballot
from voting.e2e.dkg import DkgRound, Phase, apply_step
from voting.e2e.elgamal import Ciphertext
from voting.e2e.group import add, decode_point
from voting.e2e.keys import TrusteeKey, verify_trustee_key
from voting.e2e.tally import PartialDecryption, combine, homomorphic_sums, verify_partial
from voting.finding import AuditFinding, config_from_dict
from voting.rules import Counts
from voting.tally import Tally, TallyPart

DKG_STEPS = {
    "e2e_dkg_key": "key",
    "e2e_dkg_dealing": "dealing",
    "e2e_dkg_confirmation": "confirmation",
    "e2e_dkg_complaint": "complaint",
}

E2E_TYPES = frozenset(
    {
        "e2e_trustee_key",
        "e2e_trustees_named",
        *DKG_STEPS,
        "e2e_dkg_complete",
        "e2e_poll_key",
        "voter_marked",
        "e2e_ballot",
        "e2e_board_closed",
        "e2e_partial_decryption",
        "poll_opened",
        "poll_result",
    }
)


@dataclass
class _Poll:
    ctx: PollContext
    trustees: dict[str, bytes]
    config: Any = None
    voters: set[str] = field(default_factory=set)
    counted: list[EncryptedBallot] = field(default_factory=list)
    trackers: list[str] = field(default_factory=list)
    sums: tuple[Ciphertext, ...] | None = None
    parts: dict[str, PartialDecryption] = field(default_factory=dict)
    threshold: int | None = None
    indices: dict[str, int] | None = None


@dataclass
class _Dkg:
    rounds: dict[int, DkgRound] = field(default_factory=dict)
    """Every round named with a deputy, by number."""


def _step(kind: str, entry: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(trustee, posted data) of a key-generation entry."""
    if kind == "e2e_dkg_key":
        return str(entry["key"]["trustee_id"]), dict(entry["key"])
    if kind == "e2e_dkg_dealing":
        return str(entry["dealing"]["dealer"]), dict(entry["dealing"])
    if kind == "e2e_dkg_confirmation":
        return str(entry["trustee_id"]), {"verification_key": entry["verification_key"]}
    return str(entry["complaint"]["by"]), dict(entry["complaint"])


def _dkg_entry(where: str, kind: str, entry: Mapping[str, Any], dkg: _Dkg) -> Iterator[AuditFinding]:
    if kind == "e2e_trustees_named":
        if entry["deputy"] is not None:
            r = DkgRound(
                str(entry["meeting_id"]), int(entry["round"]), tuple(entry["trustees"]), entry["threshold"]
            )
            dkg.rounds[r.round] = r
        return
    r_ = dkg.rounds.get(entry["round"])
    if r_ is None:
        yield AuditFinding(where, f"{kind} for key generation round {entry['round']!r}, never named")
        return
    if kind == "e2e_dkg_complete":
        if r_.phase is not Phase.COMPLETE:
            yield AuditFinding(where, "key generation declared complete before every trustee confirmed")
        elif any(entry.get(k) != v for k, v in r_.complete().items()):
            yield AuditFinding(where, "the completed key is not the one the dealings give")
        return
    caller, data = _step(kind, entry)
    try:
        apply_step(r_, caller, DKG_STEPS[kind], data)
    except MeetingError as exc:
        yield AuditFinding(where, f"{kind} from {caller} does not check: {exc.code} ({exc.message})")


def context_from_dict(d: Mapping[str, Any]) -> PollContext:
    return PollContext(
        str(d["meeting_id"]),
        str(d["poll_id"]),
        decode_point(d["public_key"], "context.public_key"),
        int(d["n_options"]),
        int(d["min_marks"]),
        int(d["max_marks"]),
    )


def e2e_findings(entries: Sequence[Mapping[str, Any]]) -> Iterator[AuditFinding]:
    keys: dict[str, bytes] = {}
    dkg = _Dkg()
    polls: dict[Any, _Poll] = {}
    configs: dict[Any, Any] = {}
    for index, entry in enumerate(entries):
        kind = entry.get("type")
        if kind not in E2E_TYPES:
            continue
        where = f"entries[{index}]"
        pid = entry.get("poll_id")
        try:
            if kind == "poll_opened":
                configs[pid] = entry["config"]
            elif kind == "e2e_trustee_key":
                key = TrusteeKey.from_dict(
                    {k: entry[k] for k in ("trustee_id", "public_share", "proof")}, "entry"
                )
                verify_trustee_key(str(entry["meeting_id"]), key)
                if key.trustee_id in keys:
                    yield AuditFinding(where, f"a second key for trustee {key.trustee_id}")
                keys[key.trustee_id] = key.share
            elif kind == "e2e_trustees_named" or kind == "e2e_dkg_complete" or kind in DKG_STEPS:
                yield from _dkg_entry(where, kind, entry, dkg)
            elif kind == "e2e_poll_key" and "threshold" in entry:
                yield from _threshold_poll_key(where, entry, dkg, polls, configs)
            elif kind == "e2e_poll_key":
                yield from _poll_key(where, entry, keys, polls, configs)
            elif pid not in polls:
                if kind != "voter_marked" and kind != "poll_result":
                    yield AuditFinding(where, f"{kind} for poll {pid!r} without an e2e_poll_key")
            else:
                yield from _poll_entry(where, kind, entry, polls[pid])
        except (KeyError, TypeError, ValueError, MeetingError) as exc:
            yield AuditFinding(where, f"malformed {kind} entry: {exc!r}")


def _poll_key(
    where: str,
    entry: Mapping[str, Any],
    keys: Mapping[str, bytes],
    polls: dict[Any, _Poll],
    configs: Mapping[Any, Any],
) -> Iterator[AuditFinding]:
    ctx = context_from_dict(entry["context"])
    if ctx.meeting_id != str(entry["meeting_id"]) or ctx.poll_id != str(entry["poll_id"]):
        yield AuditFinding(where, "the poll key names another meeting or poll")
    trustees = {}
    for t in entry["trustees"]:
        tid = str(t["trustee_id"])
        share = decode_point(t["public_share"], "trustees.public_share")
        if keys.get(tid) != share:
            yield AuditFinding(where, f"trustee {tid}'s share is not the one posted with its proof")
        trustees[tid] = share
    total = None
    for share in trustees.values():
        total = share if total is None else add(total, share)
    if total != ctx.public_key:
        yield AuditFinding(where, "the poll's public key is not the sum of the trustees' shares")
    polls[entry["poll_id"]] = _Poll(ctx, trustees, configs.get(entry["poll_id"]))


def _threshold_poll_key(
    where: str, entry: Mapping[str, Any], dkg: _Dkg, polls: dict[Any, _Poll], configs: Mapping[Any, Any]
) -> Iterator[AuditFinding]:
    ctx = context_from_dict(entry["context"])
    if ctx.meeting_id != str(entry["meeting_id"]) or ctx.poll_id != str(entry["poll_id"]):
        yield AuditFinding(where, "the poll key names another meeting or poll")
    r = dkg.rounds.get(entry["round"])
    if r is None or r.phase is not Phase.COMPLETE:
        yield AuditFinding(where, f"the poll key names key generation round {entry['round']!r}, not complete")
        return
    done = r.complete()
    listed = [
        {"trustee_id": t["trustee_id"], "public_share": t["verification_key"], "index": t["index"]}
        for t in done["trustees"]
    ]
    if entry["trustees"] != listed or entry["threshold"] != r.threshold:
        yield AuditFinding(where, "the poll's trustees are not the verification keys of its key generation")
    if ctx.public_key != r.public_key():
        yield AuditFinding(where, "the poll's public key is not the one its key generation gives")
    trustees = {t["trustee_id"]: decode_point(t["public_share"], "vk") for t in listed}
    polls[entry["poll_id"]] = _Poll(
        ctx,
        trustees,
        configs.get(entry["poll_id"]),
        threshold=r.threshold,
        indices={t["trustee_id"]: t["index"] for t in listed},
    )


def _poll_entry(where: str, kind: str, entry: Mapping[str, Any], p: _Poll) -> Iterator[AuditFinding]:
    if kind == "voter_marked":
        voter = str(entry["voter_id"])
        if voter in p.voters:
            yield AuditFinding(where, f"{voter} marked as having voted twice")
        p.voters.add(voter)
    elif kind == "e2e_ballot":
        ballot = EncryptedBallot.from_dict(entry["ballot"])
        verify_ballot(p.ctx, ballot)
        tracker = ballot.tracker()
        if tracker != entry["tracker"]:
            yield AuditFinding(where, "the tracker is not the hash of the ballot")
        if p.trackers and tracker <= p.trackers[-1]:
            yield AuditFinding(where, "the board is not in tracker order (or repeats a ballot)")
        p.trackers.append(tracker)
        if entry["superseded"] is not True:
            p.counted.append(ballot)
    elif kind == "e2e_board_closed":
        p.sums = homomorphic_sums(p.ctx, p.counted)
        published = [Ciphertext.from_dict(c, "sums", allow_identity=True) for c in entry["sums"]]
        if tuple(published) != p.sums:
            yield AuditFinding(where, "the published sums are not the sum of the counted ballots")
        if entry["counted"] != len(p.counted) or len(p.counted) != len(p.voters):
            yield AuditFinding(
                where,
                f"{len(p.counted)} ballots counted, {entry['counted']} stated, {len(p.voters)} members voted",
            )
    elif kind == "e2e_partial_decryption":
        if p.sums is None:
            yield AuditFinding(where, "a partial decryption before the board closed")
            return
        part = PartialDecryption.from_dict(entry["decryption"])
        if part.trustee_id not in p.trustees:
            yield AuditFinding(where, f"{part.trustee_id} is not a trustee of this poll")
            return
        verify_partial(p.ctx, p.trustees[part.trustee_id], p.sums, part)
        p.parts[part.trustee_id] = part
    elif kind == "poll_result":
        yield from _result(where, entry, p)


def _result(where: str, entry: Mapping[str, Any], p: _Poll) -> Iterator[AuditFinding]:
    needed = len(p.trustees) if p.threshold is None else p.threshold
    if p.sums is None or len(p.parts) < needed:
        yield AuditFinding(where, f"a result with {len(p.parts)} partial decryptions, {needed} needed")
        return
    counts = combine(p.sums, [p.parts[t] for t in sorted(p.parts)], len(p.counted), p.indices)
    if list(counts) != list(entry["e2e"]["counts"]):
        yield AuditFinding(
            where, f"the decrypted counts are {list(counts)}, the result says {entry['e2e']['counts']}"
        )
        return
    if p.config is None:
        yield AuditFinding(where, "no poll_opened entry for this poll")
        return
    config = config_from_dict(p.config)
    n = len(config.options)
    tally = Tally(
        config.poll_type,
        config.options,
        TallyPart(counts, len(p.counted), 0),
        TallyPart.empty(n),
        config.abstain_index,
    )
    if tally.to_dict() != entry["tally"]:
        yield AuditFinding(where, "the published tally does not match the decrypted counts")
        return
    member_counts = entry["counts"]
    outcome = config.result(
        tally, Counts(entitled=member_counts["entitled"], present=member_counts["present"])
    ).to_dict()
    if outcome != entry["outcome"]:
        yield AuditFinding(where, "the outcome does not follow from the decrypted tally under the rule")


@dataclass(frozen=True)
class TrackerFound:
    index: int
    poll_id: Any
    superseded: bool


def find_tracker(entries: Sequence[Mapping[str, Any]], tracker: str) -> list[TrackerFound]:
    """Where a tracker (or a prefix of at least 16 hex digits) is on a board."""
    t = tracker.strip().lower().replace("-", "").replace(" ", "")
    if len(t) < 16:
        return []
    return [
        TrackerFound(i, e.get("poll_id"), bool(e.get("superseded")))
        for i, e in enumerate(entries)
        if e.get("type") == "e2e_ballot" and str(e.get("tracker", "")).startswith(t)
    ]
