"""The pure meeting core: meeting state, roster and domain errors.

Nothing in this package imports a framework (aiohttp, aiortc, socketio,
sqlalchemy) or does I/O. It takes commands and returns events or raises a
:class:`meeting.errors.MeetingError`. ``tests/unit/test_layering.py`` keeps it so.
"""
