"""Every kind of self-check finding can be said in both web catalogs, from its facts alone:
the Security page renders ``security.finding.<id>`` and ``security.finding_fix.<id>``
filled from the finding's ``params``, never the server's English (meetingd/security/check.py).
The same page names each recorded security event by its kind (``security.event.<kind>``).
"""

from __future__ import annotations

import ast
import json
import re
import string
from pathlib import Path

from meetingd.security.check import FILES, KINDS, SEVERITIES, finding
from meetingd.security.devices import KEY_KINDS

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "meetingd" / "security" / "check.py"
LANGS = ("en", "vi")


def _catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((ROOT / "web" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def _forms(catalog: dict[str, str], key: str) -> list[str]:
    """The sentence of ``key``: itself, or its plural forms (``key.one``, ``key.other``)."""
    if key in catalog:
        return [catalog[key]]
    return [catalog[k] for k in (f"{key}.one", f"{key}.other") if k in catalog]


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_finding_kind_has_both_sentences_in_both_catalogs() -> None:
    for lang in LANGS:
        catalog = _catalog(lang)
        missing = [
            key
            for kind in KINDS
            for key in (f"security.finding.{kind}", f"security.finding_fix.{kind}")
            if not _forms(catalog, key)
        ]
        assert not missing, f"web/i18n/{lang}.json lacks: {missing}"
        counted = [k for k, kind in KINDS.items() if "{count}" in kind.message]
        for kind in counted:  # a count chooses the plural form: the "other" one must exist
            assert f"security.finding.{kind}.other" in catalog, (lang, kind)


def test_every_file_a_finding_can_name_is_in_both_catalogs() -> None:
    for lang in LANGS:
        catalog = _catalog(lang)
        missing = [what for what in FILES if f"security.file.{what}" not in catalog]
        assert not missing, f"web/i18n/{lang}.json lacks security.file.<what> for: {missing}"


def test_catalog_sentences_use_only_the_facts_the_server_sends() -> None:
    """A catalog placeholder the finding has no param for would show as '{name}'."""
    for lang in LANGS:
        catalog = _catalog(lang)
        for kind_id, kind in KINDS.items():
            sent = _placeholders(kind.message) | _placeholders(kind.fix)
            for key in (f"security.finding.{kind_id}", f"security.finding_fix.{kind_id}"):
                for text in _forms(catalog, key):
                    used = set(re.findall(r"\{(\w+)\}", text))
                    assert used <= sent, (lang, key, used - sent)


def test_the_catalogs_hold_no_finding_the_server_does_not_know() -> None:
    for lang in LANGS:
        stale = {
            re.sub(r"\.(one|other)$", "", k).split(".", 2)[2]
            for k in _catalog(lang)
            if k.startswith(("security.finding.", "security.finding_fix."))
        } - set(KINDS)
        assert not stale, (lang, stale)


def test_every_finding_the_checks_make_is_a_declared_kind() -> None:
    made = {
        node.args[0].value
        for node in ast.walk(ast.parse(CHECK.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "finding"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    assert len(made) >= 15  # the scan sees the calls
    assert made <= set(KINDS), made - set(KINDS)
    assert {k.severity for k in KINDS.values()} <= set(SEVERITIES)


def test_a_finding_carries_its_facts_and_its_english_sentences() -> None:
    f = finding("file_readable", what="server_secret", path="/srv/data/secret.key", mode="-rw-r--r--")
    assert f.to_dict() == {
        "id": "file_readable",
        "severity": "high",
        "params": {"what": "server_secret", "path": "/srv/data/secret.key", "mode": "-rw-r--r--"},
        "message": "the server secret /srv/data/secret.key can be read by other users (mode -rw-r--r--)",
        "fix": "chmod 600 '/srv/data/secret.key'",
    }


def recorded_event_kinds() -> dict[str, str]:
    """kind -> where: the literal first argument of every ``<sink>.record(...)`` call on a
    security event sink (a minutes transaction's ``tx.record``/``t.record`` is not one),
    and the two kinds devices.py makes of each key kind."""
    found: dict[str, str] = {}
    for pkg in ("meetingd", "signaling"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "record"
                    and ast.unparse(node.func.value) not in ("tx", "t")
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    found.setdefault(node.args[0].value, str(path.relative_to(ROOT)))
    for kind in KEY_KINDS:
        found[f"{kind}_used"] = found[f"{kind}_new_device"] = "meetingd/security/devices.py"
    return found


def test_every_security_event_kind_has_a_name_in_both_catalogs() -> None:
    kinds = recorded_event_kinds()
    assert {"sign_in_failed", "signed_in", "rate_limited", "witness_refused_checkpoint"} <= set(kinds)
    for lang in LANGS:
        catalog = _catalog(lang)
        missing = sorted(f"{k} ({at})" for k, at in kinds.items() if f"security.event.{k}" not in catalog)
        assert not missing, f"web/i18n/{lang}.json lacks security.event.<kind> for: {missing}"
