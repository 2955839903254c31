"""The kept fold gives exactly the full fold's figures, whatever order meetings close in."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from recorder.committee_fold import CommitteeFold
from recorder.facts import ATTENDANCE_MODES
from recorder.participation import MeetingSummary, PollSummary, committee_figures

CELLS = ["Cell A", "Cell B", "Cell C"]
START, END = "2025-01-01", "2025-12-31"


def _summary(rng: random.Random, n: int, people: dict[str, str]) -> MeetingSummary:
    cell = rng.choice([*CELLS, "Cell elsewhere"])
    mine = [m for m, c in people.items() if c == cell or rng.random() < 0.05]  # a few transferred
    entitled = tuple(sorted(rng.sample(mine, k=min(len(mine), rng.randint(0, 6)))))
    attended = {m: rng.choice(ATTENDANCE_MODES) for m in entitled if rng.random() < 0.6}
    excused = tuple(m for m in entitled if m not in attended and rng.random() < 0.3)
    month = rng.randint(0, 13)  # 0 and 13: outside the period
    day = f"{2024 + (month > 0) + (month > 12)}-{(month - 1) % 12 + 1:02d}-{rng.randint(1, 3):02d}"
    voters_pool = [*entitled, *rng.sample(sorted(people), k=2), "X-NEVER-ENTITLED"]
    polls = tuple(
        PollSummary(
            f"p{i}",
            rng.random() < 0.5,
            len(entitled),
            tuple(sorted(rng.sample(voters_pool, k=rng.randint(0, len(voters_pool))))),
            rng.randint(0, 2),
        )
        for i in range(rng.randint(0, 3))
    )
    return MeetingSummary(
        meeting_id=str(n),
        cell=cell,
        opened_at=f"{day}T0{rng.randint(7, 9)}:00:00Z",
        closed_at=None if rng.random() < 0.1 else f"{day}T11:00:00Z",
        quorate=rng.random() < 0.7,
        entitled=entitled,
        attended=attended,
        excused=excused,
        speeches={m: rng.randint(1, 3) for m in entitled if rng.random() < 0.4},
        polls=polls,
        names={
            m: f"Name {m}{' (renamed)' if rng.random() < 0.2 else ''}" for m in entitled if rng.random() < 0.9
        },
    )


def _dump(figures: dict[str, Any]) -> str:
    return json.dumps(figures, ensure_ascii=False, separators=(",", ":"))


def _extend(
    fold: CommitteeFold, added: dict[str, MeetingSummary], everything: dict[str, MeetingSummary]
) -> None:
    history = {k: everything[k] for k in fold.needs(added)}
    fold.apply(added, history=history)


@pytest.mark.parametrize("seed", range(25))
def test_meetings_added_in_any_order_and_replaced_give_the_full_folds_figures(seed: int) -> None:
    rng = random.Random(seed)
    people = {f"M{i:02d}": rng.choice(CELLS) for i in range(18)}
    final = {str(n): _summary(rng, n, people) for n in range(40)}
    # a summary first stored from a shorter log, then updated (its row recomputed)
    earlier = {
        k: _summary(random.Random(seed * 100 + int(k)), int(k), people) for k in rng.sample(sorted(final), 6)
    }
    earlier = {
        k: MeetingSummary.from_dict({**s.to_dict(), "cell": final[k].cell}) for k, s in earlier.items()
    }
    kwargs: dict[str, Any] = {
        "cells": CELLS,
        "scheduled": {"Cell A": 3, "Cell B": 1},
        "start": START,
        "end": END,
    }
    want = committee_figures(list(final.values()), absent_run=2, **kwargs)
    fold = CommitteeFold(CELLS, START, END)
    order = list(final)
    rng.shuffle(order)
    current: dict[str, MeetingSummary] = {}
    for i, key in enumerate(order):
        first = earlier.get(key, final[key])
        current[key] = first
        _extend(fold, {key: first}, current)
        if i == len(order) // 2:  # a new process goes on from the stored fold
            fold = CommitteeFold.from_dict(json.loads(json.dumps(fold.to_dict())))
        if rng.random() < 0.2:  # a check on the way: equal to the full fold of what is in
            sofar = committee_figures(list(current.values()), absent_run=2, **kwargs)
            assert _dump(fold.figures(kwargs["scheduled"], 2)) == _dump(sofar)
    for key in earlier:  # the updated summaries replace the first ones
        current[key] = final[key]
        _extend(fold, {key: final[key]}, current)
    assert _dump(fold.figures(kwargs["scheduled"], 2)) == _dump(want)
    page = {k: v for k, v in want.items() if k not in ("members", "polls")}
    assert _dump(fold.figures(kwargs["scheduled"], 2, rows=False)) == _dump(page)

    gone = rng.sample(sorted(final), 5)  # and meetings leave the fold (out of the period now)
    history = {k: final[k] for k in fold.needs({}, gone)}
    fold.apply({}, gone, history=history)
    rest = [s for k, s in final.items() if k not in gone]
    assert _dump(fold.figures(kwargs["scheduled"], 2)) == _dump(
        committee_figures(rest, absent_run=2, **kwargs)
    )


def test_a_meeting_after_everything_its_people_have_needs_no_other_summary() -> None:
    rng = random.Random(7)
    people = {f"M{i:02d}": "Cell A" for i in range(8)}
    summaries = sorted(
        (s for s in (_summary(rng, n, people) for n in range(30)) if s.cell == "Cell A"),
        key=lambda s: (s.opened_at, s.meeting_id),
    )
    fold = CommitteeFold(CELLS, START, END)
    for s in summaries:
        assert fold.needs({s.meeting_id: s}) == set()
        fold.apply({s.meeting_id: s})
    assert fold.refolded == 0
    # replaced: its people are refolded from their own meetings only
    late = next(s for s in summaries if fold.meetings[s.meeting_id]["counted"] and len(s.entitled) > 2)
    needed = fold.needs({late.meeting_id: late})
    assert needed and late.meeting_id not in needed
    theirs = set(late.entitled) | {v for p in late.polls for v in p.voters}
    assert all(theirs & set(fold.meetings[k]["people"]) for k in needed)


def test_a_stored_fold_of_other_formats_is_refused() -> None:
    stored = CommitteeFold(CELLS, START, END).to_dict()
    with pytest.raises(ValueError, match="fold"):
        CommitteeFold.from_dict({**stored, "summary_format": "meetingd-meeting-summary/v1"})


@pytest.mark.parametrize("seed", range(6))
def test_a_fold_moved_to_another_period_gives_that_periods_full_fold(seed: int) -> None:
    rng = random.Random(seed)
    people = {f"M{i:02d}": rng.choice(CELLS) for i in range(12)}
    every = {str(n): _summary(rng, n, people) for n in range(40)}
    fold = CommitteeFold(CELLS, START, END)
    fold.apply(every)
    later = ("2025-03-02", "2026-01-31")  # the page's default period, a few weeks on
    gone = fold.moved_to(*later)
    fold.apply({}, gone, history={k: every[k] for k in fold.needs({}, gone)})
    back = {k: s for k, s in every.items() if k not in fold.meetings}  # now counted: added again
    fold.apply(back, history={k: every[k] for k in fold.needs(back)})
    want = committee_figures(list(every.values()), cells=CELLS, scheduled={}, start=later[0], end=later[1])
    assert _dump(fold.figures({}, 3)) == _dump(want)
