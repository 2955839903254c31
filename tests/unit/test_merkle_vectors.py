"""Our RFC 6962 proof verification against the transparency-dev/merkle vectors.

The vectors live outside the project, in ../shared/vectors/merkle (see its
README); they are read in place, never copied.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from recorder.errors import ProofError
from recorder.merkle import verify_consistency, verify_inclusion

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "merkle"
TESTDATA = VECTORS / "testdata"


def _cases(kind: str) -> list[Path]:
    return sorted((TESTDATA / kind).rglob("*.json"))


def _id(path: Path) -> str:
    return str(path.relative_to(TESTDATA))


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(case: dict[str, Any]) -> list[bytes]:
    return [_b64(h) for h in case.get("proof") or []]


def test_vectors_are_present() -> None:
    assert len(_cases("inclusion")) > 50, f"no inclusion vectors under {TESTDATA}"
    assert len(_cases("consistency")) > 50, f"no consistency vectors under {TESTDATA}"


@pytest.mark.parametrize("path", _cases("inclusion"), ids=_id)
def test_inclusion_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), _proof(case), _b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _cases("consistency"), ids=_id)
def test_consistency_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]), _proof(case))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)
