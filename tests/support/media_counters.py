"""Absence measured on the server's own counters: "the SFU received more of the
publisher's frames and forwarded none of them to this subscriber".

A test that sleeps and then checks that nothing arrived also passes when the publisher
simply stopped sending; these helpers make the publisher's progress the condition.
"""

from __future__ import annotations

from typing import Any

from .polling import wait_for_async


async def counters(sfu: Any, subscriber: str, publisher: str, kind: str) -> tuple[int, int]:
    """(frames of ``publisher``'s ``kind`` the SFU received, frames it forwarded to ``subscriber``)."""
    pub = await sfu.stats(publisher)
    sub = await sfu.stats(subscriber)
    received = sum(t["frames"] for t in pub["publish"]["tracks"] if t["kind"] == kind)
    forwarded = sum(
        t["forwarded"]
        for t in sub["subscribe"]["tracks"]
        if t["kind"] == kind and t["publisher_id"] == publisher
    )
    return received, forwarded


async def assert_not_forwarded(
    sfu: Any, subscriber: str, publisher: str, kind: str, frames: int = 25, seconds: float = 15.0
) -> None:
    """While the SFU receives ``frames`` more frames of the publisher's ``kind``, it
    forwards none of them to ``subscriber`` (one already queued may still go out)."""

    async def received_at_least(n: int) -> bool:
        return (await counters(sfu, subscriber, publisher, kind))[0] >= n

    start, _ = await counters(sfu, subscriber, publisher, kind)
    # what was queued before the change drains while a few more frames come in
    await wait_for_async(
        lambda: received_at_least(start + 3), seconds, f"{publisher} {kind} to keep arriving"
    )
    settled, forwarded = await counters(sfu, subscriber, publisher, kind)
    await wait_for_async(
        lambda: received_at_least(settled + frames), seconds, f"{frames} more {publisher} {kind} frames"
    )
    _, after = await counters(sfu, subscriber, publisher, kind)
    assert after <= forwarded + 1, f"{after - forwarded} {kind} frames of {publisher} reached {subscriber}"
