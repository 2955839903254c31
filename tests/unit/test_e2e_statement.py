"""The key statement the officer-trustees sign: exact bytes, never a cosignature message."""

from __future__ import annotations

import pytest

from meeting.errors import InvalidInput
from voting.e2e.statement import STATEMENT_HEADER, statement_text


def test_the_statement_lists_meeting_key_and_shares_in_trustee_order() -> None:
    text = statement_text("7", b"\x01" * 32, {"C1-SEC": b"\x03" * 32, "C1-CHAIR": b"\x02" * 32})
    assert text == (
        f"{STATEMENT_HEADER}\nmeeting 7\npublic_key {'01' * 32}\n"
        f"share C1-CHAIR {'02' * 32}\nshare C1-SEC {'03' * 32}\n"
    )
    assert not text.startswith("cosignature/v1")  # a statement signature is no cosignature
    with pytest.raises(InvalidInput):
        statement_text("7", b"\x01" * 32, {})
