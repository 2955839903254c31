"""Secret ballots: the plain ballot box refuses them (they are encrypted, see
voting/e2e), shows only how many voted, and the voting core stays pure."""

from __future__ import annotations

import ast
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import voting
from meeting.errors import InvalidState
from voting.ballot_box import BallotBox
from voting.poll import BallotKind, Poll, PollConfig

T0 = datetime(2025, 11, 26, 13, 0, tzinfo=UTC)
CONFIG = PollConfig.election(
    "Delegates", ["Ana", "Bo", "Cy"], max_choices=2, kind=BallotKind.SECRET, allow_change=True
)


def fresh_box() -> BallotBox:
    poll = Poll("poll-s", CONFIG)
    poll.open(T0, quorate=True)
    return BallotBox(poll)


def test_a_plaintext_ballot_into_a_secret_poll_is_refused() -> None:
    box = fresh_box()
    with pytest.raises(InvalidState) as info:
        box.cast("alice", "ballot-000000000001", [0], T0, eligible=True)
    assert info.value.code == "encrypted_ballot_required"
    assert box.voted_count == 0


def test_live_view_of_secret_poll_shows_only_how_many_voted() -> None:
    box = fresh_box()
    assert box.live_view() == {"type": "tally_updated", "poll_id": "poll-s", "state": "open", "voted": 0}


def test_secret_tally_is_sealed_until_close() -> None:
    box = fresh_box()
    with pytest.raises(InvalidState) as info:
        box.tally()
    assert info.value.code == "tally_sealed"


FORBIDDEN = {
    "aiohttp",
    "sqlalchemy",
    "socketio",
    "aiortc",
    "aiosqlite",
    "av",
    "logging",
    "asyncio",
    "os",
    "socket",
    "pathlib",
    "io",
    "time",
    "random",
}


# The one exception, and why: importing rbcl writes a copy of its libsodium to the temp dir
# (the binding's own side effect, at import); group.py unlinks that file and does nothing else
# with os (tests/unit/test_e2e_sodium_tempfile.py).
BINDING_HOUSEKEEPING = {("group.py", "os")}


def test_voting_core_imports_no_framework_and_does_no_io() -> None:
    package = Path(voting.__file__).parent
    for module in sorted(package.rglob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if (module.name, top) in BINDING_HOUSEKEEPING:
                    continue
                assert top not in FORBIDDEN, f"{module.name} imports {name}"
                # rbcl: libsodium's ristretto255 (voting/e2e), no I/O of its own
                assert top in sys.stdlib_module_names or top in {"voting", "meeting", "rbcl"}, (
                    f"{module.name} imports {name}"
                )
                if top == "meeting":
                    assert name in {"meeting.errors", "meeting.threshold"}, f"{module.name} imports {name}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"open", "print"}, f"{module.name} does I/O"
