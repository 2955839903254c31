# ruff: noqa: ASYNC221, ASYNC240  (the CLI runs as a blocking subprocess on purpose)
"""The whole minutes flow on a real server: close, officer keys (made by the officers, the
server gets only public keys), seal, cosign, export, verify, and every kind of tampering
caught by ``meetingd verify`` naming the culprit."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.cosignature import Cosigner

from .conftest import Server

pytestmark = pytest.mark.both_stores


class Officer:
    """An officer's own device: a key the server never sees, enrolled by its public key."""

    def __init__(self, member: Any) -> None:
        self.member = member
        self.cosigner = Cosigner(
            f"meetingd.local/minutes/member/{member.member_id}", Ed25519PrivateKey.generate()
        )

    async def enrol(self, **extra: Any) -> tuple[int, dict[str, Any]]:
        body = {"verifier_key": self.cosigner.verifier_key.encode(), **extra}
        return await self.member.call("POST", "/api/me/keys", body)

    async def line(self, meeting_id: int = 1) -> str:
        """Read the sealed checkpoint the page shows and sign it (this device's clock)."""
        status, body = await self.member.call("GET", f"/api/meetings/{meeting_id}/minutes")
        assert status == 200, body
        text = body["minutes"]["checkpoint"]["text"]
        return self.cosigner.cosign(text, int(time.time())).line()

    async def cosign(self, meeting_id: int = 1, lang: str = "en") -> tuple[int, dict[str, Any]]:
        await self.member.call("POST", f"/api/meetings/{meeting_id}/minutes/seal", {"lang": lang})
        line = await self.line(meeting_id)
        return await self.member.call(
            "POST", f"/api/meetings/{meeting_id}/minutes/cosign", {"cosignature": line}
        )


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


async def _closed_with_keys(server: Server, sign_in: Any) -> dict[str, Any]:
    chair, sec, member = await _run_meeting(server, sign_in)
    officers = {"chair": Officer(chair), "sec": Officer(sec)}
    status, body = await chair.call("POST", "/api/meetings/1/minutes/cosign", {"cosignature": "— x AAAAAAA="})
    assert (status, body["error"]) == (409, "invalid_state"), body  # still open
    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
    keys = {}
    for officer in officers.values():
        status, body = await officer.enrol()
        assert status == 201, body
        keys[officer.member.member_id] = body["key"]
    return {"chair": chair, "sec": sec, "member": member, "keys": keys, "officers": officers}


async def test_cosigning_is_refused_while_the_meeting_is_open(server, sign_in) -> None:
    chair, _sec, _member = await _run_meeting(server, sign_in)
    officer = Officer(chair)
    assert (await officer.enrol())[0] == 201
    line = officer.cosigner.cosign("meetingd.local/minutes/1\n1\n" + "A" * 43 + "=\n", 1).line()
    status, body = await chair.call("POST", "/api/meetings/1/minutes/cosign", {"cosignature": line})
    assert status == 409 and body["error"] == "invalid_state", body
    status, body = await chair.call("POST", "/api/meetings/1/minutes/seal", {"lang": "en"})
    assert status == 409 and body["error"] == "invalid_state", body


async def test_officer_keys_are_public_keys_made_by_the_officer(server, sign_in) -> None:
    ctx = await _closed_with_keys(server, sign_in)
    chair, member = ctx["chair"], ctx["member"]
    mine = ctx["officers"]["chair"]
    status, body = await chair.call("GET", "/api/me/keys")
    assert status == 200 and body["key"]["fingerprint"] == mine.cosigner.verifier_key.fingerprint
    assert body["key"]["name"] == body["key_name"] == "meetingd.local/minutes/member/C1-CHAIR"
    assert body["key"]["verifier_key"] == mine.cosigner.verifier_key.encode()
    assert body["reenrol"] is False
    # the same key again is idempotent; another is a conflict unless replacing
    status, body = await mine.enrol()
    assert (status, body["key"]["already"]) == (200, True)
    other = Officer(chair)
    status, body = await other.enrol()
    assert (status, body["error"]) == (409, "conflict"), body
    # a key under another member's name, a witness-type key, garbage: precise refusals
    sec_key = ctx["officers"]["sec"].cosigner.verifier_key.encode()
    for vkey, reason in (
        (sec_key, "wrong_name"),
        (server.svc.journal.signer(1).verifier_key.encode(), "wrong_name"),
        ("not a key", "malformed"),
        (mine.cosigner.verifier_key.encode()[:-4] + "AAA=", "malformed"),
    ):
        status, body = await chair.call("POST", "/api/me/keys", {"verifier_key": vkey})
        assert (status, body["error"], body["details"]["field"]) == (400, "invalid_input", "verifier_key")
        assert body["details"]["reason"] == reason, (vkey, body)
    status, body = await chair.call("POST", "/api/me/keys", {"passphrase": "a passphrase to the server"})
    assert (status, body["error"]) == (400, "invalid_input"), body  # that field is gone
    # the enrolment is a signed fact of the organisation log
    enrolled = [
        e
        for e in await server.svc.committee.log.member_entries("C1-CHAIR")
        if e["type"] == "officer_key_enrolled"
    ]
    assert [e["fingerprint"] for e in enrolled] == [mine.cosigner.verifier_key.fingerprint]
    # a member (even with a key) cannot cosign
    assert (await Officer(member).enrol())[0] == 201
    status, body = await member.call(
        "POST", "/api/meetings/1/minutes/cosign", {"cosignature": "— x AAAAAAA="}
    )
    assert (status, body["error"]) == (403, "not_authorised"), body


async def test_bad_cosignatures_are_refused_precisely_and_store_nothing(server, sign_in) -> None:
    ctx = await _closed_with_keys(server, sign_in)
    chair, mine = ctx["chair"], ctx["officers"]["chair"]
    url = "/api/meetings/1/minutes/cosign"
    status, body = await chair.call("POST", url, {"cosignature": await mine.line()})
    assert (status, body["details"]["reason"]) == (409, "not_sealed"), body
    assert (await chair.call("POST", "/api/meetings/1/minutes/seal", {"lang": "vi"}))[0] == 200
    before = (await chair.call("GET", "/api/meetings/1/minutes"))[1]["minutes"]["checkpoint"]
    text = before["text"]
    stranger = Cosigner(mine.cosigner.name, Ed25519PrivateKey.generate())  # my name, not my key
    origin, size, root = text.splitlines()[:3]
    other_meeting = f"meetingd.local/minutes/2\n{size}\n{root}\n"
    older = f"{origin}\n{int(size) - 1}\n{root}\n"
    now = int(time.time())
    good = mine.cosigner.cosign(text, now).line()
    cases = [
        (stranger.cosign(text, now).line(), 400, "unknown_key"),
        (mine.cosigner.cosign(other_meeting, now).line(), 400, "bad_signature"),
        (mine.cosigner.cosign(older, now).line(), 400, "bad_signature"),
        (mine.cosigner.cosign(text, now + 3 * 86400).line(), 400, "clock_ahead"),
        (good.replace("\u2014 ", "- "), 400, "malformed"),
        (good + good, 400, "malformed"),
        (good[:-10] + "\n", 400, "malformed"),
    ]
    for line, code, reason in cases:
        status, body = await chair.call("POST", url, {"cosignature": line})
        assert (status, body["error"], body["details"].get("reason")) == (code, "invalid_input", reason), (
            line,
            body,
        )
        assert body["details"]["field"] == "cosignature"
    status, body = await chair.call("POST", url, {"cosignature": 7})
    assert (status, body["details"]["field"]) == (400, "cosignature")
    after = (await chair.call("GET", "/api/meetings/1/minutes"))[1]["minutes"]["checkpoint"]
    assert after["note"] == before["note"]  # nothing stored
    # the good one is stored; signing again later is idempotent (the first time stays)
    status, body = await chair.call("POST", url, {"cosignature": good})
    assert status == 200 and body["already"] is False, body
    assert body["cosignature"]["fingerprint"] == mine.cosigner.verifier_key.fingerprint
    status, again = await chair.call("POST", url, {"cosignature": await mine.line()})
    assert status == 200 and again["already"] is True
    assert again["cosignature"]["timestamp"] == body["cosignature"]["timestamp"] == now
    minutes = again["minutes"]
    assert minutes["sealed"]["lang"] == "vi"
    assert [o["cosigned"] for o in minutes["officers"]] == [True, False]
    # a replaced key's cosignature stays recognised; the new key must cosign anew
    fresh = Officer(chair)
    assert (await fresh.enrol(replace=True))[0] == 201
    status, body = await chair.call("POST", url, {"cosignature": mine.cosigner.cosign(text, now).line()})
    assert (status, body["details"]["reason"]) == (400, "retired_key"), body


async def test_review_html_and_participation(server, sign_in) -> None:
    ctx = await _closed_with_keys(server, sign_in)
    member = ctx["member"]
    status, body = await member.call("GET", "/api/meetings/1/minutes")
    assert status == 200 and body["minutes"]["sealed"] is None
    types = [e["type"] for e in body["minutes"]["entries"]]
    assert types[0] == "meeting_opened" and types[-1] == "meeting_closed"
    async with member.http.get(server.url + "/api/meetings/1/minutes.html?lang=vi") as r:
        assert r.status == 200 and r.content_type == "text/html"
        draft = await r.text()
    assert "BẢN NHÁP" in draft and "Lê Minh Châu" in draft
    assert (await ctx["officers"]["sec"].cosign(lang="en"))[0] == 200
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
    ctx = await _closed_with_keys(server, sign_in)
    for officer in ctx["officers"].values():
        status, body = await officer.cosign()
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
    ctx = await _closed_with_keys(server, sign_in)
    assert (await ctx["officers"]["chair"].cosign())[0] == 200
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


async def test_an_officer_whose_key_the_server_held_is_asked_to_re_enrol(server, sign_in) -> None:
    import base64 as b64
    from datetime import UTC, datetime

    from meetingd.storage.minutes_models import OfficerKey

    sec = await sign_in("C1-SEC")
    member_pk = (await server.svc.directory.get("C1-SEC")).id
    async with server.svc.db() as s, s.begin():  # what the v5 step leaves of a server-held key
        s.add(
            OfficerKey(
                member_pk=member_pk,
                public_key=b64.b64encode(b"\x01" * 32).decode(),
                origin="server",
                created_at=datetime(2025, 1, 1, tzinfo=UTC),
                retired_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
    status, body = await sec.call("GET", "/api/me/keys")
    assert status == 200 and body["reenrol"] is True and body["key"] is None
    assert len(body["retired"]) == 1
    assert (await Officer(sec).enrol())[0] == 201
    status, body = await sec.call("GET", "/api/me/keys")
    assert body["reenrol"] is False and body["key"] is not None
