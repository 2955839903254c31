"""The minutes service: officer keys, review, sealing, cosigning, export, participation.

The log itself is written by :class:`meetingd.journal.Journal`; this service reads it
back from storage (the source of truth, cosignature lines included), so it also works
for meetings signed by a retired server key.

* **Seal**: after close, the minutes are rendered (:mod:`recorder.render`) and a
  ``minutes_rendered`` entry records the document's SHA-256; the final checkpoint is
  signed. The verifier then authenticates the document in a bundle's ``minutes_html``.
* **Officer keys**: the chair's and the secretary's Ed25519 cosigning keys are made on
  their own devices (the browser, web/js/officer-key.js, or a ``meetingd cosign`` key
  file); the server stores only the public key (a signed-note verifier key) and records
  each enrolment in the organisation log.
* **Cosign**: the officer's device signs the sealed final checkpoint (C2SP
  tlog-cosignature/v1, its own clock) and posts the signature line; the server checks
  it against the enrolled key and stores it on the checkpoint.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock, iso
from meeting.errors import Conflict, InvalidInput, InvalidState, NotAuthorised, NotFound
from recorder.bundle import Bundle, tlog_proof_text
from recorder.checkpoint import Checkpoint, add_cosignatures
from recorder.cosignature import verify_cosignature
from recorder.errors import NoteError
from recorder.facts import read_facts
from recorder.i18n import LANGUAGES
from recorder.keys import read_public_key
from recorder.minutes_log import MinutesLog
from recorder.note import (
    SIG_COSIGNATURE_V1,
    SIG_ED25519,
    NoteSignature,
    VerifierKey,
    parse_signature_line,
    parse_signed_note,
)
from recorder.render import RENDERER, OfficerSignature, SignatureInfo, render_minutes

from .config import Config
from .journal import Journal
from .keystore import server_key_path
from .storage.minutes_models import MinutesDocument, OfficerKey
from .storage.models import Meeting, Member, MinutesCheckpoint, MinutesEntry, Participant
from .storage.witness_models import WitnessPush
from .witness_push import parse_witnesses

logger = logging.getLogger(__name__)

OFFICER_ROLES = ("chair", "secretary")
KEY_ORIGINS = ("browser", "file")  # where an enrolled key was made ("server": retired ones)
MAX_CLOCK_AHEAD = 24 * 3600  # a cosignature time this far past the server's clock is refused
MAX_LINE = 400


class KeyLog(Protocol):
    """Where enrolments are recorded (the organisation log)."""

    async def append(self, type: str, **fields: Any) -> dict[str, Any]: ...


def parse_cosignature_line(value: Any) -> NoteSignature:
    """One signature line ``— <name> <base64>`` (the final newline optional)."""
    if not isinstance(value, str) or not value or len(value) > MAX_LINE:
        raise InvalidInput(
            "cosignature must be one signature line '— <key name> <base64>'", field="cosignature"
        )
    text = value[:-1] if value.endswith("\n") else value
    if "\n" in text:
        raise InvalidInput("cosignature must be exactly one line", field="cosignature", reason="malformed")
    try:
        return parse_signature_line(text)
    except NoteError as exc:
        raise InvalidInput(f"cosignature: {exc}", field="cosignature", reason="malformed") from None


def retired_server_keys_dir(cfg: Config) -> Path:
    return server_key_path(cfg).parent / "retired"


def server_public_keys(cfg: Config) -> list[tuple[bytes, str]]:
    """Raw public keys of the server's minutes key files: ``[(key, "current"|file name)]``."""
    out: list[tuple[bytes, str]] = []
    current = server_key_path(cfg)
    if current.exists():
        out.append((read_public_key(current.read_text()), "current"))
    retired = retired_server_keys_dir(cfg)
    if retired.is_dir():
        for f in sorted(retired.glob("*.json")):
            out.append((read_public_key(f.read_text()), f.name))
    return out


def check_lang(value: Any) -> str:
    if value not in LANGUAGES:
        raise InvalidInput(f"lang must be one of {', '.join(LANGUAGES)}", field="lang")
    return str(value)


@dataclass
class StoredLog:
    """One meeting's minutes as stored: entries, parsed entries, checkpoint notes."""

    meeting: Meeting
    texts: list[str]
    entries: list[dict[str, Any]]
    notes: list[str]

    @property
    def sealed(self) -> dict[str, Any] | None:
        """The last entry, when it is the ``minutes_rendered`` seal of everything before it."""
        last = self.entries[-1] if self.entries else None
        return last if last and last.get("type") == "minutes_rendered" else None


class MinutesService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        journal: Journal,
        clock: Clock,
        cfg: Config,
        key_log: KeyLog | None = None,
    ) -> None:
        self._db, self._journal, self._clock, self._cfg = db, journal, clock, cfg
        self._key_log = key_log
        self._prefix = cfg.minutes.origin_prefix.rstrip("/")
        self._locks: dict[int, asyncio.Lock] = {}
        self._enrolling: dict[int, asyncio.Lock] = {}

    def _lock(self, meeting_id: int) -> asyncio.Lock:
        return self._locks.setdefault(meeting_id, asyncio.Lock())

    # -- officer keys ---------------------------------------------------------------------

    def key_name(self, member_id: str) -> str:
        return f"{self._prefix}/member/{member_id}"

    def _key_dict(self, member_id: str, row: OfficerKey) -> dict[str, Any]:
        vkey = VerifierKey(self.key_name(member_id), SIG_COSIGNATURE_V1, base64.b64decode(row.public_key))
        out = {
            "name": vkey.name,
            "verifier_key": vkey.encode(),
            "fingerprint": vkey.fingerprint,
            "created_at": iso(row.created_at),
        }
        if row.retired_at is not None:
            out["retired_at"] = iso(row.retired_at)
        return out

    async def _keys_of(self, s: AsyncSession, member_pk: int) -> list[OfficerKey]:
        return list(
            (
                await s.scalars(
                    select(OfficerKey).where(OfficerKey.member_pk == member_pk).order_by(OfficerKey.id)
                )
            ).all()
        )

    async def my_keys(self, member: Member) -> dict[str, Any]:
        async with self._db() as s:
            rows = await self._keys_of(s, member.id)
        active = next((r for r in rows if r.retired_at is None), None)
        return {
            "key_name": self.key_name(member.member_id),
            "key": self._key_dict(member.member_id, active) if active else None,
            "retired": [self._key_dict(member.member_id, r) for r in rows if r.retired_at is not None],
            # a key the server once held (retired at the upgrade): enrol one from your device
            "reenrol": active is None and any(r.origin == "server" for r in rows),
        }

    def parse_verifier_key(self, member: Member, value: Any) -> VerifierKey:
        """An officer's own cosigning key, as the verifier key string their device made."""
        if not isinstance(value, str) or len(value) > 400:
            raise InvalidInput("verifier_key must be a verifier key string", field="verifier_key")
        try:
            key = VerifierKey.parse(value.strip())
        except NoteError as exc:
            raise InvalidInput(f"verifier_key: {exc}", field="verifier_key", reason="malformed") from None
        expected = self.key_name(member.member_id)
        if key.name != expected:
            raise InvalidInput(
                f"verifier_key is named {key.name!r}; your cosigning key must be named {expected!r}",
                field="verifier_key",
                reason="wrong_name",
                expected=expected,
            )
        if key.sig_type != SIG_COSIGNATURE_V1:
            raise InvalidInput(
                "verifier_key must be a cosignature/v1 key (type 0x04)",
                field="verifier_key",
                reason="wrong_type",
            )
        return key

    async def enrol_key(
        self, member: Member, verifier_key: Any, *, origin: str = "browser", replace: bool = False
    ) -> dict[str, Any]:
        """Store the public key of a cosigning key made on the officer's device (or in a
        ``meetingd cosign --generate`` key file); record it in the organisation log."""
        if origin not in KEY_ORIGINS:
            raise InvalidInput(f"origin must be one of {', '.join(KEY_ORIGINS)}", field="origin")
        key = self.parse_verifier_key(member, verifier_key)
        raw = base64.b64encode(key.public_key).decode()
        now = self._clock()
        lock = self._enrolling.setdefault(member.id, asyncio.Lock())  # one active key at a time
        async with lock, self._db() as s, s.begin():
            taken = await s.scalar(select(OfficerKey.member_pk).where(OfficerKey.public_key == raw).limit(1))
            if taken is not None and taken != member.id:
                raise Conflict("this public key is enrolled for another member", field="verifier_key")
            rows = await self._keys_of(s, member.id)
            if any(r.public_key == raw for r in rows):
                same = next(r for r in rows if r.public_key == raw)
                if same.retired_at is None:
                    return {**self._key_dict(member.member_id, same), "already": True}
                raise Conflict("this key was retired; make a new one", field="verifier_key")
            active = next((r for r in rows if r.retired_at is None), None)
            if active is not None and not replace:
                raise Conflict(
                    "you already have a cosigning key (enrol another with replace: true)",
                    fingerprint=self._key_dict(member.member_id, active)["fingerprint"],
                )
            if active is not None:
                active.retired_at = now
            row = OfficerKey(member_pk=member.id, public_key=raw, origin=origin, created_at=now)
            s.add(row)
        replaced = self._key_dict(member.member_id, active)["fingerprint"] if active else None
        if self._key_log is not None:
            await self._key_log.append(
                "officer_key_enrolled",
                member_id=member.member_id,
                verifier_key=key.encode(),
                fingerprint=key.fingerprint,
                origin=origin,
                replaced=replaced,
            )
        logger.info(
            "member=%s cosigning key enrolled fingerprint=%s origin=%s replaced=%s",
            member.member_id,
            key.fingerprint,
            origin,
            replaced,
        )
        return {**self._key_dict(member.member_id, row), "already": False}

    # -- reading the stored log -----------------------------------------------------------

    async def _stored(self, meeting_id: int) -> StoredLog:
        async with self._db() as s:
            meeting = await s.get(Meeting, meeting_id)
            if meeting is None:
                raise NotFound(f"no meeting {meeting_id}")
            texts = list(
                (
                    await s.scalars(
                        select(MinutesEntry.canonical)
                        .where(MinutesEntry.meeting_id == meeting_id)
                        .order_by(MinutesEntry.seq)
                    )
                ).all()
            )
            notes = list(
                (
                    await s.scalars(
                        select(MinutesCheckpoint.note)
                        .where(MinutesCheckpoint.meeting_id == meeting_id)
                        .order_by(MinutesCheckpoint.size)
                    )
                ).all()
            )
        return StoredLog(meeting, texts, [json.loads(t) for t in texts], notes)

    async def _participant(self, meeting_id: int, member: Member | None) -> str | None:
        """The caller's role; admins and the CLI (``member=None``) may read without one."""
        async with self._db() as s:
            if await s.get(Meeting, meeting_id) is None:
                raise NotFound(f"no meeting {meeting_id}")
            if member is None:
                return None
            role = await s.scalar(
                select(Participant.role).where(
                    Participant.meeting_id == meeting_id, Participant.member_pk == member.id
                )
            )
        if role is None and not member.is_admin:
            raise NotAuthorised("you are not a participant of this meeting")
        return role

    async def _officers(self, meeting_id: int) -> list[tuple[str, Member, list[OfficerKey]]]:
        async with self._db() as s:
            rows = (
                await s.execute(
                    select(Participant.role, Member)
                    .join(Member, Member.id == Participant.member_pk)
                    .where(Participant.meeting_id == meeting_id, Participant.role.in_(OFFICER_ROLES))
                )
            ).all()
            out = [(role, m, await self._keys_of(s, m.id)) for role, m in rows]
        return sorted(out, key=lambda x: OFFICER_ROLES.index(x[0]))

    def _log_key(self, meeting_id: int, notes: Sequence[str]) -> VerifierKey:
        """The server key that signed this meeting's checkpoints (current or retired)."""
        origin = self._journal.origin(meeting_id)
        current = self._journal.signer(meeting_id).verifier_key
        if not notes:
            return current
        sigs = parse_signed_note(notes[-1]).signatures
        candidates = [current] + [
            VerifierKey(origin, SIG_ED25519, raw) for raw, _ in server_public_keys(self._cfg)
        ]
        for key in candidates:
            if any(key.matches(sig) for sig in sigs):
                return key
        raise InvalidState(f"meeting {meeting_id}: no known server key signed its checkpoints")

    def _cosigner_keys(self, member_id: str, rows: Sequence[OfficerKey]) -> list[VerifierKey]:
        return [
            VerifierKey(self.key_name(member_id), SIG_COSIGNATURE_V1, base64.b64decode(r.public_key))
            for r in rows
        ]

    # -- review -----------------------------------------------------------------------------

    async def view(self, meeting_id: int, member: Member | None) -> dict[str, Any]:
        await self._participant(meeting_id, member)
        log = await self._stored(meeting_id)
        key = self._log_key(meeting_id, log.notes)
        checkpoint = None
        sigs: tuple[Any, ...] = ()
        if log.notes:
            note = parse_signed_note(log.notes[-1])
            cp = Checkpoint.parse(note.text)
            sigs = note.signatures
            checkpoint = {
                "size": cp.size,
                "root_hash": cp.root_hash.hex(),
                "note": log.notes[-1],
                "text": note.text,  # what a cosigner signs (C2SP tlog-cosignature/v1)
            }
        officers = []
        for role, m, rows in await self._officers(meeting_id):
            active = next((r for r in rows if r.retired_at is None), None)
            cosigned_at = None
            for vkey in self._cosigner_keys(m.member_id, rows):
                for sig in sigs:
                    if vkey.matches(sig) and len(sig.signature) == 72:
                        cosigned_at = int.from_bytes(sig.signature[:8], "big")
            officers.append(
                {
                    "role": role,
                    "member_id": m.member_id,
                    "full_name": m.full_name,
                    "key": self._key_dict(m.member_id, active) if active else None,
                    "cosigned": cosigned_at is not None,
                    "cosigned_at": iso(_from_unix(cosigned_at)) if cosigned_at is not None else None,
                }
            )
        seal = log.sealed
        return {
            "meeting_id": meeting_id,
            "state": log.meeting.state,
            "origin": self._journal.origin(meeting_id),
            "log_key": key.encode(),
            "log_key_fingerprint": key.fingerprint,
            "entries": log.entries,
            "checkpoint": checkpoint,
            "sealed": {k: seal[k] for k in ("lang", "sha256", "covers", "seq")} if seal else None,
            "officers": officers,
            "witnesses": await self.witness_status(meeting_id),
            "html_url": f"/api/meetings/{meeting_id}/minutes.html",
        }

    async def _signature_info(self, meeting_id: int, log: StoredLog, size: int) -> SignatureInfo:
        key = self._log_key(meeting_id, log.notes)
        tree = MinutesLog.restore(self._journal.origin(meeting_id), log.texts[:size])
        officers = []
        for role, m, rows in await self._officers(meeting_id):
            active = next((r for r in rows if r.retired_at is None), None)
            fp = self._cosigner_keys(m.member_id, [active])[0].fingerprint if active else None
            officers.append(OfficerSignature(role, m.member_id, m.full_name, fp))
        return SignatureInfo(
            origin=self._journal.origin(meeting_id),
            log_key_fingerprint=key.fingerprint,
            size=size,
            root_hash=tree.root().hex() if size else "",
            officers=tuple(officers),
        )

    async def html(self, meeting_id: int, member: Member | None, lang: str) -> str:
        """The sealed document in its language; otherwise a translation or a draft."""
        check_lang(lang)
        await self._participant(meeting_id, member)
        log = await self._stored(meeting_id)
        seal = log.sealed
        if seal is None:
            info = await self._signature_info(meeting_id, log, len(log.entries))
            return render_minutes(log.entries, lang, signatures=info, draft=True)
        if seal.get("lang") == lang:
            async with self._db() as s:
                doc = await s.get(MinutesDocument, (meeting_id, seal["seq"]))
            if doc is not None:
                return doc.html
        covers = int(seal.get("covers", len(log.entries) - 1))
        info = await self._signature_info(meeting_id, log, covers)
        return render_minutes(
            log.entries[:covers], lang, signatures=info, translation_of=str(seal.get("lang"))
        )

    # -- seal and cosign ----------------------------------------------------------------------

    async def officer_role(self, meeting_id: int, member: Member) -> str:
        role = await self._participant(meeting_id, member)
        if role not in OFFICER_ROLES:
            raise NotAuthorised("only the meeting's chair or secretary may do this")
        return str(role)

    async def seal(self, meeting_id: int, lang: str) -> dict[str, Any]:
        """Record the rendered minutes in the log and sign the final checkpoint (idempotent)."""
        check_lang(lang)
        async with self._lock(meeting_id):
            log = await self._stored(meeting_id)
            if log.meeting.state != "closed":
                raise InvalidState(
                    "the minutes can be sealed only after the meeting is closed", state=log.meeting.state
                )
            seal = log.sealed
            if seal is None:
                size = len(log.entries)
                info = await self._signature_info(meeting_id, log, size)
                document = render_minutes(log.entries, lang, signatures=info)
                digest = hashlib.sha256(document.encode("utf-8")).hexdigest()
                async with self._journal.transaction(meeting_id) as tx:
                    seal = tx.record(
                        "minutes_rendered", lang=lang, sha256=digest, covers=size, renderer=RENDERER
                    )
                    tx.session.add(
                        MinutesDocument(
                            meeting_id=meeting_id, seq=seal["seq"], lang=lang, sha256=digest, html=document
                        )
                    )
                logger.info(
                    "meeting=%s minutes sealed lang=%s entries=%s sha256=%s", meeting_id, lang, size, digest
                )
                await self._journal.checkpoint_now(meeting_id)
            elif not log.notes or Checkpoint.parse(parse_signed_note(log.notes[-1]).text).size != len(
                log.entries
            ):
                await self._journal.checkpoint_now(meeting_id)
        return seal

    async def cosign(
        self, meeting_id: int, member: Member, line: Any, now: datetime | None = None
    ) -> dict[str, Any]:
        """Store an officer's cosignature of the sealed final checkpoint, made on their device.

        ``line`` is one signed-note signature line (C2SP tlog-cosignature/v1) over the
        checkpoint text :meth:`view` shows. The server checks it against the officer's
        enrolled key and this meeting's final checkpoint; it never signs for anyone.
        """
        role = await self.officer_role(meeting_id, member)
        sig = parse_cosignature_line(line)
        async with self._db() as s:
            meeting = await s.get(Meeting, meeting_id)
            rows = await self._keys_of(s, member.id)
        if meeting is None:
            raise NotFound(f"no meeting {meeting_id}")
        if meeting.state != "closed":
            raise InvalidState(
                "the minutes can be cosigned only after the meeting is closed", state=meeting.state
            )
        active = next((r for r in rows if r.retired_at is None), None)
        if active is None:
            raise InvalidState(
                "you have no cosigning key yet", hint="enrol one from your device: POST /api/me/keys"
            )
        vkey = self._cosigner_keys(member.member_id, [active])[0]
        if not vkey.matches(sig):
            retired = [k for k in self._cosigner_keys(member.member_id, rows) if k.matches(sig)]
            raise InvalidInput(
                "this cosignature is by a retired key of yours; cosign with your current key"
                if retired
                else f"this cosignature is not by your enrolled key ({vkey.fingerprint[:16]}…)",
                field="cosignature",
                reason="retired_key" if retired else "unknown_key",
            )
        clock = now or self._clock()
        async with self._lock(meeting_id), self._db() as s, s.begin():
            row = await self._final_checkpoint(s, meeting_id)
            note = parse_signed_note(row.note)
            cp = Checkpoint.parse(note.text)
            try:
                done = verify_cosignature(note.text, sig, vkey)
            except NoteError:
                raise InvalidInput(
                    f"this cosignature does not sign meeting {meeting_id}'s sealed checkpoint "
                    f"(size {cp.size}, root {cp.root_hash.hex()[:16]}…): it may be for another "
                    "meeting or an older checkpoint; reload the minutes and sign again",
                    field="cosignature",
                    reason="bad_signature",
                    size=cp.size,
                ) from None
            if done.timestamp > clock.timestamp() + MAX_CLOCK_AHEAD:
                raise InvalidInput(
                    "the cosignature's time is more than a day ahead of the server's clock: "
                    "check your device's date and time",
                    field="cosignature",
                    reason="clock_ahead",
                )
            mine = [x for x in note.signatures if vkey.matches(x)]
            already = bool(mine)
            if mine:
                done = verify_cosignature(note.text, mine[0], vkey)
            else:
                row.note = add_cosignatures(row.note, [sig])
        logger.info(
            "meeting=%s cosigned role=%s member=%s fingerprint=%s already=%s",
            meeting_id,
            role,
            member.member_id,
            vkey.fingerprint,
            already,
        )
        return {
            "already": already,
            "cosignature": {
                "role": role,
                "name": done.name,
                "fingerprint": done.fingerprint,
                "timestamp": done.timestamp,
            },
        }

    async def _final_checkpoint(self, s: AsyncSession, meeting_id: int) -> MinutesCheckpoint:
        """The sealed log's last checkpoint, covering every entry (the one officers cosign)."""
        row = await s.scalar(
            select(MinutesCheckpoint)
            .where(MinutesCheckpoint.meeting_id == meeting_id)
            .order_by(MinutesCheckpoint.size.desc())
            .limit(1)
        )
        last = await s.scalar(
            select(MinutesEntry)
            .where(MinutesEntry.meeting_id == meeting_id)
            .order_by(MinutesEntry.seq.desc())
            .limit(1)
        )
        if last is None or json.loads(last.canonical).get("type") != "minutes_rendered":
            raise InvalidState(
                "the minutes are not sealed yet: seal them first (POST .../minutes/seal)", reason="not_sealed"
            )
        if row is None or row.size != last.seq + 1:
            raise InvalidState("the final checkpoint is not signed yet; try again", reason="not_signed")
        return row

    # -- export ----------------------------------------------------------------------------------

    async def export(self, meeting_id: int, lang: str = "en") -> tuple[Bundle, list[str]]:
        """The verifiable bundle (sealing first if needed) and warnings for the operator."""
        await self.seal(meeting_id, lang)
        log = await self._stored(meeting_id)
        key = self._log_key(meeting_id, log.notes)
        restored = MinutesLog.restore(self._journal.origin(meeting_id), log.texts, log.notes, log_key=key)
        final = parse_signed_note(log.notes[-1]).signatures
        cosigners: dict[str, VerifierKey] = {}
        warnings: list[str] = []
        for role, m, rows in await self._officers(meeting_id):
            signed = [
                k for k in self._cosigner_keys(m.member_id, rows) if any(k.matches(sig) for sig in final)
            ]
            if signed:
                cosigners[role] = signed[-1]
            else:
                warnings.append(f"the {role} ({m.member_id}) has not cosigned the minutes yet")
        seal = log.sealed
        assert seal is not None  # sealed above
        async with self._db() as s:
            doc = await s.get(MinutesDocument, (meeting_id, seal["seq"]))
        if seal.get("lang") != lang:
            warnings.append(
                f"the minutes were sealed in {seal.get('lang')!r}; the bundle carries that document"
            )
        witnesses = [w.key for w in parse_witnesses(self._cfg.minutes.witnesses)]
        for w in await self.witness_status(meeting_id):
            if w["refused"]:
                warnings.append(f"witness {w['name']} REFUSED this log: {w['refused']}")
            elif w["cosigned_size"] != len(log.entries):
                warnings.append(
                    f"witness {w['name']} has not cosigned the sealed checkpoint yet "
                    f"(cosigned size {w['cosigned_size']} of {len(log.entries)})"
                )
        bundle = restored.export(key, cosigners, witnesses=witnesses, minutes_html=doc.html if doc else None)
        return bundle, warnings

    async def policy(self, meeting_id: int) -> str:
        """A trust policy for this meeting's bundle, as this server sees it.

        An auditor must check these keys out of band (fingerprints printed in the
        minutes, officers' own devices, the witnesses' operators) before trusting it.
        """
        view = await self.view(meeting_id, None)
        lines = [
            f"# trust policy of meeting {meeting_id} ({view['origin']}), written by this server:",
            "# confirm every fingerprint out of band before relying on it",
            f"# log key fingerprint {view['log_key_fingerprint']}",
            f"log {view['log_key']}",
        ]
        for o in view["officers"]:
            if o["key"] is None:
                lines.append(f"# the {o['role']} ({o['member_id']}) has no cosigning key yet")
                continue
            lines.append(f"# {o['role']} {o['member_id']}: fingerprint {o['key']['fingerprint']}")
            lines.append(f"officer {o['role']} {o['key']['verifier_key']}")
        witnesses = view["witnesses"]
        for w in witnesses:
            lines.append(f"# witness {w['name']}: fingerprint {w['fingerprint']}")
            lines.append(f"witness {w['verifier_key']}")
        lines.append(f"quorum {len(witnesses)}")
        return "\n".join(lines) + "\n"

    async def witness_status(self, meeting_id: int) -> list[dict[str, Any]]:
        """Each configured witness: what it cosigned of this log, what waits, any refusal."""
        async with self._db() as s:
            rows = {
                r.witness: r
                for r in (
                    await s.scalars(select(WitnessPush).where(WitnessPush.meeting_id == meeting_id))
                ).all()
            }
        out = []
        for w in parse_witnesses(self._cfg.minutes.witnesses):
            r = rows.get(w.name)
            out.append(
                {
                    "name": w.name,
                    "fingerprint": w.key.fingerprint,
                    "verifier_key": w.key.encode(),
                    "cosigned_size": r.cosigned_size if r else 0,
                    "pending_size": r.pending_size if r else 0,
                    "last_error": r.last_error if r else None,
                    "refused": r.refused if r else None,
                }
            )
        return out

    async def inclusion_proof(self, meeting_id: int, index: int) -> str:
        """A C2SP tlog-proof of entry ``index`` against the meeting's latest checkpoint."""
        log = await self._stored(meeting_id)
        if not log.notes:
            raise InvalidState(f"meeting {meeting_id} has no signed checkpoint yet")
        size = Checkpoint.parse(parse_signed_note(log.notes[-1]).text).size
        if not 0 <= index < size:
            raise InvalidInput(
                f"entry {index} is not under the latest checkpoint (size {size})", field="entry"
            )
        tree = MinutesLog.restore(self._journal.origin(meeting_id), log.texts[:size])
        return tlog_proof_text(index, tree.inclusion_proof(index, size), log.notes[-1])

    # -- participation -------------------------------------------------------------------------

    async def participation_csv(self, meeting_id: int, member: Member | None) -> str:
        await self._participant(meeting_id, member)
        log = await self._stored(meeting_id)
        return participation_csv(log.entries)


def _from_unix(ts: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC)


PARTICIPATION_HEADER = [
    "member_id",
    "full_name",
    "role",
    "attendance",
    "site",
    "present",
    "joined_at",
    "minutes_present",
    "speeches",
    "speaking_seconds",
    "polls_eligible",
    "polls_voted",
    "turnout_percent",
]


def participation_csv(entries: Sequence[dict[str, Any]]) -> str:
    """Per-member attendance, opinions and votes, then per-poll turnout (see docs/protocol.md)."""
    facts = read_facts(entries)
    polls = list(facts.polls.values())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(PARTICIPATION_HEADER)
    for p in sorted(facts.people.values(), key=lambda p: p.member_id):
        voted = sum(1 for poll in polls if p.member_id in poll.voters) if p.votes else 0
        eligible = len(polls) if p.votes else 0
        w.writerow(
            [
                p.member_id,
                p.full_name,
                p.role,
                p.attendance or "",
                p.site or "",
                "yes" if p.present else ("excused" if p.excused else "no"),
                p.joined_at or "",
                round(p.seconds_present / 60, 1),
                p.speeches,
                round(p.speaking_seconds),
                eligible,
                voted,
                f"{100 * voted / eligible:.1f}" if eligible else "",
            ]
        )
    if polls:
        w.writerow([])
        entitled = len(facts.entitled)
        for poll in polls:
            voted = len(poll.voters) or int((poll.tally or {}).get("voters", 0) or 0)
            w.writerow(
                [
                    "#poll",
                    poll.poll_id,
                    str(poll.config.get("question", "")),
                    entitled,
                    voted,
                    f"{100 * voted / entitled:.1f}" if entitled else "",
                ]
            )
    return buf.getvalue()
