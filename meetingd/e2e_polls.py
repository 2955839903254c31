"""Encrypted secret polls on the server: trustees' keys, encrypted casts, the board,
the trustees' partial decryptions and the published result (docs/e2e-ballots.md).

The server never sees a choice. It checks every proof before a ballot may join a
group commit (an invalid ballot gets its error at once and never shares a batch), keeps
ciphertexts (``e2e_ballots``) and who voted (``poll_voters``) apart, and writes to the
minutes: each trustee's key, the poll's context at open, and at close who voted
(``voter_marked`` in voter order: no time, no order of voting), the board sorted by
tracker, the sums, each partial decryption (and each refused one), and the result.
:class:`meetingd.ballots.Ballots` calls in at open, cast, close and for views.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meeting.attendance import Person
from meeting.errors import Conflict, InvalidInput, InvalidState, MeetingError, NotAuthorised
from recorder.note import SIG_COSIGNATURE_V1, VerifierKey
from signaling.e2e import GetE2E, PostKeyStatement, PostPartialDecryption, PostTrusteeKey
from voting import Counts, PollState
from voting.ballot_box import VoterMarked
from voting.e2e.ballot import EncryptedBallot, PollContext
from voting.e2e.board import EncryptedBallotStored, EncryptedBox, VerifiedBallot, verify_cast
from voting.e2e.keys import TrusteeKey, joint_key, verify_trustee_key
from voting.e2e.record import context_from_dict
from voting.e2e.statement import statement_text
from voting.e2e.tally import PartialDecryption, sums_to_list
from voting.tally import PollType, Tally, TallyPart

from .e2e_trustees import E2ETrustees, officer_trustees
from .journal import JournalTx
from .procedure_state import EncryptedPending, Live, LivePoll, PollHost, require_open
from .storage.e2e_models import (
    E2EBallotRow,
    E2EDecryptionRow,
    E2EKeyStatementRow,
    E2EPollRow,
    E2EPollThresholdRow,
    TrusteeKeyRow,
)
from .storage.minutes_models import OfficerKey
from .storage.procedure_models import PollRow, PollVoter

logger = logging.getLogger(__name__)


def _statement_view(row: E2EKeyStatementRow) -> dict[str, Any]:
    return {
        "trustee_id": row.trustee_id,
        "public_key": row.public_key,
        "statement": row.statement,
        "signature": row.signature,
        "verifier_key": row.verifier_key,
    }


def trustees_of(live: Live) -> list[str]:
    """The meeting's n-of-n trustees: its chair(s) and secretary(ies), by member id."""
    return officer_trustees(live)


def mark_limits(lp: LivePoll) -> tuple[int, int]:
    config = lp.poll.config
    if config.poll_type is PollType.MOTION:
        return 1, 1
    # An encrypted election ballot marks at least one candidate: the per-candidate sums
    # cannot tell how many ballots were blank (docs/e2e-ballots.md, §5).
    return 1, config.max_choices


class E2EBatch:
    """The encrypted-ballot rows of one group commit."""

    def __init__(self) -> None:
        self.ballots: dict[str, dict[str, Any]] = {}
        self.superseded: list[str] = []

    async def write(self, s: AsyncSession) -> None:
        if self.superseded:
            await s.execute(
                update(E2EBallotRow)
                .where(E2EBallotRow.ballot_key.in_(self.superseded))
                .values(superseded=True)
            )
        for row in self.ballots.values():
            s.add(E2EBallotRow(**row))


VERIFY_THREADS = 2
"""Worker threads checking ballot proofs (the machine meetingd is sized for has 2 cores)."""


class E2EPolls:
    def __init__(self, proc: PollHost, *, on_result: Callable[[Live, LivePoll], Awaitable[None]]) -> None:
        self.proc = proc
        self.on_result = on_result
        self.boxes: dict[int, EncryptedBox] = {}
        self.keys: dict[int, dict[str, TrusteeKey]] = {}
        self.statements: dict[int, dict[tuple[str, str], dict[str, Any]]] = {}
        """meeting → (trustee id, poll key hex) → that trustee's signed statement of the key."""
        self.trustees = E2ETrustees(proc)
        """The deputy and the threshold key generation (``meetingd.e2e_trustees``)."""
        self.poll_rounds: dict[int, int] = {}
        """Threshold polls: poll id → the key generation round of their key."""
        self._verifier: ThreadPoolExecutor | None = None  # started on the first ballot

    # -- loading ---------------------------------------------------------------------------

    async def load(self, s: AsyncSession, live: Live) -> None:
        """Restore the meeting's trustee keys and every opened secret poll's box."""
        mid = live.meeting_id
        self.keys[mid] = {}
        for row in (await s.scalars(select(TrusteeKeyRow).where(TrusteeKeyRow.meeting_id == mid))).all():
            self.keys[mid][row.trustee_id] = TrusteeKey.from_dict(json.loads(row.key))
        await self.trustees.load(s, live)
        self.statements[mid] = {
            (r.trustee_id, r.public_key): _statement_view(r)
            for r in (
                await s.scalars(select(E2EKeyStatementRow).where(E2EKeyStatementRow.meeting_id == mid))
            ).all()
        }
        by_pk = {v: k for k, v in live.pk_of.items()}
        for lp in live.polls.values():
            if not lp.secret:
                continue
            prow = await s.get(E2EPollRow, lp.id)
            if prow is None:
                continue
            ctx = context_from_dict(json.loads(prow.context))
            trustees = {t["trustee_id"]: bytes.fromhex(t["public_share"]) for t in json.loads(prow.trustees)}
            trow = await s.get(E2EPollThresholdRow, lp.id)
            threshold = trow.threshold if trow is not None else None
            indices = json.loads(trow.indices) if trow is not None else None
            if trow is not None:
                self.poll_rounds[lp.id] = trow.round
            rows = (await s.scalars(select(E2EBallotRow).where(E2EBallotRow.poll_id == lp.id))).all()
            voters = [
                by_pk.get(pk, f"pk:{pk}")
                for pk in (
                    await s.scalars(select(PollVoter.member_pk).where(PollVoter.poll_id == lp.id))
                ).all()
            ]
            parts = [
                PartialDecryption.from_dict(json.loads(d.decryption))
                for d in (
                    await s.scalars(select(E2EDecryptionRow).where(E2EDecryptionRow.poll_id == lp.id))
                ).all()
            ]
            self.boxes[lp.id] = EncryptedBox.restore(
                lp.poll,
                ctx,
                trustees,
                ballots=[
                    (r.ballot_key, EncryptedBallot.from_dict(json.loads(r.ballot)), r.superseded)
                    for r in rows
                ],
                voters=voters,
                decryptions=parts,
                threshold=threshold,
                indices=indices,
            )

    def box(self, lp: LivePoll) -> EncryptedBox:
        box = self.boxes.get(lp.id)
        if box is None:
            raise InvalidState("this secret poll has not been opened", code="poll_not_open")
        return box

    # -- views -----------------------------------------------------------------------------

    def voted(self, lp: LivePoll) -> int:
        box = self.boxes.get(lp.id)
        return box.voted_count if box is not None else 0

    def has_voted(self, lp: LivePoll, member_id: str) -> bool:
        box = self.boxes.get(lp.id)
        return box is not None and box.has_voted(member_id)

    def poll_view(self, lp: LivePoll) -> dict[str, Any] | None:
        """The ``e2e`` part of a secret poll's description (null before open)."""
        box = self.boxes.get(lp.id)
        if box is None:
            return None
        closed = lp.poll.state is PollState.CLOSED
        return {
            "context": box.ctx.to_dict(),
            "trustees": sorted(box.trustees),
            "threshold": box.threshold,
            "round": self.poll_rounds.get(lp.id),
            "decrypted_by": list(box.decrypted_by) if closed else [],
            "waiting_for": list(box.waiting_for) if closed and lp.result is None else [],
            "counted": box.counted if closed else None,
        }

    async def get_e2e(self, live: Live, caller: Person, p: GetE2E) -> dict[str, Any]:
        out = self.state(live, p.poll_id, p.board)
        if p.live_from is not None and p.poll_id is not None:
            lp = live.poll(p.poll_id)
            box = self.box(lp)
            if caller.member_id not in box.trustees:
                raise NotAuthorised("only the poll's trustees follow its board", code="not_a_trustee")
            if lp.poll.state is PollState.OPEN:  # once closed, the closed board is the answer
                entries, next_from = box.live_board(p.live_from)
                out["live_board"] = {"entries": entries, "next": next_from}
        return out

    def state(self, live: Live, poll_id: int | None, with_board: bool) -> dict[str, Any]:
        mid = live.meeting_id
        keys = self.keys.get(mid, {})
        trustees = trustees_of(live)
        deputy = self.trustees.deputy(live)
        dkg = self.trustees.view(live)
        current = self.current_key(live)
        public_key = current[0].hex() if current is not None else None
        out: dict[str, Any] = {
            "trustees": [
                {
                    "trustee_id": t,
                    "role": "deputy" if t == deputy else live.register.person(t).role.value,
                    "key": keys[t].to_dict() if t in keys and dkg is None else None,
                }
                for t in (dkg["trustees"] if dkg is not None else trustees)
            ],
            "threshold": dkg["threshold"] if dkg is not None else None,
            "public_key": public_key,
            "dkg": dkg,
            "statements": [
                v for (_, key), v in sorted(self.statements.get(mid, {}).items()) if key == public_key
            ],
        }
        if poll_id is not None:
            lp = live.poll(poll_id)
            if not lp.secret:
                raise InvalidState("an open (named) poll has no encryption", code="poll_not_secret")
            out["poll"] = self.poll_view(lp)
            box = self.boxes.get(lp.id)
            if box is not None:  # the statements of the key this poll encrypts under
                poll_key = box.ctx.public_key.hex()
                out["statements"] = [
                    v for (_, key), v in sorted(self.statements.get(mid, {}).items()) if key == poll_key
                ]
            if lp.id in self.poll_rounds:
                out["poll_dkg"] = self.trustees.view(live, self.poll_rounds[lp.id])
            if with_board and out["poll"] is not None and lp.poll.state is PollState.CLOSED:
                box = self.box(lp)
                out["board"] = [e.to_dict() for e in box.board()]
                out["sums"] = sums_to_list(box.sums())
        return out

    # -- trustees' keys --------------------------------------------------------------------------

    async def post_key(self, live: Live, caller: Person, p: PostTrusteeKey) -> dict[str, Any]:
        payload = p.key
        if caller.member_id not in trustees_of(live):
            raise NotAuthorised("only the chair and the secretary hold key shares", code="not_a_trustee")
        key = TrusteeKey.from_dict(payload, "key")
        if key.trustee_id != caller.member_id:
            raise NotAuthorised("a trustee posts only their own key share", code="not_a_trustee")
        verify_trustee_key(str(live.meeting_id), key)
        keys = self.keys.setdefault(live.meeting_id, {})

        async def work(tx: JournalTx) -> None:
            await require_open(tx, live.meeting_id)
            if caller.member_id in keys:
                raise Conflict("this trustee's key share is posted already", code="trustee_key_exists")
            if any(k.share == key.share for k in keys.values()):
                raise Conflict("the same public share was posted twice", code="duplicate_share")
            tx.session.add(
                TrusteeKeyRow(
                    meeting_id=live.meeting_id, trustee_id=key.trustee_id, key=json.dumps(key.to_dict())
                )
            )
            tx.record("e2e_trustee_key", **key.to_dict())
            keys[key.trustee_id] = key

        await self.proc.transaction(live, work)
        logger.info("meeting=%s trustee=%s key share posted", live.meeting_id, key.trustee_id)
        state = self.state(live, None, False)
        await self.proc.emit(
            live.meeting_id,
            "trustee_key_posted",
            {"trustee_id": key.trustee_id, "public_key": state["public_key"]},
        )
        return state

    # -- the trustees' statements of the poll key -------------------------------------------------

    def current_key(self, live: Live) -> tuple[bytes, dict[str, bytes]] | None:
        """The meeting's poll key and every trustee's public share (n-of-n) or verification
        key (threshold), once complete; else ``None``."""
        dkg = self.trustees.view(live)
        if dkg is not None:
            done = dkg["complete"]
            if not done:
                return None
            shares = {t["trustee_id"]: bytes.fromhex(t["verification_key"]) for t in done["trustees"]}
            return bytes.fromhex(done["public_key"]), shares
        keys = self.keys.get(live.meeting_id, {})
        trustees = trustees_of(live)
        if not trustees or not all(t in keys for t in trustees):
            return None
        return joint_key([keys[t] for t in trustees]), {t: keys[t].share for t in trustees}

    async def post_statement(self, live: Live, caller: Person, p: PostKeyStatement) -> dict[str, Any]:
        """An officer-trustee vouches for the poll key: the signature, made on their device
        with their enrolled cosigning key, over :func:`statement_text` of the key as it is."""
        try:
            signature = base64.b64decode(p.signature, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("signature must be base64", field="signature") from None
        views = self.statements.setdefault(live.meeting_id, {})

        async def work(tx: JournalTx) -> tuple[dict[str, Any], bool]:
            await require_open(tx, live.meeting_id)
            current = self.current_key(live)  # under the meeting's journal lock
            if current is None:
                raise InvalidState("the trustees' keys are not complete yet", code="e2e_key_incomplete")
            public_key, shares = current
            if caller.member_id not in shares:
                raise NotAuthorised("only this meeting's trustees vouch for its key", code="not_a_trustee")
            if p.public_key != public_key.hex():
                raise Conflict("the poll key has changed; sign the current one", code="poll_key_changed")
            text = statement_text(str(live.meeting_id), public_key, shares)
            row = await tx.session.scalar(
                select(OfficerKey).where(
                    OfficerKey.member_pk == live.pk_of[caller.member_id], OfficerKey.retired_at.is_(None)
                )
            )
            if row is None:
                raise InvalidState(
                    "enrol a cosigning key on your device first (Minutes tab)", code="no_officer_key"
                )
            raw = base64.b64decode(row.public_key)
            try:
                Ed25519PublicKey.from_public_bytes(raw).verify(signature, text.encode())
            except InvalidSignature:
                raise InvalidInput(
                    "the signature is not your cosigning key's over this key statement",
                    code="invalid_statement_signature",
                    field="signature",
                ) from None
            held = views.get((caller.member_id, public_key.hex()))
            if held is not None:
                return held, False
            name = f"{tx.origin.rsplit('/', 1)[0]}/member/{caller.member_id}"
            stored = E2EKeyStatementRow(
                meeting_id=live.meeting_id,
                trustee_id=caller.member_id,
                public_key=public_key.hex(),
                statement=text,
                signature=p.signature,
                verifier_key=VerifierKey(name, SIG_COSIGNATURE_V1, raw).encode(),
            )
            tx.session.add(stored)
            view = _statement_view(stored)
            tx.record("e2e_key_statement", **view)
            # kept now, under the lock, so a second identical post finds it (a failed
            # transaction drops the live state, and load() reads the table again)
            views[(caller.member_id, public_key.hex())] = view
            return view, True

        view, new = await self.proc.transaction(live, work)
        if not new:
            return {"statement": view, "duplicate": True, **self.state(live, None, False)}
        logger.info("meeting=%s trustee=%s vouched for the poll key", live.meeting_id, caller.member_id)
        await self.proc.emit(live.meeting_id, "key_statement_posted", {"trustee_id": caller.member_id})
        return {"statement": view, **self.state(live, None, False)}

    # -- open ------------------------------------------------------------------------------------

    def require_keys(self, live: Live) -> list[TrusteeKey]:
        """Every trustee's key share, or ``e2e_key_incomplete`` (checked before opening)."""
        trustees = trustees_of(live)
        keys = self.keys.get(live.meeting_id, {})
        if self.trustees.current(live) is not None:
            self.trustees.require_complete(live)
            return []
        missing = [t for t in trustees if t not in keys]
        if not trustees or missing:
            raise InvalidState(
                f"waiting for the key share of {', '.join(missing) or 'a trustee'}",
                code="e2e_key_incomplete",
                missing=missing,
            )
        return [keys[t] for t in trustees]

    def open_poll(self, tx: JournalTx, live: Live, lp: LivePoll) -> None:
        """Inside the opening transaction: fix the poll's context (public key, limits)."""
        shares = self.require_keys(live)
        lo, hi = mark_limits(lp)
        n = len(lp.poll.config.options)
        r = self.trustees.current(live)
        if r is None:
            ctx = PollContext(str(live.meeting_id), str(lp.id), joint_key(shares), n, lo, hi)
            listed: list[dict[str, Any]] = [
                {"trustee_id": k.trustee_id, "public_share": k.share.hex()} for k in shares
            ]
            extra: dict[str, Any] = {}
            box = EncryptedBox(lp.poll, ctx, {k.trustee_id: k.share for k in shares})
        else:
            done = r.complete()
            ctx = PollContext(str(live.meeting_id), str(lp.id), r.public_key(), n, lo, hi)
            listed = [
                {"trustee_id": t["trustee_id"], "public_share": t["verification_key"], "index": t["index"]}
                for t in done["trustees"]
            ]
            indices = {t["trustee_id"]: t["index"] for t in done["trustees"]}
            extra = {"threshold": r.threshold, "round": r.round}
            tx.session.add(
                E2EPollThresholdRow(
                    poll_id=lp.id, threshold=r.threshold, indices=json.dumps(indices), round=r.round
                )
            )
            self.poll_rounds[lp.id] = r.round
            box = EncryptedBox(
                lp.poll,
                ctx,
                {t: bytes.fromhex(listed[i]["public_share"]) for i, t in enumerate(r.trustees)},
                r.threshold,
                indices,
            )
        tx.session.add(
            E2EPollRow(poll_id=lp.id, context=json.dumps(ctx.to_dict()), trustees=json.dumps(listed))
        )
        tx.record("e2e_poll_key", poll_id=lp.id, context=ctx.to_dict(), trustees=listed, **extra)
        self.boxes[lp.id] = box

    # -- casting ----------------------------------------------------------------------------------

    def verify(self, lp: LivePoll, payload: Any) -> VerifiedBallot:
        """Check every proof, before the ballot may join a batch (~2 ms for 3 options)."""
        return verify_cast(self.box(lp).ctx, payload)

    async def verify_off_loop(self, lp: LivePoll, payload: Any) -> VerifiedBallot:
        """:meth:`verify` in a worker thread. The proof checks are ~21 libsodium scalar
        multiplications per 3-option ballot and libsodium's calls release the GIL, so they
        run on the second core while the event loop keeps answering everyone else (on the
        loop, 1,000 ballots in 10 s held it ~2-4 ms each and put that in every ack's tail)."""
        ctx = self.box(lp).ctx
        if self._verifier is None:
            self._verifier = ThreadPoolExecutor(
                max_workers=VERIFY_THREADS, thread_name_prefix="ballot-verify"
            )
        return await asyncio.get_running_loop().run_in_executor(self._verifier, verify_cast, ctx, payload)

    def close(self) -> None:
        if self._verifier is not None:
            self._verifier.shutdown(wait=False, cancel_futures=True)
            self._verifier = None

    def cast_one(
        self,
        live: Live,
        tx: JournalTx,
        lp: LivePoll,
        member_id: str,
        c: EncryptedPending,
        eligible: bool,
        batch: E2EBatch,
        voters: list[dict[str, Any]],
    ) -> dict[str, Any]:
        box = self.box(lp)
        result = box.cast(member_id, c.ballot_id, c.verified, self.proc.clock(), eligible, c.replaces)
        for ev in result.events:
            if isinstance(ev, VoterMarked):  # in the minutes only at close (no time, no order)
                voters.append({"poll_id": lp.id, "member_pk": live.pk_of[member_id]})
            elif isinstance(ev, EncryptedBallotStored):
                if ev.replaces_key is not None:
                    pending = batch.ballots.get(ev.replaces_key)
                    if pending is not None:
                        pending["superseded"] = True
                    else:
                        batch.superseded.append(ev.replaces_key)
                batch.ballots[ev.ballot_key] = {
                    "ballot_key": ev.ballot_key,
                    "poll_id": lp.id,
                    "tracker": ev.tracker,
                    "ballot": json.dumps(ev.ballot.to_dict()),
                    "superseded": False,
                }
        ack = {**result.ack(), "poll_id": lp.id}
        if not result.duplicate:  # the server's signed statement that this tracker is in its log
            ack["signed_receipt"] = tx.sign_receipt(lp.id, result.tracker, None)
        return ack

    # -- close --------------------------------------------------------------------------------------

    async def close_poll(self, tx: JournalTx, lp: LivePoll, counts: Counts) -> None:
        """Inside the closing transaction (the poll already closed): publish the board
        (sorted by tracker) and the sums; the result waits for the trustees."""
        box = self.box(lp)
        for voter in box.voters():
            tx.record("voter_marked", poll_id=lp.id, voter_id=voter)
        for entry in box.board():
            tx.record("e2e_ballot", poll_id=lp.id, **entry.to_dict())
        tx.record(
            "e2e_board_closed",
            poll_id=lp.id,
            counted=box.counted,
            sums=sums_to_list(box.sums()),
            trustees=sorted(box.trustees),
        )
        await tx.session.execute(
            update(E2EPollRow)
            .where(E2EPollRow.poll_id == lp.id)
            .values(member_counts=json.dumps({"entitled": counts.entitled, "present": counts.present}))
        )

    async def board_published(self, live: Live, lp: LivePoll) -> None:
        box = self.box(lp)
        await self.proc.emit(
            live.meeting_id,
            "e2e_board_published",
            {"poll_id": lp.id, "counted": box.counted, "waiting_for": list(box.waiting_for)},
        )

    # -- decryption -----------------------------------------------------------------------------------

    async def post_decryption(self, live: Live, caller: Person, p: PostPartialDecryption) -> dict[str, Any]:
        lp, payload = live.poll(p.poll_id), p.decryption
        if not lp.secret:
            raise InvalidState("an open (named) poll has no encryption", code="poll_not_secret")
        box = self.box(lp)
        if caller.member_id not in box.trustees:  # refused as by role: not a minutes fact
            raise NotAuthorised("only this poll's trustees post partial decryptions", code="not_authorised")
        if lp.poll.state is not PollState.CLOSED:
            raise InvalidState("decryption starts when the poll closes", code="poll_not_closed")
        published_before = lp.result is not None
        try:
            part = PartialDecryption.from_dict(payload, "decryption")
            part = box.add_decryption(caller.member_id, part)
        except (NotAuthorised, InvalidInput) as exc:
            await self._refused(live, lp, caller, exc)
            raise

        async def work(tx: JournalTx) -> None:
            tx.session.add(
                E2EDecryptionRow(
                    poll_id=lp.id, trustee_id=part.trustee_id, decryption=json.dumps(part.to_dict())
                )
            )
            tx.record("e2e_partial_decryption", poll_id=lp.id, decryption=part.to_dict())
            counts = box.counts()
            if counts is not None and lp.result is None:
                await self._publish_result(tx, lp, counts)

        await self.proc.transaction(live, work)
        logger.info(
            "meeting=%s poll=%s partial decryption from trustee=%s", live.meeting_id, lp.id, part.trustee_id
        )
        await self.proc.emit(
            live.meeting_id,
            "e2e_decryption_received",
            {"poll_id": lp.id, "trustee_id": part.trustee_id, "waiting_for": list(box.waiting_for)},
        )
        if lp.result is not None and not published_before:
            await self.on_result(live, lp)
        return {
            "poll_id": lp.id,
            "decrypted_by": list(box.decrypted_by),
            "waiting_for": list(box.waiting_for),
            "result": lp.result,
        }

    async def _refused(self, live: Live, lp: LivePoll, caller: Person, exc: MeetingError) -> None:
        """A refused partial decryption is a fact of the meeting."""
        if caller.member_id not in self.box(lp).trustees and exc.code != "not_a_trustee":
            return

        async def work(tx: JournalTx) -> None:
            tx.record(
                "e2e_partial_decryption_refused",
                poll_id=lp.id,
                by=caller.member_id,
                error=exc.code,
                field=exc.details.get("field"),
            )

        await self.proc.transaction(live, work)
        logger.warning(
            "meeting=%s poll=%s partial decryption refused by=%s error=%s",
            live.meeting_id,
            lp.id,
            caller.member_id,
            exc.code,
        )

    async def _publish_result(self, tx: JournalTx, lp: LivePoll, counts_: tuple[int, ...]) -> None:
        box = self.box(lp)
        config = lp.poll.config
        prow = await tx.session.get(E2EPollRow, lp.id)
        members = json.loads(prow.member_counts) if prow is not None and prow.member_counts else None
        if members is None:
            raise InvalidState("the member counts at close are missing", code="restore_mismatch")
        tally = Tally(
            config.poll_type,
            config.options,
            TallyPart(counts_, box.counted, 0),
            TallyPart.empty(len(config.options)),
            config.abstain_index,
        )
        outcome = config.result(tally, Counts(entitled=members["entitled"], present=members["present"]))
        result = {
            "type": "poll_result",
            "poll_id": lp.id,
            "tally": tally.to_dict(),
            "outcome": outcome.to_dict(),
            "receipts": [],
            "counts": members,
            "e2e": {"counts": list(counts_), "counted": box.counted, "decrypted_by": list(box.decrypted_by)},
        }
        lp.result = {k: v for k, v in result.items() if k != "type"}
        await tx.session.execute(
            update(PollRow).where(PollRow.id == lp.id).values(result=json.dumps(lp.result))
        )
        tx.record("poll_result", **lp.result)
