"""docs/protocol.md lists every HTTP route and every Socket.IO event the server registers."""

from __future__ import annotations

import re
from pathlib import Path

from signaling.commands import all_commands, markdown_table

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


async def test_every_route_is_documented(server) -> None:
    documented = {_normalise(p) for p in re.findall(r"`(?:GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`", DOC)}
    documented |= {_normalise(p) for p in re.findall(r"`(/api/[^`\s]*)`", DOC)}
    missing = []
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path")
        if not path or route.method == "HEAD" or path.startswith("/socket.io") or "prefix" in info:
            continue
        if path in ("/", "/vendor/socket.io.min.js"):
            continue
        if _normalise(path) not in documented:
            missing.append(f"{route.method} {path}")
    assert not missing, f"undocumented routes: {missing}"


async def test_every_socket_event_is_documented(server) -> None:
    sio = server.svc.namespace.sio
    events = set(sio.handlers["/meeting"]) - {"connect", "disconnect", "*"}
    # documented as `event` or `event {payload}`
    missing = [e for e in sorted(events) if not re.search(rf"`{re.escape(e)}[` ]", DOC)]
    assert not missing, f"undocumented events: {missing}"


async def test_registry_handlers_and_protocol_doc_agree(server) -> None:
    """One declaration per command: the server registers exactly the declared commands,
    each has its handler, and the doc's command table is the registry's."""
    sio = server.svc.namespace.sio
    registered = set(sio.handlers["/meeting"]) - {"connect", "disconnect", "*"}  # *: unknown_event
    declared = {c.name for c in all_commands()}
    assert registered == declared
    assert server.svc.namespace.unhandled() == []
    assert markdown_table() in DOC, "docs/protocol.md: paste the output of 'python -m signaling.commands'"
    for c in all_commands():  # and each has its prose, not only its table row
        assert len(re.findall(rf"`{re.escape(c.name)}[` ]", DOC)) >= 2, f"{c.name} has no description"
