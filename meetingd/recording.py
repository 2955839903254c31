"""Meeting recording: start/stop per meeting, file naming, hashes into the minutes, retention.

The chair starts and stops a recording (``signaling/media.py``); closing the meeting and
a graceful shutdown stop it too. Files go to ``<recording dir>/<meeting id>/`` (see
``[recording]`` in the configuration), named
``m<meeting>-<start, UTC>-<member id>-s<segment>.webm``. The media work is
:class:`media.recording.MeetingRecorder`; this module records the facts:

* ``recording_started`` {by}
* ``recording_stopped`` {by, reason, started_at, files: [{member_id, kind, name, sha256,
  bytes, started_at, ended_at, segment, codecs}]} — one journal transaction, written
  after every file is finalized and hashed.

``by`` is the member id of the chair (``null`` when the server stops it at shutdown);
``reason`` is ``chair`` | ``meeting_closed`` | ``shutdown``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from media.recording import MeetingRecorder, RecordedFile
from meeting.clock import Clock, iso
from meeting.errors import InvalidState

from .journal import Journal

logger = logging.getLogger(__name__)

EXTENSIONS = (".webm", ".mkv")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class _Active:
    recorder: MeetingRecorder
    started_at: datetime
    by: str
    stamp: str


def _wall(t: float) -> str:
    return iso(datetime.fromtimestamp(t, UTC)) or ""


class RecordingService:
    """One recording at a time per meeting. Use from the event loop."""

    def __init__(
        self, root: Path, journal: Journal, clock: Clock, *, retention_days: int = 0, queue_frames: int = 1000
    ) -> None:
        self.root = root
        self._journal, self._clock = journal, clock
        self._retention_days, self._queue_frames = retention_days, queue_frames
        self._active: dict[int, _Active] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        # Told of every change (signaling broadcasts ``recording_changed``).
        self.on_change: Callable[[int, dict[str, Any]], None] | None = None

    def folder(self, meeting_id: int) -> Path:
        return self.root / str(int(meeting_id))

    def state(self, meeting_id: int) -> dict[str, Any]:
        active = self._active.get(meeting_id)
        return {"recording": active is not None, "started_at": iso(active.started_at) if active else None}

    def is_recording(self, meeting_id: int) -> bool:
        return meeting_id in self._active

    def _lock(self, meeting_id: int) -> asyncio.Lock:
        return self._locks.setdefault(meeting_id, asyncio.Lock())

    async def start(self, meeting_id: int, by: str, sfu: Any | None = None) -> dict[str, Any]:
        """Start recording every published track of the meeting; ``recording_started``."""
        async with self._lock(meeting_id):
            if meeting_id in self._active:
                raise InvalidState("the meeting is already being recorded", code="already_recording")
            folder = self.folder(meeting_id)
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            now = self._clock()
            stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

            def name_for(pid: str, number: int) -> Path:
                return folder / f"m{meeting_id}-{stamp}-{_UNSAFE.sub('_', pid)}-s{number}"

            async with self._journal.transaction(meeting_id) as tx:
                tx.record("recording_started", by=by)
            recorder = MeetingRecorder(name_for, queue_frames=self._queue_frames)
            self._active[meeting_id] = _Active(recorder, now, by, stamp)
            if sfu is not None:
                recorder.attach(sfu)
        logger.info("meeting=%s recording started by=%s", meeting_id, by)
        self._changed(meeting_id)
        return self.state(meeting_id)

    def attach(self, meeting_id: int, sfu: Any) -> None:
        """A new SFU for the meeting (the first participant's media): record it too."""
        active = self._active.get(meeting_id)
        if active is not None:
            active.recorder.attach(sfu)

    async def stop(
        self, meeting_id: int, by: str | None, reason: str = "chair", *, missing_ok: bool = False
    ) -> dict[str, Any] | None:
        """Finalize and hash the files; one ``recording_stopped`` entry. Returns it."""
        async with self._lock(meeting_id):
            active = self._active.pop(meeting_id, None)
            if active is None:
                if missing_ok:
                    return None
                raise InvalidState("the meeting is not being recorded", code="not_recording")
            try:
                files = await active.recorder.stop()
            finally:
                self._changed(meeting_id)
            listed = [self._file_entry(f) for f in files]
            async with self._journal.transaction(meeting_id) as tx:
                entry = tx.record(
                    "recording_stopped", by=by, reason=reason, started_at=iso(active.started_at), files=listed
                )
        logger.info(
            "meeting=%s recording stopped by=%s reason=%s files=%s", meeting_id, by, reason, len(listed)
        )
        await self.prune()
        return entry

    def _file_entry(self, f: RecordedFile) -> dict[str, Any]:
        return {
            "member_id": f.participant_id,
            "kind": f.kind,
            "name": f.path.name,
            "sha256": f.sha256,
            "bytes": f.size,
            "started_at": _wall(f.started_at),
            "ended_at": _wall(f.ended_at),
            "segment": f.segment,
            "codecs": f.codecs,
        }

    def _changed(self, meeting_id: int) -> None:
        if self.on_change is not None:
            try:
                self.on_change(meeting_id, self.state(meeting_id))
            except Exception:
                logger.exception("meeting=%s recording change listener failed", meeting_id)

    async def close(self) -> None:
        """Graceful shutdown: stop every recording (files finalized, hashes logged)."""
        for meeting_id in list(self._active):
            try:
                await self.stop(meeting_id, None, "shutdown", missing_ok=True)
            except Exception:
                logger.exception("meeting=%s recording: stop at shutdown failed", meeting_id)

    async def prune(self) -> list[Path]:
        """Delete recording files older than ``retention_days`` (0: keep forever)."""
        if self._retention_days <= 0:
            return []
        return await asyncio.to_thread(prune_recordings, self.root, self._retention_days)


def prune_recordings(root: Path, retention_days: int, now: float | None = None) -> list[Path]:
    """Remove ``root/<meeting>/*.webm|.mkv`` last modified more than ``retention_days`` ago."""
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.suffix in EXTENSIONS and path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
                logger.info("recording %s deleted (older than %s days)", path, retention_days)
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed
