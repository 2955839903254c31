"""The cast ack carries a receipt signed by the server's log key; ``meetingd verify
--receipt`` proves it is in the log, and names a signed receipt the log lacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from recorder.note import open_note
from recorder.receipt import Receipt

from .procedure_helpers import ballot_id, open_poll, quorate_meeting


def meetingd(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_")}
    return subprocess.run(
        [sys.executable, "-m", "meetingd", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


async def test_signed_receipts_of_open_ballots_are_proven_in_the_bundle(
    server, sign_in, tmp_path: Path
) -> None:
    chair, members = await quorate_meeting(sign_in)
    open_id = await open_poll(chair)
    ack = await members[0].emit("cast_ballot", {"poll_id": open_id, "ballot_id": ballot_id(), "choices": [0]})
    assert ack["ok"], ack
    key = server.svc.journal.signer(1).verifier_key
    statement = Receipt.parse(open_note(ack["signed_receipt"], [key]).text)
    assert (statement.poll_id, statement.receipt) == (str(open_id), ack["receipt"])
    assert statement.origin == "meetingd.local/minutes/1" and statement.index is not None
    await chair.emit("close_poll", {"poll_id": open_id})
    # (secret polls are end-to-end encrypted now: their ballots carry trackers, docs/e2e-ballots.md)
    retry = await members[0].emit(
        "cast_ballot", {"poll_id": open_id, "ballot_id": ballot_id(), "choices": [0]}
    )
    assert not retry.get("ok") or retry.get("signed_receipt")
    # a receipt the server signed for a ballot the log does not hold (a dropped ballot)
    dropped = Receipt(
        "meetingd.local/minutes/1", str(open_id), "ZZZZ-ZZZZ-ZZZZ-ZZZZ", statement.index, statement.time
    ).sign(server.svc.journal.signer(1))
    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
    bundle, _ = await server.svc.minutes.export(1)
    path = tmp_path / "bundle.json"
    path.write_text(bundle.to_json())
    files = {}
    for name, text in (
        ("open", ack["signed_receipt"]),
        ("dropped", dropped),
    ):
        files[name] = tmp_path / f"{name}.txt"
        files[name].write_text(text)

    ok = meetingd("verify", str(path), "--receipt", str(files["open"]))
    assert ok.returncode == 3, ok.stdout + ok.stderr  # valid (unpinned: no policy here)
    assert "checked: 1 signed receipt(s) included in the log" in ok.stdout
    bad = meetingd("verify", str(path), "--receipt", str(files["dropped"]))
    assert bad.returncode == 1, bad.stdout
    assert f"ERROR receipt[{files['dropped']}]: evidence against the server" in bad.stdout
    forged = tmp_path / "forged.txt"
    forged.write_text(ack["signed_receipt"].replace(ack["receipt"], "AAAA-AAAA-AAAA-AAAA"))
    bad = meetingd("verify", str(path), "--receipt", str(forged))
    assert bad.returncode == 1 and "not a receipt signed by the log key" in bad.stdout
