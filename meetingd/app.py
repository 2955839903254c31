"""Assembles the daemon: storage, services, HTTP routes, Socket.IO, and serving."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import socketio
from aiohttp import web

from meeting.clock import Clock, utc_now
from signaling.namespace import Limits, MeetingNamespace
from signaling.procedure import register_procedure

from . import __version__
from .accounts import Accounts
from .config import Config
from .directory import Directory
from .http import IMPORT_MAP_CSP, add_routes, error_middleware
from .http_minutes import add_minutes_routes
from .journal import Journal
from .keystore import load_or_create_server_key
from .media_wiring import install_media, media_key
from .meetings import Meetings
from .procedure import Procedure
from .ratelimit import TokenBucket
from .recording import RecordingService
from .services import Services, SignalingBackend, services_key
from .storage.db import create_engine, sessionmaker, upgrade_schema
from .tls import ssl_context

logger = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "connect-src 'self' ws: wss:; style-src 'self'; "
        f"script-src 'self' {IMPORT_MAP_CSP}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
}


recording_key = web.AppKey("recording", RecordingService)


def server_secret(path: Path) -> bytes:
    """The server secret (signs invitation links): created once, mode 0600."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    data = path.read_bytes()
    if len(data) < 32:
        raise ValueError(f"{path}: server secret is shorter than 32 bytes")
    return hashlib.sha256(data).digest()


async def open_services(cfg: Config, clock: Clock = utc_now) -> Services:
    cfg.data_path.mkdir(parents=True, exist_ok=True)
    engine = create_engine(cfg.database_url, echo=cfg.database.echo)
    await upgrade_schema(engine)
    db = sessionmaker(engine)
    secret_path = Path(cfg.auth.secret_key_file) if cfg.auth.secret_key_file \
        else cfg.data_path / "secret.key"
    secret = server_secret(secret_path)
    journal = Journal(db, load_or_create_server_key(cfg, secret), cfg.minutes.origin_prefix,
                      clock, cfg.minutes.checkpoint_seconds)
    return Services(
        config=cfg, engine=engine, db=db, clock=clock,
        accounts=Accounts(db, cfg.auth, secret, clock),
        directory=Directory(db, clock), meetings=Meetings(db, clock, journal),
        journal=journal, version=__version__,
    )


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    if request.secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")


def build_app(cfg: Config, clock: Clock = utc_now) -> web.Application:
    app = web.Application(middlewares=[error_middleware],
                          client_max_size=cfg.limits.max_payload_bytes)
    app.on_response_prepare.append(_security_headers)
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        # Origin is checked in our connect handler, with a precise error.
        cors_allowed_origins="*",
        max_http_buffer_size=cfg.limits.max_payload_bytes * 2,
        ping_interval=10, ping_timeout=10,
        logger=False, engineio_logger=False,
    )
    sio.attach(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        svc = await open_services(cfg, clock)
        app[services_key] = svc
        svc.public_url = cfg.server.public_url.rstrip("/")
        lim = cfg.limits
        svc.namespace = MeetingNamespace(
            sio, SignalingBackend(svc),
            Limits(lim.max_payload_bytes, lim.events_per_second, lim.event_burst,
                   lim.chat_history, cfg.server.reconnect_grace_seconds),
            clock, svc.origin_ok, lambda: TokenBucket(lim.events_per_second, lim.event_burst))
        svc.procedure = Procedure(svc.db, svc.journal, clock)
        svc.procedure.emit = svc.namespace.emit_to_meeting
        svc.procedure.roster_of = svc.namespace.roster
        svc.namespace.on_roster_change(svc.procedure.on_roster)
        register_procedure(svc.namespace, svc.procedure)
        app[media_key] = install_media(cfg, svc.namespace, clock)
        svc.procedure.on_floor_given = app[media_key].unmute_speaker
        recording = app[recording_key] = RecordingService(
            cfg.recordings_path, svc.journal, clock,
            retention_days=cfg.recording.retention_days,
            queue_frames=cfg.recording.queue_frames)
        app[media_key].use_recording(recording)
        svc.recording = recording
        await recording.prune()
        svc.journal.start()
        await svc.procedure.start()
        yield
        await svc.procedure.stop()
        await svc.journal.stop()
        await svc.engine.dispose()

    async def on_shutdown(app: web.Application) -> None:
        recording = app.get(recording_key)
        if recording is not None:  # finalize files and log their hashes while all is up
            await recording.close()
        media = app.get(media_key)
        if media is not None:
            await media.close()
        namespace = app[services_key].namespace
        if namespace is not None:
            await namespace.shutdown()

    app.on_shutdown.append(on_shutdown)

    app.cleanup_ctx.append(lifecycle)
    add_routes(app)
    add_minutes_routes(app)
    return app



async def serve(cfg: Config, *, banner: list[str] | None = None) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully."""
    ctx, fp = ssl_context(cfg)
    app = build_app(cfg)
    scheme = "https" if ctx else "http"
    runner = web.AppRunner(app, handle_signals=False, access_log=None,
                           shutdown_timeout=cfg.server.shutdown_timeout_seconds)
    await runner.setup()
    site = web.TCPSite(runner, cfg.server.host, cfg.server.port, ssl_context=ctx)
    await site.start()
    port = runner.addresses[0][1]
    url = cfg.server.public_url.rstrip("/") or f"{scheme}://{cfg.server.host}:{port}"
    app[services_key].public_url = url
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"meetingd {__version__} listening on {url}", flush=True)
    if fp:
        print(f"TLS certificate SHA-256 fingerprint: {fp}", flush=True)
    for line in banner or []:
        print(line, flush=True)
    logger.info("listening url=%s", url)
    await stop.wait()
    logger.info("shutting down")
    await runner.cleanup()
    logger.info("stopped")
