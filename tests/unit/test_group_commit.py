"""Group commit (meetingd/group_commit.py): shared transactions, each caller its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from meetingd.group_commit import GroupCommit


class Store:
    """A write that takes a while (like a durable commit) and refuses negative items."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.rows: list[int] = []

    async def write(self, key: str, items: Sequence[int]) -> list[int]:
        await asyncio.sleep(0.01)
        if any(i < 0 for i in items):
            raise ValueError("negative")
        self.batches.append(list(items))
        self.rows.extend(items)
        return [i * 10 for i in items]


def test_writes_arriving_during_a_commit_share_the_next_one() -> None:
    async def run() -> tuple[Store, list[int]]:
        store = Store()
        gc: GroupCommit[str, int, int] = GroupCommit(store.write)
        results = await asyncio.gather(*(gc.submit("m1", i) for i in range(50)))
        return store, list(results)

    store, results = asyncio.run(run())
    assert results == [i * 10 for i in range(50)]
    assert sorted(store.rows) == list(range(50))
    assert store.rows == list(range(50)), "order of submission is kept"
    assert len(store.batches) <= 3, store.batches


def test_one_bad_write_fails_only_its_own_caller() -> None:
    async def run() -> tuple[Store, list[object]]:
        store = Store()
        gc: GroupCommit[str, int, int] = GroupCommit(store.write)
        first = asyncio.ensure_future(gc.submit("m1", 100))  # starts the first commit
        await asyncio.sleep(0)
        rest = [gc.submit("m1", i) for i in (1, -2, 3)]  # queued together for the next
        results = await asyncio.gather(first, *rest, return_exceptions=True)
        return store, list(results)

    store, results = asyncio.run(run())
    assert results[0] == 1000 and results[1] == 10 and results[3] == 30
    assert isinstance(results[2], ValueError)
    assert sorted(store.rows) == [1, 3, 100]


def test_keys_commit_independently_and_batches_are_bounded() -> None:
    async def run() -> Store:
        store = Store()
        gc: GroupCommit[str, int, int] = GroupCommit(store.write, max_batch=8)
        await asyncio.gather(*(gc.submit(f"m{i % 2}", i) for i in range(40)))
        await gc.drain()
        return store

    store = asyncio.run(run())
    assert sorted(store.rows) == list(range(40))
    assert all(len(b) <= 8 for b in store.batches)
    assert all(len({i % 2 for i in b}) == 1 for b in store.batches), "a batch holds one key's writes"


def test_a_write_that_miscounts_its_results_is_retried_one_by_one() -> None:
    async def short(key: str, items: Sequence[int]) -> list[int]:
        return [0]

    async def run() -> list[object]:
        gc: GroupCommit[str, int, int] = GroupCommit(short)
        return list(await asyncio.gather(*(gc.submit("k", i) for i in range(3)), return_exceptions=True))

    results = asyncio.run(run())
    # the first is alone in its batch (one result: fine); the next two share one and are retried alone
    assert results[0] == 0 and results[1:] == [0, 0]


def test_a_caller_that_stops_waiting_does_not_undo_the_others() -> None:
    async def run() -> tuple[Store, int]:
        store = Store()
        gc: GroupCommit[str, int, int] = GroupCommit(store.write)
        a = asyncio.ensure_future(gc.submit("m", 1))
        b = asyncio.ensure_future(gc.submit("m", 2))
        await asyncio.sleep(0)
        a.cancel()
        got = await b
        await gc.drain()
        return store, got

    store, got = asyncio.run(run())
    assert got == 20
    assert 2 in store.rows


@pytest.mark.parametrize("n", [1, 300])
def test_every_submitter_gets_an_answer(n: int) -> None:
    async def run() -> list[int]:
        gc: GroupCommit[str, int, int] = GroupCommit(Store().write)
        return list(await asyncio.gather(*(gc.submit("m", i) for i in range(n))))

    assert asyncio.run(run()) == [i * 10 for i in range(n)]


def test_a_posted_write_returns_at_once_commits_with_the_batch_and_a_failure_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def run() -> tuple[Store, list[int]]:
        store = Store()
        gc: GroupCommit[str, int, int] = GroupCommit(store.write)
        gc.post("m1", 1)
        gc.post("m1", -1)  # fails alone, logged: nobody is waiting to be told
        waited = await asyncio.gather(gc.submit("m1", 2), gc.submit("m1", 3))
        await gc.drain()
        return store, list(waited)

    store, waited = asyncio.run(run())
    assert waited == [20, 30]
    assert sorted(store.rows) == [1, 2, 3], store.rows
    assert "a posted write failed: negative" in caplog.text
