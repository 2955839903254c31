"""Recompute every closed poll's tally and outcome from the minutes.

``tally_checker(entries)`` takes the parsed minutes entries (dicts, in log order) and
yields findings where the published ``poll_result`` disagrees with what the entries
themselves say: the ``poll_opened`` config, the ballots (``ballot_cast`` entries of an
open poll, latest per voter; the published receipts of a secret poll, checked against
the number of ``voter_marked`` entries), and the latest ``hand_count_recorded`` per
place. ``recorder.verifier.verify_bundle(..., tally_checker=tally_checker)`` calls it.

Imports only the standard library and :mod:`voting`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from meeting.errors import MeetingError
from voting.finding import AuditFinding, config_from_dict
from voting.poll import PollConfig
from voting.rules import Counts
from voting.tally import Tally, TallyPart

__all__ = ["AuditFinding", "config_from_dict", "tally_checker"]


@dataclass
class _PollRecord:
    config: PollConfig | None = None
    opened_at: int | None = None
    open_ballots: dict[str, tuple[str, str, tuple[int, ...]]] = field(default_factory=dict)
    """voter -> (ballot key, receipt, choices), the latest ballot."""
    voters_marked: set[str] = field(default_factory=set)
    hands: dict[str | None, tuple[int, ...]] = field(default_factory=dict)
    closed: bool = False


def _tally(config: PollConfig, ballots: Iterable[tuple[int, ...]], hands: Iterable[tuple[int, ...]]) -> Tally:
    n = len(config.options)
    counts, blank, total = [0] * n, 0, 0
    for choices in ballots:
        total += 1
        blank += not choices
        for c in choices:
            counts[c] += 1
    hand = TallyPart.empty(n)
    for row in hands:
        hand = hand + TallyPart(tuple(row), sum(row), 0)
    return Tally(
        config.poll_type, config.options, TallyPart(tuple(counts), total, blank), hand, config.abstain_index
    )


def tally_checker(entries: Sequence[Mapping[str, Any]]) -> Iterator[AuditFinding]:
    polls: dict[Any, _PollRecord] = {}
    for index, entry in enumerate(entries):
        kind = entry.get("type")
        where = f"entries[{index}]"
        if kind not in (
            "poll_opened",
            "ballot_cast",
            "voter_marked",
            "hand_count_recorded",
            "poll_closed",
            "poll_result",
        ):
            continue
        record = polls.setdefault(entry.get("poll_id"), _PollRecord())
        try:
            if kind == "poll_opened":
                record.config = config_from_dict(entry["config"])
                record.opened_at = index
            elif record.config is None:
                yield AuditFinding(where, f"{kind} for poll {entry.get('poll_id')!r} before it was opened")
            elif kind == "ballot_cast":
                if record.closed:
                    yield AuditFinding(where, "a ballot after the poll closed")
                voter = str(entry["voter_id"])
                current = record.open_ballots.get(voter)
                if current is not None and entry.get("replaces_key") != current[0]:
                    yield AuditFinding(where, f"a second ballot of {voter} that does not replace the first")
                record.open_ballots[voter] = (
                    str(entry["ballot_key"]),
                    str(entry["receipt"]),
                    tuple(entry["choices"]),
                )
            elif kind == "voter_marked":
                voter = str(entry["voter_id"])
                if voter in record.voters_marked:
                    yield AuditFinding(where, f"{voter} marked as having voted twice")
                record.voters_marked.add(voter)
            elif kind == "hand_count_recorded":
                record.hands[entry.get("site")] = tuple(entry["counts"])
            elif kind == "poll_closed":
                record.closed = True
            else:
                yield from _check_result(where, entry, record)
        except (KeyError, TypeError, ValueError, MeetingError) as exc:
            yield AuditFinding(where, f"malformed {kind} entry: {exc!r}")


_PROSE = frozenset({"explanation", "description"})


def _numbers(value: Any) -> Any:
    """The outcome without its human texts (``explanation``, the rule's ``description``):
    the check compares the numbers, the decision and the rule, never an English sentence."""
    if isinstance(value, Mapping):
        return {k: _numbers(v) for k, v in value.items() if k not in _PROSE}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _check_result(where: str, entry: Mapping[str, Any], record: _PollRecord) -> Iterator[AuditFinding]:
    config = record.config
    assert config is not None
    if "e2e" in entry:  # an encrypted poll: voting.e2e.record checks it
        return
    if not record.closed:
        yield AuditFinding(where, "a result for a poll that is not closed")
    receipts = entry["receipts"]
    secret = config.kind.value == "secret"
    if secret:
        ballots = [tuple(r["choices"]) for r in receipts]
        if any("voter_id" in r for r in receipts):
            yield AuditFinding(where, "a secret poll's receipts name voters")
        if len(ballots) != len(record.voters_marked):
            yield AuditFinding(
                where,
                f"{len(ballots)} secret ballots published but {len(record.voters_marked)} members voted",
            )
        if len({r["receipt"] for r in receipts}) != len(receipts):
            yield AuditFinding(where, "a receipt is published twice")
    else:
        ballots = [b[2] for b in record.open_ballots.values()]
        logged = {(v, b[1], b[2]) for v, b in record.open_ballots.items()}
        published = {(r.get("voter_id"), r["receipt"], tuple(r["choices"])) for r in receipts}
        if logged != published:
            yield AuditFinding(where, "the published receipts differ from the ballots cast")
    for choices in ballots:
        try:
            config.validate_choices(list(choices))
        except MeetingError as exc:
            yield AuditFinding(where, f"an invalid ballot {list(choices)}: {exc.message}")
            return
    tally = _tally(config, ballots, record.hands.values())
    if tally.to_dict() != entry["tally"]:
        yield AuditFinding(
            where,
            f"tally {entry['tally'].get('counts')} does not match the "
            f"ballots, which give {list(tally.counts)}",
        )
        return
    counts = entry.get("counts")
    if counts is None:
        yield AuditFinding(where, "the result does not state the member counts", "warning")
        return
    outcome = config.result(tally, Counts(entitled=counts["entitled"], present=counts["present"])).to_dict()
    if _numbers(outcome) != _numbers(entry["outcome"]):
        yield AuditFinding(
            where,
            f"the outcome does not follow from the tally under the rule: {outcome.get('decision', outcome)}",
        )
