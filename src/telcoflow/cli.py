"""The ``telcoflow`` command line: demo, validate, schema, test, explain, journeys, studio, audits.

Each command imports what it needs when it runs, so ``telcoflow --help`` stays fast. Every
option has a click parameter type, so a wrong value is a one-line usage error (exit 2); our
errors print one line (exit 1); anything else prints one line naming it as an internal error
(exit 1), and ``--debug`` shows its traceback. The console entry point is :func:`run`.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
import traceback
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from telcoflow._optional import requires
from telcoflow.errors import RunInterruptedError, TelcoflowError
from telcoflow.money import RoundingPolicy

with requires("cli", "the telcoflow command"):
    import click

__all__ = ["main", "run"]


def _fail(exc: TelcoflowError) -> None:
    click.echo(str(exc), err=True)
    raise SystemExit(1)


def _say(text: str, colour: str | None = None, *, err: bool = False) -> None:
    """Print ``text``, in ``colour`` only on a terminal: click drops the styling when the
    stream is not a TTY, and ``NO_COLOR`` (https://no-color.org) turns it off everywhere."""
    plain = bool(os.environ.get("NO_COLOR"))
    styled = text if colour is None or plain else click.style(text, fg=colour)
    click.echo(styled, err=err, color=False if plain else None)


def _nothing(what: str) -> None:
    """A run that found nothing to do where it expected work: say what it looked at."""
    click.echo(f"nothing to do: {what}", err=True)
    raise SystemExit(1)


class ShardType(click.ParamType[str]):
    """``I/N`` with 1 <= I <= N: one shard of a bill run."""

    name = "I/N"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from telcoflow.billing.cycle.run import Shard

        try:
            return str(Shard.parse(str(value)))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class MonthType(click.ParamType[tuple[int, int]]):
    """``YYYY-MM``: a bill cycle's month."""

    name = "YYYY-MM"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        found = re.fullmatch(r"(\d{4})-(\d{2})", str(value))
        if found is None or not 1 <= int(found[2]) <= 12:
            self.fail(f"expected a month YYYY-MM with a month 01-12 (got {value!r})", param, ctx)
        return int(found[1]), int(found[2])


class PeriodType(click.ParamType[str]):
    """``YYYY-MM-DD``: a ledger period key (the first day of the cycle)."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        text = str(value)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                pass
        return self.fail(f"expected a period key YYYY-MM-DD, the first day of the cycle, such "
                         f"as 2026-11-01 (got {text!r})", param, ctx)


class SqliteFile(click.ParamType[Path]):
    """An SQLite file holding ``table`` (a ledger, an account directory, a bill store)."""

    name = "file"

    def __init__(self, what: str, table: str, *, may_be_new: bool = False) -> None:
        self.what = what
        self.table = table
        self.may_be_new = may_be_new

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Path:
        path = Path(value)
        if not path.exists():
            if self.may_be_new:
                return path
            self.fail(f"{path} does not exist (expected {self.what})", param, ctx)
        if not path.is_file():
            self.fail(f"{path} is not a file (expected {self.what})", param, ctx)
        try:
            with path.open("rb") as f:
                header = f.read(16)
            if header == b"" and self.may_be_new:
                return path
            if header != b"SQLite format 3\x00":
                raise ValueError("not an SQLite file")
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                tables = {n for (n,) in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
            finally:
                db.close()
        except (OSError, ValueError, sqlite3.Error) as exc:
            self.fail(f"{path} is not {self.what} ({exc})", param, ctx)
        if self.table not in tables and not (self.may_be_new and not tables):
            self.fail(f"{path} is not {self.what}: it has no `{self.table}` table (found "
                      f"{sorted(tables) or 'none'}; were two file options swapped?)",
                      param, ctx)
        return path


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="telcoflow")
@click.option("--debug", is_flag=True, help="show the Python traceback of an internal error")
def main(debug: bool) -> None:
    """telcoflow: 5G catalogs, rule packs, real-time billing and customer journeys."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github", "json"]),
    default="text",
    show_default=True,
    help="text for people, github for GitHub Actions annotations, json for tools",
)
@click.option("--json", "as_json", is_flag=True, help="same as --format json")
def validate(paths: tuple[Path, ...], fmt: str, as_json: bool) -> None:
    """Validate catalog, rule-pack and journey YAML files; print every error, located."""
    from telcoflow.loading.kinds import validate_paths

    warnings: list[Any] = []
    problems, checked = validate_paths(paths, warnings=warnings)
    if not checked:
        _nothing(f"no YAML file (*.yaml, *.yml) under {', '.join(map(str, paths))}")
    if as_json:
        fmt = "json"
    if fmt == "json":
        click.echo(json.dumps({
            "ok": not problems,
            "files": checked,
            "problems": [
                {"file": p.file, "line": p.line, "column": p.column, "path": p.path,
                 "code": p.code, "message": p.message}
                for p in problems
            ],
            "warnings": [
                {"file": w.file, "line": w.line, "column": w.column, "path": w.path,
                 "code": w.code, "message": w.message}
                for w in warnings
            ],
        }, indent=2))
        if problems:
            raise SystemExit(1)
        return
    for w in warnings:
        if fmt == "github":
            click.echo(_github_annotation(w, level="warning"))
        else:
            _say(f"warning: {w}", "yellow", err=True)
    for p in problems:
        if fmt == "github":
            click.echo(_github_annotation(p))
        else:
            _say(str(p), "red", err=True)
    if problems:
        _say(f"{len(problems)} problem(s) in {checked} file(s)", "red", err=True)
        raise SystemExit(1)
    _say(f"ok: {checked} file(s) valid" + (f", {len(warnings)} warning(s)" if warnings else ""),
         "green")


def _github_annotation(problem: Any, level: str = "error") -> str:
    """``::error file=..,line=..,col=..::message`` (GitHub Actions workflow command; ``level``
    ``warning`` for lint warnings)."""
    props = []
    if problem.file:
        props.append(f"file={_gh_escape(problem.file, prop=True)}")
    if problem.line is not None:
        props.append(f"line={problem.line}")
    if problem.column is not None:
        props.append(f"col={problem.column}")
    props.append(f"title={_gh_escape(problem.code, prop=True)}")
    where = f" ({problem.path})" if problem.path else ""
    return f"::{level} {','.join(props)}::{_gh_escape(problem.message + where)}"


def _gh_escape(text: str, *, prop: bool = False) -> str:
    """Escape data for a GitHub workflow command (``%``, CR, LF; ``:`` and ``,`` in a
    property), as the Actions toolkit does."""
    out = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        out = out.replace(":", "%3A").replace(",", "%2C")
    return out


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
        try:
            out.mkdir(parents=True, exist_ok=True)
            for key, value in selected.items():
                (out / f"{key}.schema.json").write_text(json.dumps(value, indent=2),
                                                        encoding="utf-8")
                click.echo(f"wrote {out / f'{key}.schema.json'}")
        except OSError as exc:
            raise click.BadParameter(f"cannot write schemas to {out}: {exc.strerror or exc}",
                                     param_hint="--out") from None
        return
    click.echo(json.dumps(selected[name] if name else selected, indent=2))


@main.command()
@click.option("--accounts", default=200, show_default=True, type=click.IntRange(1, 1_000_000),
              help="synthetic accounts to bill")
@click.option(
    "--out",
    "out_dir",
    default="telcoflow-demo",
    show_default=True,
    type=click.Path(file_okay=False, writable=True, path_type=Path),
    help="output folder (SQLite ledger, bills, reports; recreated)",
)
@click.option("--seed", default=7, show_default=True, type=click.IntRange(0),
              help="generator seed")
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
@click.option("--json", "as_json", is_flag=True, help="print the results as JSON")
def test_cmd(paths: tuple[Path, ...], quiet: bool, as_json: bool) -> None:
    """Run the test cases that rule packs carry (every backend for stateful cases).

    A stateful case whose backend is not installed is reported as skipped, with the reason
    (it fails under TELCOFLOW_REQUIRE_DURABLE=1).
    """
    from telcoflow.rules.isolated import crash_count
    from telcoflow.testing.packs import run_pack_tests

    try:
        results = run_pack_tests(list(paths))
    except TelcoflowError as exc:
        _fail(exc)
    failed = [r for r in results if r.failed]
    skipped = [r for r in results if r.skipped is not None]
    if as_json:
        click.echo(json.dumps({
            "passed": len(results) - len(failed) - len(skipped),
            "failed": len(failed),
            "skipped": len(skipped),
            "cases": [
                {"pack": r.pack, "name": r.name, "file": r.file, "line": r.line,
                 "backend": r.backend,
                 "status": "skipped" if r.skipped is not None else
                           ("passed" if r.passed else "failed"),
                 "failures": list(r.failures), "skipped_reason": r.skipped}
                for r in results
            ],
        }, indent=2))
        if failed or not results:
            raise SystemExit(1)
        return
    for r in results:
        if not (quiet and r.passed):
            _say(str(r), "yellow" if r.skipped is not None else ("green" if r.passed else "red"))
    passed = len(results) - len(failed) - len(skipped)
    summary = f"{passed} passed, {len(failed)} failed"
    if skipped:
        reasons = "; ".join(sorted({str(r.skipped) for r in skipped}))
        summary += f", {len(skipped)} skipped ({reasons})"
    _say(summary, "red" if failed or not results else "green")
    crashes = crash_count()
    if crashes:
        click.echo(f"note: the durable-rules child process crashed {crashes} time(s); it was "
                   "restarted with its state rebuilt")
    if failed or not results:
        raise SystemExit(1)


@main.command()
@click.argument("pack", type=click.Path(exists=True, path_type=Path))
@click.argument("event", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the trace as JSON")
def explain(pack: Path, event: Path, as_json: bool) -> None:
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
        trace = explain_pack(pack, doc.data)
        click.echo(json.dumps(trace.to_dict(), indent=2) if as_json else trace.render())
    except TelcoflowError as exc:
        _fail(exc)


@main.group()
def rules() -> None:
    """Rule packs: DMN decision tables in and out."""


@rules.command("import")
@click.argument("dmn", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the pack here (default: <dmn stem>.rules.yaml beside it)")
@click.option("--name", help="the pack's name (default: from the DMN definitions)")
def rules_import(dmn: Path, out: Path | None, name: str | None) -> None:
    """Import the decision tables of a DMN file as a rule pack (YAML).

    Anything that cannot be carried over is listed with its element and line, and nothing
    is written; presentation-only parts (diagram, descriptions) are listed as skipped.
    """
    from telcoflow.rules.dmn import dump_pack_yaml, import_dmn
    from telcoflow.rules.loader import pack_from_text

    target = out or dmn.with_name(dmn.stem + ".rules.yaml")
    try:
        result = import_dmn(dmn.read_bytes(), str(dmn), name=name)
        text = dump_pack_yaml(result.pack)
        pack_from_text(text, str(target))  # what is written must load
    except TelcoflowError as exc:
        _fail(exc)
    except OSError as exc:
        click.echo(f"{dmn}: cannot read ({exc.strerror})", err=True)
        raise SystemExit(1) from None
    for note in result.skipped:
        click.echo(f"skipped: {note}", err=True)
    target.write_text(text, encoding="utf-8")
    count = len(result.pack["decisions"])
    click.echo(f"wrote {target} ({count} decision{'s' if count != 1 else ''})")


@rules.command("export")
@click.argument("pack", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the DMN XML here (default: standard output)")
def rules_export(pack: Path, out: Path | None) -> None:
    """Export the decision tables of a rule pack as DMN 1.3 XML.

    Decisions that have no DMN form (rule lists, telcoflow hit policies, cells with `?`)
    are listed with their line, and nothing is written.
    """
    from telcoflow.rules.dmn import export_pack_file

    try:
        text = export_pack_file(pack)
    except TelcoflowError as exc:
        _fail(exc)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")


@main.group()
def journey() -> None:
    """Customer journeys: diagrams and checks."""


@journey.command("diagram")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "svg", "html"]),
    default="mermaid",
    show_default=True,
)
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="write the diagram to this file instead of printing it")
def journey_diagram(path: Path, fmt: str, out: Path | None) -> None:
    """Print a journey's state diagram: Mermaid, Graphviz DOT, an SVG drawing or an HTML page.

    SVG and HTML are drawn by telcoflow itself (no Graphviz needed), as in `telcoflow studio`.
    """
    from telcoflow.journeys.diagrams import render_diagram

    try:
        text = render_diagram(path, fmt)
    except TelcoflowError as exc:
        _fail(exc)
        return
    if out is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        click.echo(f"cannot write {out}: {exc.strerror or exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"wrote {out}")


@journey.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "journey_id", help="journey id (default: the chart's name)")
def journey_import(path: Path, journey_id: str | None) -> None:
    """Print a journey YAML from an SCXML chart (the structural subset)."""
    from telcoflow.journeys.scxml import import_scxml

    try:
        click.echo(import_scxml(path.read_bytes(), str(path), journey_id), nl=False)
    except TelcoflowError as exc:
        _fail(exc)


@journey.command("export")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def journey_export(path: Path) -> None:
    """Print a journey file as SCXML (the structural subset)."""
    from telcoflow.journeys.loader import load_journey
    from telcoflow.journeys.scxml import export_scxml

    try:
        click.echo(export_scxml(load_journey(path)), nl=False)
    except TelcoflowError as exc:
        _fail(exc)


@journey.command("lint")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
def journey_lint(paths: tuple[Path, ...]) -> None:
    """Check journey files: errors and lint warnings, each at file:line:col."""
    from telcoflow.journeys.loader import load_journeys

    try:
        journeys = load_journeys(list(paths))
    except TelcoflowError as exc:
        _fail(exc)
        return
    warnings = [w for j in journeys for w in j.warnings]
    for w in warnings:
        click.echo(str(w), err=True)
    click.echo(f"ok: {len(journeys)} journey(s), {len(warnings)} warning(s)")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on (the studio has no login: keep it local)")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="port to listen on")
@click.option("--tests", "tests_dir", type=click.Path(file_okay=False, path_type=Path),
              help="folder for the path tests saved from simulations (default: a `tests` "
                   "folder beside each journey file)")
@click.option("--store", "store_url", metavar="URL",
              help="journey store the metrics view opens (sqlite:///path or postgresql://...)")
def studio(paths: tuple[Path, ...], host: str, port: int, tests_dir: Path | None,
           store_url: str | None) -> None:
    """Edit, draw, simulate, test and measure journeys in a local web page.

    Serves one page per journey file under PATHS (default: ./journeys, else the shipped
    journeys) on http://HOST:PORT/ until Ctrl-C. Needs the `studio` extra
    (pip install 'telcoflow[studio]'); every asset ships in the package.
    """
    try:
        from telcoflow.studio import Studio, serve
    except ImportError as exc:
        click.echo(f"the studio needs the `studio` extra: pip install 'telcoflow[studio]' "
                   f"({exc})", err=True)
        raise SystemExit(1) from None
    from telcoflow.shipped import shipped_path

    try:
        if not paths:
            local = Path("journeys")
            paths = (local if local.is_dir() else shipped_path("journeys", directory=True),)
        Studio(list(paths))  # check the files before binding the port
        click.echo(f"telcoflow studio on http://{host}:{port}/ (Ctrl-C stops it)")
        serve(list(paths), host=host, port=port, tests_dir=tests_dir, store_url=store_url)
    except TelcoflowError as exc:
        _fail(exc)
    except OSError as exc:
        click.echo(f"cannot serve on {host}:{port}: {exc.strerror or exc}", err=True)
        raise SystemExit(1) from None


@main.command()
@click.option("--config", type=click.Path(dir_okay=False),
              help="YAML file of backend settings (see telcoflow.config)")
@click.option("--ledger-url", help="e.g. postgresql://user@host/db (TELCOFLOW_LEDGER_URL)")
@click.option("--bus-url", help="e.g. redis://host:6379/0 (TELCOFLOW_BUS_URL)")
@click.option("--journeys-url", help="journey store URL (TELCOFLOW_JOURNEYS_URL)")
@click.option("--cache-url", help="profile cache URL (TELCOFLOW_CACHE_URL)")
@click.option("--partitions", type=click.IntRange(min=1),
              help="bus partitions (TELCOFLOW_BUS_PARTITIONS)")
@click.option("--prefix", help="bus key prefix (TELCOFLOW_BUS_PREFIX)")
@click.option("--app", "app", envvar="TELCOFLOW_WORKER_APP", default=None,
              help="module:function building the WorkerApp (TELCOFLOW_WORKER_APP; default: "
                   "the demo's population)")
@click.option("--name", default=None, help="consumer name (default: host-pid)")
@click.option("--group", default="workers", show_default=True, help="consumer group")
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="interface of /healthz and /metrics (0.0.0.0 to serve every interface)")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="serve /healthz and /metrics on this port (0: any free port)")
@click.option("--max-messages", type=click.IntRange(min=1), default=None,
              help="stop after this many messages")
@click.option("--idle-exit", type=click.FloatRange(min=0), default=None,
              help="stop after this many seconds without a message")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                                case_sensitive=False))
def worker(log_level: str, app: str | None, **options: Any) -> None:
    """Run a stateless worker consuming the event bus until SIGTERM / SIGINT (exit 0; 2 for
    bad settings). See docs/deployment.md."""
    import logging

    from telcoflow.worker import WorkerOptions, run_worker

    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    opts = WorkerOptions(**options) if app is None else WorkerOptions(app=app, **options)
    raise SystemExit(run_worker(opts))


_ledger_option = click.option(
    "--ledger",
    type=SqliteFile("a real-time SQLite ledger", "ledger"),
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
    type=SqliteFile("an SQLite account directory", "billing_accounts"),
    required=True,
    help="SQLite account directory",
)
@click.option(
    "--store",
    type=SqliteFile("an SQLite bill store", "bills", may_be_new=True),
    required=True,
    help="SQLite bill store (created; a rerun resumes)",
)
@click.option("--cycle-day", type=click.IntRange(1, 28), default=1, show_default=True)
@click.option("--month", "month_text", type=MonthType(), required=True,
              help="the cycle's month, YYYY-MM")
@click.option("--shard", type=ShardType(), default=None,
              help="run one shard I/N (1-based) as an independent job")
@click.option("--processes", type=click.IntRange(1, 512), default=None,
              help="worker processes (default: cores)")
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
    month_text: tuple[int, int],
    shard: str | None,
    processes: int | None,
    formats: tuple[str, ...],
    as_json: bool,
) -> None:
    """Close a bill cycle: a document for every account with charges, resumable, shardable."""
    from telcoflow.billing.cycle.run import bill_run
    from telcoflow.stores.sqlite.sources import sqlite_job

    year, month = month_text
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
    except RunInterruptedError as exc:  # SIGTERM: the workers are stopped, a rerun resumes
        click.echo(str(exc), err=True)
        raise SystemExit(128 + exc.signal) from None
    except TelcoflowError as exc:
        _fail(exc)
    click.echo(
        json.dumps(summary.as_dict(), indent=2, default=str) if as_json else summary.render()
    )
    if summary.failed:
        raise SystemExit(1)
    if not summary.accounts:
        _nothing(f"no account with bill cycle day {cycle_day} in {accounts}"
                 + (f" (shard {shard})" if shard else ""))


@main.command()
@click.argument("kind", type=click.Choice(["balance", "reconciliation"]))
@_ledger_option
@click.option(
    "--store",
    type=SqliteFile("an SQLite bill store", "bills"),
    required=True,
    help="SQLite bill store of the closed cycle",
)
@click.option("--period", type=PeriodType(), required=True,
              help="ledger period key, e.g. 2026-11-01")
@click.option(
    "--pack",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="audit rule pack (default: the shipped one)",
)
@click.option(
    "--carried",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="reconciliation: YAML file of amounts carried to the next period (kind: carried)",
)
@click.option(
    "--rounding",
    type=click.Choice([r.value for r in RoundingPolicy]),
    default=RoundingPolicy.HALF_UP.value,
    show_default=True,
    help="reconciliation: how the close rounds each bill line (the close policy's rounding)",
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
    carried: Path | None,
    rounding: str,
    findings: Path | None,
    as_json: bool,
) -> None:
    """Run an audit now (KIND is balance or reconciliation).

    balance: checks ledger = bills per account and item type, and each bill's own
    arithmetic. reconciliation: checks, per account, ledger total = billed total + amounts
    carried to the next period (--carried), and prints the reconciliation.
    Exits 1 when there are findings.
    """
    from telcoflow.ops.audits import (
        FindingStore,
        audit_bill_store,
        audit_reconciliation_store,
        load_audit_pack,
        render_findings,
        shipped_pack,
    )
    from telcoflow.ops.reconciliation import load_carried
    from telcoflow.stores.sqlite import SQLiteBillStore, SQLiteLedger

    if carried is not None and kind != "reconciliation":
        raise click.UsageError("--carried is an option of the reconciliation audit only")
    bills = SQLiteBillStore(store)
    rec = None
    try:
        rules = load_audit_pack(pack or shipped_pack(kind))
        if kind == "reconciliation":
            rec, report = audit_reconciliation_store(
                rules,
                ledger=SQLiteLedger(str(ledger)),
                documents=lambda: bills.documents(period, "xml"),
                period=period,
                carried=load_carried(carried) if carried is not None else (),
                rounding=RoundingPolicy(rounding).decimal_mode,
            )
        else:
            report = audit_bill_store(
                rules,
                ledger=SQLiteLedger(str(ledger)),
                documents=lambda: bills.documents(period, "xml"),
                period=period,
            )
    except TelcoflowError as exc:
        _fail(exc)
    finally:
        bills.close()
    if not report.checked:
        _nothing(f"no bills of period {period} in {store} to check against {ledger}"
                 if kind == "balance" else
                 f"no ledger lines, bills or carried amounts of period {period} in {ledger} "
                 f"and {store}")
    if findings is not None:
        found = FindingStore(findings)
        found.save(report)
        found.close()
    if rec is not None and not as_json:
        click.echo(rec.render())
    click.echo(render_findings(list(report.findings), as_json=as_json))
    if not as_json:
        click.echo(f"{report.checked} checks, {len(report.findings)} finding(s)")
    if report.findings:
        raise SystemExit(1)


def run(argv: Sequence[str] | None = None) -> int:
    """The console entry point: :data:`main` with every error mapped to one line and an exit
    code (usage 2, ours 1, internal 1); ``--debug`` re-raises an internal error."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        main.main(args, prog_name="telcoflow", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except TelcoflowError as exc:
        click.echo(str(exc), err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # a bug: one line, the traceback only when asked
        if "--debug" in args:
            traceback.print_exc()
        else:
            click.echo(f"telcoflow: internal error: {type(exc).__name__}: {exc} (rerun with "
                       "--debug for the traceback)", err=True)
        return 1
    return 0


def console() -> None:  # pragma: no cover - the installed `telcoflow` script
    """Run :func:`run` and exit with its code."""
    sys.exit(run())
