"""voting.audit recomputes tallies from minutes entries (stdlib + voting only)."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from voting import BallotBox, Counts, Poll, PollConfig
from voting.audit import _tally, config_from_dict, tally_checker

T0 = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


def test_audit_imports_only_stdlib_and_voting() -> None:
    tree = ast.parse((Path(__file__).parents[2] / "voting" / "audit.py").read_text())
    roots = {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    roots |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert roots <= {"__future__", "collections", "dataclasses", "typing", "voting", "meeting"}, roots


def _entries(config: PollConfig, votes: list[tuple[str, list[int]]]) -> list[dict]:
    """Minutes of an open poll cast through the ballot box; for a secret poll, the
    records of the first version (who voted, then every receipt with its choices at
    close), which old bundles still carry and ``meetingd verify`` still checks."""
    poll = Poll("7", config)
    entries = [{"type": "poll_opened", **poll.open(T0, True).to_dict()}]
    box = BallotBox(poll)
    secret = config.kind.value == "secret"
    for voter, choices in votes:
        if secret:
            entries.append({"type": "voter_marked", "poll_id": "7", "voter_id": voter})
            continue
        result = box.cast(voter, f"ballot-{voter}-0123456789", choices, T0, True)
        entries += [ev.to_dict() for ev in result.events]
    entries.append(poll.close(T0).to_dict())
    counts = Counts(entitled=20, present=len(votes))
    if secret:
        tally = _tally(config, [tuple(c) for _, c in votes], [])
        receipts = sorted(
            ({"receipt": f"R{i:04d}", "choices": c} for i, (_, c) in enumerate(votes)),
            key=lambda r: r["receipt"],
        )
        entries.append(
            {
                "type": "poll_result",
                "poll_id": "7",
                "tally": tally.to_dict(),
                "outcome": config.result(tally, counts).to_dict(),
                "receipts": receipts,
                "counts": {"entitled": 20, "present": len(votes)},
            }
        )
        return entries
    result = box.result(counts)
    entries.append({**result.to_dict(), "counts": {"entitled": 20, "present": len(votes)}})
    return entries


votes_st = st.lists(st.integers(0, 2), max_size=20)


@settings(max_examples=60, deadline=None)
@given(
    votes_st, st.sampled_from(["open", "secret"]), st.sampled_from(["simple", "absolute", "two_thirds_cast"])
)
def test_honest_minutes_have_no_findings(choices, kind, rule) -> None:
    config = PollConfig.from_payload(
        {"question": "Q?", "options": "yes_no_abstain", "kind": kind, "rule": rule}
    )
    assert config_from_dict(config.to_dict()) == config
    entries = _entries(config, [(f"M{i}", [c]) for i, c in enumerate(choices)])
    assert list(tally_checker(entries)) == []


def test_altered_tally_outcome_or_receipts_are_found() -> None:
    config = PollConfig.from_payload({"question": "Q?", "options": "yes_no_abstain", "kind": "secret"})
    entries = _entries(config, [("A", [0]), ("B", [0]), ("C", [1])])
    entries[-1]["tally"]["counts"] = [1, 2, 0]
    assert any("does not match" in f.message for f in tally_checker(entries))
    entries = _entries(config, [("A", [0]), ("B", [0]), ("C", [1])])
    entries[-1]["outcome"]["decision"] = "rejected"
    assert any("outcome" in f.message for f in tally_checker(entries))
    entries = _entries(config, [("A", [0]), ("B", [0]), ("C", [1])])
    entries[-1]["receipts"].append({"receipt": "AAAA-BBBB-CCCC-DDDD", "choices": [1]})
    assert any("members voted" in f.message for f in tally_checker(entries))


def test_the_outcome_check_compares_numbers_not_the_english_explanation() -> None:
    config = PollConfig.from_payload({"question": "Q?", "options": "yes_no_abstain", "kind": "open"})
    entries = _entries(config, [("A", [0]), ("B", [0]), ("C", [1])])
    entries[-1]["outcome"]["explanation"] = "2 ủng hộ, 1 phản đối (a translated sentence)"
    assert list(tally_checker(entries)) == []
    entries[-1]["outcome"]["required"] += 1
    assert any("outcome" in f.message for f in tally_checker(entries))
