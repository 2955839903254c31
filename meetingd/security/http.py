"""HTTP routes of strict identity and the security log (docs/protocol.md, "Security").

Thin views over :class:`meetingd.security.service.Security`; errors reach the client
through the one error middleware of :mod:`meetingd.http`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from meeting.clock import iso
from meeting.errors import InvalidInput, NotAuthenticated

from ..http import WEB_DIR, _set_session, admin, me_dict, read_json, session_token, signed_in
from ..services import Services, services_key
from .devices import ensure_device_cookie
from .sessions import digest

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()
SIMPLEWEBAUTHN = (
    WEB_DIR / "node_modules" / "@simplewebauthn" / "browser" / "dist" / "bundle" / "index.umd.min.js"
)


def _ok(status: int = 200, **fields: Any) -> web.Response:
    return web.json_response({"ok": True, **fields}, status=status)


def _svc(request: web.Request) -> Services:
    return request.app[services_key]


def _address(request: web.Request) -> str:
    return request.remote or "?"


def _ua(request: web.Request) -> str:
    return request.headers.get("User-Agent", "")[:300]


def _cookie_hash(request: web.Request) -> str | None:
    token = session_token(request)
    return digest(token) if token else None


def _code(body: dict[str, Any]) -> str:
    code = body["code"]
    if not isinstance(code, str) or not 1 <= len(code) <= 32:
        raise InvalidInput("'code' must be the code shown by your app, or a recovery code", field="code")
    return code


async def _fresh_password(request: web.Request, body: dict[str, Any]) -> None:
    """Re-check the signed-in member's password (counted toward the sign-in limits)."""
    member = await signed_in(request)
    password = body.get("password")
    if not isinstance(password, str) or not password or len(password) > 1000:
        raise NotAuthenticated("enter your password to continue", code="fresh_password_required")
    try:
        await _svc(request).accounts.check_password(member.member_id, password, _address(request))
    except NotAuthenticated:
        raise NotAuthenticated("wrong password", code="password_wrong") from None


# -- sign-in, second step --------------------------------------------------------------------


@routes.post("/api/login/code")
async def login_code(request: web.Request) -> web.Response:
    body = await read_json(request, {"challenge", "code"}, {"challenge", "code"})
    if not isinstance(body["challenge"], str) or len(body["challenge"]) > 100:
        raise InvalidInput("'challenge' must be the string from /api/login", field="challenge")
    svc = _svc(request)
    member, token = await svc.security.sign_in.code(
        body["challenge"], _code(body), _address(request), _ua(request)
    )
    resp = _ok(member=await me_dict(svc, member))
    _set_session(request, resp, token)
    ensure_device_cookie(request, resp, svc.config.server.tls != "off")
    return resp


@routes.post("/api/security/step-up")
async def step_up(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"code"}, {"code"})
    svc = _svc(request)
    factor = await svc.security.factors.verify(member, _code(body), _address(request), "step_up")
    session = _cookie_hash(request)
    assert session is not None  # signed_in() passed
    await svc.security.sessions.second_factor_used(session, factor)
    return _ok(factor=factor, valid_minutes=svc.config.security.step_up_minutes)


def _credential(body: dict[str, Any]) -> dict[str, Any]:
    cred = body["credential"]
    if not isinstance(cred, dict):
        raise InvalidInput("'credential' must be the object the browser returned", field="credential")
    return cred


def _challenge(body: dict[str, Any]) -> str:
    if not isinstance(body["challenge"], str) or len(body["challenge"]) > 100:
        raise InvalidInput("'challenge' must be the string from /api/login", field="challenge")
    return str(body["challenge"])


@routes.post("/api/login/passkey/options")
async def login_passkey_options(request: web.Request) -> web.Response:
    body = await read_json(request, {"challenge"}, {"challenge"})
    return _ok(options=await _svc(request).security.sign_in.passkey_options(_challenge(body)))


@routes.post("/api/login/passkey")
async def login_passkey(request: web.Request) -> web.Response:
    body = await read_json(request, {"challenge", "credential"}, {"challenge", "credential"})
    svc = _svc(request)
    member, token = await svc.security.sign_in.passkey(
        _challenge(body), _credential(body), _address(request), _ua(request)
    )
    resp = _ok(member=await me_dict(svc, member))
    _set_session(request, resp, token)
    ensure_device_cookie(request, resp, svc.config.server.tls != "off")
    return resp


@routes.post("/api/security/step-up/passkey/options")
async def step_up_passkey_options(request: web.Request) -> web.Response:
    member = await signed_in(request)
    if request.can_read_body:
        await read_json(request, set(), set())
    return _ok(options=await _svc(request).security.passkeys.authentication_options(member, "step_up"))


@routes.post("/api/security/step-up/passkey")
async def step_up_passkey(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"credential"}, {"credential"})
    svc = _svc(request)
    factor = await svc.security.passkeys.authenticate(member, _credential(body), _address(request), "step_up")
    session = _cookie_hash(request)
    assert session is not None
    await svc.security.sessions.second_factor_used(session, factor)
    return _ok(factor=factor, valid_minutes=svc.config.security.step_up_minutes)


# -- my second factors -----------------------------------------------------------------------


@routes.get("/api/me/security")
async def my_security(request: web.Request) -> web.Response:
    member = await signed_in(request)
    return _ok(security=await _svc(request).security.my_status(member))


@routes.post("/api/me/second-factor/totp")
async def totp_start(request: web.Request) -> web.Response:
    body = await read_json(request, {"password"}, set())
    await _fresh_password(request, body)
    member = await signed_in(request)
    enrolment = await _svc(request).security.factors.start_totp(member)
    return _ok(
        secret=enrolment.secret,
        uri=enrolment.uri,
        qr=enrolment.qr_data_url,
        valid_minutes=_svc(request).config.security.enrolment_minutes,
    )


@routes.post("/api/me/second-factor/totp/confirm")
async def totp_confirm(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"code"}, {"code"})
    svc = _svc(request)
    codes = await svc.security.factors.confirm_totp(member, _code(body), _address(request))
    session = _cookie_hash(request)
    assert session is not None
    await svc.security.sessions.second_factor_used(session, "totp")
    return _ok(recovery_codes=codes)


@routes.post("/api/me/second-factor/totp/remove")
async def totp_remove(request: web.Request) -> web.Response:
    body = await read_json(request, {"password"}, set())
    await _fresh_password(request, body)
    member = await signed_in(request)
    svc = _svc(request)
    await svc.security.require_step_up(
        member, session_token(request), role="member", action="remove your authenticator"
    )
    await svc.security.factors.remove_totp(member, _address(request))
    return _ok(security=await svc.security.my_status(member))


@routes.post("/api/me/second-factor/recovery-codes")
async def recovery_codes(request: web.Request) -> web.Response:
    member = await signed_in(request)
    if request.can_read_body:
        await read_json(request, set(), set())
    svc = _svc(request)
    await svc.security.require_step_up(
        member, session_token(request), role="member", action="make new recovery codes"
    )
    return _ok(recovery_codes=await svc.security.factors.new_recovery_codes(member, _address(request)))


@routes.post("/api/me/passkeys/options")
async def passkey_options(request: web.Request) -> web.Response:
    body = await read_json(request, {"password"}, set())
    await _fresh_password(request, body)
    member = await signed_in(request)
    return _ok(options=await _svc(request).security.passkeys.registration_options(member))


@routes.post("/api/me/passkeys")
async def passkey_register(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"credential", "label"}, {"credential"})
    label = body.get("label", "passkey")
    if not isinstance(label, str) or len(label) > 100:
        raise InvalidInput("'label' must be a short name for the device", field="label")
    svc = _svc(request)
    passkey_id = await svc.security.passkeys.register(member, _credential(body), label, _address(request))
    session = _cookie_hash(request)
    assert session is not None
    await svc.security.sessions.second_factor_used(session, "passkey")
    return _ok(201, id=passkey_id, security=await svc.security.my_status(member))


@routes.post("/api/me/passkeys/{passkey_id}/remove")
async def passkey_remove(request: web.Request) -> web.Response:
    member = await signed_in(request)
    if request.can_read_body:
        await read_json(request, set(), set())
    raw = request.match_info["passkey_id"]
    if not raw.isdigit() or len(raw) > 15:
        raise InvalidInput("passkey id must be a number", field="passkey_id")
    svc = _svc(request)
    await svc.security.require_step_up(
        member, session_token(request), role="member", action="remove a passkey"
    )
    await svc.security.passkeys.remove(member, int(raw), _address(request))
    return _ok(security=await svc.security.my_status(member))


@routes.get("/vendor/simplewebauthn-browser.js")
async def simplewebauthn(request: web.Request) -> web.StreamResponse:
    if not SIMPLEWEBAUTHN.exists():
        logger.error("@simplewebauthn/browser missing: run 'npm ci' in web/")
        raise web.HTTPNotFound(text="@simplewebauthn/browser is not installed: run 'npm ci' in web/")
    return web.FileResponse(SIMPLEWEBAUTHN)


# -- sessions and devices --------------------------------------------------------------------


@routes.get("/api/me/sessions")
async def my_sessions(request: web.Request) -> web.Response:
    member = await signed_in(request)
    return _ok(sessions=await _svc(request).security.sessions.list_for(member.id, _cookie_hash(request)))


@routes.post("/api/me/sessions/{session_id}/end")
async def end_my_session(request: web.Request) -> web.Response:
    member = await signed_in(request)
    if request.can_read_body:
        await read_json(request, set(), set())
    svc = _svc(request)
    await svc.security.sessions.end(
        member, request.match_info["session_id"], by=member, address=_address(request)
    )
    return _ok()


@routes.post("/api/me/sessions/end-others")
async def end_my_other_sessions(request: web.Request) -> web.Response:
    member = await signed_in(request)
    if request.can_read_body:
        await read_json(request, set(), set())
    n = await _svc(request).security.sessions.end_all(
        member, by=member, address=_address(request), keep_hash=_cookie_hash(request)
    )
    return _ok(ended=n)


@routes.get("/api/admin/members/{member_id}/sessions")
async def member_sessions(request: web.Request) -> web.Response:
    await admin(request)
    svc = _svc(request)
    target = await svc.directory.get(request.match_info["member_id"])
    return _ok(sessions=await svc.security.sessions.list_for(target.id, None))


@routes.post("/api/admin/members/{member_id}/sessions/end")
async def end_member_sessions(request: web.Request) -> web.Response:
    caller = await admin(request)
    if request.can_read_body:
        await read_json(request, set(), set())
    svc = _svc(request)
    target = await svc.directory.get(request.match_info["member_id"])
    await svc.security.require_step_up(
        caller, session_token(request), role="admin", action="end a member's sessions"
    )
    keep = _cookie_hash(request) if target.id == caller.id else None
    n = await svc.security.sessions.end_all(target, by=caller, address=_address(request), keep_hash=keep)
    await svc.security.log.record(
        "admin_member_changed",
        member_id=caller.member_id,
        address=_address(request),
        target=target.member_id,
        change="sessions_ended",
    )
    return _ok(ended=n)


# -- the security log and alerts (administrators) --------------------------------------------


def _since(request: web.Request) -> datetime | None:
    raw = request.query.get("since")
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("'since' must be an ISO-8601 time", field="since") from None
    if at.tzinfo is None:
        raise InvalidInput("'since' must carry a time zone (e.g. a trailing Z)", field="since")
    return at


@routes.get("/api/admin/security/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    await admin(request)
    state = request.query.get("state", "open")
    if state not in ("open", "all"):
        raise InvalidInput("'state' must be open or all", field="state")
    alerts = await _svc(request).security.log.alerts(since=_since(request), open_only=state == "open")
    return _ok(alerts=alerts)


@routes.post("/api/admin/security/alerts/{alert_id}")
async def change_alert(request: web.Request) -> web.Response:
    caller = await admin(request)
    body = await read_json(request, {"state"}, {"state"})
    raw = request.match_info["alert_id"]
    if not raw.isdigit() or len(raw) > 15:
        raise InvalidInput("alert id must be a number", field="alert_id")
    if body["state"] not in ("acknowledged", "resolved"):
        raise InvalidInput("'state' must be acknowledged or resolved", field="state")
    alert = await _svc(request).security.log.set_state(int(raw), body["state"], caller.member_id)
    logger.info("security alert=%s %s by=%s", raw, body["state"], caller.member_id)
    return _ok(alert=alert)


@routes.get("/api/admin/security/events")
async def list_events(request: web.Request) -> web.Response:
    await admin(request)
    kind = request.query.get("kind") or None
    events = await _svc(request).security.log.events(since=_since(request), kind=kind)
    return _ok(events=events)


@routes.get("/api/admin/security/check")
async def security_check(request: web.Request) -> web.Response:
    await admin(request)
    from .check import run_checks

    svc = _svc(request)
    findings = await run_checks(svc.config, svc.db, svc.security)
    return _ok(checked_at=iso(svc.clock()), findings=[f.to_dict() for f in findings])


def add_security_routes(app: web.Application) -> None:
    app.add_routes(routes)
