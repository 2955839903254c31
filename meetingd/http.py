"""HTTP adapter: JSON API routes, the error middleware and the static web client."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import text

from meeting.clock import iso
from meeting.errors import (
    INTERNAL_ERROR,
    Conflict,
    InvalidInput,
    InvalidState,
    MeetingError,
    NotAuthenticated,
    NotAuthorised,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    error_body,
)
from signaling import wire_json
from signaling.fanout import redis_ok
from signaling.fields import read_object

from .cluster.health import cluster_health
from .directory import STATUSES, check_member_id, check_text, member_dict
from .security.devices import ensure_device_cookie
from .services import Services, services_key
from .storage.models import Cell, Member

logger = logging.getLogger(__name__)

SESSION_COOKIE = "meetingd_session"
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
SOCKETIO_CLIENT = WEB_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
NOBLE_PACKAGES = {
    # ES modules of @noble/curves (ristretto255 for secret ballots, web/js/e2e-group.js) and of
    # @noble/hashes, which it imports; the import map in index.html points at these.
    "noble-curves": WEB_DIR / "node_modules" / "@noble" / "curves",
    "noble-hashes": WEB_DIR / "node_modules" / "@noble" / "hashes",
}


def _import_map_source() -> str:
    """The CSP source allowing index.html's inline import map (and nothing else inline)."""
    found = re.search(
        r'<script type="importmap">(.*?)</script>', (WEB_DIR / "index.html").read_text(), re.DOTALL
    )
    if found is None:
        return ""
    digest = base64.b64encode(hashlib.sha256(found.group(1).encode("utf-8")).digest()).decode()
    return f"'sha256-{digest}'"


IMPORT_MAP_CSP = _import_map_source()
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

routes = web.RouteTableDef()


# -- errors, origin, payloads ---------------------------------------------------------------


HTTP_STATUS: tuple[tuple[type[MeetingError], int], ...] = (
    (InvalidInput, 400),
    (NotAuthenticated, 401),
    (NotAuthorised, 403),
    (NotFound, 404),
    (InvalidState, 409),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (RateLimited, 429),
)


def http_status(exc: MeetingError) -> int:
    """The ONE place a domain error becomes an HTTP status (by its class; 400 otherwise)."""
    for cls, status in HTTP_STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def _json_error(exc: MeetingError) -> web.Response:
    headers = {}
    if exc.code == "rate_limited":
        headers["Retry-After"] = str(int(exc.details.get("retry_after", 1)) + 1)
    return web.json_response(error_body(exc), status=http_status(exc), headers=headers)


def bearer_token(request: web.Request) -> str | None:
    """``Authorization: Bearer <session token>``: how a non-browser client authenticates."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def session_token(request: web.Request) -> str | None:
    """The caller's session token: the bearer token if given, else the session cookie."""
    return bearer_token(request) or request.cookies.get(SESSION_COOKIE)


def check_origin(request: web.Request, svc: Services) -> None:
    """The CSRF rule for state-changing requests: a browser's request carries an allowed
    ``Origin``; a request with no ``Origin`` must carry an explicit bearer token (an API
    or CLI client; a browser never adds one on its own)."""
    origin = request.headers.get("Origin")
    if origin is None:
        if bearer_token(request) is None:
            raise NotAuthorised(
                "request refused: no Origin header (a non-browser client authenticates with "
                "'Authorization: Bearer <session token>')",
                code="origin_required",
            )
        return
    if not svc.origin_ok(origin):
        raise NotAuthorised(f"cross-origin request refused (Origin {origin!r} is not allowed)")


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    svc = request.app[services_key]
    try:
        if request.method in UNSAFE:
            check_origin(request, svc)
        return await handler(request)
    except MeetingError as exc:
        return _json_error(exc)
    except web.HTTPRequestEntityTooLarge:
        return _json_error(
            PayloadTooLarge(f"body is larger than {svc.config.limits.max_payload_bytes} bytes")
        )
    except web.HTTPNotFound:
        if request.path.startswith("/api/"):
            return _json_error(NotFound(f"no endpoint {request.method} {request.path}"))
        raise
    except web.HTTPMethodNotAllowed as exc:
        return web.json_response(
            {
                "ok": False,
                "error": "invalid_input",
                "message": f"method {request.method} not allowed here",
                "details": {"allowed": sorted(exc.allowed_methods)},
            },
            status=405,
        )
    except web.HTTPException:
        raise
    except Exception:
        logger.exception("request %s %s failed", request.method, request.path)
        return web.json_response(INTERNAL_ERROR, status=500)


async def read_json(request: web.Request, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if (
        request.content_length is not None
        and request.content_length > request.app[services_key].config.limits.max_payload_bytes
    ):
        raise PayloadTooLarge("body is too large")
    try:
        body = wire_json.loads(await request.text())
    except (ValueError, UnicodeDecodeError) as exc:  # not JSON, or nested beyond recursion
        raise InvalidInput(f"body must be valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object")
    wire_json.check_value(body)  # nesting, huge numbers, NaN, lone surrogates: naming the field
    return read_object(body, allowed, required)


def _str(body: dict[str, Any], name: str, *, max_len: int = 200) -> str:
    return check_text(body[name], name, max_len=max_len)


def _int(body: dict[str, Any], name: str) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInput(f"'{name}' must be a positive integer", field=name)
    return value


def _bool(body: dict[str, Any], name: str) -> bool:
    if not isinstance(body[name], bool):
        raise InvalidInput(f"'{name}' must be true or false", field=name)
    return bool(body[name])


def _path_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 15:
        raise NotFound(f"no such {name.replace('_', ' ')} {raw!r}")
    return int(raw)


def _ok(**fields: Any) -> web.Response:
    return web.json_response({"ok": True, **fields})


async def signed_in(request: web.Request) -> Member:
    return await request.app[services_key].accounts.session_member(session_token(request))


async def admin(request: web.Request) -> Member:
    member = await signed_in(request)
    if not member.is_admin:
        raise NotAuthorised("administrators only")
    return member


async def me_dict(svc: Services, m: Member) -> dict[str, Any]:
    async with svc.db() as s:
        cell = await s.get(Cell, m.cell_id)
    return {
        "member_id": m.member_id,
        "full_name": m.full_name,
        "cell": {"id": m.cell_id, "name": cell.name if cell else ""},
        "is_admin": m.is_admin,
        "language": m.language,
    }


def _set_session(request: web.Request, resp: web.Response, token: str) -> None:
    svc = request.app[services_key]
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        path="/",
        secure=svc.config.server.tls != "off",
        max_age=int(svc.config.auth.session_hours * 3600),
    )


# -- operations ---------------------------------------------------------------------------


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    svc = request.app[services_key]
    try:
        async with svc.db() as s:
            await s.execute(text("SELECT 1"))
        db = "ok"
    except Exception:
        logger.exception("health check: database")
        db = "error"
    status = 200 if db == "ok" else 503
    body = {
        "ok": db == "ok",
        "status": "ok" if db == "ok" else "degraded",
        "version": svc.version,
        "database": db,
    }
    if svc.cluster is not None:  # several nodes: Redis, this node's lease connection, its meetings
        body |= await cluster_health(svc.cluster, await redis_ok(svc.namespace.sio))
        if body["leases"] != "ok":  # cannot own meetings: send clients elsewhere
            status, body["ok"] = 503, False
        if body["redis"] != "ok" or body["leases"] != "ok":  # its own meetings are still served
            body["status"] = "degraded"
    return web.json_response(body, status=status)


# -- sign-in ------------------------------------------------------------------------------


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, {"member_id", "password"}, {"member_id", "password"})
    if not isinstance(body["member_id"], str) or not isinstance(body["password"], str):
        raise InvalidInput("member_id and password must be strings")
    if len(body["member_id"]) > 64 or len(body["password"]) > 1000:
        raise InvalidInput("member_id or password is too long")
    svc = request.app[services_key]
    # Security: once a member has a second factor, a right password only earns a challenge
    # for POST /api/login/code (meetingd/security/signin.py).
    step = await svc.security.sign_in.password(
        body["member_id"].strip(),
        body["password"],
        request.remote or "?",
        request.headers.get("User-Agent", ""),
    )
    if step.session_token is None:
        return _ok(second_factor={"challenge": step.challenge, "methods": step.methods})
    resp = _ok(member=await me_dict(svc, step.member))
    _set_session(request, resp, step.session_token)
    ensure_device_cookie(request, resp, svc.config.server.tls != "off")  # security: devices
    return resp


@routes.post("/api/logout")
async def logout(request: web.Request) -> web.Response:
    await signed_in(request)
    await request.app[services_key].accounts.logout(session_token(request))
    resp = _ok()
    resp.del_cookie(SESSION_COOKIE, path="/")
    return resp


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    return _ok(member=await me_dict(request.app[services_key], await signed_in(request)))


@routes.put("/api/me/language")
async def set_language(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"language"}, {"language"})
    if body["language"] not in ("en", "vi"):
        raise InvalidInput("language must be 'en' or 'vi'", field="language")
    svc = request.app[services_key]
    updated = await svc.directory.update(member.member_id, {"language": body["language"]})
    return _ok(member=await me_dict(svc, updated))


@routes.get("/api/invitations/{token}")
async def check_invitation(request: web.Request) -> web.Response:
    inv, member = await request.app[services_key].accounts.check_invitation(request.match_info["token"])
    return _ok(member_id=member.member_id, full_name=member.full_name, expires_at=iso(inv.expires_at))


@routes.post("/api/invitations/accept")
async def accept_invitation(request: web.Request) -> web.Response:
    body = await read_json(request, {"token", "password"}, {"token", "password"})
    if not isinstance(body["token"], str) or not isinstance(body["password"], str):
        raise InvalidInput("token and password must be strings")
    svc = request.app[services_key]
    member, token = await svc.accounts.accept_invitation(body["token"], body["password"])
    await svc.security.sessions.describe(
        token,
        member,
        request.remote or "?",  # security
        request.headers.get("User-Agent", ""),
        "invitation",
    )
    resp = _ok(member=await me_dict(svc, member))
    _set_session(request, resp, token)
    return resp


@routes.post("/api/socket-token")
async def socket_token(request: web.Request) -> web.Response:
    svc = request.app[services_key]
    token = await svc.accounts.mint_socket_token(await signed_in(request))
    # security: the socket knows its session (step-up on socket commands, ending sessions)
    await svc.security.sessions.link_socket_token(
        token,
        (session_token(request) or ""),
        svc.clock() + timedelta(seconds=svc.config.auth.socket_token_seconds),
    )
    return _ok(token=token, expires_in=svc.config.auth.socket_token_seconds)


# -- meetings ---------------------------------------------------------------------------


@routes.get("/api/meetings")
async def list_meetings(request: web.Request) -> web.Response:
    return _ok(meetings=await request.app[services_key].meetings.list_for(await signed_in(request)))


@routes.get("/api/meetings/{meeting_id}")
async def get_meeting(request: web.Request) -> web.Response:
    member = await signed_in(request)
    return _ok(
        meeting=await request.app[services_key].meetings.detail(_path_int(request, "meeting_id"), member)
    )


MEETING_FIELDS = {"title", "cell_id", "place", "starts_at", "agenda", "chair", "secretary", "guests", "sites"}


@routes.post("/api/meetings")
async def create_meeting(request: web.Request) -> web.Response:
    caller = await admin(request)
    body = await read_json(request, MEETING_FIELDS, {"title", "cell_id", "starts_at", "chair", "secretary"})
    try:
        starts_at = datetime.fromisoformat(str(body["starts_at"]).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("starts_at must be an ISO-8601 time", field="starts_at") from None
    if starts_at.tzinfo is None:
        raise InvalidInput("starts_at must carry a time zone (e.g. a trailing Z)", field="starts_at")
    agenda = body.get("agenda", [])
    if (
        not isinstance(agenda, list)
        or len(agenda) > 100
        or not all(isinstance(a, str) and a.strip() and len(a) <= 500 for a in agenda)
    ):
        raise InvalidInput("agenda must be a list of at most 100 non-empty titles", field="agenda")
    guests = body.get("guests", [])
    if not isinstance(guests, list):
        raise InvalidInput("guests must be a list of member ids", field="guests")
    sites = body.get("sites", [])
    if not isinstance(sites, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in sites):
        raise InvalidInput("sites must be a list of site ids", field="sites")
    req = {
        "title": _str(body, "title", max_len=300),
        "cell_id": _int(body, "cell_id"),
        "place": check_text(body.get("place", ""), "place", max_len=300, required=False),
        "starts_at": starts_at,
        "agenda": [a.strip() for a in agenda],
        "chair": check_member_id(body["chair"]),
        "secretary": check_member_id(body["secretary"]),
        "guests": [check_member_id(g) for g in guests],
        "sites": sites,
    }
    svc = request.app[services_key]
    meeting_id = await svc.meetings.create(req)
    logger.info("meeting created id=%s by=%s", meeting_id, caller.member_id)
    return _ok(meeting=await svc.meetings.detail(meeting_id, caller))


async def _change_state(request: web.Request, action: str) -> web.Response:
    member = await signed_in(request)
    if request.can_read_body:
        await read_json(request, set(), set())  # no fields: refuse anything unexpected
    svc = request.app[services_key]
    meeting_id = _path_int(request, "meeting_id")
    if action == "close":
        await svc.meetings.require_chair(meeting_id, member, action)
        await svc.security.require_step_up(
            member, session_token(request), role="officer", action="close the meeting"
        )
        # Closing a meeting closes its polls and stops its recording first, so the
        # results and the files' hashes are in the minutes before meeting_closed.
        await svc.procedure.close_open_polls(meeting_id, by=member.member_id)
        await svc.recording.stop(meeting_id, member.member_id, "meeting_closed", missing_ok=True)
    meeting = await svc.meetings.change_state(meeting_id, action, member)
    logger.info("meeting %s id=%s by=%s", action, meeting["id"], member.member_id)
    await svc.namespace.meeting_state_changed(meeting)
    return _ok(meeting=meeting)


@routes.post("/api/meetings/{meeting_id}/open")
async def open_meeting(request: web.Request) -> web.Response:
    return await _change_state(request, "open")


@routes.post("/api/meetings/{meeting_id}/close")
async def close_meeting(request: web.Request) -> web.Response:
    return await _change_state(request, "close")


@routes.get("/api/meetings/{meeting_id}/participation")
async def meeting_participation(request: web.Request) -> web.Response:
    from .participation import participation

    member = await signed_in(request)
    svc = request.app[services_key]
    async with svc.db() as s:
        figures = await participation(s, _path_int(request, "meeting_id"), member, svc.clock())
    return _ok(participation=figures)


# -- admin: members ---------------------------------------------------------------------


def _member_fields(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "full_name" in body:
        out["full_name"] = _str(body, "full_name")
    if "cell_id" in body:
        out["cell_id"] = _int(body, "cell_id")
    if "contact" in body:
        out["contact"] = check_text(body["contact"], "contact", max_len=200, required=False)
    if "status" in body:
        if body["status"] not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
        out["status"] = body["status"]
    if "is_admin" in body:
        out["is_admin"] = _bool(body, "is_admin")
    return out


async def _admin_step_up(request: web.Request, caller: Member, action: str) -> None:
    await request.app[services_key].security.require_step_up(
        caller, session_token(request), role="admin", action=action
    )


async def _admin_changed(
    request: web.Request, caller: Member, target: str, change: str, **details: Any
) -> None:
    """Every admin change to a member is a security event (the bulk-changes rule counts them)."""
    await request.app[services_key].security.log.record(
        "admin_member_changed",
        member_id=caller.member_id,
        address=request.remote or "?",
        target=target,
        change=change,
        **details,
    )


@routes.get("/api/admin/members")
async def admin_members(request: web.Request) -> web.Response:
    await admin(request)
    members, cells = await request.app[services_key].directory.list()
    return _ok(
        members=[member_dict(m) for m in members],
        cells=[{"id": c.id, "name": c.name, "parent_id": c.parent_id} for c in cells],
    )


@routes.post("/api/admin/members")
async def admin_create_member(request: web.Request) -> web.Response:
    caller = await admin(request)
    body = await read_json(
        request,
        {"member_id", "full_name", "cell_id", "contact", "status", "is_admin"},
        {"member_id", "full_name", "cell_id"},
    )
    fields = {"member_id": check_member_id(body["member_id"]), **_member_fields(body)}
    await _admin_step_up(request, caller, "add a member")
    member = await request.app[services_key].directory.create(fields)
    logger.info("member created member=%s by=%s", member.member_id, caller.member_id)
    await _admin_changed(request, caller, member.member_id, "created")
    return _ok(member=member_dict(member))


@routes.patch("/api/admin/members/{member_id}")
async def admin_update_member(request: web.Request) -> web.Response:
    caller = await admin(request)
    body = await read_json(request, {"full_name", "cell_id", "contact", "status", "is_admin"}, set())
    fields = _member_fields(body)
    target = request.match_info["member_id"]
    if target == caller.member_id and fields.get("is_admin") is False:
        raise InvalidInput("you cannot remove your own administrator right", field="is_admin")
    await _admin_step_up(request, caller, "change a member")
    member = await request.app[services_key].directory.update(target, fields)
    logger.info(
        "member updated member=%s by=%s fields=%s", target, caller.member_id, ",".join(sorted(fields))
    )
    await _admin_changed(request, caller, target, "updated", fields=sorted(fields))
    return _ok(member=member_dict(member))


@routes.post("/api/admin/members/{member_id}/invitation")
async def admin_invite(request: web.Request) -> web.Response:
    caller = await admin(request)
    svc = request.app[services_key]
    member = await svc.directory.get(request.match_info["member_id"])
    await _admin_step_up(request, caller, "reset a member's access")
    issued = await svc.accounts.invite(member.id)
    logger.info("access reset member=%s by=%s", member.member_id, caller.member_id)
    await _admin_changed(request, caller, member.member_id, "access_reset")
    return _ok(url=f"{svc.public_url}/#/invite/{issued.token}", expires_at=iso(issued.expires_at))


# -- the web client -----------------------------------------------------------------------


@routes.get("/")
async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@routes.get("/vendor/socket.io.min.js")
async def socketio_client(request: web.Request) -> web.StreamResponse:
    if not SOCKETIO_CLIENT.exists():
        logger.error("socket.io-client missing: run 'npm ci' in web/")
        raise web.HTTPNotFound(text="socket.io-client is not installed: run 'npm ci' in web/")
    return web.FileResponse(SOCKETIO_CLIENT)


def add_routes(app: web.Application) -> None:
    app.add_routes(routes)
    for sub in ("js", "css", "i18n", "img"):
        if (WEB_DIR / sub).is_dir():
            app.router.add_static(f"/{sub}", WEB_DIR / sub, show_index=False)
    for name, path in NOBLE_PACKAGES.items():
        if path.is_dir():
            app.router.add_static(f"/vendor/{name}", path, show_index=False)
        else:
            logger.error("%s missing: run 'npm ci' in web/ (secret ballots need it)", path)
