"""Shared steps of the procedure and vote tests."""

from __future__ import annotations

import uuid
from typing import Any

from .conftest import Member, wait_for

MOTION = {"question": "Adopt the budget?", "options": "yes_no_abstain"}


def ballot_id() -> str:
    return uuid.uuid4().hex


async def open_meeting(
    sign_in: Any, *members: str, attendance: str = "remote"
) -> tuple[Member, list[Member]]:
    """The chair opens meeting 1 and joins; ``members`` join (and so are present)."""
    chair = await sign_in("C1-CHAIR")
    status, body = await chair.call("POST", "/api/meetings/1/open")
    assert status == 200, body
    assert (await chair.join())["ok"]
    joined = []
    for mid in members:
        m = await sign_in(mid)
        ack = await m.join(attendance=attendance)
        assert ack["ok"], ack
        joined.append(m)
    return chair, joined


async def quorate_meeting(sign_in: Any) -> tuple[Member, list[Member]]:
    """Chair + 6 members online: 7 of 10 voting members (quorate by default)."""
    return await open_meeting(sign_in, *[f"C1-00{i}" for i in range(1, 7)])


async def open_poll(chair: Member, config: dict[str, Any] | None = None, **extra: Any) -> int:
    ack = await chair.emit("create_poll", {"config": config or MOTION})
    assert ack["ok"], ack
    poll_id = int(ack["poll"]["poll_id"])
    ack = await chair.emit("open_poll", {"poll_id": poll_id, **extra})
    assert ack["ok"], ack
    return poll_id


async def seen(member: Member, event: str, pred: Any = lambda d: True, seconds: float = 5.0) -> Any:
    await wait_for(lambda: any(pred(d) for d in member.seen(event)), seconds)
    return [d for d in member.seen(event) if pred(d)][-1]
