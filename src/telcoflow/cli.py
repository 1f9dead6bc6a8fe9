"""The ``telcoflow`` command line: demo, validate, schema, test, explain, journeys, audits.

Each command imports what it needs when it runs, so ``telcoflow --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from telcoflow.errors import DefinitionError, TelcoflowError

__all__ = ["main"]


def _fail(exc: TelcoflowError) -> None:
    click.echo(str(exc), err=True)
    raise SystemExit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="telcoflow")
def main() -> None:
    """telcoflow: 5G catalogs, rule packs, real-time billing and customer journeys."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Validate catalog, rule-pack and journey YAML files; print every error, located."""
    from telcoflow.loading.kinds import validate_paths

    problems, checked = validate_paths(paths)
    for p in problems:
        click.echo(str(p), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {checked} file(s)", err=True)
        raise SystemExit(1)
    click.echo(f"ok: {checked} file(s) valid")


@main.command()
@click.argument("name", required=False)
@click.option("--out", type=click.Path(path_type=Path), help="write <name>.schema.json files here")
def schema(name: str | None, out: Path | None) -> None:
    """Print the JSON Schema of a file kind (catalog, rule-pack, journey), or write them all."""
    from telcoflow.loading.schema import json_schemas

    schemas = json_schemas()
    if name is not None and name not in schemas:
        click.echo(
            f"unknown schema {name!r}; expected one of: {', '.join(sorted(schemas))}", err=True
        )
        raise SystemExit(2)
    selected = {name: schemas[name]} if name else schemas
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for key, value in selected.items():
            (out / f"{key}.schema.json").write_text(json.dumps(value, indent=2), encoding="utf-8")
            click.echo(f"wrote {out / f'{key}.schema.json'}")
        return
    click.echo(json.dumps(selected[name] if name else selected, indent=2))


@main.command()
@click.option("--accounts", default=200, show_default=True, help="synthetic accounts to bill")
@click.option(
    "--out",
    "out_dir",
    default="telcoflow-demo",
    show_default=True,
    type=click.Path(path_type=Path),
    help="output folder (SQLite ledger, bills, reports)",
)
@click.option("--seed", default=7, show_default=True, help="generator seed")
def demo(accounts: int, out_dir: Path, seed: int) -> None:
    """Run the main job on the embedded defaults (SQLite, in-process bus)."""
    from telcoflow.demo import run_demo

    try:
        run_demo(accounts=accounts, out_dir=out_dir, seed=seed, echo=click.echo)
    except TelcoflowError as exc:
        _fail(exc)


@main.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="print failures only")
def test_cmd(paths: tuple[Path, ...], quiet: bool) -> None:
    """Run the test cases that rule packs carry (every backend for stateful cases)."""
    from telcoflow.rules.packtests import run_pack_tests

    results = run_pack_tests(list(paths))
    failed = [r for r in results if not r.passed]
    for r in results:
        if not (quiet and r.passed):
            click.echo(str(r))
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed or not results:
        raise SystemExit(1)


@main.command()
@click.argument("pack", type=click.Path(exists=True, path_type=Path))
@click.argument("event", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def explain(pack: Path, event: Path) -> None:
    """Explain one evaluation: which rules and table rows matched, and what they saw.

    EVENT is a JSON or YAML file holding the context, e.g. {"event": {...}}.
    """
    from telcoflow.loading.source import load_document
    from telcoflow.rules.pack import explain as explain_pack

    try:
        doc = load_document(event)
        doc.raise_if_problems()
        if not isinstance(doc.data, dict):
            doc.problems.append(doc.problem((), "the event file must hold a mapping", "E-type"))
            doc.raise_if_problems()
        click.echo(explain_pack(pack, doc.data).render())
    except TelcoflowError as exc:
        _fail(exc)


@main.group()
def journey() -> None:
    """Customer journeys: diagrams and checks."""


@journey.command("diagram")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "html"]),
    default="mermaid",
    show_default=True,
)
def journey_diagram(path: Path, fmt: str) -> None:
    """Print a journey's state diagram as Mermaid, Graphviz DOT or HTML."""
    from telcoflow.journeys.diagrams import render_diagram

    try:
        click.echo(render_diagram(path, fmt))
    except TelcoflowError as exc:
        _fail(exc)


@main.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def worker(args: tuple[str, ...]) -> None:
    """Run a stateless worker consuming the event bus (see ``telcoflow worker --help``)."""
    from telcoflow.worker import main as worker_main

    raise SystemExit(worker_main(list(args)))


_ledger_option = click.option(
    "--ledger",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="the real-time SQLite ledger file",
)


@main.command("bill-run")
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="close policy YAML (kind: close-policy)",
)
@_ledger_option
@click.option(
    "--accounts",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="SQLite account directory",
)
@click.option(
    "--store",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="SQLite bill store (created; a rerun resumes)",
)
@click.option("--cycle-day", type=click.IntRange(1, 28), default=1, show_default=True)
@click.option("--month", "month_text", required=True, help="the cycle's month, YYYY-MM")
@click.option("--shard", default=None, help="run one shard I/N (1-based) as an independent job")
@click.option("--processes", type=int, default=None, help="worker processes (default: cores)")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["xml", "html", "json"]),
    default=("xml", "html"),
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def bill_run_cmd(
    policy: Path,
    ledger: Path,
    accounts: Path,
    store: Path,
    cycle_day: int,
    month_text: str,
    shard: str | None,
    processes: int | None,
    formats: tuple[str, ...],
    as_json: bool,
) -> None:
    """Close a bill cycle: bills only where there was consumption, resumable, shardable."""
    from telcoflow.billing.cycle.run import bill_run, sqlite_job

    try:
        year, month = (int(x) for x in month_text.split("-"))
    except ValueError:
        click.echo(f"--month must be YYYY-MM (got {month_text!r})", err=True)
        raise SystemExit(2) from None
    try:
        job = sqlite_job(
            policy=policy,
            ledger=ledger,
            accounts=accounts,
            store=store,
            cycle_day=cycle_day,
            year=year,
            month=month,
            formats=formats,
        )
        summary = bill_run(job, shard=shard, processes=processes, progress=not as_json)
    except TelcoflowError as exc:
        _fail(exc)
    click.echo(
        json.dumps(summary.as_dict(), indent=2, default=str) if as_json else summary.render()
    )
    if summary.failed:
        raise SystemExit(1)


@main.command()
@click.argument("kind", type=click.Choice(["balance"]))
@_ledger_option
@click.option(
    "--store",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="SQLite bill store of the closed cycle",
)
@click.option("--period", required=True, help="ledger period key, e.g. 2026-11-01")
@click.option(
    "--pack",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="audit rule pack (default: the shipped one)",
)
@click.option(
    "--findings",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite file where findings are stored",
)
@click.option("--json", "as_json", is_flag=True, help="print findings as JSON")
def audit(
    kind: str,
    ledger: Path,
    store: Path,
    period: str,
    pack: Path | None,
    findings: Path | None,
    as_json: bool,
) -> None:
    """Run an audit now: ``balance`` checks ledger = bills per account and item type and
    each bill's own arithmetic. Exits 1 when there are findings."""
    from telcoflow.billing.cycle import BillStore
    from telcoflow.billing.cycle.sources import SqliteLedger
    from telcoflow.ops.audits import (
        FindingStore,
        audit_bill_store,
        load_audit_pack,
        render_findings,
        shipped_pack,
    )

    bills = BillStore(store)
    try:
        report = audit_bill_store(
            load_audit_pack(pack or shipped_pack(kind)),
            ledger=SqliteLedger(str(ledger)),
            documents=lambda: bills.documents(period, "xml"),
            period=period,
        )
    except TelcoflowError as exc:
        _fail(exc)
    finally:
        bills.close()
    if findings is not None:
        found = FindingStore(findings)
        found.save(report)
        found.close()
    click.echo(render_findings(list(report.findings), as_json=as_json))
    if not as_json:
        click.echo(f"{report.checked} checks, {len(report.findings)} finding(s)")
    if report.findings:
        raise SystemExit(1)


def run() -> None:  # pragma: no cover - console entry
    """Entry point that maps our errors to a non-zero exit without a traceback."""
    try:
        main()
    except DefinitionError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
