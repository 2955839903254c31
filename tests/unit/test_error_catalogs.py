"""Every error code the server can send has a sentence in both web catalogs, so a
Vietnamese member never reads the server's English message.

The codes are read from the source: every ``code=`` given to an error, every error
class's own ``code``, and every literal ``"error": ...`` of an answer. Codes that never
reach a client are listed below, each with the reason.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["meeting", "voting", "recorder", "meetingd", "signaling", "media"]

NEVER_SENT = {
    "error": "MeetingError's default; every error raised has a real code",
    "bad_token": "voting/receipt.py: a bad server-side token source (a programming error)",
    "invalid_counts": "tally counts the server computes itself (a programming error)",
    "invalid_time": "a naive datetime passed by the server's own clock (a programming error)",
    "restore_mismatch": "reloading a ballot box from the database at start-up",
    "unknown_entry_type": "the journal refusing an undeclared minutes entry type (a programming error)",
}


def server_error_codes() -> dict[str, str]:
    """code -> one place it comes from."""
    found: dict[str, str] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            where = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                values: list[ast.expr] = []
                if isinstance(node, ast.Call):
                    values = [kw.value for kw in node.keywords if kw.arg == "code"]
                elif isinstance(node, ast.ClassDef):
                    values = [
                        s.value
                        for s in node.body
                        if isinstance(s, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "code" for t in s.targets)
                    ]
                elif isinstance(node, ast.Dict):
                    values = [
                        v
                        for k, v in zip(node.keys, node.values, strict=True)
                        if isinstance(k, ast.Constant) and k.value == "error"
                    ]
                for v in values:
                    if isinstance(v, ast.Constant) and isinstance(v.value, str):
                        found.setdefault(v.value, where)
    return found


def _catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((ROOT / "web" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def test_the_scan_finds_the_codes_of_every_layer() -> None:
    codes = server_error_codes()
    for expected in (
        "invalid_input",
        "internal",
        "poll_closed",
        "invalid_sdp",
        "step_up_required",
        "unknown_event",
    ):
        assert expected in codes


def test_every_error_code_the_server_sends_is_in_both_catalogs() -> None:
    sent = {code: where for code, where in server_error_codes().items() if code not in NEVER_SENT}
    for lang in ("en", "vi"):
        catalog = _catalog(lang)
        missing = sorted(
            f"{code} ({where})" for code, where in sent.items() if f"error.{code}" not in catalog
        )
        assert not missing, f"web/i18n/{lang}.json lacks error.<code> for: {missing}"


def test_the_never_sent_list_holds_only_codes_that_exist() -> None:
    assert set(NEVER_SENT) <= set(server_error_codes())


def test_both_catalogs_have_the_same_keys_and_keep_their_placeholders() -> None:
    en, vi = _catalog("en"), _catalog("vi")
    # Vietnamese needs no singular: a "<key>.one" form may exist in one catalog only
    singular = {k for k in set(en) | set(vi) if k.endswith(".one")}
    assert set(en) - singular == set(vi) - singular, sorted((set(en) ^ set(vi)) - singular)
    for key, text in en.items():
        if key in singular:
            continue
        for placeholder in ("{wait}", "{field}", "{message}", "{count}"):
            assert (placeholder in text) == (placeholder in vi[key]), (key, placeholder)


def test_no_catalog_says_a_key_twice() -> None:
    """JSON keeps the last of two equal keys silently: two merges once added the same
    error texts in two places of both catalogs."""
    for lang in ("en", "vi"):
        text = (ROOT / "web" / "i18n" / f"{lang}.json").read_text(encoding="utf-8")
        keys = [k for k, _ in json.loads(text, object_pairs_hook=lambda pairs: pairs)]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        assert not twice, f"web/i18n/{lang}.json says these keys twice: {twice}"
