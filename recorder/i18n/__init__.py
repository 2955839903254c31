"""Message catalogs of the rendered minutes, one module per language.

Each module defines ``CATALOG: dict[str, str]``; values are ``str.format`` templates.
Every catalog has exactly the keys of ``en`` (checked by tests/unit/test_render_minutes.py).
"""

from __future__ import annotations

from recorder.i18n import en, vi

CATALOGS: dict[str, dict[str, str]] = {"en": en.CATALOG, "vi": vi.CATALOG}
LANGUAGES = tuple(CATALOGS)
