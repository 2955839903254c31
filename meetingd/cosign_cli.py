"""``meetingd cosign``: an officer cosigns a sealed bundle offline, from their own key file.

The officer's key never reaches the server: ``meetingd cosign --generate KEY --name NAME``
writes a passphrase-sealed Ed25519 key file (``recorder/keys.py`` format) and prints its
cosignature/v1 verifier key for the trust policy; ``meetingd cosign BUNDLE --key KEY
--name NAME`` first verifies the bundle (it must be closed and sealed; unpinned is fine),
prints what it is about to sign, then cosigns the last checkpoint (C2SP
tlog-cosignature, this machine's clock) and prints the signature line, or with
``-o OUT`` writes the bundle with the line added. The officer enrols the key file's
verifier key on the server (minutes page, or ``POST /api/me/keys``) and may paste the
printed line there (``POST .../minutes/cosign``), which stores it like a browser's. The passphrase comes from
``MEETINGD_COSIGN_PASSPHRASE`` or a prompt. Offline: no server, no database.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _passphrase(confirm: bool) -> str:
    env = os.environ.get("MEETINGD_COSIGN_PASSPHRASE")
    if env:
        return env
    first = getpass.getpass("key passphrase: ")
    if confirm and first != getpass.getpass("again: "):
        raise SystemExit("meetingd cosign: the passphrases differ")
    return first


def cmd_cosign(args: argparse.Namespace) -> int:
    from recorder.cosignature import Cosigner
    from recorder.errors import KeyFileError, NoteError
    from recorder.keys import decrypt_private_key, encrypt_private_key, generate_private_key
    from recorder.note import parse_signed_note
    from recorder.verifier import verify_bundle

    if args.generate:
        path = Path(args.generate)
        if path.exists():
            print(f"meetingd cosign: {path} exists; not overwritten", file=sys.stderr)
            return 2
        key = generate_private_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(encrypt_private_key(key, _passphrase(confirm=True)))
        vkey = Cosigner(args.name, key).verifier_key
        print(f"wrote {path}; verifier key {vkey.encode()}")
        print(f"fingerprint {vkey.fingerprint}")
        print(
            "enrol it on the server: paste the verifier key on your minutes page "
            "('I use a key file'), or POST /api/me/keys with it"
        )
        return 0
    if not args.bundle or not args.key:
        print("meetingd cosign: give BUNDLE and --key KEY (or --generate KEY)", file=sys.stderr)
        return 2
    text = Path(args.bundle).read_text(encoding="utf-8")
    report = verify_bundle(text)
    if not report.ok:
        print(report.summary())
        print("meetingd cosign: the bundle does not verify; not cosigning", file=sys.stderr)
        return 1
    try:
        key = decrypt_private_key(Path(args.key).read_text(encoding="utf-8"), _passphrase(confirm=False))
    except KeyFileError as exc:
        print(f"meetingd cosign: {exc}", file=sys.stderr)
        return 1
    doc: dict[str, Any] = json.loads(text)
    last = doc["checkpoints"][-1]
    try:
        body = parse_signed_note(last).text
    except NoteError as exc:
        print(f"meetingd cosign: {exc}", file=sys.stderr)
        return 1
    cosigner = Cosigner(args.name, key)
    print(f"cosigning {report.origin}: {report.size} entries, root {report.root_hash}, sealed")
    sig = cosigner.cosign(body, int(time.time()))
    if args.output:
        from recorder.checkpoint import add_cosignatures

        doc["checkpoints"][-1] = add_cosignatures(last, [sig])
        Path(args.output).write_text(
            json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
        )
        print(f"wrote {args.output}")
    sys.stdout.write(sig.line())
    return 0


def add_cosign_command(sub: Any) -> None:
    c = sub.add_parser("cosign", help="cosign a sealed minutes bundle offline with your own key file")
    c.add_argument("bundle", nargs="?")
    c.add_argument("--key", help="your sealed key file (recorder/keys.py format)")
    c.add_argument("--name", required=True, help="your key name, e.g. meetingd.local/minutes/member/C1-CHAIR")
    c.add_argument("-o", "--output", help="write the bundle with your cosignature added")
    c.add_argument("--generate", metavar="KEY", help="create a new key file and print its verifier key")
    c.set_defaults(fn=cmd_cosign)
