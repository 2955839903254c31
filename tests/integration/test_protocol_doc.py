"""docs/protocol.md lists every HTTP route and every Socket.IO event the server registers."""

from __future__ import annotations

import re
from pathlib import Path

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
