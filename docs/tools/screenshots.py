"""Screenshots of a bill and the daily report for the docs (docs/images/), by headless Chromium.

Needs the Debian ``chromium`` package (``apt-get install chromium``); the tests do not run
this script. Run from the repository root:

    .venv/bin/python docs/tools/screenshots.py

It runs the demo (the CLI's defaults: 200 accounts, seed 7) into a temporary folder, then
shoots one bill's HTML statement and the daily report. Check the images by eye before
committing them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from telcoflow.demo import run_demo

IMAGES = Path(__file__).resolve().parent.parent / "images"


def shoot(page: Path, image: Path, size: str) -> None:
    """Render ``page`` in headless Chromium to the PNG ``image`` (window ``size``: W,H)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium not found: apt-get install chromium")
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={size}", f"--screenshot={image}", page.as_uri()],
        check=True, capture_output=True, timeout=120)
    print(f"wrote {image}")


def postpaid_bill(bills: Path) -> str:
    """The first account with a postpaid bill that has a plan fee and a discount (else any
    plan fee): what most customers get."""
    found = []
    for path in sorted(bills.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        rates = doc.get("appliedCustomerBillingRate", [])
        if doc["documentKind"] == "bill" and any(r["type"] == "recurring" for r in rates):
            found.append((not doc["discount"], path.stem))
    return min(found)[1]


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        run_demo(out_dir=out, echo=lambda _line: None)
        shoot(out / "bills" / f"{postpaid_bill(out / 'bills')}.html", IMAGES / "bill.png",
              "900,1100")
        shoot(out / "daily-report.html", IMAGES / "daily-report.png", "1000,1250")


if __name__ == "__main__":
    main()
