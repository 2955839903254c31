"""Printing an HTML page to PDF with headless Chromium (minutes, committee reports)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def print_pdf(html: str, pdf: Path) -> bool:
    """Print ``html`` to ``pdf`` with headless Chromium; False when Chromium is absent."""
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not exe:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "minutes.html"
        page.write_text(html, encoding="utf-8")
        subprocess.run(  # noqa: S603 (fixed executable, our own arguments)
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp}/profile",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return pdf.exists()
