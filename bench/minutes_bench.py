"""Minutes log benchmark: append latency, and build + export + verify of a large bundle.

Run: ``python bench/minutes_bench.py [--entries 100000]``. Prints its figures;
not a test. Targets for 100,000 entries (issue 9): the lean v2 bundle <= 30 MB and
verified (strict, against a policy) in <= 2 s; the old v1 bundle (per-entry proofs) is
built and verified in the same run as the baseline.
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
from recorder.policy import TrustPolicy
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
    witness = Cosigner("witness.example/w1", generate_private_key())
    at = datetime.now(UTC).isoformat().replace("+00:00", "Z")

    log = MinutesLog(ORIGIN)
    latencies: list[int] = []
    t_build = time.perf_counter()
    for seq in range(n):
        entry = _entry(seq, at)
        if seq == n - 2:
            entry = {"type": "meeting_closed", "seq": seq, "at": at}
        elif seq == n - 1:
            entry = {
                "type": "minutes_rendered",
                "seq": seq,
                "at": at,
                "covers": seq,
                "lang": "en",
                "sha256": "0" * 64,
            }
        t0 = time.perf_counter_ns()
        log.append(entry)
        latencies.append(time.perf_counter_ns() - t0)
        if (seq + 1) % args.checkpoint_every == 0:
            log.checkpoint(signer)
    body = parse_signed_note(log.checkpoint(signer)).text
    now = int(time.time())
    log.add_cosignatures([chair.cosign(body, now), secretary.cosign(body, now), witness.cosign(body, now)])
    build_s = time.perf_counter() - t_build
    officers = {"chair": chair.verifier_key, "secretary": secretary.verifier_key}
    policy = TrustPolicy(signer.verifier_key, tuple(officers.items()), (witness.verifier_key,), 1)

    figures = {}
    for name, v1 in (("v1 (per-entry proofs)", True), ("v2 (lean)", False)):
        t0 = time.perf_counter()
        bundle = log.export(signer.verifier_key, officers, witnesses=[witness.verifier_key], v1=v1)
        text = bundle.to_json()
        export_s = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        report = verify_bundle(text, policy=policy)
        verify_s, verify_cpu = time.perf_counter() - t0, time.process_time() - c0
        figures[name] = (len(text.encode("utf-8")), export_s, verify_s, verify_cpu, report)

    lat = sorted(latencies)
    p50 = lat[len(lat) // 2] / 1000
    p99 = lat[int(len(lat) * 0.99)] / 1000
    print(f"entries                 {n}")
    print(f"checkpoints             {len(log.checkpoints)}")
    print(f"append latency p50      {p50:.1f} us")
    print(f"append latency p99      {p99:.1f} us")
    print(f"append latency mean     {statistics.fmean(latencies) / 1000:.1f} us")
    print(f"build (append+sign)     {build_s:.2f} s")
    for name, (size, export_s, verify_s, verify_cpu, report) in figures.items():
        print(
            f"{name:<24}export {export_s:.2f} s   bundle {size / 1e6:.1f} MB   "
            f"verify {verify_s:.2f} s (cpu {verify_cpu:.2f} s)   {report.status.upper()}"
        )
        if not report.ok:
            print(report.summary())
    (old_size, _, old_verify, _, _), (new_size, _, new_verify, _, _) = figures.values()
    print(f"v2 / v1                 size {new_size / old_size:.2f}x   verify {new_verify / old_verify:.2f}x")


if __name__ == "__main__":
    main()
