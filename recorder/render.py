"""The printable minutes document: parsed log entries -> one self-contained HTML page.

Pure and deterministic: the same entries, language and :class:`SignatureInfo` give the
same bytes, so the SHA-256 recorded in a ``minutes_rendered`` entry can be checked by
re-rendering. Every visible string comes from a catalog in :mod:`recorder.i18n`; every
value from an entry is HTML-escaped. Entry types the renderer does not know are listed
verbatim in an appendix, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from recorder.facts import ATTENDANCE_MODES, MeetingFacts, Poll, read_facts
from recorder.i18n import CATALOGS, LANGUAGES

RENDERER = "meetingd-minutes-html/1"

CSS = """
body{font-family:"Noto Serif","DejaVu Serif",Georgia,serif;font-size:11pt;line-height:1.4;
max-width:48em;margin:2em auto;padding:0 1em;color:#000;background:#fff}
h1{font-size:16pt;text-align:center;margin-bottom:.2em}h2{font-size:13pt;border-bottom:1px solid
#000;margin-top:1.6em}h3{font-size:11.5pt;margin-bottom:.3em}table{border-collapse:collapse;
width:100%;margin:.4em 0}th,td{border:1px solid #555;padding:2px 5px;text-align:left;
vertical-align:top}th{background:#eee}.mono{font-family:"DejaVu Sans Mono",monospace;
font-size:8.5pt;word-break:break-all}.banner{border:2px solid #000;padding:.4em;text-align:center;
font-weight:bold}.outcome{font-weight:bold}dl.meta{display:grid;grid-template-columns:max-content
auto;gap:0 1em}dl.meta dt{font-weight:bold}dl.meta dd{margin:0}.footer{margin-top:2em;
font-size:8.5pt;color:#444}@page{size:A4;margin:18mm}@media print{body{margin:0;max-width:none}
h2,h3{break-after:avoid}tr{break-inside:avoid}}
"""


@dataclass(frozen=True)
class OfficerSignature:
    role: str  # "chair" | "secretary"
    member_id: str
    full_name: str
    fingerprint: str | None = None
    cosigned_at: str | None = None  # ISO time, when cosigned


@dataclass(frozen=True)
class SignatureInfo:
    """What the signatures section states; all optional."""

    origin: str = ""
    log_key_fingerprint: str = ""
    size: int | None = None  # entries covered by this document
    root_hash: str = ""  # hex, of the tree at ``size``
    officers: tuple[OfficerSignature, ...] = field(default=())


class _Doc:
    def __init__(self, lang: str) -> None:
        if lang not in CATALOGS:
            raise ValueError(f"no catalog for language {lang!r}; have {', '.join(LANGUAGES)}")
        self.lang, self.cat = lang, CATALOGS[lang]
        self.out: list[str] = []

    def t(self, key: str, **values: Any) -> str:
        """The catalog string, formatted with escaped values."""
        return self.cat[key].format(**{k: escape(str(v)) for k, v in values.items()})

    def add(self, html: str) -> None:
        self.out.append(html)

    def when(self, at: str | None) -> str:
        if not at:
            return self.t("not_recorded")
        try:
            d = datetime.fromisoformat(at)
        except ValueError:
            return escape(at)
        return self.t(
            "datetime", y=d.year, m=f"{d.month:02d}", d=f"{d.day:02d}", H=f"{d.hour:02d}", M=f"{d.minute:02d}"
        )

    def table(self, heads: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """``heads`` are catalog keys; cells are already-escaped HTML."""
        self.add(
            "<table><thead><tr>" + "".join(f"<th>{self.t(h)}</th>" for h in heads) + "</tr></thead><tbody>"
        )
        for r in rows:
            self.add("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>")
        self.add("</tbody></table>")


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "-"


def render_minutes(
    entries: Sequence[Mapping[str, Any]],
    lang: str = "en",
    *,
    signatures: SignatureInfo | None = None,
    draft: bool = False,
    translation_of: str | None = None,
) -> str:
    """Render the minutes of one meeting from its parsed entries, in log order."""
    doc = _Doc(lang)
    facts = read_facts(entries)
    doc.add(
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{doc.t('doc_title', title=facts.title)}</title>"
        f"<style>{CSS}</style></head><body>"
    )
    if draft:
        doc.add(f'<p class="banner">{doc.t("draft")}</p>')
    if translation_of:
        doc.add(f'<p class="banner">{doc.t("translation", lang=doc.t("lang_" + translation_of))}</p>')
    _header(doc, facts)
    _attendance(doc, facts)
    _quorum(doc, facts)
    _agenda(doc, facts)
    _polls(doc, facts)
    _recordings(doc, facts)
    _signatures(doc, facts, signatures or SignatureInfo())
    doc.add(f"<h2>{doc.t('h_verify')}</h2><p>{doc.t('verify_text')}</p>")
    _appendix(doc, facts)
    doc.add(f'<p class="footer">{doc.t("footer", renderer=RENDERER, size=facts.size)}</p></body></html>\n')
    return "".join(doc.out)


def _role(doc: _Doc, role: str) -> str:
    key = f"role_{role}"
    return doc.t(key) if key in doc.cat else escape(role)


def _header(doc: _Doc, f: MeetingFacts) -> None:
    chair, sec = f.officer("chair"), f.officer("secretary")
    doc.add(f"<h1>{doc.t('doc_title', title=f.title)}</h1><dl class='meta'>")
    for key, value in (
        ("cell", escape(f.cell)),
        ("date", doc.when(f.opened_at or f.scheduled_for)),
        ("place", escape(f.place)),
        ("chair", escape(f"{chair.full_name} ({chair.member_id})") if chair else ""),
        ("secretary", escape(f"{sec.full_name} ({sec.member_id})") if sec else ""),
        ("opened", doc.when(f.opened_at)),
        ("closed", doc.when(f.closed_at)),
    ):
        doc.add(f"<dt>{doc.t(key)}</dt><dd>{value}</dd>")
    doc.add("</dl>")


def _mode(doc: _Doc, mode: str | None, site: str | None) -> str:
    if mode == "sub_site":
        return doc.t("sub_site", site=site) if site else doc.t("sub_site_any")
    if mode in ("main_room", "remote"):
        return doc.t(mode)
    return escape(mode or "")


def _attendance(doc: _Doc, f: MeetingFacts) -> None:
    doc.add(f"<h2>{doc.t('h_attendance')}</h2>")
    voting = f.entitled
    present = [p for p in voting if p.present]
    groups: list[tuple[str, int]] = [(doc.t("entitled"), len(voting)), (doc.t("present"), len(present))]
    for mode in ATTENDANCE_MODES:
        here = [p for p in present if p.attendance == mode]
        if mode == "sub_site":
            sites = sorted({p.site or "" for p in here} | set(f.sites))
            groups += [
                (_mode(doc, mode, s or None), sum(1 for p in here if (p.site or "") == s)) for s in sites
            ]
        else:
            groups.append((doc.t(mode), len(here)))
    excused = [p for p in voting if not p.present and p.excused]
    absent = [p for p in voting if not p.present and not p.excused]
    guests = [p for p in f.people.values() if not p.votes and p.present]
    groups += [
        (doc.t("excused"), len(excused)),
        (doc.t("absent"), len(absent)),
        (doc.t("guests"), len(guests)),
    ]
    doc.add("<dl class='meta'>" + "".join(f"<dt>{k}</dt><dd>{n}</dd>" for k, n in groups) + "</dl>")
    rate = doc.t(
        "attendance_rate", present=len(present), entitled=len(voting), rate=_pct(len(present), len(voting))
    )
    doc.add(f"<p><strong>{rate}</strong></p>")
    rows = []
    for p in sorted(f.people.values(), key=lambda p: (not p.votes, p.full_name, p.member_id)):
        if p.present:
            status = _mode(doc, p.attendance, p.site)
        elif p.excused:
            status = f"{doc.t('excused')}: {escape(p.excused)}"
        elif not p.votes:
            continue
        else:
            status = doc.t("absent")
        rows.append(
            [
                escape(p.full_name),
                escape(p.member_id),
                _role(doc, p.role),
                status,
                doc.when(p.joined_at) if p.joined_at else "",
            ]
        )
    doc.table(["col_member", "col_id", "col_role", "col_attendance", "col_joined"], rows)


def _quorum(doc: _Doc, f: MeetingFacts) -> None:
    doc.add(f"<h2>{doc.t('h_quorum')}</h2>")
    if not f.quorum:
        doc.add(f"<p>{doc.t('quorum_none')}</p>")
        return
    doc.add("<ul>")
    for e in f.quorum:
        t = str(e.get("type"))
        what = doc.t(t) if t in doc.cat else escape(t)
        extra = ""
        inner = e.get("quorum")
        nums: Mapping[str, Any] = inner if isinstance(inner, Mapping) else e
        if "present" in nums and "required" in nums:
            extra = "; " + doc.t("quorum_numbers", present=nums["present"], required=nums["required"])
        rule = nums.get("rule")
        if isinstance(rule, Mapping):
            rule = rule.get("description")
        if isinstance(rule, str) and rule:
            extra += f" ({escape(rule)})"
        doc.add(f"<li>{doc.when(str(e.get('at', '')))}: {what}{extra}</li>")
    doc.add("</ul>")


def _agenda(doc: _Doc, f: MeetingFacts) -> None:
    doc.add(f"<h2>{doc.t('h_agenda')}</h2>")
    for s in f.agenda:
        head = (
            doc.t("item", position=s.position, title=s.title)
            if s.position is not None
            else escape(s.title) or doc.t("before_agenda")
        )
        doc.add(f"<h3>{head}</h3>")
        if s.speeches:
            items = [
                doc.t("speech", name=f.name(sp.member_id), seconds=round(sp.seconds))
                if sp.seconds is not None
                else doc.t("speech_open", name=f.name(sp.member_id))
                for sp in s.speeches
            ]
            doc.add(f"<p><em>{doc.t('speakers')}:</em> " + "; ".join(items) + "</p>")
        else:
            doc.add(f"<p><em>{doc.t('no_speakers')}</em></p>")
        if s.notes:
            doc.add(
                f"<p><em>{doc.t('notes')}:</em></p><ul>"
                + "".join(f"<li>{escape(text)}</li>" for _at, text in s.notes)
                + "</ul>"
            )
        if s.motions:
            doc.add(
                f"<p><em>{doc.t('motions')}:</em></p><ul>"
                + "".join(
                    f"<li>{escape(str(m.get('title') or ''))} {escape(str(m.get('text') or ''))}</li>"
                    for m in s.motions
                )
                + "</ul>"
            )
        if s.overrides:
            doc.add(
                f"<p><em>{doc.t('overrides')}:</em></p><ul>"
                + "".join(
                    f"<li>{doc.when(str(o.get('at', '')))}: "
                    f"{escape(str(o.get('what') or o.get('action') or ''))} "
                    f"{escape(str(o.get('reason') or ''))}</li>"
                    for o in s.overrides
                )
                + "</ul>"
            )
        if s.polls:
            doc.add(
                "<ul>"
                + "".join(
                    "<li>"
                    + doc.t("poll_title", poll_id=pid, question=f.polls[pid].config.get("question", ""))
                    + "</li>"
                    for pid in s.polls
                )
                + "</ul>"
            )


def _opt(doc: _Doc, option: str) -> str:
    """A motion's preset options (yes/no/abstain) are translated; candidates are names."""
    return doc.t(option) if option in ("yes", "no", "abstain") else escape(option)


def _choice_names(doc: _Doc, poll: Poll, choices: Sequence[Any]) -> str:
    opts = poll.options
    return ", ".join(
        _opt(doc, opts[c]) if isinstance(c, int) and 0 <= c < len(opts) else escape(str(c)) for c in choices
    )


def _polls(doc: _Doc, f: MeetingFacts) -> None:
    doc.add(f"<h2>{doc.t('h_polls')}</h2>")
    if not f.polls:
        doc.add(f"<p>{doc.t('no_polls')}</p>")
    for poll in f.polls.values():
        _poll(doc, f, poll)


def _poll(doc: _Doc, f: MeetingFacts, poll: Poll) -> None:
    cfg = poll.config
    title = doc.t("poll_title", poll_id=poll.poll_id, question=cfg.get("question", ""))
    doc.add(f"<h3>{title}</h3>")
    rule = cfg.get("rule")
    rule_text = rule.get("description", "") if isinstance(rule, Mapping) else rule or ""
    kind = doc.t("poll_kind_secret") if poll.secret else doc.t("poll_kind_open")
    ptype = str(cfg.get("type", ""))
    meta = [
        (
            doc.t("poll_config"),
            " / ".join(
                x
                for x in (
                    doc.t(f"poll_type_{ptype}") if f"poll_type_{ptype}" in doc.cat else escape(ptype),
                    kind,
                )
                if x
            ),
        ),
        (doc.t("poll_options"), ", ".join(_opt(doc, o) for o in poll.options)),
        (doc.t("poll_rule"), escape(str(rule_text))),
        (doc.t("poll_max_choices"), escape(str(cfg.get("max_choices", 1)))),
        (
            doc.t("poll_quorate"),
            "" if poll.quorate is None else doc.t("yes") if poll.quorate else doc.t("no"),
        ),
        (doc.t("poll_opened_at"), doc.when(poll.opened_at)),
        (doc.t("poll_closed_at"), doc.when(poll.closed_at)),
    ]
    doc.add("<dl class='meta'>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta) + "</dl>")
    eligible = len(f.entitled)
    tally, outcome = poll.tally, poll.outcome
    if tally:
        doc.add(f"<p><em>{doc.t('poll_tally')}:</em></p>")
        counts = tally.get("counts") or []
        el = (tally.get("electronic") or {}).get("counts") or []
        hands = (tally.get("hand") or {}).get("counts") or []
        opts = tally.get("options") or poll.options
        rows = [
            [
                _opt(doc, str(o)),
                escape(str(counts[i] if i < len(counts) else "")),
                escape(str(el[i] if i < len(el) else "")),
                escape(str(hands[i] if i < len(hands) else "")),
            ]
            for i, o in enumerate(opts)
        ]
        doc.table(["col_option", "col_votes", "col_electronic", "col_hands"], rows)
        doc.add(
            "<p>"
            + doc.t(
                "poll_totals",
                voters=tally.get("voters", ""),
                valid=tally.get("valid", ""),
                abstentions=tally.get("abstentions", ""),
            )
            + "</p>"
        )
        voted = tally.get("voters")
        if isinstance(voted, int) and eligible:
            doc.add(
                "<p>" + doc.t("turnout", voted=voted, eligible=eligible, rate=_pct(voted, eligible)) + "</p>"
            )
    if outcome:
        doc.add(f"<p class='outcome'>{doc.t('poll_outcome')}: ")
        decision = outcome.get("decision")
        if decision in ("adopted", "rejected"):
            doc.add(
                doc.t(f"decision_{decision}")
                + " — "
                + doc.t(
                    "outcome_numbers",
                    **{
                        k: outcome.get(k, "")
                        for k in ("in_favour", "against", "abstentions", "base", "required")
                    },
                )
            )
        else:
            elected = outcome.get("elected") or []
            doc.add(
                doc.t("elected", names=", ".join(map(str, elected))) if elected else doc.t("elected_none")
            )
            if outcome.get("tied"):
                doc.add(
                    "; "
                    + doc.t(
                        "tied",
                        seats=outcome.get("tied_seats", ""),
                        names=", ".join(map(str, outcome["tied"])),
                    )
                )
        doc.add("</p>")
    elif not tally:
        doc.add(f"<p>{doc.t('no_result')}</p>")
    if poll.hand_counts:
        doc.add(
            f"<p><em>{doc.t('hand_counts')}:</em></p><ul>"
            + "".join(
                "<li>"
                + doc.t(
                    "hand_count",
                    place=h.get("site") or doc.t("main_room_short"),
                    counts=_choice_counts(poll, h.get("counts")),
                    by=h.get("entered_by", ""),
                )
                + "</li>"
                for h in poll.hand_counts
            )
            + "</ul>"
        )
    if poll.open_votes and not poll.secret:
        doc.add(f"<p><em>{doc.t('named_votes')}:</em></p>")
        doc.table(
            ["col_member", "col_choice"],
            [
                [escape(f"{f.name(v)} ({v})"), _choice_names(doc, poll, c)]
                for v, c in sorted(poll.open_votes.items())
            ],
        )
    if poll.secret and poll.receipts:
        doc.add(f"<p><em>{doc.t('receipts')}:</em></p>")
        doc.table(
            ["col_receipt", "col_choice"],
            [
                [
                    f"<span class='mono'>{escape(str(r.get('receipt', '')))}</span>",
                    _choice_names(doc, poll, r.get("choices") or []),
                ]
                for r in sorted(poll.receipts, key=lambda r: str(r.get("receipt", "")))
            ],
        )


def _choice_counts(poll: Poll, counts: Any) -> str:
    if not isinstance(counts, list):
        return str(counts)
    opts = poll.options
    return ", ".join(f"{opts[i] if i < len(opts) else i} {n}" for i, n in enumerate(counts))


def _recordings(doc: _Doc, f: MeetingFacts) -> None:
    doc.add(f"<h2>{doc.t('h_recordings')}</h2>")
    files: list[Mapping[str, Any]] = []
    for e in f.recordings:
        if isinstance(e.get("files"), list):
            files += [x for x in e["files"] if isinstance(x, Mapping)]
        elif e.get("type") == "recording_file":
            files.append(e)
    if not files:
        doc.add(f"<p>{doc.t('no_recordings')}</p>")
        return
    doc.table(
        ["col_file", "col_sha256", "col_size", "col_time"],
        [
            [
                escape(str(x.get("name") or x.get("path") or "")),
                f"<span class='mono'>{escape(str(x.get('sha256', '')))}</span>",
                escape(str(x.get("bytes", x.get("size", "")))),
                doc.when(str(x.get("started_at") or ""))
                + " \u2013 "
                + doc.when(str(x.get("ended_at") or "")),
            ]
            for x in files
        ],
    )


def _signatures(doc: _Doc, f: MeetingFacts, sig: SignatureInfo) -> None:
    doc.add(f"<h2>{doc.t('h_signatures')}</h2><dl class='meta'>")
    if sig.origin:
        doc.add(f"<dt>{doc.t('log_origin')}</dt><dd class='mono'>{escape(sig.origin)}</dd>")
    if sig.log_key_fingerprint:
        doc.add(f"<dt>{doc.t('log_key')}</dt><dd class='mono'>{escape(sig.log_key_fingerprint)}</dd>")
    doc.add("</dl>")
    if sig.size:
        doc.add("<p>" + doc.t("log_covered", last=sig.size - 1, size=sig.size, root=sig.root_hash) + "</p>")
    doc.add("<ul>")
    for o in sig.officers:
        key = "officer_key" if o.fingerprint else "officer_no_key"
        line = doc.t(
            key,
            role=_role(doc, o.role),
            name=o.full_name,
            member_id=o.member_id,
            fingerprint=o.fingerprint or "",
        )
        if o.cosigned_at:
            line += "; " + doc.t("cosigned", time=o.cosigned_at)
        doc.add(f"<li>{line}</li>")
    doc.add(f"</ul><p>{doc.t('cosign_pending')}</p>")


def _appendix(doc: _Doc, f: MeetingFacts) -> None:
    if not f.unknown:
        return
    doc.add(f"<h2>{doc.t('h_appendix')}</h2><p>{doc.t('appendix_text')}</p>")
    doc.table(
        ["col_seq", "col_type", "col_entry"],
        [
            [
                escape(str(e.get("seq", ""))),
                escape(str(e.get("type", ""))),
                f"<span class='mono'>{escape(json.dumps(e, ensure_ascii=False, sort_keys=True))}</span>",
            ]
            for e in f.unknown
        ],
    )
