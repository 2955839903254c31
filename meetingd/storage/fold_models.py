"""Schema v6 table of the committees' kept folds (:class:`recorder.committee_fold.CommitteeFold`).

A cache derived from ``meeting_summaries``: each stored meeting of a fold carries the size
and root of the summary it folded, so a new process takes the fold and folds in only what
changed since (checked against the summaries table) instead of refolding the period.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class CommitteeFoldRow(Base):
    __tablename__ = "committee_folds"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # committee:from:to
    state: Mapped[str] = mapped_column(Text)  # CommitteeFold.to_dict() as compact JSON
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())
