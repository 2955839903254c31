"""What the minutes auditors report, and the poll config they rebuild from the minutes.

Shared by :mod:`voting.audit` and :mod:`voting.e2e.record` (so neither imports the other).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voting.poll import PollConfig
from voting.tally import PollType


@dataclass(frozen=True)
class AuditFinding:
    """Shaped like ``recorder.verifier.Finding``: where, what, how bad."""

    location: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.location}: {self.message}"


def config_from_dict(d: Mapping[str, Any]) -> PollConfig:
    """Rebuild a :class:`PollConfig` from its ``to_dict()`` form (as in ``poll_opened``)."""
    rule = d["rule"]
    rule_payload: Any = (
        rule["kind"]
        if rule["kind"] != "custom"
        else {k: rule[k] for k in ("numerator", "denominator", "comparison", "base")}
    )
    payload: dict[str, Any] = {
        "question": d["question"],
        "kind": d["kind"],
        "rule": rule_payload,
        "abstentions_in_base": d.get("abstentions_in_base", False),
        "time_limit_s": d.get("time_limit_s"),
        "allow_change": d.get("allow_change", False),
    }
    if d["type"] == PollType.MOTION.value:
        payload["options"] = "yes_no_abstain" if "abstain" in d["options"] else "yes_no"
    else:
        payload["options"] = list(d["options"])
        payload["max_choices"] = d["max_choices"]
    return PollConfig.from_payload(payload)
