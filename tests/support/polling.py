"""Bounded polling: wait for a condition, never a bare sleep before an assertion."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def wait_for(predicate: Callable[[], bool], seconds: float = 5.0, what: str = "condition") -> None:
    """Return as soon as ``predicate()`` is true; fail after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.02)


async def wait_for_async(
    predicate: Callable[[], Awaitable[bool]], seconds: float = 5.0, what: str = "condition"
) -> None:
    """:func:`wait_for` with an async predicate (e.g. one that reads server stats)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.02)
