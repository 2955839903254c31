# ruff: noqa: ASYNC221, ASYNC240  (the CLI runs as a blocking subprocess on purpose)
"""The whole minutes flow on a real server: close, officer keys, seal, cosign, export, verify,
and every kind of tampering caught by ``meetingd verify`` naming the culprit."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import Server

pytestmark = pytest.mark.both_stores


CHAIR_PASS = "chair passphrase 2026"
SEC_PASS = "secretary passphrase 2026"


def meetingd(
    *args: str, timeout: float = 120, server: Server | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI; given ``server``, on that server's database (SQLite in data_dir or PostgreSQL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_")}
    if server is not None and server.svc.config.database.url:
        env["MEETINGD_DATABASE_URL"] = server.svc.config.database.url
    return subprocess.run(
        [sys.executable, "-m", "meetingd", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


async def _run_meeting(server: Server, sign_in: Any) -> tuple[Any, Any, Any]:
    chair, sec, member = [await sign_in(m) for m in ("C1-CHAIR", "C1-SEC", "C1-001")]
    other = await sign_in("C1-002")
    assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
    assert (await member.join(attendance="main_room"))["ok"]
    assert (await other.join(attendance="remote"))["ok"]
    if True:  # the facts the procedure module records (driven here without sockets)
        async with server.svc.journal.transaction(1) as tx:
            tx.record("agenda_item_started", position=2, title="Report on the quarter's activities")
            tx.record("floor_given", member_id="C1-001")
        async with server.svc.journal.transaction(1) as tx:
            tx.record("speech_ended", member_id="C1-001", duration_ms=95_000)
            tx.record("secretary_note", text="The report was approved <unanimously>.")
        try:  # an entry type the format document does not specify is refused
            async with server.svc.journal.transaction(1) as tx:
                tx.record("chair_summoned_the_moon", detail="an entry type nobody specified")
        except Exception as exc:
            assert getattr(exc, "code", None) == "unknown_entry_type"
        else:
            raise AssertionError("an undeclared entry type was appended")
    return chair, sec, member


async def _closed_and_cosigned(server: Server, sign_in: Any) -> dict[str, Any]:
    chair, sec, member = await _run_meeting(server, sign_in)
    status, body = await chair.call("POST", "/api/meetings/1/minutes/cosign", {"passphrase": CHAIR_PASS})
    assert (status, body["error"]) == (409, "invalid_state"), body  # still open
    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
    keys = {}
    for who, pw in ((chair, CHAIR_PASS), (sec, SEC_PASS)):
        status, body = await who.call("POST", "/api/me/keys", {"passphrase": pw})
        assert status == 201, body
        keys[who.member_id] = body["key"]
    return {"chair": chair, "sec": sec, "member": member, "keys": keys}


async def test_cosigning_is_refused_while_the_meeting_is_open(server, sign_in) -> None:
    chair, _sec, _member = await _run_meeting(server, sign_in)
    assert (await chair.call("POST", "/api/me/keys", {"passphrase": CHAIR_PASS}))[0] == 201
    status, body = await chair.call("POST", "/api/meetings/1/minutes/cosign", {"passphrase": CHAIR_PASS})
    assert status == 409 and body["error"] == "invalid_state", body
    status, body = await chair.call("POST", "/api/meetings/1/minutes/seal", {"lang": "en"})
    assert status == 409 and body["error"] == "invalid_state", body


async def test_officer_keys_roles_and_passphrases(server, sign_in) -> None:
    ctx = await _closed_and_cosigned(server, sign_in)
    chair, member = ctx["chair"], ctx["member"]
    status, body = await chair.call("GET", "/api/me/keys")
    assert status == 200 and body["key"]["fingerprint"] == ctx["keys"]["C1-CHAIR"]["fingerprint"]
    assert body["key"]["name"] == "meetingd.local/minutes/member/C1-CHAIR"
    assert body["key"]["verifier_key"].startswith("meetingd.local/minutes/member/C1-CHAIR+")
    # a second key is a conflict; replacing needs the current passphrase
    status, body = await chair.call("POST", "/api/me/keys", {"passphrase": "another one 123"})
    assert (status, body["error"]) == (409, "conflict")
    status, body = await chair.call("POST", "/api/me/keys", {"passphrase": "short"})
    assert (status, body["error"], body["details"]["field"]) == (400, "invalid_input", "passphrase")
    # a member (even with a key) cannot cosign
    created = await member.call("POST", "/api/me/keys", {"passphrase": "member passphrase"})
    assert created[0] == 201
    status, body = await member.call(
        "POST", "/api/meetings/1/minutes/cosign", {"passphrase": "member passphrase"}
    )
    assert (status, body["error"]) == (403, "not_authorised"), body
    # wrong passphrase: invalid_input on the passphrase field (not not_authenticated)
    status, body = await chair.call(
        "POST", "/api/meetings/1/minutes/cosign", {"passphrase": "wrong passphrase!"}
    )
    assert (status, body["error"], body["details"]["field"]) == (400, "invalid_input", "passphrase"), body
    # cosign, then again: idempotent
    status, body = await chair.call(
        "POST", "/api/meetings/1/minutes/cosign", {"passphrase": CHAIR_PASS, "lang": "vi"}
    )
    assert status == 200 and body["already"] is False, body
    assert body["cosignature"]["fingerprint"] == ctx["keys"]["C1-CHAIR"]["fingerprint"]
    status, again = await chair.call("POST", "/api/meetings/1/minutes/cosign", {"passphrase": CHAIR_PASS})
    assert status == 200 and again["already"] is True
    assert again["cosignature"]["timestamp"] == body["cosignature"]["timestamp"]
    minutes = again["minutes"]
    assert minutes["sealed"]["lang"] == "vi"
    assert [o["cosigned"] for o in minutes["officers"]] == [True, False]


async def test_review_html_and_participation(server, sign_in) -> None:
    ctx = await _closed_and_cosigned(server, sign_in)
    member = ctx["member"]
    status, body = await member.call("GET", "/api/meetings/1/minutes")
    assert status == 200 and body["minutes"]["sealed"] is None
    types = [e["type"] for e in body["minutes"]["entries"]]
    assert types[0] == "meeting_opened" and types[-1] == "meeting_closed"
    async with member.http.get(server.url + "/api/meetings/1/minutes.html?lang=vi") as r:
        assert r.status == 200 and r.content_type == "text/html"
        draft = await r.text()
    assert "BẢN NHÁP" in draft and "Lê Minh Châu" in draft
    assert (
        await ctx["sec"].call(
            "POST", "/api/meetings/1/minutes/cosign", {"passphrase": SEC_PASS, "lang": "en"}
        )
    )[0] == 200
    status, body = await member.call("GET", "/api/meetings/1/minutes")
    sealed = body["minutes"]["sealed"]
    async with member.http.get(server.url + "/api/meetings/1/minutes.html?lang=en") as r:
        html = await r.text()
    assert hashlib.sha256(html.encode()).hexdigest() == sealed["sha256"]
    assert "DRAFT" not in html and "&lt;unanimously&gt;" in html
    assert "chair_summoned_the_moon" not in html  # refused, never written
    async with member.http.get(server.url + "/api/meetings/1/minutes.html?lang=vi") as r:
        assert "Bản dịch" in await r.text()
    async with member.http.get(server.url + "/api/meetings/1/minutes.html?lang=fr") as r:
        assert r.status == 400 and (await r.json())["error"] == "invalid_input"
    async with member.http.get(server.url + "/api/meetings/1/participation.csv") as r:
        assert r.status == 200 and r.content_type == "text/csv"
        rows = (await r.text()).splitlines()
    assert rows[0].startswith("member_id,full_name,role,attendance")
    row = next(x for x in rows if x.startswith("C1-001,"))
    assert ",main_room," in row and ",yes," in row and ",1,95," in row


def _swap_sig(note: str, name: str) -> str:
    """Flip the last byte of the signature line of key ``name``."""
    lines = note.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(f"\u2014 {name} "):
            raw = bytearray(base64.b64decode(line.rsplit(" ", 1)[1]))
            raw[-1] ^= 1
            lines[i] = f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}"
            return "\n".join(lines)
    raise AssertionError(f"no signature by {name}")


async def test_export_verify_and_every_tampering_is_caught(server, sign_in, tmp_path) -> None:
    ctx = await _closed_and_cosigned(server, sign_in)
    for who, pw in ((ctx["chair"], CHAIR_PASS), (ctx["sec"], SEC_PASS)):
        status, body = await who.call("POST", "/api/meetings/1/minutes/cosign", {"passphrase": pw})
        assert status == 200, body
    out = tmp_path / "bundle.json"
    done = meetingd(
        "minutes",
        "export",
        "1",
        "--data-dir",
        str(server.data_dir),
        "-o",
        str(out),
        "--lang",
        "vi",
        "--pdf",
        server=server,
    )
    assert done.returncode == 0, done.stderr
    if Path("/usr/bin/chromium").exists():
        assert out.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    bundle = json.loads(out.read_text())
    assert [c["role"] for c in bundle["cosigners"]] == ["chair", "secretary"]
    policy = tmp_path / "policy.txt"
    written = meetingd(
        "minutes", "policy", "1", "--data-dir", str(server.data_dir), "-o", str(policy), server=server
    )
    assert written.returncode == 0, written.stderr
    text = policy.read_text()
    for role, mid in (("chair", "C1-CHAIR"), ("secretary", "C1-SEC")):
        assert f"officer {role} {ctx['keys'][mid]['verifier_key']}" in text
    ok = meetingd("verify", str(out), "--trust", str(policy))
    assert ok.returncode == 0 and ok.stdout.startswith("VALID:"), ok.stdout + ok.stderr
    assert ctx["keys"]["C1-CHAIR"]["fingerprint"] in ok.stdout
    unpinned = meetingd("verify", str(out))
    assert unpinned.returncode == 3, unpinned.stdout
    assert unpinned.stdout.startswith("VALID BUT UNPINNED") and "checked: " in unpinned.stdout

    entries = bundle["entries"]
    k = len(bundle["checkpoints"]) - 1
    joined = next(i for i, e in enumerate(entries) if '"member_joined"' in e)

    def flip_entry(b: dict[str, Any]) -> None:
        b["entries"][joined] = b["entries"][joined].replace("main_room", "remote")

    def delete_entry(b: dict[str, Any]) -> None:
        del b["entries"][joined]

    def reorder(b: dict[str, Any]) -> None:
        e = b["entries"]
        e[joined], e[joined + 1] = e[joined + 1], e[joined]

    def truncate_before_the_seal(b: dict[str, Any]) -> None:
        del b["entries"][-1]  # a genuine prefix: its checkpoint is signed too
        b["checkpoints"] = [c for c in b["checkpoints"] if int(c.split("\n")[1]) <= len(b["entries"])]

    def alter_signature(b: dict[str, Any]) -> None:
        b["checkpoints"][k] = _swap_sig(b["checkpoints"][k], bundle["origin"])

    def alter_cosignature(b: dict[str, Any]) -> None:
        name = ctx["keys"]["C1-CHAIR"]["name"]
        b["checkpoints"][k] = _swap_sig(b["checkpoints"][k], name)

    def alter_html(b: dict[str, Any]) -> None:
        b["minutes_html"] = b["minutes_html"].replace("Lê Minh Châu", "Lê Minh Chau")

    cases = [
        (flip_entry, "entries["),
        (delete_entry, f"entries[{joined}].seq"),
        (reorder, f"entries[{joined}].seq"),
        (truncate_before_the_seal, "seal"),
        (alter_signature, f"checkpoints[{k}].signature"),
        (alter_cosignature, f"checkpoints[{k}].cosignature[chair]"),
        (alter_html, "minutes_html"),
    ]
    polls = [i for i, e in enumerate(entries) if '"poll_result"' in e]
    if polls and importlib.util.find_spec("voting.audit") is not None:

        def alter_tally(b: dict[str, Any]) -> None:
            doc = json.loads(b["entries"][polls[0]])
            doc["tally"]["counts"][0] += 1
            import rfc8785

            b["entries"][polls[0]] = rfc8785.dumps(doc).decode()

        cases.append((alter_tally, "tally"))
    for tamper, culprit in cases:
        copy = json.loads(json.dumps(bundle))
        tamper(copy)
        path = tmp_path / f"tampered-{tamper.__name__}.json"
        path.write_text(json.dumps(copy, ensure_ascii=False))
        bad = meetingd("verify", str(path), "--trust", str(policy))
        assert bad.returncode == 1, (tamper.__name__, bad.stdout)
        assert bad.stdout.startswith("INVALID"), bad.stdout
        assert f"ERROR {culprit}" in bad.stdout, (tamper.__name__, bad.stdout)


async def test_verify_runs_without_the_server_stack(server, sign_in, tmp_path) -> None:
    """``meetingd verify`` imports no web framework, database or media library."""
    ctx = await _closed_and_cosigned(server, sign_in)
    assert (await ctx["chair"].call("POST", "/api/meetings/1/minutes/cosign", {"passphrase": CHAIR_PASS}))[
        0
    ] == 200
    bundle, _warnings = await server.svc.minutes.export(1)
    path = tmp_path / "b.json"
    path.write_text(bundle.to_json())
    guard = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'aiohttp','sqlalchemy','aiosqlite','socketio',"
        "'engineio','aiortc','av','argon2'}:\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from meetingd.cli import main\n"
        f"sys.exit(main(['verify', {str(path)!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", guard], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stdout + done.stderr  # no policy: valid but unpinned
    assert done.stdout.startswith("VALID BUT UNPINNED")


async def test_key_rotation_keeps_old_bundles_verifiable(tmp_path) -> None:
    from .conftest import start_server

    srv, runner = await start_server(tmp_path)
    try:
        chair_pk = 1
        journal = srv.svc.journal
        async with journal.transaction(1) as tx:
            tx.record("secretary_note", text="before rotation")
            tx.record("meeting_closed", by="C1-CHAIR")
        old_fp = journal.signer(1).verifier_key.fingerprint
        from sqlalchemy import update

        from meetingd.storage.models import Meeting

        async with srv.svc.db() as s, s.begin():
            await s.execute(update(Meeting).where(Meeting.id == 1).values(state="closed"))
        bundle, _ = await srv.svc.minutes.export(1)  # seals
        assert chair_pk and bundle.entries
    finally:
        await runner.cleanup()
    data = str(tmp_path / "data")
    rotated = meetingd("keys", "rotate", "--data-dir", data)
    assert rotated.returncode == 0, rotated.stderr
    shown = meetingd("keys", "show", "--data-dir", data)
    assert old_fp in shown.stdout and "retired" in shown.stdout
    srv, runner = await start_server(tmp_path)
    try:
        assert srv.svc.journal.signer(2).verifier_key.fingerprint != old_fp
        out = tmp_path / "old.json"
        done = meetingd("minutes", "export", "1", "--data-dir", data, "-o", str(out))
        assert done.returncode == 0, done.stderr
        ok = meetingd("verify", str(out))
        assert ok.returncode == 3, ok.stdout  # closed, sealed, never cosigned: no policy given
        assert f"log key fingerprint {old_fp}" in ok.stdout
        exported = json.loads(meetingd("keys", "export", "--data-dir", data, "--meeting", "1").stdout)
        assert {k["status"] for k in exported["keys"]} == {"current", "retired"}
        assert exported["meeting"]["log_key_fingerprint"] == old_fp
    finally:
        await runner.cleanup()
