"""The real-time billing demo: a synthetic 5G month streamed through the graph into SQLite.

``run_billing_demo(accounts=200, db_path="demo.db")`` generates a seeded population holding
offerings of the shipped catalog (:mod:`telcoflow.demo.generator`), streams its month of events
through the default graph -- rated by a :class:`~telcoflow.rating.catalog_rater.CatalogRater`
over that catalog -- into a SQLite ledger (one durable commit per batch) with a progress bar,
then prints the KPIs, the reasons of any rejections and the ledger totals by item type.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from telcoflow._optional import requires
from telcoflow.billing.realtime import BatchResult, RealtimeBilling, default_graph
from telcoflow.demo.generator import generate_events, generate_population
from telcoflow.events import RatedRecord
from telcoflow.rating.tax import TaxRules
from telcoflow.stores.sqlite import SQLiteLedgerStore

with requires("cli", "the demo"):
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

__all__ = ["DemoResult", "run_billing_demo"]


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo did."""

    accounts: int
    submitted: int
    accepted: int
    rejected: int
    notifications: int
    seconds: float
    events_per_second: float
    ledger_total: Decimal
    rated_total: Decimal
    by_item_type: dict[str, Decimal]
    reasons: dict[str, int] = field(default_factory=dict)


def run_billing_demo(accounts: int = 200, *, db_path: str | Path = "telcoflow-demo.db",
                     out: TextIO | None = None, events: int | None = None, seed: int = 7,
                     batch_size: int = 1000,
                     records: list[RatedRecord] | None = None) -> DemoResult:
    """Generate ``accounts`` accounts and their month (``events``, default 100 per account),
    stream it into the SQLite ledger at ``db_path``, print KPIs and totals to ``out``.

    When ``records`` is a list, the rated records are appended to it (for reports and audits).
    Rejected events are counted by reason in :attr:`DemoResult.reasons` (and printed).
    """
    console = Console(file=out or sys.stdout, width=100)
    population = generate_population(accounts, seed=seed)
    total_events = events if events is not None else accounts * 100
    store = SQLiteLedgerStore(db_path)
    try:
        billing = RealtimeBilling(
            store, default_graph(population.profiles, population.rater, fees=population.fees,
                          taxes=TaxRules(population.catalog)))
        console.print(f"[bold]telcoflow real-time billing demo[/]: {accounts} accounts, "
                      f"{len(population.subscribers)} subscribers, {total_events} events "
                      f"-> {db_path}")
        catalog = population.catalog
        console.print(f"rated by the catalog {catalog.id} ({catalog.name}): "
                      + ", ".join(sorted({s.offer for s in population.subscribers})))
        with Progress(TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total}"), TimeRemainingColumn(),
                      console=console, transient=False) as progress:
            task = progress.add_task("rating", total=total_events)

            rated_total = [Decimal(0)]

            def advance(result: BatchResult) -> None:
                progress.advance(task, result.submitted)
                rated_total[0] += sum((r.total for r in result.rated), Decimal(0))
                if records is not None:
                    records.extend(result.rated)

            totals = billing.stream(generate_events(population, events=total_events,
                                                    seed=seed + 1),
                                    batch_size=batch_size, on_batch=advance)
        snap = billing.kpis.snapshot()
        kpi = Table(title="KPIs")
        kpi.add_column("metric")
        kpi.add_column("value", justify="right")
        eps = totals.submitted / totals.seconds if totals.seconds else 0.0
        for name, value in [
            ("events submitted", str(totals.submitted)),
            ("accepted", str(totals.accepted)),
            ("duplicates", str(totals.duplicates)),
            ("rejected", str(totals.rejected)),
            ("notifications", str(totals.notifications)),
            ("events / s (with SQLite commits)", f"{eps:,.0f}"),
            *[(f"  rejected: {reason}", str(n)) for reason, n in sorted(totals.reasons.items())],
            *[(f"step {n} p99 per batch (ms)", f"{s.p99 * 1000:.3g}")
              for n, s in snap.steps.items()],
        ]:
            kpi.add_row(name, value)
        console.print(kpi)
        by_type: dict[str, Decimal] = {}
        for line in store.lines():
            by_type[line.item_type] = by_type.get(line.item_type, Decimal(0)) + line.amount
        ledger = Table(title="Ledger totals by item type (EUR)")
        ledger.add_column("item type")
        ledger.add_column("amount", justify="right")
        for item_type, amount in sorted(by_type.items()):
            ledger.add_row(item_type, f"{amount.quantize(Decimal('0.01'))}")
        ledger_total = sum(by_type.values(), Decimal(0))
        ledger.add_row("[bold]total[/]", f"[bold]{ledger_total.quantize(Decimal('0.01'))}[/]")
        console.print(ledger)
        return DemoResult(accounts, totals.submitted, totals.accepted, totals.rejected,
                          totals.notifications, totals.seconds, eps, ledger_total,
                          rated_total[0], by_type, dict(totals.reasons))
    finally:
        store.close()
