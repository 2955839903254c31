"""The officers make their cosigning keys in their own browsers, seal and cosign there;
the bundle verifies against their browser-made public keys; the server never saw a
private key or a passphrase.

The chair makes a key with a backup file in one browser context, then restores it from
that file in a fresh context (another device) and cosigns from there; the secretary
makes a key without a backup on a phone-sized screen and cosigns. The meeting is opened
and closed over HTTP (from the chair's page, same origin). Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import LAPTOP, PHONE, running_meetingd
from tests.browser.test_roster_browser import shoot
from tests.browser.test_votes_browser import sign_in

pytestmark = pytest.mark.browser

MEETING_ID = 1
BACKUP_PASS = "chair's backup passphrase 1"
WRONG_PASS = "not the backup passphrase"
KEY_NAME = "meetingd.local/minutes/member/{}"


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("meetingd")


@pytest.fixture(scope="module")
def meetingd_url(server_dir: Path) -> Iterator[str]:
    with running_meetingd(server_dir) as url:
        yield url


def post(page: Page, path: str) -> int:
    """A same-origin POST from the page (the browser sets Origin and the cookie)."""
    return int(
        page.evaluate(
            "p => fetch(p, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'})"
            ".then(r => r.status)",
            path,
        )
    )


def open_minutes(page: Page) -> None:
    page.goto("/#/meetings")
    page.reload()  # the list may have been loaded before the meeting closed
    page.locator(f'[data-meeting-id="{MEETING_ID}"] [data-action="minutes"]').click()
    expect(page.locator(".minutes-status .officer")).to_have_count(2)


def stored_key(page: Page, member_id: str) -> dict[str, object]:
    """What this browser's IndexedDB holds for the officer (read by the page's own module)."""
    return dict(
        page.evaluate(
            """name => import('/js/officer-key.js').then(async (m) => {
                const d = await m.describeKey(name);
                if (!d) return {};
                const k = d.key.privateKey;
                return {verifier_key: d.verifierKey, fingerprint: d.fingerprint, engine: d.key.engine,
                        type: k && k.type, extractable: k && k.extractable, has_seed: 'seed' in d.key};
            })""",
            KEY_NAME.format(member_id),
        )
    )


def cosign(page: Page, member_id: str) -> None:
    mine = page.locator(".minutes-mine")
    mine.locator('[data-action="cosign"]').click()  # not without review
    expect(mine.locator(".form-message.error")).to_contain_text("read the minutes")
    mine.locator("#reviewed").check()
    mine.locator('[data-action="cosign"]').click()
    expect(mine.locator('[data-cosigned="true"]')).to_be_visible()
    expect(page.locator(f'.officer[data-member-id="{member_id}"]')).to_have_attribute("data-cosigned", "true")


def shoot_panel(page: Page, path: Path) -> None:
    """The officer's part of the page (their key panel) at the top of the screen."""
    page.locator(".minutes-mine").evaluate("el => el.scrollIntoView({block: 'start'})")
    shoot(page, path)


def open_backup(path: Path, passphrase: str) -> tuple[bytes, str]:
    """Decrypt a backup file by its documented format (docs/minutes-format.md): the seed."""
    doc = json.loads(path.read_text())
    assert doc["format"] == "meetingd-officer-key-backup/v1"
    kdf = doc["kdf"]
    assert (kdf["name"], kdf["hash"], doc["cipher"]["name"]) == ("PBKDF2", "SHA-256", "AES-GCM")
    key = PBKDF2HMAC(hashes.SHA256(), 32, base64.b64decode(kdf["salt"]), int(kdf["iterations"])).derive(
        passphrase.encode()
    )
    pkcs8 = AESGCM(key).decrypt(
        base64.b64decode(doc["cipher"]["iv"]),
        base64.b64decode(doc["ciphertext"]),
        doc["verifier_key"].encode(),
    )
    assert pkcs8[:16] == bytes.fromhex("302e020100300506032b657004220420")
    return pkcs8[16:], doc["verifier_key"]


def meetingd(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_")}
    return subprocess.run(
        [sys.executable, "-m", "meetingd", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_officers_keys_are_made_in_their_browsers_and_the_bundle_verifies_with_them_pinned(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path, server_dir: Path, tmp_path: Path
) -> None:
    sent: list[bytes] = []

    def record(request: Request) -> None:
        sent.append(request.url.encode() + b"\n" + (request.post_data_buffer or b""))

    chair = open_page(LAPTOP)
    secretary = open_page(PHONE)
    for page in (chair, secretary):
        page.context.on("request", record)
    sign_in(chair, "C1-CHAIR", demo_password)
    assert post(chair, f"/api/meetings/{MEETING_ID}/open") == 200
    assert post(chair, f"/api/meetings/{MEETING_ID}/close") == 200

    # the chair makes a key in this browser, with a backup file
    open_minutes(chair)
    panel = chair.locator(".officer-key")
    expect(panel).to_have_attribute("data-key-state", "none")
    expect(chair.locator(".seal-warning")).to_be_visible()  # nobody has a key yet
    # the page renders again while the chair types: the field keeps the focus and every
    # character (a reload used to move the panel, and the rest of the typing went nowhere)
    panel.locator("#backup-pass").click()
    chair.keyboard.type(BACKUP_PASS[:8])
    chair.evaluate("async () => (await import('/js/i18n.js')).setLanguage('en')")
    chair.keyboard.type(BACKUP_PASS[8:])
    expect(panel.locator("#backup-pass")).to_have_value(BACKUP_PASS)
    panel.locator("#backup-pass2").fill(BACKUP_PASS + "x")
    panel.locator('[data-action="create-key"]').click()
    expect(panel.locator(".form-message.error")).to_have_text("The two passphrases differ.")
    panel.locator("#backup-pass2").fill(BACKUP_PASS)
    with chair.expect_download() as download:
        panel.locator('[data-action="create-key"]').click()
    backup = tmp_path / "chair-key.json"
    download.value.save_as(backup)
    expect(panel).to_have_attribute("data-key-state", "here")
    chair_fp = panel.locator(".my-fingerprint").get_attribute("data-fingerprint")
    first = stored_key(chair, "C1-CHAIR")
    assert first["fingerprint"] == chair_fp
    # kept as a non-extractable CryptoKey (re-imported after the backup was sealed)
    assert (first["engine"], first["type"], first["extractable"], first["has_seed"]) == (
        "webcrypto",
        "private",
        False,
        False,
    )
    expect(chair.locator('.officer[data-member-id="C1-CHAIR"] .fingerprint')).to_be_visible()
    shoot_panel(chair, artifacts / "laptop-officer-key.png")

    # the secretary once had a key the server held (what the v5 upgrade leaves of it): the
    # page asks her to make one here; she does, on a phone, without a backup
    with sqlite3.connect(server_dir / "data" / "meetingd.db") as con:
        con.execute(
            "INSERT INTO officer_keys (member_pk, public_key, origin, created_at, retired_at) "
            "SELECT id, ?, 'server', '2025-01-01 00:00:00', '2026-01-01 00:00:00' FROM members "
            "WHERE member_id = 'C1-SEC'",
            (base64.b64encode(b"\x07" * 32).decode(),),
        )
    sign_in(secretary, "C1-SEC", demo_password)
    open_minutes(secretary)
    spanel = secretary.locator(".officer-key")
    expect(spanel).to_have_attribute("data-key-state", "none")
    expect(spanel.locator(".reenrol-notice")).to_contain_text("retired")
    shoot_panel(secretary, artifacts / "phone-officer-key-new.png")
    spanel.locator("#key-backup").uncheck()
    expect(spanel.locator("#backup-pass")).to_be_hidden()
    spanel.locator('[data-action="create-key"]').click()
    expect(spanel).to_have_attribute("data-key-state", "here")
    expect(spanel.locator(".reenrol-notice")).to_have_count(0)
    sec_key = stored_key(secretary, "C1-SEC")
    assert sec_key["extractable"] is False and sec_key["type"] == "private"
    shoot_panel(secretary, artifacts / "phone-officer-key.png")

    # another device: the chair restores the key from the backup file (a wrong passphrase first)
    device = open_page(LAPTOP)
    device.context.on("request", record)
    sign_in(device, "C1-CHAIR", demo_password)
    open_minutes(device)
    dpanel = device.locator(".officer-key")
    expect(dpanel).to_have_attribute("data-key-state", "elsewhere")
    assert stored_key(device, "C1-CHAIR") == {}
    shoot_panel(device, artifacts / "laptop-officer-key-elsewhere.png")
    expect(device.locator('[data-action="cosign"]')).to_have_count(0)  # not sealed yet
    dpanel.locator("#backup-file").set_input_files(str(backup))
    dpanel.locator("#restore-pass").fill(WRONG_PASS)
    dpanel.locator('[data-action="restore-key"]').click()
    expect(dpanel.locator(".key-restore .form-message.error")).to_contain_text("Wrong passphrase")
    dpanel.locator("#restore-pass").fill(BACKUP_PASS)
    dpanel.locator('[data-action="restore-key"]').click()
    expect(dpanel).to_have_attribute("data-key-state", "here")
    restored = stored_key(device, "C1-CHAIR")
    assert restored["verifier_key"] == first["verifier_key"] and restored["extractable"] is False

    # seal (both fingerprints are printed in the sealed minutes), then cosign in the browser
    expect(device.locator(".seal-warning")).to_have_count(0)
    device.locator('[data-action="seal"]').click()
    expect(device.locator(".seal-state")).to_have_attribute("data-sealed", "true")
    frame = device.frame_locator(".minutes-frame")
    expect(frame.locator("body")).to_contain_text(str(sec_key["fingerprint"]))
    expect(frame.locator("body")).to_contain_text(str(chair_fp))
    cosign(device, "C1-CHAIR")

    open_minutes(secretary)
    expect(secretary.locator('.officer[data-member-id="C1-CHAIR"]')).to_have_attribute(
        "data-cosigned", "true"
    )
    cosign(secretary, "C1-SEC")
    expect(secretary.locator(".all-cosigned")).to_be_visible()
    shoot(secretary, artifacts / "phone-minutes-cosigned.png")
    device.reload()
    expect(device.locator('.officer[data-cosigned="true"]')).to_have_count(2)
    shoot(device, artifacts / "laptop-minutes-cosigned.png")

    # the bundle verifies with the public keys read from the officers' browsers pinned
    view = device.evaluate(f"fetch('/api/meetings/{MEETING_ID}/minutes').then(r => r.json())")["minutes"]
    out = tmp_path / "bundle.json"
    done = meetingd(
        "minutes", "export", str(MEETING_ID), "--data-dir", str(server_dir / "data"), "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    policy = tmp_path / "policy.txt"
    policy.write_text(
        f"log {view['log_key']}\n"
        f"officer chair {restored['verifier_key']}\n"
        f"officer secretary {sec_key['verifier_key']}\n"
        "quorum 0\n"
    )
    ok = meetingd("verify", str(out), "--trust", str(policy))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (
        f"key fingerprint {chair_fp}" in ok.stdout
        and f"key fingerprint {sec_key['fingerprint']}" in ok.stdout
    )

    # nothing secret ever reached the server: no passphrase, no private key, in any request
    # or anywhere in its data directory
    seed, vkey = open_backup(backup, BACKUP_PASS)
    assert vkey == first["verifier_key"]
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    assert base64.b64decode(vkey.split("+", 2)[2])[1:] == public  # the documented format holds
    assert sent and any(b"/api/me/keys" in r for r in sent) and any(b"/minutes/cosign" in r for r in sent)
    secrets = [
        BACKUP_PASS.encode(),
        WRONG_PASS.encode(),
        seed,
        seed.hex().encode(),
        base64.b64encode(seed),
        base64.b64encode(bytes.fromhex("302e020100300506032b657004220420") + seed),
    ]
    for body in sent:
        for secret in secrets:
            assert secret not in body, body[:200]
    stored = b"".join(f.read_bytes() for f in (server_dir / "data").rglob("*") if f.is_file())
    for secret in secrets:
        assert secret not in stored


def test_browser_cosignatures_and_backups_match_the_python_format_on_both_engines(
    open_page: Callable[..., Page], tmp_path: Path
) -> None:
    """Both key engines (WebCrypto and the @noble/curves fallback) make cosignature lines
    that recorder.cosignature verifies, and backup files that the documented format opens;
    an altered or foreign file is refused with its own error code."""
    from recorder.cosignature import verify_cosignature
    from recorder.note import VerifierKey, parse_signature_line

    page = open_page(PHONE)
    page.goto("/")
    text = "meetingd.local/minutes/7\n3\n" + base64.b64encode(bytes(range(32))).decode() + "\n"
    made = page.evaluate(
        """async ([text, pass]) => {
            const m = await import('/js/officer-key.js');
            const out = {};
            for (const engine of ['webcrypto', 'noble']) {
                const name = `meetingd.local/minutes/member/T-${engine}`;
                const k = await m.createKey(name, {engine, backupPassphrase: pass});
                const line = await m.cosignLine(k.key, text, 1700000000);
                await m.forgetKey(name);
                const back = await m.restoreBackup(k.backup, pass);
                const again = await m.cosignLine(back.key, text, 1700000001);
                const codes = [];
                for (const [file, p] of [[k.backup.replace(/"ciphertext": "./, '"ciphertext": "A'), pass],
                                         [k.backup, 'a wrong passphrase'], ['{"format": 1}', pass],
                                         [k.backup.replace(/"iv": "/, '"iv": "!!'), pass]]) {
                    try { await m.restoreBackup(file, p); codes.push('accepted'); }
                    catch (e) { codes.push(e.code); }
                }
                out[engine] = {vkey: k.verifierKey, fp: k.fingerprint, line, again, backup: k.backup,
                               engine: back.key.engine, codes};
            }
            return out;
        }""",
        [text, BACKUP_PASS],
    )
    for engine, got in made.items():
        key = VerifierKey.parse(got["vkey"])
        assert key.fingerprint == got["fp"]
        for line, ts in ((got["line"], 1700000000), (got["again"], 1700000001)):
            assert line.endswith("\n")
            done = verify_cosignature(text, parse_signature_line(line[:-1]), key)
            assert done.timestamp == ts, engine
        path = tmp_path / f"backup-{engine}.json"
        path.write_text(got["backup"])
        seed, vkey = open_backup(path, BACKUP_PASS)
        assert vkey == got["vkey"]
        assert Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw() == key.public_key
        assert got["codes"] == [
            "wrong_passphrase",
            "wrong_passphrase",
            "backup_malformed",
            "backup_malformed",
        ]
    assert made["webcrypto"]["engine"] == "webcrypto"
    # what the page signs is the checkpoint text: it must be this meeting's, of the size and
    # root it shows (a server must not get a signature over another meeting's checkpoint)
    root_hex = bytes(range(32)).hex()
    checks = page.evaluate(
        """async ([text, root]) => {
            const m = await import('/js/minutes.js');
            const other = 'ff' + root.slice(2);
            return [m.checkpointMatches(text, 7, 3, root), m.checkpointMatches(text, 8, 3, root),
                    m.checkpointMatches(text, 7, 4, root), m.checkpointMatches(text, 7, 3, other),
                    m.checkpointMatches(text.replace('/7', '/17'), 7, 3, root)];
        }""",
        [text, root_hex],
    )
    assert checks == [True, False, False, False, False]
