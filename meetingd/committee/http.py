"""HTTP routes of the committee's view: organisation, e-profiles, figures, reports.

Thin views over :mod:`meetingd.committee`; errors go through the one error middleware
in :mod:`meetingd.http`. Documented in ``docs/protocol.md`` ("Committee").
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from meeting.clock import iso
from meeting.errors import InvalidInput, InvalidState, NotFound

from ..directory import check_member_id
from ..http import _path_int, admin, read_json, session_token, signed_in
from ..services import services_key
from ..storage.models import Member
from .org_edit import parse_cell_change, parse_committee_change, parse_officer_change, parse_site_change
from .report import report_csv, report_document, report_html

routes = web.RouteTableDef()

MAX_PERIOD_DAYS = 3 * 366


def parse_day(value: str | None, name: str, default: date) -> date:
    if value is None or value == "":
        return default
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"'{name}' must be a date YYYY-MM-DD", field=name) from None


def parse_period(query: Any, today: date) -> tuple[date, date, int]:
    unknown = sorted(set(query) - {"from", "to", "absent_run", "lang", "detail"})
    if unknown:
        raise InvalidInput(f"unknown parameter '{unknown[0]}'", field=unknown[0])
    end = parse_day(query.get("to"), "to", today)
    start = parse_day(query.get("from"), "from", end - timedelta(days=365))
    if start > end:
        raise InvalidInput("'from' is after 'to'", field="from")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput(f"the period is longer than {MAX_PERIOD_DAYS} days", field="from")
    raw = query.get("absent_run", "3")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise InvalidInput("'absent_run' must be a number 1-100", field="absent_run")
    return start, end, int(raw)


@routes.get("/api/org")
async def org_tree(request: web.Request) -> web.Response:
    member = await signed_in(request)
    svc = request.app[services_key]
    tree, viewer = await svc.committee.org.tree_and_viewer(member)
    out: dict[str, Any] = {"ok": True, "tree": tree.to_dict(viewer), "manage": tree.manageable(viewer)}
    if member.is_admin or viewer.officer_of_committees or viewer.officer_of_cells:
        out.update(await svc.committee.org.officers(tree, viewer))
    return web.json_response(out)


async def _org_step_up(request: web.Request, caller: Member, action: str) -> None:
    """Changing the tree changes who may read whose profile: a fresh second factor, as for
    an administrator's member changes."""
    await request.app[services_key].security.require_step_up(
        caller, session_token(request), role="admin" if caller.is_admin else "officer", action=action
    )


@routes.post("/api/org/cells")
async def org_add_cell(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"name", "committee_id", "reason"}, {"name", "committee_id", "reason"})
    change = parse_cell_change(body, new=True)
    await _org_step_up(request, member, "add a cell")
    cell = await request.app[services_key].committee.editor.add_cell(member, change)
    return web.json_response({"ok": True, "cell": cell}, status=201)


@routes.patch("/api/org/cells/{cell_id}")
async def org_change_cell(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"name", "committee_id", "reason"}, {"reason"})
    change = parse_cell_change(body, new=False)
    await _org_step_up(request, member, "change a cell")
    cell = await request.app[services_key].committee.editor.change_cell(
        member, _path_int(request, "cell_id"), change
    )
    return web.json_response({"ok": True, "cell": cell})


@routes.post("/api/org/committees")
async def org_add_committee(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"code", "name", "parent_id", "reason"}, {"code", "name", "reason"})
    change = parse_committee_change(body, new=True)
    await _org_step_up(request, member, "add a committee")
    committee = await request.app[services_key].committee.editor.add_committee(member, change)
    return web.json_response({"ok": True, "committee": committee}, status=201)


@routes.patch("/api/org/committees/{committee_id}")
async def org_change_committee(request: web.Request) -> web.Response:
    member = await signed_in(request)
    body = await read_json(request, {"name", "parent_id", "reason"}, {"reason"})
    change = parse_committee_change(body, new=False)
    await _org_step_up(request, member, "change a committee")
    committee = await request.app[services_key].committee.editor.change_committee(
        member, _path_int(request, "committee_id"), change
    )
    return web.json_response({"ok": True, "committee": committee})


@routes.post("/api/org/cells/{cell_id}/sites")
async def org_add_site(request: web.Request) -> web.Response:
    member = await signed_in(request)
    change = parse_site_change(await read_json(request, {"name", "reason"}, {"name", "reason"}), named=True)
    await _org_step_up(request, member, "add a sub-site")
    site = await request.app[services_key].committee.editor.add_site(
        member, _path_int(request, "cell_id"), change
    )
    return web.json_response({"ok": True, "site": site}, status=201)


@routes.patch("/api/org/cells/{cell_id}/sites/{site_id}")
async def org_rename_site(request: web.Request) -> web.Response:
    member = await signed_in(request)
    change = parse_site_change(await read_json(request, {"name", "reason"}, {"name", "reason"}), named=True)
    await _org_step_up(request, member, "rename a sub-site")
    site = await request.app[services_key].committee.editor.rename_site(
        member, _path_int(request, "cell_id"), _path_int(request, "site_id"), change
    )
    return web.json_response({"ok": True, "site": site})


@routes.delete("/api/org/cells/{cell_id}/sites/{site_id}")
async def org_remove_site(request: web.Request) -> web.Response:
    member = await signed_in(request)
    change = parse_site_change(await read_json(request, {"reason"}, {"reason"}), named=False)
    await _org_step_up(request, member, "remove a sub-site")
    site = await request.app[services_key].committee.editor.remove_site(
        member, _path_int(request, "cell_id"), _path_int(request, "site_id"), change
    )
    return web.json_response({"ok": True, "site": site})


async def _officer(request: web.Request, unit: str, *, appoint: bool) -> web.Response:
    member = await signed_in(request)
    member_id = request.match_info["member_id"]
    try:
        check_member_id(member_id)
    except InvalidInput:
        raise NotFound(f"no member {member_id[:40]}") from None
    fields = {"title", "reason"} if appoint else {"reason"}
    change = parse_officer_change(await read_json(request, fields, fields), appoint=appoint)
    await _org_step_up(request, member, "appoint an officer" if appoint else "remove an officer")
    officer = await request.app[services_key].committee.editor.set_officer(
        member, unit, _path_int(request, f"{unit}_id"), member_id, change
    )
    return web.json_response({"ok": True, "officer": officer})


@routes.put("/api/org/committees/{committee_id}/officers/{member_id}")
async def org_appoint_committee_officer(request: web.Request) -> web.Response:
    return await _officer(request, "committee", appoint=True)


@routes.delete("/api/org/committees/{committee_id}/officers/{member_id}")
async def org_remove_committee_officer(request: web.Request) -> web.Response:
    return await _officer(request, "committee", appoint=False)


@routes.put("/api/org/cells/{cell_id}/officers/{member_id}")
async def org_appoint_cell_officer(request: web.Request) -> web.Response:
    return await _officer(request, "cell", appoint=True)


@routes.delete("/api/org/cells/{cell_id}/officers/{member_id}")
async def org_remove_cell_officer(request: web.Request) -> web.Response:
    return await _officer(request, "cell", appoint=False)


@routes.post("/api/admin/org/import")
async def org_import(request: web.Request) -> web.Response:
    member = await admin(request)
    body = await read_json(request, {"csv"}, {"csv"})
    if not isinstance(body["csv"], str):
        raise InvalidInput("'csv' must be the text of the file", field="csv")
    rep = await request.app[services_key].committee.org.import_csv(body["csv"], member.member_id)
    return web.json_response(
        {
            "ok": True,
            "committees": rep.committees,
            "cells": rep.cells,
            "sites": rep.sites,
            "officers": rep.officers,
        }
    )


@routes.get("/api/admin/org/log.json")
async def org_log_export(request: web.Request) -> web.Response:
    await admin(request)
    doc = await request.app[services_key].committee.log.export()
    return web.json_response(
        doc, headers={"Content-Disposition": 'attachment; filename="organisation-log.json"'}
    )


@routes.get("/api/profiles/{member_id}")
async def profile_get(request: web.Request) -> web.Response:
    member = await signed_in(request)
    member_id = request.match_info["member_id"]
    try:
        check_member_id(member_id)
    except InvalidInput:
        raise NotFound(f"no member {member_id[:40]}") from None
    view = await request.app[services_key].committee.profiles.get(member, member_id)
    return web.json_response({"ok": True, **view})


@routes.post("/api/profiles/{member_id}/changes")
async def profile_change(request: web.Request) -> web.Response:
    member = await signed_in(request)
    member_id = request.match_info["member_id"]
    try:
        check_member_id(member_id)
    except InvalidInput:
        raise NotFound(f"no member {member_id[:40]}") from None
    body = await read_json(request, {"kind", "data", "reason"}, {"kind", "data", "reason"})
    entry = await request.app[services_key].committee.profiles.change(
        member, member_id, body["kind"], body["data"], body["reason"]
    )
    return web.json_response({"ok": True, "change": entry}, status=201)


async def _committee_doc(request: web.Request, *, page: bool = False) -> dict[str, Any]:
    member = await signed_in(request)
    svc = request.app[services_key]
    now = svc.clock()
    start, end, run = parse_period(request.query, now.date())
    data = await svc.committee.figures.committee(
        member, _path_int(request, "committee_id"), start, end, run, page=page
    )
    return report_document(data, iso(now) or "")


@routes.get("/api/committees/{committee_id}/figures")
async def committee_figures(request: web.Request) -> web.Response:
    doc = await _committee_doc(request, page=request.query.get("detail") != "1")
    return web.json_response({"ok": True, "report": doc})


@routes.get("/api/committees/{committee_id}/report.{fmt}")
async def committee_report(request: web.Request) -> web.StreamResponse:
    fmt = request.match_info["fmt"]
    if fmt not in ("csv", "json", "pdf", "html"):
        raise NotFound(f"no report format {fmt[:10]!r} (csv, json, pdf, html)")
    lang = request.query.get("lang", "en")
    if lang not in ("en", "vi"):
        raise InvalidInput("'lang' must be en or vi", field="lang")
    doc = await _committee_doc(request)
    name = f"committee-{doc['committee']['code']}-{doc['figures']['from']}-{doc['figures']['to']}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if fmt == "csv":
        return web.Response(
            text=report_csv(doc), content_type="text/csv", charset="utf-8", headers=disposition
        )
    if fmt == "json":
        return web.Response(
            text=json.dumps(doc, ensure_ascii=False, indent=1),
            content_type="application/json",
            charset="utf-8",
            headers=disposition,
        )
    page = report_html(doc, lang)
    if fmt == "html":
        return web.Response(
            text=page,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                "Cache-Control": "no-cache",
            },
        )
    from ..pdf import print_pdf

    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "report.pdf"
        if not await asyncio.to_thread(print_pdf, page, pdf):
            raise InvalidState("PDF reports need Chromium on the server; use report.html or .csv")
        data = await asyncio.to_thread(pdf.read_bytes)
    return web.Response(body=data, content_type="application/pdf", headers=disposition)


UPLOT_DIR = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "uplot" / "dist"
VENDOR = {"uplot.esm.js": "uPlot.esm.js", "uplot.min.css": "uPlot.min.css"}


@routes.get("/vendor/{name:uplot[.a-z]+}")
async def uplot_file(request: web.Request) -> web.StreamResponse:
    """The charting library, from the npm lockfile (web/node_modules), never a CDN."""
    name = VENDOR.get(request.match_info["name"])
    if name is None:
        raise web.HTTPNotFound()
    path = UPLOT_DIR / name
    if not path.exists():
        raise web.HTTPNotFound(text="uplot is not installed: run 'npm ci' in web/")
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


def add_committee_routes(app: web.Application) -> None:
    app.add_routes(routes)
