"""Importing the ristretto255 binding leaves no copy of libsodium in the temp dir.

``rbcl`` writes its bundled libsodium to ``$TMPDIR`` at every import (see
``voting/e2e/group.py``); before the fix each test process left a 2.8 MB ``tmp*.so``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHILD = """
import os, sys
import rbcl
loader = sys.modules["rbcl._sodium"]
assert os.path.exists(loader.lib_path), "rbcl no longer writes a copy: retire the cleanup"
from voting.e2e.group import GENERATOR, base_mul
assert base_mul(1) == GENERATOR  # the library still works once its file is gone
print(loader.lib_path)
"""


def test_importing_the_group_removes_rbcls_copy_of_libsodium_and_keeps_working(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    written = Path(out.stdout.strip())
    assert written.parent == tmp_path  # rbcl wrote its copy here ...
    assert not written.exists()  # ... and it is gone
    assert list(tmp_path.iterdir()) == []
