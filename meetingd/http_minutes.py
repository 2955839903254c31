"""HTTP routes of the minutes: officer key enrolment, review, seal, cosign, participation CSV.

Thin views over :class:`meetingd.minutes.MinutesService`; errors reach the client
through the one error middleware in :mod:`meetingd.http`. Documented in
``docs/protocol.md`` ("Minutes").
"""

from __future__ import annotations

import logging

from aiohttp import web

from meeting.errors import InvalidInput

from .http import _path_int, read_json, session_token, signed_in
from .minutes import check_lang
from .security.devices import device_of_request
from .services import services_key

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()


@routes.get("/api/me/keys")
async def my_keys(request: web.Request) -> web.Response:
    member = await signed_in(request)
    keys = await request.app[services_key].minutes.my_keys(member)
    return web.json_response({"ok": True, **keys})


@routes.post("/api/me/keys")
async def enrol_key(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"verifier_key", "origin", "replace"}, {"verifier_key"})
    replace = body.get("replace", False)
    if not isinstance(replace, bool):
        raise InvalidInput("'replace' must be true or false", field="replace")
    svc = request.app[services_key]
    svc.minutes.parse_verifier_key(member, body["verifier_key"])  # bad input first, then step-up
    await svc.security.require_step_up(  # security: step-up
        member, session_token(request), role="officer", action="enrol a cosigning key"
    )
    key = await svc.minutes.enrol_key(
        member, body["verifier_key"], origin=body.get("origin", "browser"), replace=replace
    )
    return web.json_response({"ok": True, "key": key}, status=200 if key["already"] else 201)


@routes.get("/api/meetings/{meeting_id}/minutes")
async def minutes_view(request: web.Request) -> web.Response:
    member = await signed_in(request)
    view = await request.app[services_key].minutes.view(_path_int(request, "meeting_id"), member)
    return web.json_response({"ok": True, "minutes": view})


@routes.get("/api/meetings/{meeting_id}/minutes.html")
async def minutes_html(request: web.Request) -> web.Response:
    member = await signed_in(request)
    lang = check_lang(request.query.get("lang", member.language or "en"))
    html = await request.app[services_key].minutes.html(_path_int(request, "meeting_id"), member, lang)
    # The document has inline CSS and no script: allow exactly that.
    return web.Response(
        text=html,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "frame-ancestors 'self'",
            "Cache-Control": "no-cache",
        },
    )


@routes.post("/api/meetings/{meeting_id}/minutes/seal")
async def minutes_seal(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"lang"}, set()) if request.can_read_body else {}
    svc = request.app[services_key].minutes
    meeting_id = _path_int(request, "meeting_id")
    await svc.officer_role(meeting_id, member)
    await svc.seal(meeting_id, check_lang(body.get("lang", member.language or "en")))
    return web.json_response({"ok": True, "minutes": await svc.view(meeting_id, member)})


@routes.post("/api/meetings/{meeting_id}/minutes/cosign")
async def minutes_cosign(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"cosignature"}, {"cosignature"})
    svc = request.app[services_key].minutes
    meeting_id = _path_int(request, "meeting_id")
    await svc.officer_role(meeting_id, member)
    await request.app[services_key].security.require_step_up(  # security: step-up
        member, session_token(request), role="officer", action="cosign the minutes"
    )
    result = await svc.cosign(meeting_id, member, body["cosignature"])
    await request.app[services_key].security.devices.key_used(  # security: a new device?
        member, device_of_request(request), request.remote or "?", "officer_key", meeting_id
    )
    return web.json_response({"ok": True, **result, "minutes": await svc.view(meeting_id, member)})


@routes.get("/api/meetings/{meeting_id}/participation.csv")
async def participation(request: web.Request) -> web.Response:
    member = await signed_in(request)
    meeting_id = _path_int(request, "meeting_id")
    text = await request.app[services_key].minutes.participation_csv(meeting_id, member)
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="meeting-{meeting_id}-participation.csv"'},
    )


def add_minutes_routes(app: web.Application) -> None:
    app.add_routes(routes)
