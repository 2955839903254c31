"""The committee report: its document (JSON), CSV, printable HTML (charts as SVG) and check.

The document (``meetingd-committee-report/v1``) holds the figures, the inputs that are
not in any minutes (the committee's cells and how many meetings each had scheduled),
and the list of minutes logs they were computed from (origin, size, root).
:func:`verify_report` takes export bundles of those meetings, checks each one's signed
checkpoint and that the listed prefix has the listed root, recomputes the figures with
:func:`recorder.participation.committee_figures` and compares them with the report's.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

from recorder.bundle import Bundle
from recorder.canonical import parse_canonical
from recorder.checkpoint import open_checkpoint
from recorder.errors import RecorderError
from recorder.merkle import MerkleTree
from recorder.note import VerifierKey
from recorder.participation import committee_figures, summarise_meeting

REPORT_FORMAT = "meetingd-committee-report/v1"

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Participation report",
        "period": "Period",
        "generated": "Generated",
        "totals": "Totals",
        "cells": "Cells",
        "held": "Meetings held",
        "scheduled": "Scheduled",
        "attendance": "Attendance rate",
        "quorate": "Quorum reached",
        "without_quorum": "Closed without quorum",
        "turnout": "Vote turnout",
        "polls": "Polls",
        "speeches": "Opinions expressed",
        "cell": "Cell",
        "month": "Month",
        "flags": "Flags",
        "absent": "Members absent from {n} or more meetings in a row",
        "no_meeting": "Cells that did not meet",
        "no_quorum": "Meetings closed without quorum",
        "none": "none",
        "bundles": "Minutes these figures were computed from",
        "origin": "Log",
        "size": "Entries",
        "root": "Root hash",
        "member": "Member",
        "run": "In a row",
        "trend": "Attendance rate by month",
        "bars": "Attendance rate by cell",
        "members": "Members",
        "entitled": "Entitled",
        "attended": "Attended",
        "verify": "Check with: meetingd report verify REPORT.json --bundles DIR",
    },
    "vi": {
        "title": "Báo cáo tham gia sinh hoạt",
        "period": "Kỳ báo cáo",
        "generated": "Lập lúc",
        "totals": "Tổng hợp",
        "cells": "Chi bộ",
        "held": "Số cuộc họp đã tổ chức",
        "scheduled": "Theo kế hoạch",
        "attendance": "Tỷ lệ dự họp",
        "quorate": "Đủ số lượng",
        "without_quorum": "Kết thúc khi không đủ số lượng",
        "turnout": "Tỷ lệ biểu quyết",
        "polls": "Số lần biểu quyết",
        "speeches": "Ý kiến phát biểu",
        "cell": "Chi bộ",
        "month": "Tháng",
        "flags": "Cần lưu ý",
        "absent": "Đảng viên vắng {n} cuộc họp liên tiếp trở lên",
        "no_meeting": "Chi bộ không họp trong kỳ",
        "no_quorum": "Cuộc họp kết thúc khi không đủ số lượng",
        "none": "không có",
        "bundles": "Biên bản dùng để tính các số liệu này",
        "origin": "Nhật ký",
        "size": "Số mục",
        "root": "Mã băm gốc",
        "member": "Đảng viên",
        "run": "Liên tiếp",
        "trend": "Tỷ lệ dự họp theo tháng",
        "bars": "Tỷ lệ dự họp theo chi bộ",
        "members": "Đảng viên",
        "entitled": "Có quyền dự",
        "attended": "Đã dự",
        "verify": "Kiểm tra bằng: meetingd report verify REPORT.json --bundles THƯ_MỤC",
    },
}


def report_document(data: Mapping[str, Any], generated_at: str) -> dict[str, Any]:
    return {"format": REPORT_FORMAT, "generated_at": generated_at, **data}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# -- CSV ----------------------------------------------------------------------------------------


def report_csv(doc: Mapping[str, Any]) -> str:
    f = doc["figures"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "#report",
            doc["committee"]["code"],
            doc["committee"]["name"],
            f["from"],
            f["to"],
            doc["generated_at"],
        ]
    )
    w.writerow(
        [
            "#cell",
            "held",
            "scheduled",
            "entitled",
            "attended",
            "attendance_rate",
            "quorate",
            "without_quorum",
            "speeches",
            "polls",
            "turnout",
        ]
    )
    for c in f["cells"]:
        w.writerow(
            [
                c["cell"],
                c["held"],
                c["scheduled"],
                c["entitled"],
                c["attended"],
                c["attendance_rate"],
                c["quorate"],
                c["without_quorum"],
                c["speeches"],
                c["polls"],
                c["turnout"],
            ]
        )
    w.writerow([])
    w.writerow(
        [
            "#member",
            "full_name",
            "cell",
            "entitled",
            "attended",
            "main_room",
            "sub_site",
            "remote",
            "excused",
            "speeches",
            "polls_eligible",
            "polls_voted",
            "secret_polls_voted",
            "attendance_rate",
            "longest_absence_run",
        ]
    )
    for m in f["members"]:
        modes = m["by_mode"]
        w.writerow(
            [
                m["member_id"],
                m["full_name"],
                m["cell"],
                m["entitled"],
                m["attended"],
                modes["main_room"],
                modes["sub_site"],
                modes["remote"],
                m["excused"],
                m["speeches"],
                m["polls_eligible"],
                m["polls_voted"],
                m["secret_polls_voted"],
                m["attendance_rate"],
                m["longest_absence_run"],
            ]
        )
    w.writerow([])
    w.writerow(["#poll", "meeting_id", "cell", "secret", "entitled", "voted", "turnout"])
    for p in f["polls"]:
        w.writerow(
            [
                p["poll_id"],
                p["meeting_id"],
                p["cell"],
                "yes" if p["secret"] else "no",
                p["entitled"],
                p["voted"],
                p["turnout"],
            ]
        )
    w.writerow([])
    w.writerow(["#flag", "what", "detail"])
    for a in f["flags"]["absent_in_a_row"]:
        w.writerow(["absent_in_a_row", a["member_id"], f"{a['cell']}: {a['run']}"])
    for c in f["flags"]["cells_without_meetings"]:
        w.writerow(["cell_without_meetings", c, ""])
    for q in f["flags"]["closed_without_quorum"]:
        w.writerow(["closed_without_quorum", q["meeting_id"], f"{q['cell']}: {q['opened_at']}"])
    w.writerow([])
    w.writerow(["#bundle", "origin", "size", "root"])
    for b in doc["bundles"]:
        w.writerow([b["meeting_id"], b["origin"], b["size"], b["root"]])
    return buf.getvalue()


# -- printable HTML -----------------------------------------------------------------------------


def months_overall(f: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The committee's monthly attendance, summed over its cells."""
    acc: dict[str, list[int]] = {}
    for c in f["cells"]:
        for m in c["months"]:
            a = acc.setdefault(m["month"], [0, 0, 0])
            a[0] += m["held"]
            a[1] += m["entitled"]
            a[2] += m["attended"]
    return [
        {
            "month": k,
            "held": v[0],
            "entitled": v[1],
            "attended": v[2],
            "attendance_rate": round(v[2] / v[1], 4) if v[1] else 0.0,
        }
        for k, v in sorted(acc.items())
    ]


def _bars_svg(rows: Sequence[tuple[str, float]], label: str) -> str:
    bar, gap, left, width = 14, 4, 180, 360
    height = len(rows) * (bar + gap) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html.escape(label)}" '
        f'width="{left + width + 60}" height="{height}" font-size="11" font-family="sans-serif">'
    ]
    for i, (name, value) in enumerate(rows):
        y = 10 + i * (bar + gap)
        parts.append(
            f'<text x="{left - 6}" y="{y + bar - 3}" text-anchor="end">{html.escape(name[:30])}</text>'
            f'<rect x="{left}" y="{y}" width="{width * value:.1f}" height="{bar}" fill="#2f6fa8"/>'
            f'<text x="{left + width * value + 4:.1f}" y="{y + bar - 3}">{_pct(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _line_svg(points: Sequence[tuple[str, float]], label: str) -> str:
    w, h, pad = 560, 200, 36
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html.escape(label)}" '
        f'width="{w}" height="{h}" font-size="11" font-family="sans-serif">',
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - 10}" y2="{h - pad}" stroke="#555"/>',
        f'<line x1="{pad}" y1="10" x2="{pad}" y2="{h - pad}" stroke="#555"/>',
        f'<text x="2" y="14">100%</text><text x="8" y="{h - pad}">0%</text>',
    ]
    if points:
        step = (w - pad - 20) / max(len(points) - 1, 1)
        xy = [(pad + i * step, (h - pad) - (h - pad - 10) * v) for i, (_, v) in enumerate(points)]
        parts.append(
            '<polyline fill="none" stroke="#2f6fa8" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            + '"/>'
        )
        for (x, y), (name, _) in zip(xy, points, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2f6fa8"/>'
                f'<text x="{x:.1f}" y="{h - pad + 14}" text-anchor="middle">{html.escape(name)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def report_html(doc: Mapping[str, Any], lang: str = "en") -> str:
    t = TEXT.get(lang, TEXT["en"])
    f = doc["figures"]
    e = html.escape
    out: list[str] = []

    def table(heads: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        out.append("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr></thead><tbody>")
        for r in rows:
            out.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>")
        out.append("</tbody></table>")

    c = doc["committee"]
    out.append(f"<h1>{e(t['title'])}: {e(c['name'])} ({e(c['code'])})</h1>")
    out.append(
        f"<p>{e(t['period'])}: {e(f['from'])} &ndash; {e(f['to'])} · {e(t['generated'])}: "
        f"{e(doc['generated_at'])}</p>"
    )
    tot = f["totals"]
    out.append(f"<h2>{e(t['totals'])}</h2>")
    table(
        [t["cells"], t["held"], t["scheduled"], t["attendance"], t["quorate"], t["polls"], t["turnout"]],
        [
            [
                tot["cells"],
                tot["held"],
                tot["scheduled"],
                _pct(tot["attendance_rate"]),
                tot["quorate"],
                tot["polls"],
                _pct(tot["turnout"]),
            ]
        ],
    )
    months = months_overall(f)
    out.append(f"<h2>{e(t['trend'])}</h2>")
    out.append(_line_svg([(m["month"], m["attendance_rate"]) for m in months], t["trend"]))
    table(
        [t["month"], t["held"], t["entitled"], t["attended"], t["attendance"]],
        [[m["month"], m["held"], m["entitled"], m["attended"], _pct(m["attendance_rate"])] for m in months],
    )
    out.append(f"<h2>{e(t['bars'])}</h2>")
    out.append(_bars_svg([(x["cell"], x["attendance_rate"]) for x in f["cells"]], t["bars"]))
    table(
        [
            t["cell"],
            t["held"],
            t["scheduled"],
            t["attendance"],
            t["quorate"],
            t["without_quorum"],
            t["speeches"],
            t["polls"],
            t["turnout"],
        ],
        [
            [
                x["cell"],
                x["held"],
                x["scheduled"],
                _pct(x["attendance_rate"]),
                x["quorate"],
                x["without_quorum"],
                x["speeches"],
                x["polls"],
                _pct(x["turnout"]),
            ]
            for x in f["cells"]
        ],
    )
    fl = f["flags"]
    out.append(f"<h2>{e(t['flags'])}</h2>")
    out.append(f"<h3>{e(t['absent'].format(n=f['absent_run']))}</h3>")
    if fl["absent_in_a_row"]:
        table(
            [t["member"], t["cell"], t["run"]],
            [[a["member_id"], a["cell"], a["run"]] for a in fl["absent_in_a_row"]],
        )
    else:
        out.append(f"<p>{e(t['none'])}</p>")
    out.append(
        f"<h3>{e(t['no_meeting'])}</h3><p>{e(', '.join(fl['cells_without_meetings']) or t['none'])}</p>"
    )
    out.append(f"<h3>{e(t['no_quorum'])}</h3>")
    if fl["closed_without_quorum"]:
        table(
            [t["cell"], "meeting", t["month"]],
            [[q["cell"], q["meeting_id"], q["opened_at"][:10]] for q in fl["closed_without_quorum"]],
        )
    else:
        out.append(f"<p>{e(t['none'])}</p>")
    out.append(f"<h2>{e(t['bundles'])}</h2><p>{e(t['verify'])}</p>")
    table([t["origin"], t["size"], t["root"]], [[b["origin"], b["size"], b["root"]] for b in doc["bundles"]])
    style = (
        "body{font-family:sans-serif;font-size:11pt;margin:1.5cm}table{border-collapse:collapse;"
        "margin:.5em 0 1em}td,th{border:1px solid #999;padding:2px 6px;text-align:left}"
        "h1{font-size:16pt}h2{font-size:13pt;margin-top:1.2em}"
    )
    return (
        f'<!doctype html><html lang="{e(lang)}"><head><meta charset="utf-8"><title>{e(t["title"])}'
        f"</title><style>{style}</style></head><body>" + "".join(out) + "</body></html>"
    )


# -- verification -------------------------------------------------------------------------------


def verify_report(
    doc: Mapping[str, Any], bundles: Sequence[str | bytes], trusted_log_key: str | None = None
) -> list[str]:
    """Problems found (empty: the figures are exactly those the listed minutes give)."""
    problems: list[str] = []
    if doc.get("format") != REPORT_FORMAT:
        return [f"the report's format is not {REPORT_FORMAT}"]
    by_origin: dict[str, Bundle] = {}
    for i, text in enumerate(bundles):
        try:
            b = Bundle.from_json(text)
        except RecorderError as exc:
            problems.append(f"bundle {i}: {exc}")
            continue
        by_origin[b.origin] = b
    summaries = []
    for listed in doc["bundles"]:
        origin, size, root = listed["origin"], int(listed["size"]), listed["root"]
        found = by_origin.get(origin)
        if found is None:
            problems.append(f"{origin}: no bundle given for this log")
            continue
        try:
            key = VerifierKey.parse(trusted_log_key or found.log_key)
            if trusted_log_key:  # a trusted key names the server's key, not this log's origin
                key = VerifierKey(origin, key.sig_type, key.public_key)
            tree = MerkleTree()
            for text in found.entries:
                tree.append(text.encode("utf-8"))
            signed = [open_checkpoint(n, key, origin=origin).checkpoint for n in found.checkpoints]
            last = max(signed, key=lambda cp: cp.size) if signed else None
            if last is None or last.size < size:
                problems.append(f"{origin}: no signed checkpoint covers the {size} entries counted")
                continue
            if last.size > tree.size or tree.root(last.size) != last.root_hash:
                problems.append(f"{origin}: the entries do not have the signed root")
                continue
            if base64.b64encode(tree.root(size)).decode() != root:
                problems.append(f"{origin}: entries 0..{size - 1} do not have the root the report lists")
                continue
            summaries.append(summarise_meeting([parse_canonical(t) for t in found.entries[:size]]))
        except RecorderError as exc:
            problems.append(f"{origin}: {exc}")
    if problems:
        return problems
    f = doc["figures"]
    again = committee_figures(
        summaries,
        cells=doc["cells"],
        scheduled=doc["scheduled"],
        start=f["from"],
        end=f["to"],
        absent_run=f["absent_run"],
    )
    for name in sorted(set(f) | set(again)):
        if f.get(name) != again.get(name):
            problems.append(f"figures.{name} differ from those recomputed from the bundles")
    return problems
