"""An officer cosigns a sealed bundle offline with a key file that never saw the server;
the bundle then verifies against a policy naming that key, and not before. The officer
enrols the key file's public key (its verifier key) and hands the signature line to the
server, which stores it like one made in a browser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def meetingd(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_")}
    env["MEETINGD_COSIGN_PASSPHRASE"] = "chair's own passphrase"
    return subprocess.run(
        [sys.executable, "-m", "meetingd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


async def test_offline_cosigning_with_an_own_key_file(server, sign_in, tmp_path: Path) -> None:
    chair = await sign_in("C1-CHAIR")
    assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
    log = await server.svc.journal.log(1)
    unsealed = log.export(server.svc.journal.signer(1).verifier_key)
    (tmp_path / "unsealed.json").write_text(unsealed.to_json())
    bundle, _warnings = await server.svc.minutes.export(1)
    (tmp_path / "bundle.json").write_text(bundle.to_json())
    name = "meetingd.local/minutes/member/C1-CHAIR"
    made = meetingd("cosign", "--generate", str(tmp_path / "chair.key"), "--name", name)
    assert made.returncode == 0, made.stderr
    vkey = made.stdout.split("verifier key ")[1].split()[0]
    assert (tmp_path / "chair.key").stat().st_mode & 0o777 == 0o600
    refused = meetingd(
        "cosign", str(tmp_path / "unsealed.json"), "--key", str(tmp_path / "chair.key"), "--name", name
    )
    assert refused.returncode == 1 and "not cosigning" in refused.stderr
    done = meetingd(
        "cosign",
        str(tmp_path / "bundle.json"),
        "--key",
        str(tmp_path / "chair.key"),
        "--name",
        name,
        "-o",
        str(tmp_path / "cosigned.json"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith(f"— {name} ")
    policy = tmp_path / "policy.txt"
    policy.write_text(f"log {bundle.log_key}\nofficer chair {vkey}\n")
    before = meetingd("verify", str(tmp_path / "bundle.json"), "--trust", str(policy))
    assert before.returncode == 1 and "cosignature[chair]" in before.stdout
    after = meetingd("verify", str(tmp_path / "cosigned.json"), "--trust", str(policy))
    assert after.returncode == 0, after.stdout
    bad = tmp_path / "bad-policy.txt"
    bad.write_text(f"log {bundle.log_key}\nofficer chair {bundle.log_key}\nwitnes x\n")
    wrong = meetingd("verify", str(tmp_path / "cosigned.json"), "--trust", str(bad))
    assert wrong.returncode == 2 and f"policy error: {bad}:2:" in wrong.stderr

    # the key file's public key is enrolled; the offline line is handed to the server
    line = done.stdout.splitlines()[-1]
    status, body = await chair.call("POST", "/api/meetings/1/minutes/cosign", {"cosignature": line})
    assert (status, body["error"]) == (409, "invalid_state"), body  # no key enrolled yet
    status, body = await chair.call("POST", "/api/me/keys", {"verifier_key": vkey, "origin": "file"})
    assert status == 201 and body["key"]["verifier_key"] == vkey, body
    status, body = await chair.call("POST", "/api/meetings/1/minutes/cosign", {"cosignature": line})
    assert status == 200 and body["cosignature"]["role"] == "chair", body
    stored, _warnings = await server.svc.minutes.export(1)
    (tmp_path / "stored.json").write_text(stored.to_json())
    (tmp_path / "server-policy.txt").write_text(await server.svc.minutes.policy(1))
    served = meetingd("verify", str(tmp_path / "stored.json"), "--trust", str(tmp_path / "server-policy.txt"))
    assert served.returncode == 0, served.stdout  # the policy pins the chair's file key
    assert f"cosigned by chair: {name}, key fingerprint {body['cosignature']['fingerprint']}" in served.stdout
