"""GET /metrics: Prometheus text for allowed networks only, values read from the services."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from .conftest import start_server
from .procedure_helpers import ballot_id, open_poll, quorate_meeting


async def test_metrics_count_connections_and_acked_ballots(sign_in, server) -> None:
    chair, members = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    for m in members[:3]:
        assert (await m.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]}))[
            "ok"
        ]
    async with aiohttp.ClientSession() as http, http.get(server.url + "/metrics") as r:
        assert r.status == 200 and r.content_type == "text/plain"
        text = await r.text()
    node = server.svc.config.node_id
    assert f'meetingd_connections{{node="{node}"}} 7.0' in text
    assert f'meetingd_ballots_acked_total{{node="{node}"}} 3.0' in text
    assert f'meetingd_meetings_owned{{node="{node}"}} 1.0' in text


async def test_metrics_are_refused_outside_metrics_from(tmp_path: Path) -> None:
    srv, runner = await start_server(tmp_path, server={"metrics_from": ["10.0.0.0/8"]})
    try:
        async with aiohttp.ClientSession() as http, http.get(srv.url + "/metrics") as r:
            assert r.status == 403
            body = await r.json()
        assert body["ok"] is False and body["error"] == "not_authorised"
    finally:
        await runner.cleanup()
