"""The organisation log export is tamper-evident: the offline verifier finds every edit."""

from __future__ import annotations

import json

from recorder.keys import generate_private_key
from recorder.minutes_log import MinutesLog
from recorder.note import Ed25519Signer
from recorder.org_log import export_org_log, verify_org_log

ORIGIN = "meetingd.test/minutes/org"


def exported(
    signer: Ed25519Signer | None = None, kinds: tuple[str, ...] = ("reward", "discipline", "training")
) -> tuple[dict[str, object], str]:
    signer = signer or Ed25519Signer(ORIGIN, generate_private_key())
    log = MinutesLog(ORIGIN)
    for i, kind in enumerate(kinds):
        log.append(
            {
                "type": "profile_change",
                "seq": i,
                "at": "2026-01-01T00:00:00Z",
                "member_id": "M-1",
                "by": "ADM",
                "reason": "r",
                "kind": kind,
                "data": {"title": "x"},
            }
        )
        log.checkpoint(signer)
    doc = export_org_log(ORIGIN, signer.verifier_key, log.entries, log.checkpoints)
    return doc, signer.verifier_key.encode()


def test_an_untouched_export_verifies_against_the_pinned_key() -> None:
    doc, key = exported()
    rep = verify_org_log(json.dumps(doc), trusted_log_key=key)
    assert rep.ok and rep.size == 3 and rep.checkpoints == 3, rep.errors


def test_an_edited_entry_is_found() -> None:
    doc, key = exported()
    entries = list(doc["entries"])  # type: ignore[call-overload]
    entries[1] = entries[1].replace('"discipline"', '"reward"')
    rep = verify_org_log({**doc, "entries": entries}, trusted_log_key=key)
    assert not rep.ok and any("do not have the signed root" in e for e in rep.errors)


def test_a_dropped_entry_is_found() -> None:
    doc, key = exported()
    entries = list(doc["entries"])  # type: ignore[call-overload]
    rep = verify_org_log({**doc, "entries": entries[:2]}, trusted_log_key=key)
    assert not rep.ok


def test_a_history_re_signed_with_another_key_fails_against_the_pinned_key() -> None:
    _doc, key = exported()
    forged, _ = exported()
    rep = verify_org_log(forged, trusted_log_key=key)
    assert not rep.ok and rep.errors


def test_a_rewritten_history_contradicts_a_checkpoint_the_auditor_kept() -> None:
    signer = Ed25519Signer(ORIGIN, generate_private_key())
    doc, key = exported(signer)
    kept = doc["checkpoints"][1]  # type: ignore[index]
    assert verify_org_log(doc, trusted_log_key=key, known_checkpoints=[kept]).ok
    # whoever holds the server key re-signs a history without the discipline record
    rewritten, _ = exported(signer, ("reward", "training", "training"))
    assert verify_org_log(rewritten, trusted_log_key=key).ok  # consistent on its own...
    rep = verify_org_log(rewritten, trusted_log_key=key, known_checkpoints=[kept])
    assert not rep.ok and any("known checkpoint 0" in e for e in rep.errors)  # ...but not with the kept one
