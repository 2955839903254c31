"""Minutes log benchmark: append latency, and build + export + verify of a large bundle.

Run: ``python bench/minutes_bench.py [--entries 100000]``. Prints its figures;
not a test. Target: verifying a 100,000-entry bundle in <= 5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from recorder.cosignature import Cosigner
from recorder.keys import generate_private_key
from recorder.minutes_log import MinutesLog
from recorder.note import Ed25519Signer, parse_signed_note
from recorder.verifier import verify_bundle

ORIGIN = "meetingd.example/minutes/bench"


def _entry(seq: int, at: str) -> dict[str, object]:
    return {
        "type": "ballot_cast",
        "seq": seq,
        "at": at,
        "poll": "p-7",
        "tracker": f"t-{seq:012d}-abcdefghijklmnop",
        "choice": "yes" if seq % 3 else "no",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--checkpoint-every", type=int, default=1_000)
    args = parser.parse_args()
    n = args.entries

    signer = Ed25519Signer(ORIGIN, generate_private_key())
    chair = Cosigner("meetingd.example/chair", generate_private_key())
    secretary = Cosigner("meetingd.example/secretary", generate_private_key())
    at = datetime.now(UTC).isoformat().replace("+00:00", "Z")

    log = MinutesLog(ORIGIN)
    latencies: list[int] = []
    t_build = time.perf_counter()
    for seq in range(n):
        entry = _entry(seq, at)
        t0 = time.perf_counter_ns()
        log.append(entry)
        latencies.append(time.perf_counter_ns() - t0)
        if (seq + 1) % args.checkpoint_every == 0:
            log.checkpoint(signer)
    body = parse_signed_note(log.checkpoint(signer)).text
    now = int(time.time())
    log.add_cosignatures([chair.cosign(body, now), secretary.cosign(body, now)])
    build_s = time.perf_counter() - t_build

    t0 = time.perf_counter()
    bundle = log.export(
        signer.verifier_key, {"chair": chair.verifier_key, "secretary": secretary.verifier_key}
    )
    text = bundle.to_json()
    export_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = verify_bundle(text)
    verify_s = time.perf_counter() - t0

    lat = sorted(latencies)
    p50 = lat[len(lat) // 2] / 1000
    p99 = lat[int(len(lat) * 0.99)] / 1000
    print(f"entries                 {n}")
    print(f"checkpoints             {len(log.checkpoints)}")
    print(f"append latency p50      {p50:.1f} us")
    print(f"append latency p99      {p99:.1f} us")
    print(f"append latency mean     {statistics.fmean(latencies) / 1000:.1f} us")
    print(f"build (append+sign)     {build_s:.2f} s")
    print(f"export (proofs+JSON)    {export_s:.2f} s   bundle {len(text) / 1e6:.1f} MB")
    print(f"verify (from JSON)      {verify_s:.2f} s   {'VALID' if report.ok else 'INVALID'}")
    if not report.ok:
        print(report.summary())


if __name__ == "__main__":
    main()
