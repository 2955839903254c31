"""``meetingd witness``: this server as a C2SP tlog-witness for other servers' minutes.

``POST /add-checkpoint`` follows https://c2sp.org/tlog-witness (status codes in
:mod:`recorder.witness`). Per log origin the witness keeps the latest cosigned
(size, root) in its database; the check against it and the update happen under one lock
and in one transaction, so two requests can never roll the state back. A refused
checkpoint that might show a fork (root mismatch, bad consistency proof) is logged at
ERROR with the request, as evidence.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock, utc_now
from recorder.cosignature import Cosigner
from recorder.errors import NoteError
from recorder.note import SIG_ED25519, VerifierKey
from recorder.witness import MAX_BODY_BYTES, SIZE_CONTENT_TYPE, Latest, decide

from .config import Config, ConfigError
from .storage.db import create_engine, sessionmaker, upgrade_schema
from .storage.witness_models import WitnessedLog

logger = logging.getLogger(__name__)


def parse_log_keys(entries: list[str]) -> list[tuple[str, bytes]]:
    """``witness.logs``: ``[(origin prefix, raw Ed25519 public key)]``."""
    out = []
    for i, entry in enumerate(entries):
        parts = entry.split()
        try:
            if len(parts) != 2:
                raise ValueError("expected '<origin prefix> <base64 public key>'")
            raw = base64.b64decode(parts[1], validate=True)
            if len(raw) != 32:
                raise ValueError("the public key is not 32 bytes")
        except ValueError as exc:
            raise ConfigError(f"[witness] logs[{i}] {entry!r}: {exc}") from None
        out.append((parts[0].rstrip("/"), raw))
    return out


class Witness:
    """The witness's state and its one operation."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        name: str,
        key: Ed25519PrivateKey,
        logs: list[tuple[str, bytes]],
        clock: Clock = utc_now,
    ) -> None:
        self._db, self._clock = db, clock
        self.cosigner = Cosigner(name, key)
        self._logs = logs
        self._lock = asyncio.Lock()  # check-and-update is atomic (the spec's race)
        self.refusals = 0

    def keys_for(self, origin: str) -> list[VerifierKey]:
        prefix, _, number = origin.rpartition("/")
        if not number.isdigit():
            return []
        try:
            return [VerifierKey(origin, SIG_ED25519, raw) for p, raw in self._logs if p == prefix]
        except NoteError:
            return []

    async def add_checkpoint(self, body: bytes) -> tuple[int, str, str]:
        """``(status, body, content type)`` for one request."""
        async with self._lock, self._db() as s, s.begin():
            rows: dict[str, WitnessedLog] = {}

            def latest(origin: str) -> Latest | None:
                row = rows.get(origin)
                return None if row is None else Latest(row.size, base64.b64decode(row.root_hash))

            # read the one origin the body names (parsed again by decide)
            origin = _origin_of(body)
            if origin is not None:
                row = await s.get(WitnessedLog, origin)
                if row is not None:
                    rows[origin] = row
            decision = decide(body, self.keys_for, latest)
            if decision.status != 200:
                if decision.suspicious:
                    self.refusals += 1
                    logger.error(
                        "witness REFUSED origin=%s status=%s: %s (possible fork; request kept below)\n%s",
                        origin,
                        decision.status,
                        decision.message,
                        body.decode("utf-8", "replace"),
                    )
                else:
                    logger.info(
                        "witness refused origin=%s status=%s: %s", origin, decision.status, decision.message
                    )
                if decision.latest_size is not None and not decision.suspicious:
                    return 409, f"{decision.latest_size}\n", SIZE_CONTENT_TYPE
                return decision.status, decision.message + "\n", "text/plain"
            cp, note = decision.checkpoint, decision.note
            assert cp is not None and note is not None
            now = self._clock()
            row = rows.get(cp.origin)
            if row is None:
                s.add(
                    WitnessedLog(
                        origin=cp.origin,
                        size=cp.size,
                        updated_at=now,
                        root_hash=base64.b64encode(cp.root_hash).decode(),
                        note=note.encode(),
                    )
                )
            else:
                row.size, row.root_hash = cp.size, base64.b64encode(cp.root_hash).decode()
                row.note, row.updated_at = note.encode(), now
            sig = self.cosigner.cosign(note.text, int(now.timestamp()))
        logger.info("witness cosigned origin=%s size=%s", cp.origin, cp.size)
        return 200, sig.line(), "text/plain"


def _origin_of(body: bytes) -> str | None:
    _head, sep, note = body.partition(b"\n\n")
    if not sep:
        return None
    first = note.split(b"\n", 1)[0]
    try:
        return first.decode("utf-8") or None
    except UnicodeDecodeError:
        return None


witness_key = web.AppKey("witness", Witness)


async def add_checkpoint(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return web.Response(status=413, text=f"body larger than {MAX_BODY_BYTES} bytes\n")
    try:
        body = await request.content.read(MAX_BODY_BYTES + 1)
    except ValueError:
        return web.Response(status=413, text="body too large\n")
    if len(body) > MAX_BODY_BYTES:
        return web.Response(status=413, text=f"body larger than {MAX_BODY_BYTES} bytes\n")
    status, text, ctype = await request.app[witness_key].add_checkpoint(body)
    return web.Response(status=status, text=text, content_type=ctype, charset="utf-8")


def build_witness_app(cfg: Config) -> web.Application:
    from .keystore import load_or_create_witness_key

    if not cfg.witness.name:
        raise ConfigError(f"{cfg.source}: [witness] name is empty: this server is not a witness")
    logs = parse_log_keys(cfg.witness.logs)
    app = web.Application(client_max_size=MAX_BODY_BYTES + 1)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        cfg.data_path.mkdir(parents=True, exist_ok=True)
        engine = create_engine(cfg.database_url)
        await upgrade_schema(engine)
        app[witness_key] = Witness(
            sessionmaker(engine), cfg.witness.name, load_or_create_witness_key(cfg), logs
        )
        yield
        await engine.dispose()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/add-checkpoint", add_checkpoint)
    return app


async def serve_witness(cfg: Config) -> None:
    import signal

    app = build_witness_app(cfg)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, cfg.witness.host, cfg.witness.port)
    await site.start()
    port = runner.addresses[0][1]
    witness = app[witness_key]
    print(
        f"meetingd witness {witness.cosigner.name} listening on http://{cfg.witness.host}:{port}", flush=True
    )
    print(f"witness key {witness.cosigner.verifier_key.encode()}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
