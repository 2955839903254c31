"""A poll: its configuration, and its life from draft to open to closed.

:class:`PollConfig` is validated on construction; :meth:`PollConfig.from_payload`
parses the chair's JSON payload and names the offending field on error.
:class:`Poll` is the state machine; each transition returns an event (a frozen
dataclass with ``to_dict()``) for the adapters to persist, append to the minutes
and broadcast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from meeting.errors import InvalidInput, InvalidState
from voting.rules import Counts, ElectionOutcome, MajorityRule, Outcome, decide, elect
from voting.tally import PollType, Tally
from voting.timestamps import iso, require_utc


class BallotKind(StrEnum):
    OPEN = "open"
    """Named vote: who voted what is public."""
    SECRET = "secret"  # noqa: S105 (a ballot kind, not a password)
    """Nothing links a voter to a choice."""


class OptionsPreset(StrEnum):
    YES_NO_ABSTAIN = "yes_no_abstain"
    YES_NO = "yes_no"


_PRESET_OPTIONS: dict[OptionsPreset, tuple[str, ...]] = {
    OptionsPreset.YES_NO_ABSTAIN: ("yes", "no", "abstain"),
    OptionsPreset.YES_NO: ("yes", "no"),
}
MAX_QUESTION = 2000
MAX_CANDIDATE = 200
MAX_CANDIDATES = 500
MAX_TIME_LIMIT_S = 7 * 24 * 3600
_FIELDS = frozenset(
    {
        "question",
        "options",
        "max_choices",
        "kind",
        "rule",
        "abstentions_in_base",
        "time_limit_s",
        "allow_change",
    }
)


@dataclass(frozen=True)
class PollConfig:
    question: str
    options: tuple[str, ...]
    poll_type: PollType
    rule: MajorityRule = field(default_factory=MajorityRule.simple)
    kind: BallotKind = BallotKind.OPEN
    max_choices: int = 1
    """Seats of an election; always 1 for a motion."""
    time_limit_s: int | None = None
    allow_change: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.question, str) or not self.question.strip():
            raise InvalidInput("question must be a non-empty string", field="question")
        if len(self.question) > MAX_QUESTION:
            raise InvalidInput(f"question is longer than {MAX_QUESTION}", field="question")
        if self.poll_type is PollType.MOTION:
            if self.options not in _PRESET_OPTIONS.values():
                raise InvalidInput("a motion's options are yes/no(/abstain)", field="options")
            if self.max_choices != 1:
                raise InvalidInput("a motion takes exactly one choice", field="max_choices")
        else:
            _check_candidates(self.options)
            if not _is_int(self.max_choices) or not 1 <= self.max_choices <= len(self.options):
                raise InvalidInput(
                    f"max_choices must be between 1 and {len(self.options)}", field="max_choices"
                )
        if self.time_limit_s is not None and (
            not _is_int(self.time_limit_s) or not 1 <= self.time_limit_s <= MAX_TIME_LIMIT_S
        ):
            raise InvalidInput(f"time_limit_s must be between 1 and {MAX_TIME_LIMIT_S}", field="time_limit_s")
        if not isinstance(self.allow_change, bool):
            raise InvalidInput("allow_change must be a boolean", field="allow_change")

    @classmethod
    def motion(
        cls,
        question: str,
        *,
        preset: OptionsPreset = OptionsPreset.YES_NO_ABSTAIN,
        rule: MajorityRule | None = None,
        kind: BallotKind = BallotKind.OPEN,
        time_limit_s: int | None = None,
        allow_change: bool = False,
    ) -> PollConfig:
        return cls(
            question=question,
            options=_PRESET_OPTIONS[preset],
            poll_type=PollType.MOTION,
            rule=rule or MajorityRule.simple(),
            kind=kind,
            time_limit_s=time_limit_s,
            allow_change=allow_change,
        )

    @classmethod
    def election(
        cls,
        question: str,
        candidates: Sequence[str],
        *,
        max_choices: int = 1,
        rule: MajorityRule | None = None,
        kind: BallotKind = BallotKind.SECRET,
        time_limit_s: int | None = None,
        allow_change: bool = False,
    ) -> PollConfig:
        return cls(
            question=question,
            options=tuple(candidates),
            poll_type=PollType.ELECTION,
            rule=rule or MajorityRule.simple(),
            kind=kind,
            max_choices=max_choices,
            time_limit_s=time_limit_s,
            allow_change=allow_change,
        )

    @classmethod
    def from_payload(cls, payload: object) -> PollConfig:
        """Parse the chair's payload (see ``docs/voting-rules.md``)::

            {"question": "Adopt the budget?", "options": "yes_no_abstain",
             "kind": "secret", "rule": "simple", "abstentions_in_base": false,
             "time_limit_s": 120, "allow_change": true}

        ``options`` is a preset name or a list of candidates (then ``max_choices``,
        default 1, is the number of seats); ``rule`` a preset name or a custom
        object. Unknown fields and wrong types raise ``InvalidInput`` naming the field.
        """
        if not isinstance(payload, Mapping):
            raise InvalidInput("poll payload must be an object", field="poll")
        unknown = sorted(set(payload) - _FIELDS, key=str)
        if unknown:
            raise InvalidInput(f"unknown field {unknown[0]!r}", field=str(unknown[0]))
        for required in ("question", "options"):
            if required not in payload:
                raise InvalidInput(f"missing field {required!r}", field=required)
        question = _typed(payload, "question", str, "a string")
        abstentions_in_base = _typed(payload, "abstentions_in_base", bool, "a boolean", False)
        allow_change = _typed(payload, "allow_change", bool, "a boolean", False)
        time_limit_s = payload.get("time_limit_s")
        if time_limit_s is not None and not _is_int(time_limit_s):
            raise InvalidInput("time_limit_s must be an integer or null", field="time_limit_s")
        kind_text = _typed(payload, "kind", str, "'open' or 'secret'", BallotKind.OPEN.value)
        try:
            kind = BallotKind(kind_text)
        except ValueError:
            raise InvalidInput("kind must be 'open' or 'secret'", field="kind") from None
        rule = MajorityRule.from_payload(
            payload.get("rule", "simple"), abstentions_in_base=abstentions_in_base
        )
        options = payload["options"]
        if isinstance(options, str):
            try:
                preset = OptionsPreset(options)
            except ValueError:
                raise InvalidInput(
                    "options must be 'yes_no_abstain', 'yes_no' or a list of candidates",
                    field="options",
                ) from None
            if "max_choices" in payload:
                raise InvalidInput("max_choices applies only to candidates", field="max_choices")
            return cls.motion(
                question,
                preset=preset,
                rule=rule,
                kind=kind,
                time_limit_s=time_limit_s,
                allow_change=allow_change,
            )
        if not isinstance(options, list):
            raise InvalidInput("options must be a preset name or a list", field="options")
        max_choices = payload.get("max_choices", 1)
        if not _is_int(max_choices):
            raise InvalidInput("max_choices must be an integer", field="max_choices")
        return cls.election(
            question,
            options,
            max_choices=max_choices,
            rule=rule,
            kind=kind,
            time_limit_s=time_limit_s,
            allow_change=allow_change,
        )

    @property
    def abstentions_in_base(self) -> bool:
        return self.rule.abstentions_in_base

    @property
    def abstain_index(self) -> int | None:
        if self.poll_type is PollType.MOTION and "abstain" in self.options:
            return self.options.index("abstain")
        return None

    def validate_choices(self, choices: object) -> tuple[int, ...]:
        """Option indices, checked and sorted. A motion takes exactly one; an election
        0 (a blank ballot) to ``max_choices`` distinct candidates."""
        if not isinstance(choices, list | tuple):
            raise InvalidInput("choices must be a list of option indices", field="choices")
        for choice in choices:
            if not _is_int(choice):
                raise InvalidInput("each choice must be an option index", field="choices")
            if not 0 <= choice < len(self.options):
                raise InvalidInput(
                    f"option {choice} is out of range", code="option_out_of_range", field="choices"
                )
        # The documented order (docs/voting-rules.md): range, too few/many, duplicates.
        if self.poll_type is PollType.MOTION and not choices:
            raise InvalidInput("choose one option", code="choice_required", field="choices")
        if len(choices) > self.max_choices:
            raise InvalidInput(
                f"at most {self.max_choices} choices", code="too_many_choices", field="choices"
            )
        if len(set(choices)) != len(choices):
            raise InvalidInput("the same option is chosen twice", code="duplicate_choice", field="choices")
        return tuple(sorted(choices))

    def result(self, tally: Tally, counts: Counts) -> Outcome | ElectionOutcome:
        """Apply this poll's rule: :func:`decide` for a motion, :func:`elect` for an election."""
        if self.poll_type is PollType.MOTION:
            return decide(tally, self.rule, counts)
        return elect(tally, self.rule, counts, self.max_choices)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "type": self.poll_type.value,
            "options": list(self.options),
            "max_choices": self.max_choices,
            "kind": self.kind.value,
            "rule": self.rule.to_dict(),
            "abstentions_in_base": self.abstentions_in_base,
            "time_limit_s": self.time_limit_s,
            "allow_change": self.allow_change,
        }


class PollState(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class CloseReason(StrEnum):
    MANUAL = "manual"
    TIME_LIMIT = "time_limit"


@dataclass(frozen=True)
class PollOpened:
    poll_id: str
    at: datetime
    expires_at: datetime | None
    quorate: bool
    quorum_override: bool
    config: PollConfig

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "poll_opened",
            "poll_id": self.poll_id,
            "at": iso(self.at),
            "expires_at": iso(self.expires_at) if self.expires_at else None,
            "quorate": self.quorate,
            "quorum_override": self.quorum_override,
            "config": self.config.to_dict(),
        }


@dataclass(frozen=True)
class PollClosed:
    poll_id: str
    at: datetime
    reason: CloseReason

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "poll_closed",
            "poll_id": self.poll_id,
            "at": iso(self.at),
            "reason": self.reason.value,
        }


@dataclass(frozen=True)
class PollQuorumChanged:
    poll_id: str
    at: datetime
    quorate: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "poll_quorum_changed",
            "poll_id": self.poll_id,
            "at": iso(self.at),
            "quorate": self.quorate,
        }


class Poll:
    """draft → open → closed. Every guard raises a precise ``InvalidState``."""

    def __init__(self, poll_id: str, config: PollConfig) -> None:
        if not isinstance(poll_id, str) or not poll_id:
            raise InvalidInput("poll_id must be a non-empty string", field="poll_id")
        self.poll_id = poll_id
        self.config = config
        self.state = PollState.DRAFT
        self.opened_at: datetime | None = None
        self.closed_at: datetime | None = None
        self.quorate: bool | None = None
        self.quorum_override = False

    def __repr__(self) -> str:
        return f"Poll({self.poll_id!r}, {self.state.value})"

    @classmethod
    def restore(
        cls,
        poll_id: str,
        config: PollConfig,
        *,
        opened_at: datetime | None,
        closed_at: datetime | None,
        quorate: bool | None,
        quorum_override: bool = False,
    ) -> Poll:
        """Rebuild a poll from its persisted ``poll_opened``/``poll_closed`` events."""
        poll = cls(poll_id, config)
        if closed_at is not None and opened_at is None:
            raise InvalidInput("a closed poll must have been opened", field="opened_at")
        if opened_at is not None:
            poll.state = PollState.OPEN
            poll.opened_at = require_utc(opened_at)
            poll.quorate = quorate
            poll.quorum_override = quorum_override
        if closed_at is not None:
            poll.state = PollState.CLOSED
            poll.closed_at = require_utc(closed_at)
        return poll

    @property
    def expires_at(self) -> datetime | None:
        if self.opened_at is None or self.config.time_limit_s is None:
            return None
        return self.opened_at + timedelta(seconds=self.config.time_limit_s)

    def is_expired(self, now: datetime) -> bool:
        """Open, with a time limit, and the limit reached: the caller should ``close``."""
        now = require_utc(now)
        expires_at = self.expires_at
        return self.state is PollState.OPEN and expires_at is not None and now >= expires_at

    def open(self, now: datetime, quorate: bool, override: bool = False) -> PollOpened:
        """Open the poll; refused without quorum unless the chair overrides."""
        now = require_utc(now)
        if self.state is PollState.OPEN:
            raise InvalidState("poll is already open", code="poll_already_open")
        if self.state is PollState.CLOSED:
            raise InvalidState("poll is closed", code="poll_closed")
        if not quorate and not override:
            raise InvalidState("no quorum: the chair must override to open", code="no_quorum")
        self.state = PollState.OPEN
        self.opened_at = now
        self.quorate = quorate
        self.quorum_override = not quorate
        return PollOpened(
            poll_id=self.poll_id,
            at=now,
            expires_at=self.expires_at,
            quorate=quorate,
            quorum_override=self.quorum_override,
            config=self.config,
        )

    def close(self, now: datetime) -> PollClosed:
        now = require_utc(now)
        if self.state is PollState.DRAFT:
            raise InvalidState("poll is not open", code="poll_not_open")
        if self.state is PollState.CLOSED:
            raise InvalidState("poll is closed", code="poll_closed")
        reason = CloseReason.TIME_LIMIT if self.is_expired(now) else CloseReason.MANUAL
        self.state = PollState.CLOSED
        self.closed_at = now
        return PollClosed(poll_id=self.poll_id, at=now, reason=reason)

    def note_quorum(self, now: datetime, quorate: bool) -> PollQuorumChanged | None:
        """Record quorum lost or regained while open; ``None`` when nothing changed."""
        now = require_utc(now)
        if self.state is not PollState.OPEN or quorate == self.quorate:
            return None
        self.quorate = quorate
        return PollQuorumChanged(poll_id=self.poll_id, at=now, quorate=quorate)

    def check_accepting(self, now: datetime) -> None:
        """Raise unless a ballot may be cast at ``now``."""
        if self.state is PollState.DRAFT:
            raise InvalidState("poll is not open yet", code="poll_not_open")
        if self.state is PollState.CLOSED or self.is_expired(now):
            raise InvalidState("poll is closed", code="poll_closed")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _typed(payload: Mapping[str, Any], name: str, kind: type, words: str, default: Any = None) -> Any:
    if name not in payload:
        return default
    value = payload[name]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise InvalidInput(f"{name} must be {words}", field=name)
    return value


def _check_candidates(options: object) -> None:
    if not isinstance(options, tuple) or not options:
        raise InvalidInput("an election needs at least one candidate", field="options")
    if len(options) > MAX_CANDIDATES:
        raise InvalidInput(f"at most {MAX_CANDIDATES} candidates", field="options")
    for name in options:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_CANDIDATE:
            raise InvalidInput(
                f"each candidate must be a non-empty string of at most {MAX_CANDIDATE}",
                field="options",
            )
    if len(set(options)) != len(options):
        raise InvalidInput("candidate names must be unique", field="options")
