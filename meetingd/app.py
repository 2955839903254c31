"""Assembles the daemon: storage, services, HTTP routes, Socket.IO, and serving."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import hashlib
import logging
import secrets
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import socketio
from aiohttp import web

from meeting.clock import Clock, utc_now
from signaling.fanout import client_manager, close_manager
from signaling.namespace import Limits, MeetingNamespace
from signaling.security import SecurityChannel
from signaling.server import make_server

from . import __version__
from .accounts import Accounts
from .cluster.health import cluster_node
from .cluster.routing import RoutedProcedure, RoutedSignaling
from .committee.http import add_committee_routes
from .committee.service import committee_services
from .config import Config
from .directory import Directory
from .displays import Displays
from .http import IMPORT_MAP_CSP, add_routes, error_middleware
from .http_displays import add_display_routes
from .http_minutes import add_minutes_routes
from .journal import Journal
from .keystore import load_or_create_server_key
from .media_wiring import install_media, media_key
from .meetings import Meetings
from .metrics import add_metrics_route
from .minutes import MinutesService
from .procedure import DATABASE_DOWN, Procedure
from .procedure_commands import bind_procedure
from .ratelimit import TokenBucket
from .recording import RecordingService
from .security.alerts import AlertRules
from .security.events import SecurityLog
from .security.http import add_security_routes
from .security.service import Security, SocketHooks
from .services import CoreServices, PublicOrigin, Services, SignalingBackend, services_key
from .storage.db import create_engine, create_read_engine, sessionmaker, upgrade_schema
from .tls import ssl_context
from .witness_push import Refusal, WitnessPusher, parse_witnesses

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


async def open_services(cfg: Config, clock: Clock = utc_now) -> CoreServices:
    """Storage and the services over it: what the CLI's commands need (no adapters)."""
    if not cfg.data_path.exists():  # keys, secrets and the database: owner only
        cfg.data_path.mkdir(parents=True, mode=0o700)
    db_file = cfg.data_path / "meetingd.db"
    if not cfg.database.url and not db_file.exists():
        db_file.touch(mode=0o600)  # SQLite gives its -wal and -shm files the same mode
    engine = create_engine(cfg.database_url, echo=cfg.database.echo)
    await upgrade_schema(engine)
    db = sessionmaker(engine)
    read_engine = create_read_engine(cfg.database_url, echo=cfg.database.echo)
    reads = sessionmaker(read_engine) if read_engine is not None else db
    secret_path = Path(cfg.auth.secret_key_file) if cfg.auth.secret_key_file else cfg.data_path / "secret.key"
    secret = server_secret(secret_path)
    journal = Journal(
        db,
        lambda: load_or_create_server_key(cfg, secret),
        cfg.minutes.origin_prefix,
        clock,
        cfg.minutes.checkpoint_seconds,
    )
    security_log = SecurityLog(db, clock, AlertRules(cfg.security))  # first: everything records
    accounts = Accounts(db, cfg.auth, secret, clock, events=security_log)
    origin = PublicOrigin(cfg.server.public_url, cfg.server.allowed_origins)
    committee = committee_services(db, journal, clock, cfg.minutes.origin_prefix, security_log)
    return CoreServices(
        config=cfg,
        engine=engine,
        read_engine=read_engine,
        db=db,
        clock=clock,
        accounts=accounts,
        directory=Directory(db, clock),
        meetings=Meetings(db, clock, journal, reads=reads),
        journal=journal,
        minutes=MinutesService(db, journal, clock, cfg, key_log=committee.log),  # enrolments: org log
        displays=Displays(db, clock),
        committee=committee,
        version=__version__,
        origin=origin,
        security=Security(
            db,
            cfg,
            secret,
            clock,
            accounts,
            security_log,
            origins=lambda: (origin.url, cfg.server.allowed_origins),
            reads=reads,
        ),
    )


def assemble(core: CoreServices, sio: socketio.AsyncServer) -> Services:
    """Build the live adapters over ``core``, each with what it needs, in order."""
    cfg, clock, lim = core.config, core.clock, core.config.limits
    cluster = cluster_node(cfg, core.db)  # None: one node
    namespace = MeetingNamespace(
        sio,
        SignalingBackend(core) if cluster is None else RoutedSignaling(core, cluster),
        Limits(
            lim.max_payload_bytes,
            lim.events_per_second,
            lim.event_burst,
            lim.chat_history,
            cfg.server.reconnect_grace_seconds,
        ),
        clock,
        core.origin_ok,
        lambda: TokenBucket(lim.events_per_second, lim.event_burst),
    )
    namespace.transient_errors = DATABASE_DOWN  # answered server_busy, not internal
    media = install_media(cfg, namespace, clock)
    recording = RecordingService(
        cfg.recordings_path,
        core.journal,
        clock,
        retention_days=cfg.recording.retention_days,
        queue_frames=cfg.recording.queue_frames,
    )
    media.use_recording(recording)
    procedure = Procedure(
        core.db,
        core.journal,
        clock,
        emit=namespace.emit_to_meeting,
        roster_of=namespace.roster,
        on_floor_given=media.unmute_speaker,
        ownership=cluster,
    )
    media.use_floor(procedure.floor_holder)  # a member shares a screen while holding the floor
    # several nodes: commands and roster changes for a meeting another node owns go there
    routed = RoutedProcedure(procedure, core.meetings, cluster) if cluster is not None else None
    if routed is not None:
        routed.use_media(media)  # and media: the owner's SFU, ICE straight to the owner
        routed.roster_of = namespace.roster
        namespace.add_join_extra(routed.roster_view)  # the join ack lists every node's members
    namespace.on_roster_change(procedure.on_roster if routed is None else routed.on_roster)
    hooks = SocketHooks(core.security)
    channel = SecurityChannel(namespace, hooks)  # step-up, live alerts, ended sessions
    core.security.log.on_alert(lambda alert: channel.push_alert(alert, core.security.chair_of))
    core.security.sessions.on_ended(channel.end_sessions)
    bind_procedure(namespace, procedure, hooks, routed)
    namespace.check_complete()  # every declared command has its handler
    witness_push = WitnessPusher(
        core.db,
        core.journal,
        parse_witnesses(cfg.minutes.witnesses),
        clock,
        retry_max_seconds=cfg.minutes.witness_retry_max_seconds,
    )
    core.journal.on_checkpoint(witness_push.checkpoint_signed)

    async def witness_refused(refusal: Refusal) -> None:  # security: a possible fork, an alert
        await core.security.log.record(
            "witness_refused_checkpoint",
            meeting_id=refusal.meeting_id,
            witness=refusal.witness,
            size=refusal.size,
            reason=refusal.reason,
        )

    witness_push.on_refusal(witness_refused)
    fields = {f.name: getattr(core, f.name) for f in dataclasses.fields(CoreServices)}
    return Services(
        **fields,
        namespace=namespace,
        procedure=procedure,
        media=media,
        recording=recording,
        witness_push=witness_push,
        cluster=cluster,
    )


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    if request.secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")


def build_app(cfg: Config, clock: Clock = utc_now) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=cfg.limits.max_payload_bytes)
    app.on_response_prepare.append(_security_headers)
    sio = make_server(
        async_mode="aiohttp",
        # Origin is checked in our connect handler, with a precise error.
        cors_allowed_origins="*",
        max_http_buffer_size=cfg.limits.max_payload_bytes * 2,
        ping_interval=10,
        ping_timeout=10,
        logger=False,
        engineio_logger=False,
        # several nodes: broadcasts through Redis, delivered encode-once on each (signaling/fanout.py)
        client_manager=client_manager(cfg.cluster.redis_url),
    )
    sio.attach(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        core = await open_services(cfg, clock)
        core.journal.key  # noqa: B018 - the server refuses to start without its minutes key
        svc = app[services_key] = assemble(core, sio)
        app[media_key], app[recording_key] = svc.media, svc.recording
        await svc.recording.prune()
        svc.journal.start()
        svc.witness_push.start()  # resumes what a previous run left queued
        if svc.cluster is not None:  # leases first: restoring open polls leases their meetings
            await svc.cluster.start(svc.procedure.live, svc.procedure.drop)
        await svc.procedure.start()
        yield
        await svc.procedure.stop()
        await svc.journal.stop()
        await svc.witness_push.stop()
        if svc.cluster is not None:
            await svc.cluster.stop()
        await svc.committee.figures.flush()  # cached copies being written
        await svc.dispose_engines()

    async def on_shutdown(app: web.Application) -> None:
        svc = app.get(services_key)
        if svc is None:  # start-up failed before the services existed
            return
        await svc.recording.close()  # finalize files and log their hashes while all is up
        await svc.media.close()
        await svc.namespace.shutdown()
        await close_manager(sio)

    app.on_shutdown.append(on_shutdown)

    app.cleanup_ctx.append(lifecycle)
    add_routes(app)
    add_minutes_routes(app)
    add_display_routes(app)
    add_security_routes(app)
    add_committee_routes(app)
    add_metrics_route(app)
    return app


# Young collections every 10,000 net allocations (not 700), the middle one every 10 of
# those, a full one considered every 50 of those: see freeze_startup_heap.
GC_THRESHOLDS = (10_000, 10, 50)


def freeze_startup_heap() -> None:
    """Take what start-up made (modules, the app, the services) out of the cyclic garbage
    collector's view: it is never garbage, and each full collection walked all of it.

    Measured in the vote bench's 1,000-member join storm (gc callbacks timing each pass):
    full (generation 2) collections every 2-3 s, each stalling the event loop 43-188 ms and
    growing with the heap, which put one 220 ms stall into the ballot acks' p99. Frozen,
    they still came (the connections' objects alone take 90-166 ms to walk); with the
    thresholds below none ran in the storm or the vote, and the longest pause seen was a
    middle-generation one of 50-80 ms. Called once, when the server is up.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def serve(cfg: Config, *, banner: list[str] | None = None) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully."""
    ctx, fp = ssl_context(cfg)
    app = build_app(cfg)
    scheme = "https" if ctx else "http"
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=cfg.server.shutdown_timeout_seconds
    )
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
    freeze_startup_heap()
    logger.info("listening url=%s", url)
    await stop.wait()
    logger.info("shutting down")
    await runner.cleanup()
    logger.info("stopped")
