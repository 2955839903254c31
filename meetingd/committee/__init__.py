"""The committee's view: organisation tree, member e-profiles, participation figures, reports.

Adapters over the pure core (:mod:`meeting.organisation`, :mod:`meeting.profile`,
:mod:`recorder.participation`, :mod:`recorder.org_log`).
"""
