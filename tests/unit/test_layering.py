"""The pure core imports no framework and does no I/O; only signaling imports socketio."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = {"aiohttp", "aiortc", "socketio", "engineio", "sqlalchemy", "aiosqlite", "av"}
PURE = ["meeting", "voting"]


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_pure_core_imports_no_framework() -> None:
    for pkg in PURE:
        for f in (ROOT / pkg).rglob("*.py"):
            bad = imports(f) & (FRAMEWORKS | {"meetingd", "signaling", "media"})
            assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_signaling_imports_socketio_outside_the_daemon() -> None:
    for pkg in ["meeting", "voting", "recorder", "media"]:
        for f in (ROOT / pkg).rglob("*.py"):
            assert "socketio" not in imports(f), f"{f.relative_to(ROOT)} imports socketio"


def test_signaling_does_not_import_the_daemon() -> None:
    for f in (ROOT / "signaling").rglob("*.py"):
        assert "meetingd" not in imports(f), f"{f.relative_to(ROOT)} imports meetingd"
