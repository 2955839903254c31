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
    return registered()


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
