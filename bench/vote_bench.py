"""Vote benchmark: N Socket.IO members cast within a window against a real meetingd.

Run: ``python bench/vote_bench.py [--members 1000] [--window 10]``. Starts the server
in a subprocess (uvloop, SQLite under a temp dir, demo data + N extra members of
meeting 1, tokens minted through the accounts service), connects N python-socketio
AsyncClients (websocket transport, one asyncio process), opens a poll, lets everyone
cast once at a random instant of the window, closes the poll, and prints: acks/s, ack
latency p50/p99, server CPU and RSS, tally == accepted ballots, and the time from
close to the published result. Runs twice: with group commit, then without (baseline).
Not a test. Target: p99 <= 250 ms.

``--secret`` runs the encrypted secret poll against the open-ballot run as its baseline,
in the same run: ballots encrypted and proved beforehand by the Python implementation
in worker processes (so the client is not the tail), cast as ``cast_encrypted_ballot``;
server CPU per ballot includes every proof check; while the poll is open two trustee
clients (chair, secretary) follow the live board and their devices (a process each)
verify the ballots as they come, and after close they fetch the board, check it against
what they verified (the rest is verified then), recompute the sums and post their partial
decryptions: close -> published result (``VOTE_BENCH_FOLLOW=0``: nothing followed, every
ballot verified after close). Then headless Chromium encrypts and
proves a 3-option ballot and a 10-candidate one (median of 20 each) with web/js/e2e-ballot.js.
Targets: p99 <= 100 ms, <= 3 ms CPU per ballot, close -> result <= 2 s, browser <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# -- the server side (a subprocess) --------------------------------------------------------


async def serve(data_dir: str, members: int, group_commit: bool) -> None:
    from aiohttp import web
    from sqlalchemy import select

    from meetingd.app import build_app
    from meetingd.config import load_config
    from meetingd.demo import seed_demo
    from meetingd.services import services_key
    from meetingd.storage.models import Cell, Member, Participant

    cfg = load_config(
        environ={},
        overrides={
            "server": {"host": "127.0.0.1", "port": 0, "data_dir": data_dir},
            "auth": {"socket_token_seconds": 3600},
            "logging": {"format": "text", "level": "warning"},
            # the chair's step-up (TOTP) is not what this measures
            "security": {"second_factor_required_for": []},
        },
    )
    app = build_app(cfg)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    svc = app[services_key]
    svc.public_url = url
    await seed_demo(svc)
    svc.procedure.ballots.group_commit = group_commit
    if os.environ.get("VOTE_BENCH_GROUP_WINDOW_MS"):  # for A/B runs of the group commit window
        svc.procedure.ballots.window_s = float(os.environ["VOTE_BENCH_GROUP_WINDOW_MS"]) / 1000
    now = svc.clock()
    async with svc.db() as s, s.begin():
        cell = await s.scalar(select(Cell).where(Cell.name.like("Cell 1%")))
        assert cell is not None
        rows = [
            Member(
                member_id=f"B-{i:05d}",
                full_name=f"Bench member {i}",
                cell_id=cell.id,
                contact="",
                status="active",
                is_admin=False,
                language="en",
                created_at=now,
            )
            for i in range(members)
        ]
        s.add_all(rows)
        await s.flush()
        s.add_all([Participant(meeting_id=1, member_pk=m.id, role="member") for m in rows])
    async with svc.db() as s:
        everyone = {m.member_id: m for m in (await s.scalars(select(Member))).all()}
    chair = everyone["C1-CHAIR"]
    await svc.meetings.change_state(1, "open", chair)
    tokens = {"C1-CHAIR": [await svc.accounts.mint_socket_token(chair) for _ in range(3)]}
    tokens["C1-SEC"] = [await svc.accounts.mint_socket_token(everyone["C1-SEC"]) for _ in range(3)]
    for i in range(members):  # three single-use tokens each: a timed-out join retries
        mid = f"B-{i:05d}"
        tokens[mid] = [await svc.accounts.mint_socket_token(everyone[mid]) for _ in range(3)]
    if os.environ.get("VOTE_BENCH_GC_FREEZE", "1") != "0":  # as meetingd serve does (A/B: =0)
        from meetingd.app import freeze_startup_heap

        freeze_startup_heap()
    print(json.dumps({"url": url, "pid": os.getpid(), "tokens": tokens}), flush=True)
    await asyncio.Event().wait()


# -- the client side ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _encrypt_batch(args: tuple[dict[str, Any], list[int]]) -> list[dict[str, Any]]:
    """A worker process: encrypt and prove one ballot per choice (Python implementation)."""
    from voting.e2e.ballot import encrypt_ballot
    from voting.e2e.record import context_from_dict

    context, choices = args
    ctx = context_from_dict(context)
    return [encrypt_ballot(ctx, [int(i == c) for i in range(ctx.n_options)])[0].to_dict() for c in choices]


def encrypt_all(context: dict[str, Any], choices: list[int], workers: int = 2) -> list[dict[str, Any]]:
    from concurrent.futures import ProcessPoolExecutor

    chunks = [choices[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_encrypt_batch, [(context, c) for c in chunks]))
    out: list[dict[str, Any]] = [{}] * len(choices)
    for w, part in enumerate(parts):
        for j, ballot in enumerate(part):
            out[w + j * workers] = ballot
    return out


_FOLLOWER: Any = None  # the device process's check of the board (voting.e2e.follow)


def _follower(context: dict[str, Any]) -> Any:
    global _FOLLOWER
    from voting.e2e.follow import BoardFollower
    from voting.e2e.record import context_from_dict

    if _FOLLOWER is None:
        _FOLLOWER = BoardFollower(context_from_dict(context))
    return _FOLLOWER


def _device_takes(context: dict[str, Any], entries: list[Any], next_from: int) -> int:
    """A trustee's device (its own process) checks a live chunk of the open poll's board."""
    return int(_follower(context).take_live(entries, next_from))


def _trustee_device(member_id: str, secret: int, state: dict[str, Any]) -> dict[str, Any]:
    """A trustee's device: check the closed board (what it followed live only for the
    same bytes) and the sums, decrypt."""
    from voting.e2e.tally import partial_decrypt

    follower = _follower(state["poll"]["context"])
    sums = follower.closed_sums(state["board"], state["sums"])
    return partial_decrypt(follower.ctx, member_id, secret, sums).to_dict()


def _warm_device() -> None:
    import voting.e2e.follow  # noqa: F401  (the import, not the close, pays for loading libsodium)


async def follow_board(
    client: Any, poll_id: int, context: dict[str, Any], device: Any, stop: asyncio.Event
) -> dict[str, int]:
    """A trustee's page while the poll is open: every second, fetch the live board's new
    chunks and let the device check them (docs/e2e-ballots.md §5a)."""
    loop = asyncio.get_running_loop()
    live_from, checked, fetches = 0, 0, 0
    while True:
        last = stop.is_set()  # once more when the casting is over, as the close is coming
        state = await client.call(
            "get_e2e", {"poll_id": poll_id, "live_from": live_from}, namespace="/meeting", timeout=60
        )
        fetches += 1
        if "live_board" not in state:
            break
        live = state["live_board"]
        if live["entries"]:
            checked += await loop.run_in_executor(
                device, _device_takes, context, live["entries"], live["next"]
            )
        live_from = live["next"]
        if last:
            break
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass
    return {"checked_live": checked, "fetches": fetches}


async def trustee_decrypts(
    client: Any, member_id: str, secret: int, poll_id: int, device: Any
) -> dict[str, Any]:
    """A trustee: fetch the board, let its device (a process of its own, as each trustee's
    phone or laptop is) check it and decrypt, post. Returns the ack with each step's time (ms)."""
    t0 = time.perf_counter()
    state = await client.call(
        "get_e2e", {"poll_id": poll_id, "board": True}, namespace="/meeting", timeout=60
    )
    t1 = time.perf_counter()
    decryption = await asyncio.get_running_loop().run_in_executor(
        device, _trustee_device, member_id, secret, state
    )
    t2 = time.perf_counter()
    ack: dict[str, Any] = await client.call(
        "post_partial_decryption",
        {"poll_id": poll_id, "decryption": decryption},
        namespace="/meeting",
        timeout=60,
    )
    t3 = time.perf_counter()
    ack["steps_ms"] = {
        "board_fetch": round((t1 - t0) * 1000),
        "check_board_and_decrypt": round((t2 - t1) * 1000),
        "post": round((t3 - t2) * 1000),
    }
    return ack


JOIN_CONCURRENCY = int(os.environ.get("VOTE_BENCH_JOIN_CONCURRENCY", "8"))
"""Joins in flight at once, over all client processes (a meeting's members click "join"
within a minute or so of each other, not all in the same millisecond)."""


def _ms(sorted_s: list[float], q: float) -> float | None:
    if not sorted_s:
        return None
    return round(sorted_s[min(len(sorted_s) - 1, int(len(sorted_s) * q))] * 1000, 1)


# -- voters in client processes (so the client is not the tail) -------------------------------


def _voter_group(conn: Any, url: str, tokens: dict[str, list[str]], concurrency: int) -> None:
    """A client process: join its members, then cast each one's ballot at its instant."""
    import uvloop

    uvloop.run(_voter_group_main(conn, url, tokens, concurrency))


async def _join_member(
    url: str,
    mid: str,
    tokens: list[str],
    stats: dict[str, int],
    times: list[tuple[float, float]] | None = None,
) -> Any:
    import socketio

    for attempt, token in enumerate(tokens):
        c = socketio.AsyncClient(reconnection=False)
        try:
            t0 = time.perf_counter()
            await c.connect(
                url,
                namespaces=["/meeting"],
                transports=["websocket"],
                auth={"token": token},
                headers={"Origin": url},
                wait_timeout=60,
            )
            t1 = time.perf_counter()
            ack = await c.call(
                "join", {"meeting_id": 1, "attendance": "remote"}, namespace="/meeting", timeout=120
            )
            assert ack["ok"], ack
            if times is not None:
                times.append((t1 - t0, time.perf_counter() - t1))
            return c
        except Exception:
            await c.disconnect()
            if attempt == len(tokens) - 1:
                raise
            stats["join_retries"] = stats.get("join_retries", 0) + 1
    raise AssertionError("unreachable")


async def _voter_group_main(conn: Any, url: str, tokens: dict[str, list[str]], concurrency: int) -> None:
    loop = asyncio.get_running_loop()
    stats: dict[str, int] = {}
    sem = asyncio.Semaphore(concurrency)
    clients: dict[str, Any] = {}

    async def join(mid: str) -> None:
        async with sem:
            clients[mid] = await _join_member(url, mid, tokens[mid], stats, times)

    times: list[tuple[float, float]] = []
    await asyncio.gather(*(join(m) for m in tokens))
    conn.send({"joined": len(clients), "times": times, **stats})
    order = await loop.run_in_executor(None, conn.recv)
    t0 = time.time()
    poll_id, window, secret, ballots = order["poll_id"], order["window"], order["secret"], order["ballots"]
    trace: list[tuple[float, float, str, str | None]] = []

    async def vote(mid: str) -> None:
        await asyncio.sleep(max(0.0, order["start_at"] + random.uniform(0, window) - time.time()))
        if secret:
            event = "cast_encrypted_ballot"
            payload = {"poll_id": poll_id, "ballot_id": uuid.uuid4().hex, "ballot": ballots[mid]}
        else:
            event = "cast_ballot"
            payload = {"poll_id": poll_id, "ballot_id": uuid.uuid4().hex, "choices": [ballots[mid]]}
        start = time.perf_counter()
        offset = time.time() - order["start_at"]
        ack = await clients[mid].call(event, payload, namespace="/meeting", timeout=60)
        error = None if ack.get("ok") else ack.get("error", "?")
        trace.append((offset, time.perf_counter() - start, mid, error))

    await asyncio.gather(*(vote(m) for m in tokens))
    conn.send({"trace": trace, "late_start_s": round(t0 - order["start_at"], 3)})
    await loop.run_in_executor(None, conn.recv)  # "bye": the close and the result are measured first
    await asyncio.gather(*(c.disconnect() for c in clients.values()), return_exceptions=True)
    conn.close()


async def run(
    members: int, window: float, group_commit: bool, secret: bool = False, groups: int = 4
) -> dict[str, Any]:
    import multiprocessing

    follow = os.environ.get("VOTE_BENCH_FOLLOW", "1") != "0"  # trustees check ballots as they come
    data = tempfile.mkdtemp(prefix="vote-bench-")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        data,
        "--members",
        str(members),
        "--group-commit",
        "1" if group_commit else "0",
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 24,  # the first line carries every member's token
        cwd=ROOT,
        # The minutes key is sealed under a passphrase (key custody); a throwaway one here.
        env={**os.environ, "MEETINGD_KEY_PASSPHRASE": "vote bench passphrase"},
    )
    workers: list[tuple[Any, Any]] = []
    loop = asyncio.get_running_loop()
    try:
        assert proc.stdout is not None
        info = json.loads(await proc.stdout.readline())
        url, pid, tokens = info["url"], info["pid"], info["tokens"]
        results: dict[str, Any] = {}
        done = asyncio.Event()
        stats: dict[str, int] = {}

        print(f"phase join server={pid}", file=sys.stderr, flush=True)  # for a profiler to attach
        t0 = time.perf_counter()
        chair = await _join_member(url, "C1-CHAIR", tokens["C1-CHAIR"], stats)

        @chair.on("poll_result", namespace="/meeting")  # type: ignore[misc]
        async def on_result(data: Any) -> None:
            results["result"] = data
            results["result_at"] = time.perf_counter()
            done.set()

        secretary = await _join_member(url, "C1-SEC", tokens["C1-SEC"], stats)
        officers = {"C1-CHAIR": chair, "C1-SEC": secretary}
        voters = [m for m in tokens if m not in officers]
        # voters in client processes, JOIN_CONCURRENCY joins in flight in all
        ctx = multiprocessing.get_context("spawn")
        for g in range(groups):
            mine = {m: tokens[m] for m in voters[g::groups]}
            here, there = ctx.Pipe()
            w = ctx.Process(
                target=_voter_group, args=(there, url, mine, max(1, JOIN_CONCURRENCY // groups)), daemon=True
            )
            w.start()
            workers.append((w, here))
        joined = [await loop.run_in_executor(None, here.recv) for _, here in workers]
        joined_s = time.perf_counter() - t0
        assert sum(j["joined"] for j in joined) == len(voters), joined
        join_retries = stats.get("join_retries", 0) + sum(j.get("join_retries", 0) for j in joined)
        connect_s = sorted(t[0] for j in joined for t in j["times"])
        join_ack_s = sorted(t[1] for j in joined for t in j["times"])

        trustee_secrets: dict[str, int] = {}
        if secret:
            from voting.e2e.keys import make_trustee_key

            for tid, client in officers.items():
                x, key = make_trustee_key("1", tid)
                trustee_secrets[tid] = x
                ack = await client.call("post_trustee_key", {"key": key.to_dict()}, namespace="/meeting")
                assert ack["ok"], ack
        ack = await chair.call(
            "create_poll",
            {
                "config": {
                    "question": "Bench?",
                    "options": "yes_no_abstain",
                    "kind": "secret" if secret else "open",
                }
            },
            namespace="/meeting",
            timeout=30,
        )
        poll_id = ack["poll"]["poll_id"]
        ack = await chair.call("open_poll", {"poll_id": poll_id}, namespace="/meeting", timeout=30)
        assert ack["ok"], ack
        planned = {m: random.randrange(3) for m in voters}
        ballots: dict[str, Any] = dict(planned)
        if secret:
            state = await chair.call("get_e2e", {"poll_id": poll_id}, namespace="/meeting", timeout=30)
            t_enc = time.perf_counter()
            made = encrypt_all(state["poll"]["context"], [planned[m] for m in voters])
            ballots = dict(zip(voters, made, strict=True))
            results["client_encrypt_s"] = round(time.perf_counter() - t_enc, 1)

        # the baseline: what the server spends with everyone connected and nobody voting
        idle0, idle_w0 = cpu_seconds(pid), time.perf_counter()
        await asyncio.sleep(3.0)
        idle_per_s = (cpu_seconds(pid) - idle0) / (time.perf_counter() - idle_w0)
        start_at = time.time() + 1.0  # every process has its orders by then
        for g, (_, here) in enumerate(workers):
            mine = voters[g::groups]
            here.send(
                {
                    "poll_id": poll_id,
                    "window": window,
                    "secret": secret,
                    "start_at": start_at,
                    "ballots": {m: ballots[m] for m in mine},
                }
            )
        devices: dict[str, Any] = {}
        following: list[asyncio.Task[dict[str, int]]] = []
        stop_following = asyncio.Event()
        if secret:
            from concurrent.futures import ProcessPoolExecutor

            for t in trustee_secrets:
                devices[t] = ProcessPoolExecutor(1)
                devices[t].submit(_warm_device).result()
            if follow:
                context = state["poll"]["context"]
                following = [
                    asyncio.create_task(
                        follow_board(officers[t], poll_id, context, devices[t], stop_following)
                    )
                    for t in trustee_secrets
                ]
        await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu0, w0 = cpu_seconds(pid), time.perf_counter()
        print(f"phase cast server={pid}", file=sys.stderr, flush=True)  # for a profiler to attach
        reports = [await loop.run_in_executor(None, here.recv) for _, here in workers]
        wall = time.perf_counter() - w0
        cpu = cpu_seconds(pid) - cpu0
        print(f"phase close server={pid}", file=sys.stderr, flush=True)
        trace = sorted(t for r in reports for t in r["trace"])
        if os.environ.get("VOTE_BENCH_TRACE"):  # (start in window, latency, member, error) per ballot
            Path(os.environ["VOTE_BENCH_TRACE"]).write_text(json.dumps(trace))  # noqa: ASYNC240
        accepted = {0: 0, 1: 0, 2: 0}
        errors: dict[str, int] = {}
        for _, _, mid, error in trace:
            if error is None:
                accepted[planned[mid]] += 1
            else:
                errors[error] = errors.get(error, 0) + 1

        stop_following.set()
        if following:
            results["trustee_followed"] = dict(
                zip(trustee_secrets, await asyncio.gather(*following), strict=True)
            )
        closing = time.perf_counter()
        await chair.call("close_poll", {"poll_id": poll_id}, namespace="/meeting", timeout=60)
        results["close_ack_ms"] = round((time.perf_counter() - closing) * 1000, 1)
        if secret:  # both trustees' devices at once, as in a meeting
            acks = await asyncio.gather(
                *(
                    trustee_decrypts(officers[t], t, x, poll_id, devices[t])
                    for t, x in trustee_secrets.items()
                )
            )
            assert all(a.get("ok") for a in acks), acks
            for device in devices.values():
                device.shutdown()
            results["trustee_steps_ms"] = {
                t: a["steps_ms"] for t, a in zip(trustee_secrets, acks, strict=True)
            }
        await asyncio.wait_for(done.wait(), 60)
        close_to_result = results["result_at"] - closing
        tally = results["result"]["tally"]
        ok = sum(accepted.values())
        lat = sorted(t[1] for t in trace)
        out = {
            "secret": secret,
            "group_commit": group_commit,
            "members": members,
            "client_processes": groups,
            "joined_s": round(joined_s, 1),
            "join_retries": join_retries,
            "join_concurrency": JOIN_CONCURRENCY,
            "join_connect_p50_ms": _ms(connect_s, 0.5),
            "join_connect_p99_ms": _ms(connect_s, 0.99),
            "join_ack_p50_ms": _ms(join_ack_s, 0.5),
            "join_ack_p99_ms": _ms(join_ack_s, 0.99),
            "acks": ok,
            "errors": errors,
            "wall_s": round(wall, 2),
            "acks_per_s": round(ok / wall, 1),
            "p50_ms": round(statistics.median(lat) * 1000, 1),
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 1),
            "max_ms": round(lat[-1] * 1000, 1),
            "server_cpu_s": round(cpu, 2),
            "server_cpu_ms_per_ballot": round(cpu / ok * 1000, 3),
            "server_idle_cpu_per_s": round(idle_per_s, 3),
            "server_cpu_ms_per_ballot_over_idle": round((cpu - idle_per_s * wall) / ok * 1000, 3),
            "server_rss_mb": round(rss_mb(pid), 1),
            "tally_counts": tally["counts"],
            "accepted_counts": [accepted[i] for i in range(3)],
            "tally_matches": tally["counts"] == [accepted[i] for i in range(3)] and tally["voters"] == ok,
            "close_to_result_ms": round(close_to_result * 1000, 1),
            "close_ack_ms": results["close_ack_ms"],
        }
        if secret:
            out["trustee_steps_ms"] = results.get("trustee_steps_ms")
            out["trustee_followed"] = results.get("trustee_followed", "not followed (VOTE_BENCH_FOLLOW=0)")
            out["client_encrypt_s"] = results.get("client_encrypt_s")
            out["browser"] = await browser_encrypt_ms(url)
        for _, here in workers:
            here.send("bye")
        await asyncio.gather(*(c.disconnect() for c in officers.values()), return_exceptions=True)
        return out
    finally:
        for w, _ in workers:
            await loop.run_in_executor(None, w.join, 10)
            if w.is_alive():
                w.kill()
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


async def browser_encrypt_ms(url: str) -> dict[str, Any]:
    """Headless Chromium encrypts and proves ballots with web/js/e2e-ballot.js: median of 20."""
    from playwright.async_api import async_playwright

    script = """async ([n, lo, hi]) => {
      const keys = await import('/js/e2e-keys.js'), ballot = await import('/js/e2e-ballot.js');
      const a = keys.makeTrusteeKey('1', 'chair'), b = keys.makeTrusteeKey('1', 'secretary');
      const ctx = ballot.pollContext({meeting_id: '1', poll_id: '9', n_options: n, min_marks: lo,
        max_marks: hi, public_key: keys.jointKey([a.key.public_share, b.key.public_share])});
      const marks = Array.from({length: n}, (_, i) => (i === 0 ? 1 : 0));
      ballot.encryptBallot(ctx, marks);  // warm up
      const ms = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        ballot.encryptBallot(ctx, marks);
        ms.push(performance.now() - t);
      }
      ms.sort((x, y) => x - y);
      return (ms[9] + ms[10]) / 2;
    }"""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            page = await browser.new_page()
            await page.goto(url + "/")
            three = await page.evaluate(script, [3, 1, 1])
            ten = await page.evaluate(script, [10, 1, 3])
        finally:
            await browser.close()
    return {
        "motion_3_options_median_ms": round(three, 1),
        "election_10_candidates_3_seats_median_ms": round(ten, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--group-commit", default="1", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["group", "single"], help="run one mode only")
    parser.add_argument("--secret", action="store_true", help="encrypted secret poll vs open ballots")
    parser.add_argument("--clients", type=int, default=4, help="client processes the voters are spread over")
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    if args.serve:
        runner(serve(args.serve, args.members, args.group_commit == "1"))
        return
    if args.secret:
        baseline = runner(run(args.members, args.window, True, groups=args.clients))
        print(json.dumps(baseline), flush=True)
        enc = runner(run(args.members, args.window, True, secret=True, groups=args.clients))
        print(json.dumps(enc), flush=True)
        cpu, cpu0 = enc["server_cpu_ms_per_ballot"], baseline["server_cpu_ms_per_ballot"]
        print(
            f"encrypted secret poll: ack p99 {enc['p99_ms']} ms (open ballots {baseline['p99_ms']} ms, "
            f"{enc['p99_ms'] / max(baseline['p99_ms'], 0.001):.1f}x); server CPU/ballot {cpu} ms incl. "
            f"proof checks (open {cpu0} ms, {cpu / max(cpu0, 0.001):.1f}x); close -> result "
            f"{enc['close_to_result_ms']} ms with two trustee clients "
            f"(open {baseline['close_to_result_ms']} ms); "
            f"browser encrypt+prove {enc['browser']}"
        )
        return
    modes = {"group": [True], "single": [False]}.get(args.only or "", [True, False])
    reports = []
    for mode in modes:
        report = runner(run(args.members, args.window, mode, groups=args.clients))
        reports.append(report)
        print(json.dumps(report), flush=True)
    if len(reports) == 2:
        g, b = reports
        print(
            f"group commit: p99 {g['p99_ms']} ms vs {b['p99_ms']} ms without "
            f"(ratio {b['p99_ms'] / max(g['p99_ms'], 0.001):.1f}x); CPU/ballot "
            f"{g['server_cpu_ms_per_ballot']} vs {b['server_cpu_ms_per_ballot']} ms"
        )


if __name__ == "__main__":
    main()
