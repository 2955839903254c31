"""Passkey assertions checked by the server, from a small software authenticator (real
P-256 signatures over real WebAuthn structures): the right one passes; another RP id, a
counter gone backwards, a reused challenge and a bad signature are refused, each with its
code, counted and logged."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from meetingd.demo import DEMO_PASSWORD
from meetingd.storage.security_models import SecondFactor

from .conftest import Member, Server, start_server


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One ES256 credential; signs assertions the way a platform authenticator does."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = b"soft-credential-0001"
        self.counter = 0

    def cose_public_key(self) -> bytes:
        n = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")})

    def assert_(
        self,
        options: dict[str, Any],
        origin: str,
        rp_id: str | None = None,
        counter: int | None = None,
        tamper: bool = False,
    ) -> dict[str, Any]:
        self.counter += 1
        client = json.dumps(
            {
                "type": "webauthn.get",
                "challenge": options["challenge"],
                "origin": origin,
                "crossOrigin": False,
            }
        ).encode()
        auth_data = (
            hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
            + bytes([0x05])
            + struct.pack(">I", self.counter if counter is None else counter)
        )
        signature = self.key.sign(auth_data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        if tamper:
            auth_data = auth_data[:-1] + bytes([auth_data[-1] ^ 1])
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
            },
            "clientExtensionResults": {},
        }


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv, runner = await start_server(tmp_path, security={"rp_id": "localhost"})
    yield srv
    await runner.cleanup()


async def with_passkey(server: Server, member_id: str) -> SoftAuthenticator:
    """Register the soft authenticator's credential for ``member_id`` (its row, directly)."""
    auth = SoftAuthenticator()
    member = await server.svc.directory.get(member_id)
    async with server.svc.db() as s, s.begin():
        s.add(
            SecondFactor(
                member_pk=member.id,
                kind="passkey",
                label="soft",
                confirmed=True,
                credential_id=b64(auth.credential_id),
                public_key=b64(auth.cose_public_key()),
                sign_count=0,
                created_at=server.svc.clock(),
            )
        )
    return auth


async def challenge(m: Member) -> tuple[str, dict[str, Any]]:
    status, body = await m.call("POST", "/api/login", {"member_id": m.member_id, "password": DEMO_PASSWORD})
    assert "passkey" in body["second_factor"]["methods"], body
    ch = body["second_factor"]["challenge"]
    status, body = await m.call("POST", "/api/login/passkey/options", {"challenge": ch})
    assert status == 200, body
    return ch, body["options"]


async def test_a_right_assertion_signs_in_and_moves_the_counter(sign_in, server) -> None:
    auth = await with_passkey(server, "C1-SEC")
    m = await sign_in("C1-SEC")
    ch, options = await challenge(m)
    assert options["rpId"] == "localhost"
    assert [c["id"] for c in options["allowCredentials"]] == [b64(auth.credential_id)]
    status, body = await m.call(
        "POST", "/api/login/passkey", {"challenge": ch, "credential": auth.assert_(options, server.url)}
    )
    assert status == 200, body
    async with server.svc.db() as s:
        row = await s.get(SecondFactor, 1)
        assert row is not None and row.sign_count == 1


async def test_refusals_each_have_their_code_and_are_logged(sign_in, server) -> None:
    auth = await with_passkey(server, "C1-SEC")
    m = await sign_in("C1-SEC")
    cases = [
        ({"rp_id": "evil.example"}, "passkey_wrong_rp"),
        ({"tamper": True}, "passkey_invalid"),
    ]
    for kwargs, code in cases:
        ch, options = await challenge(m)
        status, body = await m.call(
            "POST",
            "/api/login/passkey",
            {"challenge": ch, "credential": auth.assert_(options, server.url, **kwargs)},
        )
        assert (status, body["error"]) == (401, code), body
    # a right assertion moves the counter to N; one with a counter at or below N is refused
    ch, options = await challenge(m)
    assert (
        await m.call(
            "POST",
            "/api/login/passkey",
            {"challenge": ch, "credential": auth.assert_(options, server.url, counter=7)},
        )
    )[0] == 200
    ch, options = await challenge(m)
    status, body = await m.call(
        "POST",
        "/api/login/passkey",
        {"challenge": ch, "credential": auth.assert_(options, server.url, counter=3)},
    )
    assert (status, body["error"]) == (401, "passkey_counter")
    # the options' challenge is single use
    status, body = await m.call(
        "POST",
        "/api/login/passkey",
        {"challenge": ch, "credential": auth.assert_(options, server.url, counter=9)},
    )
    assert (status, body["error"]) == (409, "passkey_challenge_expired")
    failed = await server.svc.security.log.events(kind="second_factor_failed")
    assert {e["details"]["reason"] for e in failed} == {
        "passkey_wrong_rp",
        "passkey_invalid",
        "passkey_counter",
    }


async def test_step_up_with_a_passkey(sign_in, server) -> None:
    auth = await with_passkey(server, "C1-SEC")
    m = await sign_in("C1-SEC")
    ch, options = await challenge(m)
    await m.call(
        "POST", "/api/login/passkey", {"challenge": ch, "credential": auth.assert_(options, server.url)}
    )
    status, body = await m.call("POST", "/api/security/step-up/passkey/options")
    assert status == 200
    status, body = await m.call(
        "POST", "/api/security/step-up/passkey", {"credential": auth.assert_(body["options"], server.url)}
    )
    assert (status, body["factor"]) == (200, "passkey")
