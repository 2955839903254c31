"""The registry: every client→server command of the ``/meeting`` namespace.

Importing this module imports every area's declarations (:mod:`signaling.messages`,
:mod:`signaling.procedure`, :mod:`signaling.e2e`, :mod:`signaling.media_commands`), so :func:`all_commands`
is complete. How to add a command: :mod:`signaling.command`.

``python -m signaling.commands`` prints the command table of docs/protocol.md.
"""

from __future__ import annotations

from typing import Any

from . import e2e, media_commands, messages, procedure
from .command import Command, registered

AREAS = (messages, procedure, e2e, media_commands)  # imported for their declarations
TABLE_BEGIN = "<!-- commands:begin (python -m signaling.commands) -->"
TABLE_END = "<!-- commands:end -->"


def all_commands() -> list[Command[Any]]:
    """Every command, area by area in AREAS order, each area's in the order its module
    declares them: the same whatever imported what first (the registry's own order is
    import order, which a test run changes)."""
    ordered: dict[str, Command[Any]] = {}
    for area in AREAS:
        for value in vars(area).values():
            if isinstance(value, Command):
                ordered.setdefault(value.name, value)
    for c in registered():  # declared somewhere else: last, in declaration order
        ordered.setdefault(c.name, c)
    return list(ordered.values())


def markdown_table() -> str:
    """The docs' table of commands: event, what it does, who may send it."""
    lines = [
        TABLE_BEGIN,
        "| event | what it does | who may send it |",
        "|---|---|---|",
    ]
    for c in all_commands():
        who = c.access.describe() + (f" ({c.also})" if c.also else "")
        lines.append(f"| `{c.name}` | {c.doc} | {who} |")
    lines.append(TABLE_END)
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
