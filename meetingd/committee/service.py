"""The committee services, assembled once (see :attr:`meetingd.services.Services.committee`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock

from ..journal import Journal
from ..security.events import EventSink
from .figures import Figures
from .org import Organisation
from .org_edit import OrgEditor
from .org_log import OrgLog
from .profiles import Profiles
from .summaries import MeetingSummaries


@dataclass(frozen=True)
class CommitteeServices:
    log: OrgLog
    org: Organisation
    figures: Figures
    profiles: Profiles
    editor: OrgEditor  # row-by-row changes to the tree


def committee_services(
    db: async_sessionmaker[AsyncSession],
    journal: Journal,
    clock: Clock,
    origin_prefix: str,
    events: EventSink | None = None,
) -> CommitteeServices:
    log = OrgLog(db, journal.signer_for(f"{origin_prefix.rstrip('/')}/org"), clock)
    summaries = MeetingSummaries(db, journal, clock)
    journal.on_checkpoint(summaries.meeting_signed)  # a closed meeting's summary, once signed
    figures = Figures(db, summaries)
    return CommitteeServices(
        log, Organisation(db, log), figures, Profiles(db, log, figures, events), OrgEditor(db, log, events)
    )
