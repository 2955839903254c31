"""Commands for a meeting owned by another node: sent to the owner over Redis, answered
through it (request/response with ids, bounded waits, precise errors).

Each node listens on ``meetingd:node:<node id>``. A request is one JSON message
``{"id", "from", "kind", "payload"}``; the owner runs it and publishes
``{"id", "ok": result}`` or ``{"id", "error": <error shape>}`` on the caller's channel.
The caller waits at most ``timeout_s``:

* ``owner_unreachable`` — nobody listens on the owner's channel (PUBLISH reached no
  subscriber: the node just died) or Redis is down; the client retries (a new owner
  takes the meeting within a few seconds);
* ``owner_timeout`` — the owner did not answer in time; the client retries with the
  same ballot id, which is idempotent.

Redis must be private to the cluster: a node trusts the member id another node sends
(that node authenticated the connection).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from meeting.errors import InvalidState, MeetingError, error_body
from signaling.fanout import redis_client

logger = logging.getLogger(__name__)

CHANNEL = "meetingd:node:"
Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class Forwarder:
    def __init__(self, redis_url: str, node_id: str, *, timeout_s: float = 5.0) -> None:
        self.node_id = node_id
        self.timeout_s = timeout_s
        self._redis = redis_client(redis_url, socket_connect_timeout=2)  # waits, never "too many"
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._handler: Handler | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.forwarded = 0  # requests sent to other nodes (metrics)
        self.served = 0  # requests served for other nodes
        self._ready = asyncio.Event()  # set once Redis has confirmed the subscription

    async def start(self, handler: Handler, *, ready_timeout_s: float = 5.0) -> None:
        """Listen on this node's channel; returns once Redis confirmed the subscription
        (a request published before that reaches nobody and fails as ``owner_unreachable``),
        or after ``ready_timeout_s`` with the listener still retrying (Redis down)."""
        self._handler = handler
        self._task = asyncio.ensure_future(self._listen())
        try:
            await asyncio.wait_for(self._ready.wait(), ready_timeout_s)
        except TimeoutError:
            logger.warning("node=%s forwarding channel not subscribed yet; still trying", self.node_id)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(InvalidState("this node is shutting down", code="server_busy"))
        await self._redis.aclose()

    async def call(self, owner: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Run ``kind`` at ``owner``; its result, or its error raised as a MeetingError."""
        request_id = uuid.uuid4().hex
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        message = {"id": request_id, "from": self.node_id, "kind": kind, "payload": payload}
        try:
            try:
                receivers = await self._redis.publish(CHANNEL + owner, json.dumps(message))
            except Exception as exc:  # Redis down or unreachable
                raise InvalidState(
                    f"cannot reach node {owner}: the cluster link is down ({exc})",
                    code="owner_unreachable",
                    owner=owner,
                    retry_after=1.0,
                ) from exc
            if receivers == 0:
                raise InvalidState(
                    f"node {owner} is not listening (it may just have stopped); retry",
                    code="owner_unreachable",
                    owner=owner,
                    retry_after=1.0,
                )
            self.forwarded += 1
            try:
                reply = await asyncio.wait_for(fut, self.timeout_s)
            except TimeoutError:
                raise InvalidState(
                    f"node {owner} did not answer in {self.timeout_s:g} s; retry",
                    code="owner_timeout",
                    owner=owner,
                    retry_after=1.0,
                ) from None
        finally:
            self._pending.pop(request_id, None)
        if "error" in reply:
            err = reply["error"]
            raise MeetingError(
                str(err.get("message", "")),
                code=str(err.get("error", "internal")),
                **dict(err.get("details", {})),
            )
        return dict(reply["ok"])

    async def _listen(self) -> None:
        retry = 0.5
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL + self.node_id)
                retry = 0.5
                async for message in pubsub.listen():
                    if message["type"] == "subscribe":  # the server has registered it
                        self._ready.set()
                    elif message["type"] == "message":
                        self._dispatch(json.loads(message["data"]))
            except asyncio.CancelledError:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            except Exception as exc:
                logger.warning(
                    "node=%s forwarding channel lost (%s); retrying in %s s", self.node_id, exc, retry
                )
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(retry)
                retry = min(retry * 2, 5.0)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "kind" not in message:  # a reply to one of ours
            fut = self._pending.get(str(message.get("id")))
            if fut is not None and not fut.done():
                fut.set_result(message)
            return
        task = asyncio.ensure_future(self._serve(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, message: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": message["id"]}
        try:
            assert self._handler is not None
            reply["ok"] = await self._handler(str(message["kind"]), dict(message["payload"]))
        except MeetingError as exc:
            reply["error"] = error_body(exc)
        except Exception:
            logger.exception("node=%s forwarded %s failed", self.node_id, message.get("kind"))
            reply["error"] = {
                "ok": False,
                "error": "internal",
                "message": "internal error; it has been logged",
            }
        self.served += 1
        try:
            await self._redis.publish(CHANNEL + str(message["from"]), json.dumps(reply))
        except Exception as exc:
            logger.warning("node=%s cannot answer node %s: %s", self.node_id, message.get("from"), exc)
