"""HTTP routes of paired main-room displays (docs/protocol.md, "Displays").

The chair or the secretary creates a pairing (a one-time code), lists and revokes
them; the projector redeems the code for its own session cookie, scoped to one meeting,
and mints Socket.IO tokens from it. Thin views over :class:`meetingd.displays.Displays`.
"""

from __future__ import annotations

from aiohttp import web

from .displays import pairing_qr, pairing_url
from .http import _ok, _path_int, read_json, signed_in
from .services import services_key

DISPLAY_COOKIE = "meetingd_display"

routes = web.RouteTableDef()


@routes.post("/api/meetings/{meeting_id}/displays")
async def create_display(request: web.Request) -> web.Response:
    member = await signed_in(request)
    await read_json(request, set(), set())
    display = await request.app[services_key].displays.create(_path_int(request, "meeting_id"), member)
    # the QR a phone or tablet scans: this server's own address as the officer reached it
    url = pairing_url(str(request.url.origin()), display["code"])
    return _ok(display={**display, "pair_url": url, "qr": pairing_qr(url)})


@routes.get("/api/meetings/{meeting_id}/displays")
async def list_displays(request: web.Request) -> web.Response:
    member = await signed_in(request)
    rows = await request.app[services_key].displays.list(_path_int(request, "meeting_id"), member)
    return _ok(displays=rows)


@routes.delete("/api/meetings/{meeting_id}/displays/{display_id}")
async def revoke_display(request: web.Request) -> web.Response:
    member = await signed_in(request)
    svc = request.app[services_key]
    display = await svc.displays.revoke(
        _path_int(request, "meeting_id"), _path_int(request, "display_id"), member
    )
    svc.namespace.disconnect_display(display["id"])
    return _ok(display=display)


@routes.post("/api/displays/pair")
async def pair_display(request: web.Request) -> web.Response:
    body = await read_json(request, {"code"}, {"code"})
    svc = request.app[services_key]
    secret, display = await svc.displays.pair(body["code"])
    resp = _ok(display=display)
    resp.set_cookie(
        DISPLAY_COOKIE,
        secret,
        httponly=True,
        samesite="Strict",
        path="/",
        secure=svc.config.server.tls != "off",
        max_age=7 * 24 * 3600,
    )
    return resp


@routes.get("/api/displays/me")
async def display_me(request: web.Request) -> web.Response:
    svc = request.app[services_key]
    p = await svc.displays.session(request.cookies.get(DISPLAY_COOKIE))
    return _ok(display=svc.displays.as_dict(p))


@routes.post("/api/displays/socket-token")
async def display_socket_token(request: web.Request) -> web.Response:
    svc = request.app[services_key]
    p = await svc.displays.session(request.cookies.get(DISPLAY_COOKIE))
    return _ok(token=svc.displays.mint_socket_token(p), expires_in=60)


def add_display_routes(app: web.Application) -> None:
    app.add_routes(routes)
