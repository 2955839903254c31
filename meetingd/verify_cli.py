"""``meetingd verify BUNDLE``: the offline auditor's command.

Runs fully offline: it imports only the recorder (stdlib, ``cryptography``, ``rfc8785``)
and, when present, the plug-in checks of :func:`entry_checks` (``voting.audit`` for
tallies) — no database, no server, no framework.

Exit status: 0 valid and pinned by ``--trust POLICY``; 1 invalid; 2 the command could
not run (unreadable file, policy file error); 3 valid but unpinned (no policy: the
bundle's own keys were used, so it proves nothing about who signed it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EXIT_VALID, EXIT_INVALID, EXIT_USAGE, EXIT_UNPINNED = 0, 1, 2, 3


def entry_checks(policy: Any = None) -> list[Any]:
    """The plug-in checks over the parsed entries (``recorder.verifier.EntryCheck``).

    Each package that writes entries a generic verifier cannot judge adds its check
    here (poll tallies; encrypted ballots). A package that is not installed is skipped.
    """
    from recorder.verifier import EntryCheck

    checks = []
    try:
        from voting.audit import tally_checker
    except ImportError:
        pass
    else:
        checks.append(
            EntryCheck(
                "tally",
                frozenset(
                    {
                        "poll_opened",
                        "ballot_cast",
                        "voter_marked",
                        "hand_count_recorded",
                        "poll_closed",
                        "poll_result",
                        # encrypted secret polls (voting.e2e.record, through voting.audit)
                        "e2e_trustee_key",
                        "e2e_poll_key",
                        "e2e_ballot",
                        "e2e_board_closed",
                        "e2e_partial_decryption",
                    }
                ),
                tally_checker,
            )
        )
    try:
        from voting.e2e.record import E2E_TYPES, e2e_findings
    except ImportError:  # the ristretto255 binding (rbcl) is missing
        pass
    else:
        checks.append(EntryCheck("encrypted ballots", E2E_TYPES, e2e_findings))
    pinned = () if policy is None else tuple(key for _role, key in policy.officers)
    checks.append(
        EntryCheck(
            "poll key statements" + (", officers' keys pinned by the trust policy" if pinned else ""),
            STATEMENT_TYPES,
            lambda entries: key_statement_findings(entries, pinned),
        )
    )
    return checks


def _sum_of(points: list[bytes]) -> bytes:
    """The n-of-n poll key: the sum of the shares (needs the ristretto255 binding)."""
    from voting.e2e.group import total

    return total(points)


STATEMENT_TYPES = frozenset({"e2e_trustee_key", "e2e_dkg_complete", "e2e_key_statement"})


def key_statement_findings(entries: Sequence[Mapping[str, Any]], pinned: Sequence[Any] = ()) -> Iterable[Any]:
    """Every officer-trustee's statement of the poll key (docs/e2e-ballots.md §3d) is the
    Ed25519 signature, under the verifier key named for that member, of a statement of
    this meeting, of the key it names, and of the trustees' shares as recorded before it.

    ``pinned``: the officers' verifier keys of the trust policy. A statement by a member the
    policy pins a key for must be signed with that key, not with the one the log names (the
    server that wrote the log could have enrolled a key of its own for the officer)."""
    import base64
    import binascii

    from cryptography.exceptions import InvalidSignature

    from recorder.errors import NoteError
    from recorder.note import SIG_COSIGNATURE_V1, VerifierKey
    from recorder.verifier import Finding
    from voting.e2e.statement import statement_text

    shares: dict[str, bytes] = {}
    completed: dict[str, bytes] = {}
    completed_key = b""
    for index, e in enumerate(entries):
        kind, where = e.get("type"), f"entries[{index}]"
        try:
            if kind == "e2e_trustee_key":
                shares[str(e["trustee_id"])] = bytes.fromhex(str(e["public_share"]))
            elif kind == "e2e_dkg_complete":
                completed = {
                    str(t["trustee_id"]): bytes.fromhex(str(t["verification_key"])) for t in e["trustees"]
                }
                completed_key = bytes.fromhex(str(e["public_key"]))
            elif kind == "e2e_key_statement":
                trustee, key = str(e["trustee_id"]), bytes.fromhex(str(e["public_key"]))
                vkey = VerifierKey.parse(str(e["verifier_key"]))
                text = str(e["statement"])
                lines = text.split("\n")
                named = {ln.split(" ")[1]: bytes.fromhex(ln.split(" ")[2]) for ln in lines[3:-1]}
                threshold = bool(completed) and set(named) == set(completed)
                recorded = completed if threshold else shares
                if text != statement_text(str(e["meeting_id"]), key, named):
                    yield Finding(where, f"{trustee}'s key statement is not of this meeting and key")
                elif any(recorded.get(t) != v for t, v in named.items()):
                    yield Finding(where, f"{trustee}'s key statement names shares the log does not hold")
                elif key != (completed_key if threshold else _sum_of(list(named.values()))):
                    yield Finding(where, f"{trustee}'s key statement names a key its shares do not give")
                elif vkey.sig_type != SIG_COSIGNATURE_V1 or not vkey.name.endswith(f"/member/{trustee}"):
                    yield Finding(where, f"{trustee}'s key statement is signed by a key not named for them")
                elif any(
                    k.name.endswith(f"/member/{trustee}")
                    and (k.name, k.sig_type, k.public_key) != (vkey.name, vkey.sig_type, vkey.public_key)
                    for k in pinned
                ):
                    yield Finding(
                        where,
                        f"{trustee}'s key statement is signed by {vkey.encode()}, not by the key the trust"
                        " policy pins for them",
                    )
                else:
                    vkey.ed25519().verify(base64.b64decode(str(e["signature"]), validate=True), text.encode())
        except InvalidSignature:
            yield Finding(where, f"the signature of {e.get('trustee_id')}'s key statement does not verify")
        except (KeyError, TypeError, ValueError, IndexError, binascii.Error, NoteError) as exc:
            yield Finding(where, f"malformed {kind} entry: {exc}")


def recording_findings(entries: Sequence[Mapping[str, Any]], folder: Path) -> Iterable[Any]:
    """Every recording file the log lists must be in ``folder`` and match its SHA-256."""
    from recorder.verifier import Finding

    for e in entries:
        listed = e.get("files")
        files: list[Any] = (
            listed if isinstance(listed, list) else [e] if e.get("type") == "recording_file" else []
        )
        for j, f in enumerate(files):
            if not isinstance(f, Mapping) or not isinstance(f.get("sha256"), str):
                continue
            name = str(f.get("name") or f.get("path") or "")
            where = (
                f"entries[{e.get('seq')}].files[{j}]"
                if e.get("type") != "recording_file"
                else f"entries[{e.get('seq')}]"
            )
            path = folder / Path(name).name  # never leave the given folder
            if not name or not path.is_file():
                yield Finding(where, f"recording {name!r} is listed in the minutes but missing from {folder}")
                continue
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            if h.hexdigest() != f["sha256"]:
                yield Finding(where, f"recording {name!r} does not match its SHA-256")


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(_usage(f"cannot read {what} {path}: {exc}")) from None


def _usage(message: str) -> int:
    print(f"meetingd verify: {message}", file=sys.stderr)
    return EXIT_USAGE


def cmd_verify(args: argparse.Namespace) -> int:
    from recorder.errors import PolicyError
    from recorder.policy import parse_policy
    from recorder.verifier import Finding, verify_bundle

    try:
        text = _read(args.bundle, "bundle")
        policy = None
        if args.trust:
            try:
                policy = parse_policy(_read(args.trust, "policy"), args.trust)
            except PolicyError as exc:
                return _usage(f"policy error: {exc}")
        known = [_read(p, "known checkpoint") for p in args.known_checkpoint or []]
        receipts = [(p, _read(p, "receipt")) for p in args.receipt or []]
    except SystemExit as exc:
        return int(exc.code or EXIT_USAGE)
    report = verify_bundle(text, policy=policy, known_checkpoints=known, checks=entry_checks(policy))
    entries: list[dict[str, Any]] = []
    if args.recordings or receipts or args.tracker:
        try:
            entries = [
                e for e in (json.loads(x) for x in json.loads(text).get("entries", [])) if isinstance(e, dict)
            ]
        except (ValueError, AttributeError) as exc:
            report.findings.append(Finding("entries", f"cannot read entries: {exc}"))
    if args.recordings:
        report.findings += list(recording_findings(entries, Path(args.recordings)))
        report.checked.append(f"recording files in {args.recordings}: present, SHA-256 match")
    if receipts:
        from recorder.receipt import receipt_findings

        for path, receipt in receipts:
            report.findings += list(receipt_findings(receipt, text, policy, path))
        report.checked.append(f"{len(receipts)} signed receipt(s) included in the log")
    trackers, missing_trackers = tracker_lines(entries, args.tracker or [])
    status = report.status
    if status == "valid":
        print("VALID: sealed, cosigned and pinned by the trust policy")
    elif status == "valid-unpinned":
        print(
            "VALID BUT UNPINNED: no --trust policy, so the bundle was checked against its own "
            "keys; compare the fingerprints below with trusted copies, or pass --trust POLICY"
        )
    else:
        print(f"INVALID: {len(report.errors)} problem(s)")
    print(f"origin {report.origin}; {report.size} entries; root {report.root_hash}")
    print(f"log key fingerprint {report.log_key_fingerprint}" + ("" if report.pinned else " (not pinned)"))
    for c in report.cosignatures + report.witnesses:
        when = datetime.fromtimestamp(c.timestamp, UTC).isoformat().replace("+00:00", "Z")
        print(f"cosigned by {c.role}: {c.name}, key fingerprint {c.fingerprint}, at {when}")
    for line in report.checked:
        print(f"checked: {line}")
    if not any(c.name == "tally" for c in entry_checks()):
        print("note: voting.audit is not installed; poll tallies were not recomputed")
    for f in report.findings:
        print(f"{f.severity.upper()} {f.location}: {f.message}")
    for line in trackers:
        print(line)
    if missing_trackers:
        return EXIT_INVALID
    return {"valid": EXIT_VALID, "valid-unpinned": EXIT_UNPINNED}.get(status, EXIT_INVALID)


def add_verify_command(sub: Any) -> None:
    v = sub.add_parser(
        "verify",
        help="verify a minutes bundle offline (no server, no database)",
        description="Exit status: 0 valid and pinned by --trust; 1 invalid; 2 usage or policy "
        "error; 3 valid but unpinned (no --trust policy).",
    )
    v.add_argument("bundle")
    v.add_argument(
        "--trust",
        metavar="POLICY",
        help="trust policy file: log key, officer keys by role, witness keys, quorum "
        "(docs/minutes-format.md)",
    )
    v.add_argument(
        "--known-checkpoint",
        action="append",
        metavar="FILE",
        help="a signed checkpoint you already hold; must be consistent (repeatable)",
    )
    v.add_argument(
        "--recordings",
        metavar="DIR",
        help="folder holding the recording files; each listed file must be there",
    )
    v.add_argument(
        "--receipt",
        action="append",
        metavar="FILE",
        help="a signed ballot receipt; must be in the log (repeatable)",
    )
    v.add_argument(
        "--tracker",
        action="append",
        metavar="T",
        help="a secret ballot's tracker (or its first 16+ hex digits): is it on the board? (repeatable)",
    )
    v.set_defaults(fn=cmd_verify)


def tracker_lines(entries: Sequence[Mapping[str, Any]], trackers: Sequence[str]) -> tuple[list[str], int]:
    """Where each tracker is on a board (counted or superseded), and how many are on none."""
    try:
        from voting.e2e.record import find_tracker
    except ImportError as exc:
        return [f"trackers cannot be looked up: {exc}"], len(trackers)
    lines, missing = [], 0
    for t in trackers:
        found = find_tracker(entries, t)
        if not found:
            missing += 1
            lines.append(f"tracker {t}: NOT on any board")
        for f in found:
            state = "superseded by a later ballot of the same voter" if f.superseded else "counted"
            lines.append(f"tracker {t}: on the board of poll {f.poll_id}, entries[{f.index}], {state}")
    return lines, missing
