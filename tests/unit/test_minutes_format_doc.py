"""docs/minutes-format.md specifies every entry type the server can write, and the code
writes no type outside the declared list (the journal refuses undeclared ones)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from recorder.entry_types import ENTRY_TYPES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "minutes-format.md"
PACKAGES = ["meeting", "meetingd", "signaling", "media", "voting", "recorder"]
# Other logs with their own entry types: the organisation log (committee profiles,
# docs/committee.md) and the security log (awaited ``events.record(...)``, not minutes).
OTHER_LOGS = ("meetingd/committee/",)


def _documented() -> set[str]:
    names: set[str] = set()
    for heading in re.findall(r"^### (.+)$", DOC.read_text(encoding="utf-8"), re.M):
        names.update(re.findall(r"`([a-z][a-z0-9_]*)`", heading))
    return names


def _written_literals() -> dict[str, str]:
    """Entry types passed as literals to ``.record(...)``, ``RegisterChange(...)`` and
    ``QuorumFlip(...)`` anywhere in the packages: {type: where}."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if str(path.relative_to(ROOT)).startswith(OTHER_LOGS):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            awaited = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Await)}
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args or id(node) in awaited:
                    continue
                fn = node.func
                name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                if name not in ("record", "RegisterChange", "QuorumFlip"):
                    continue
                arg = node.args[0]
                values = (
                    [arg]
                    if isinstance(arg, ast.Constant)
                    else [arg.body, arg.orelse]
                    if isinstance(arg, ast.IfExp)
                    else []
                )
                for v in values:
                    if isinstance(v, ast.Constant) and isinstance(v.value, str):
                        found[v.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_declared_entry_type_is_specified_in_the_format_document() -> None:
    missing = sorted(set(ENTRY_TYPES) - _documented())
    assert not missing, f"docs/minutes-format.md has no '### `type`' section for {missing}"


def test_the_code_writes_only_declared_entry_types() -> None:
    written = _written_literals()
    assert {"meeting_opened", "quorum_lost", "member_checked_in"} <= set(written)
    undeclared = {t: where for t, where in written.items() if t not in ENTRY_TYPES}
    assert not undeclared, f"entry types written but not in recorder/entry_types.py: {undeclared}"


def test_the_document_specifies_no_type_the_server_cannot_write() -> None:
    extra = sorted(_documented() - set(ENTRY_TYPES))
    assert not extra, f"docs/minutes-format.md specifies undeclared types {extra}"
