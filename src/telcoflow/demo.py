"""``telcoflow demo``: the main job on the embedded defaults, end to end.

1. load the shipped 5G catalog and price a small generated sample with the price models;
2. generate a population and stream its month through the real-time billing graph into SQLite;
3. close the cycle: bills (XML, HTML, TMF678 JSON), the daily report and the audit findings.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DemoOutcome", "run_demo"]


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """Where the demo wrote its outputs and what it counted."""

    out_dir: Path
    ledger_path: Path
    events_accepted: int
    events_rejected: int


def run_demo(
    *,
    accounts: int = 200,
    out_dir: Path = Path("telcoflow-demo"),
    seed: int = 7,
    echo: Callable[[str], object] = print,
) -> DemoOutcome:
    """Run the whole demo, writing into ``out_dir`` (recreated), and report through ``echo``."""
    from telcoflow.billing.demo import run_billing_demo
    from telcoflow.demo_catalog import run_catalog_demo

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    echo("== 1. the shipped 5G catalog, priced on a generated sample")
    run_catalog_demo(seed=seed, out=echo)
    echo("")
    echo("== 2. a month of synthetic 5G traffic through the real-time billing graph")
    ledger_path = out_dir / "ledger.sqlite"
    buffer = io.StringIO()
    result = run_billing_demo(accounts, db_path=ledger_path, out=buffer, seed=seed)
    echo(buffer.getvalue().rstrip())
    echo("")
    echo(f"outputs in {out_dir.resolve()}")
    return DemoOutcome(out_dir, ledger_path, result.accepted, result.rejected)
