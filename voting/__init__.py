"""The pure voting core: majority rules, polls, ballots, tallies, receipts.

Imports no framework and does no I/O; time is passed in as ``now`` (aware UTC).
Operations return events (frozen dataclasses with ``to_dict()``) or raise the
domain errors of :mod:`meeting.errors`.
"""

from meeting.threshold import Comparison, Threshold
from voting.ballot_box import (
    BallotBox,
    BallotCast,
    CastResult,
    HandCount,
    PollResult,
    StoredBallot,
    VoterMarked,
)
from voting.poll import (
    BallotKind,
    CloseReason,
    OptionsPreset,
    Poll,
    PollClosed,
    PollConfig,
    PollOpened,
    PollQuorumChanged,
    PollState,
)
from voting.rules import (
    Base,
    CandidateStatus,
    Counts,
    Decision,
    ElectionOutcome,
    MajorityRule,
    Outcome,
    RuleKind,
    decide,
    elect,
)
from voting.tally import PollType, Tally, TallyPart

__all__ = [
    "BallotBox",
    "BallotCast",
    "BallotKind",
    "Base",
    "CandidateStatus",
    "CastResult",
    "CloseReason",
    "Comparison",
    "Counts",
    "Decision",
    "ElectionOutcome",
    "HandCount",
    "MajorityRule",
    "OptionsPreset",
    "Outcome",
    "Poll",
    "PollClosed",
    "PollConfig",
    "PollOpened",
    "PollQuorumChanged",
    "PollResult",
    "PollState",
    "PollType",
    "RuleKind",
    "StoredBallot",
    "Tally",
    "TallyPart",
    "Threshold",
    "VoterMarked",
    "decide",
    "elect",
]
