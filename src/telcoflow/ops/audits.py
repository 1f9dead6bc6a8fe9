"""Audits written as rule packs: balance audits and floating audits, findings stored and reported.

The *rules* live in rule packs (``rules/audits/*.rules.yaml``, ``kind: rule-pack``, decision
``findings`` with hit policy ``collect``): this module only builds the facts they judge and
turns every matched rule into a :class:`Finding`.

* **Balance** (:func:`run_balance_audit`): per dimension (account and item type by default)
  one ``check`` with the summed amounts of the rated events, the ledger lines and the bill
  lines; and per stored bill one ``check`` with its total, lines, discounts, taxes and gross.
* **Reconciliation** (:func:`run_reconciliation_audit`): per account, currency and period one
  ``row`` of :func:`telcoflow.ops.reconciliation.reconcile`: ledger total = billed total +
  carried amounts (:func:`audit_reconciliation_store` reads a ledger and a bill store).
* **Floating** (:func:`run_floating_audit`): per metric and day one ``metric`` with the day's
  value and the mean of the ``window`` previous days (days without a full window are not
  judged).

Findings go to a :class:`FindingStore` (SQLite); :class:`AuditScheduler` runs audit jobs
``hourly`` or ``daily`` when they are due, and :func:`render_findings` reports them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

from telcoflow._optional import requires
from telcoflow.billing.cycle.model import USAGE_ITEM_TYPES, Bill
from telcoflow.billing.cycle.sources import LedgerReader
from telcoflow.errors import ArgumentError, StoreError
from telcoflow.events import RatedRecord
from telcoflow.ledger import LedgerLine
from telcoflow.ops.reconciliation import (
    Carried,
    Reconciliation,
    billed_from_xml,
    line_ledger_amount,
    reconcile,
)
from telcoflow.rules.pack import RulePack, load_pack
from telcoflow.shipped import shipped_path

with requires("documents", "audits of XML bills"):
    from lxml import etree

__all__ = [
    "AuditJob",
    "AuditReport",
    "AuditScheduler",
    "DIMENSIONS",
    "Finding",
    "FindingStore",
    "audit_bill_store",
    "audit_reconciliation_store",
    "bill_checks_from_xml",
    "bill_totals_from_xml",
    "daily_metrics",
    "load_audit_pack",
    "render_findings",
    "run_balance_audit",
    "run_floating_audit",
    "run_reconciliation_audit",
    "shipped_pack",
    "totals_from_bills",
    "totals_from_ledger",
    "totals_from_rated",
]

#: The dimensions a balance audit may group by.
DIMENSIONS = ("account", "subscriber", "item_type")

Key = tuple[str, ...]
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Finding:
    """One matched audit rule: what is wrong, where (``subject``), with the facts it saw."""

    audit: str
    rule: str
    severity: str
    code: str
    subject: str
    message: str
    facts: dict[str, str] = field(default_factory=dict)
    found_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"audit": self.audit, "rule": self.rule, "severity": self.severity,
                "code": self.code, "subject": self.subject, "message": self.message,
                "facts": dict(self.facts), "found_at": self.found_at.isoformat()}


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The outcome of one audit run: how many facts were judged and what was found."""

    audit: str
    pack: str
    checked: int
    findings: tuple[Finding, ...]
    ran_at: datetime

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings


def shipped_pack(name: str) -> Path:
    """Path of a shipped audit pack, ``rules/audits/<name>.rules.yaml`` (``balance``,
    ``reconciliation`` or ``floating``; see :func:`telcoflow.shipped.shipped_path`)."""
    return shipped_path(f"rules/audits/{name}.rules.yaml")


def load_audit_pack(path: str | Path) -> RulePack:
    """Load an audit rule pack; it must have a ``findings`` decision."""
    pack = load_pack(path)
    pack.decision("findings")  # KeyError naming the decisions it has otherwise
    return pack


# -- facts ---------------------------------------------------------------------------------
def _check_dims(dimensions: Sequence[str]) -> tuple[str, ...]:
    bad = [d for d in dimensions if d not in DIMENSIONS]
    if bad or not dimensions:
        raise ArgumentError(f"dimensions must be among {DIMENSIONS} (got {list(dimensions)})")
    return tuple(dimensions)


def _key(dims: tuple[str, ...], account: str, subscriber: str, item_type: str) -> Key:
    values = {"account": account, "subscriber": subscriber, "item_type": item_type}
    return tuple(values[d] for d in dims)


def totals_from_rated(records: Iterable[RatedRecord], dimensions: Sequence[str], *,
                      period: str | None = None,
                      item_types: Iterable[str] = USAGE_ITEM_TYPES) -> dict[Key, Decimal]:
    """Rated gross amounts summed per dimension (charges of ``item_types`` only)."""
    dims, types = _check_dims(dimensions), frozenset(item_types)
    out: dict[Key, Decimal] = {}
    for r in records:
        if period is not None and r.period != period:
            continue
        for c in r.charges:
            if c.item_type in types:
                k = _key(dims, r.account, r.subscriber, c.item_type)
                out[k] = out.get(k, _ZERO) + c.gross
    return out


def totals_from_ledger(lines: Iterable[LedgerLine], dimensions: Sequence[str], *,
                       period: str | None = None,
                       item_types: Iterable[str] = USAGE_ITEM_TYPES) -> dict[Key, Decimal]:
    """Ledger amounts summed per dimension (lines of ``item_types`` only)."""
    dims, types = _check_dims(dimensions), frozenset(item_types)
    out: dict[Key, Decimal] = {}
    for ln in lines:
        if ln.item_type in types and (period is None or ln.period == period):
            k = _key(dims, ln.account, ln.subscriber, ln.item_type)
            out[k] = out.get(k, _ZERO) + ln.amount
    return out


def totals_from_bills(bills: Iterable[Bill], dimensions: Sequence[str], *,
                      item_types: Iterable[str] = USAGE_ITEM_TYPES
                      ) -> tuple[dict[Key, Decimal], dict[Key, int]]:
    """Bill line amounts (before discount; with the tax a price held,
    :attr:`~telcoflow.billing.cycle.model.BillLine.ledger_amount`) summed per dimension,
    and lines per dimension."""
    dims, types = _check_dims(dimensions), frozenset(item_types)
    out: dict[Key, Decimal] = {}
    counts: dict[Key, int] = {}
    for b in bills:
        for ln in b.lines:
            if ln.item_type in types:
                k = _key(dims, b.account_id, ln.subscriber_id, ln.item_type)
                out[k] = out.get(k, _ZERO) + ln.ledger_amount
                counts[k] = counts.get(k, 0) + 1
    return out, counts


_NS = {"b": "urn:telcoflow:bill:1"}


def bill_checks_from_xml(documents: Iterable[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """One ``bill-total`` check per stored XML bill (as read back, so tampering shows)."""
    out: list[dict[str, Any]] = []
    for account_id, doc in documents:
        root = etree.fromstring(doc)

        def total(path: str, root: Any = root) -> Decimal:
            return sum((Decimal(t) for t in root.xpath(path, namespaces=_NS)), _ZERO)

        out.append({
            "kind": "bill-total", "subject": f"bill {root.get('id')} (account {account_id})",
            "total": total("b:totals/b:total/text()"),
            "lines": total("b:lines/b:line/b:amount/text()"),
            "discounts": total("b:lines/b:line/b:discount/text()"),
            "taxes": total("b:lines/b:line/b:tax/text()"),
            "gross": total("b:lines/b:line/b:gross/text()"),
        })
    return out


def bill_totals_from_xml(documents: Iterable[tuple[str, bytes]], dimensions: Sequence[str], *,
                         item_types: Iterable[str] = USAGE_ITEM_TYPES
                         ) -> tuple[dict[Key, Decimal], dict[Key, int]]:
    """Like :func:`totals_from_bills`, from stored XML bills: (account id, document) pairs."""
    dims, types = _check_dims(dimensions), frozenset(item_types)
    out: dict[Key, Decimal] = {}
    counts: dict[Key, int] = {}
    for account_id, doc in documents:
        root = etree.fromstring(doc)
        for line in root.iterfind("b:lines/b:line", namespaces=_NS):
            item = line.get("type", "")
            if item not in types:
                continue
            k = _key(dims, account_id, line.get("subscriber", ""), item)
            out[k] = out.get(k, _ZERO) + line_ledger_amount(line)
            counts[k] = counts.get(k, 0) + 1
    return out, counts


def audit_bill_store(
    pack: RulePack,
    *,
    ledger: LedgerReader,
    documents: Callable[[], Iterable[tuple[str, bytes]]],
    period: str,
    rated: Iterable[RatedRecord] | None = None,
    dimensions: Sequence[str] = ("account", "item_type"),
    audit: str = "balance",
    now: datetime | None = None,
) -> AuditReport:
    """The balance audit of a closed cycle: ledger lines of ``period`` against the stored XML
    bills (``documents`` is called twice, e.g. ``lambda: store.documents(cycle, "xml")``),
    each bill's own arithmetic, and the rated records when given (without them the rated
    stage is taken to be the ledger: only ledger = bill is judged)."""
    ledger_totals = totals_from_ledger(ledger.lines(period=period), dimensions, period=period)
    rated_totals = (totals_from_rated(rated, dimensions, period=period) if rated is not None
                    else ledger_totals)
    bill_totals, bill_lines = bill_totals_from_xml(documents(), dimensions)
    return run_balance_audit(
        pack, rated=rated_totals, ledger=ledger_totals, bills=bill_totals, bill_lines=bill_lines,
        bill_checks=bill_checks_from_xml(documents()), dimensions=dimensions, audit=audit,
        now=now)


def daily_metrics(records: Iterable[RatedRecord]) -> dict[str, dict[date, Decimal]]:
    """Daily revenue per usage item type (``revenue.voice``, ``revenue.data``, ...) from rated
    records (gross, by the day the usage started)."""
    out: dict[str, dict[date, Decimal]] = {}
    for r in records:
        day = r.start.date()
        for c in r.charges:
            series = out.setdefault(f"revenue.{c.item_type}", {})
            series[day] = series.get(day, _ZERO) + c.gross
    return out


# -- running packs -------------------------------------------------------------------------
def _facts_text(fact: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in fact.items() if k not in ("kind", "subject")}


def _judge(pack: RulePack, audit: str, name: str, facts: Sequence[Mapping[str, Any]],
           now: datetime, describe: Callable[[Mapping[str, Any], Mapping[str, Any]], str]
           ) -> AuditReport:
    decide = pack.decision("findings")
    findings: list[Finding] = []
    for fact in facts:
        ctx = pack.context_for({name: fact})
        if not decide.evaluate(ctx):
            continue
        for match in decide.explain(ctx).matches:  # which rules matched, with their outputs
            out = dict(match.outputs or {})
            rule = match.rule
            findings.append(Finding(
                audit=audit, rule=rule, severity=str(out.get("severity", "warning")),
                code=str(out.get("code", rule)), subject=str(fact["subject"]),
                message=describe(fact, out), facts=_facts_text(fact), found_at=now))
    return AuditReport(audit, pack.name, len(facts), tuple(findings), now)


def run_balance_audit(
    pack: RulePack,
    *,
    rated: Mapping[Key, Decimal],
    ledger: Mapping[Key, Decimal],
    bills: Mapping[Key, Decimal],
    bill_lines: Mapping[Key, int] | None = None,
    bill_checks: Sequence[Mapping[str, Any]] = (),
    dimensions: Sequence[str] = ("account", "item_type"),
    quantum: Decimal = Decimal("0.01"),
    audit: str = "balance",
    now: datetime | None = None,
) -> AuditReport:
    """Judge rated = ledger = bill per dimension (and ``bill_checks``) with ``pack``.

    ``rated`` / ``ledger`` / ``bills`` map a dimension key (values of ``dimensions``) to a
    summed amount (see :func:`totals_from_rated` and friends). ``check.rounding`` is half a
    ``quantum`` per bill line of the dimension: the most per-line rounding may move the sum.
    """
    dims = _check_dims(dimensions)
    counts = bill_lines or {}
    facts: list[dict[str, Any]] = []
    for k in sorted(set(rated) | set(ledger) | set(bills)):
        facts.append({
            "kind": "stage-balance",
            "subject": ", ".join(f"{d}={v}" for d, v in zip(dims, k, strict=True)),
            "rated": rated.get(k, _ZERO), "ledger": ledger.get(k, _ZERO),
            "bill": bills.get(k, _ZERO),
            "rounding": quantum / 2 * max(counts.get(k, 1), 1),
        })
    facts.extend(dict(c) for c in bill_checks)

    def describe(fact: Mapping[str, Any], out: Mapping[str, Any]) -> str:
        if fact["kind"] == "bill-total":
            return (f"{fact['subject']}: total {fact['total']} but lines {fact['lines']} - "
                    f"discounts {fact['discounts']} + taxes {fact['taxes']} = "
                    f"{fact['lines'] - fact['discounts'] + fact['taxes']}, gross {fact['gross']}")
        return (f"{fact['subject']}: rated {fact['rated']}, ledger {fact['ledger']}, "
                f"bill {fact['bill']} ({out.get('code')})")

    return _judge(pack, audit, "check", facts, now or datetime.now(timezone.utc), describe)


def run_reconciliation_audit(
    pack: RulePack,
    reconciliation: Reconciliation,
    *,
    audit: str = "reconciliation",
    now: datetime | None = None,
) -> AuditReport:
    """Judge each row of ``reconciliation`` (see
    :func:`telcoflow.ops.reconciliation.reconcile`) with ``pack``: one ``row`` per account
    and currency; the shipped pack finds any difference and any ledger amount that reached
    no bill and was not carried."""
    facts = [r.as_fact() for r in reconciliation.rows]

    def describe(fact: Mapping[str, Any], out: Mapping[str, Any]) -> str:
        carried = f" ({fact['reasons']})" if fact["reasons"] else ""
        if out.get("code") == "ledger-changed-after-close":
            return (f"{fact['subject']} in period {reconciliation.period}: the ledger holds "
                    f"{fact['ledger']}, the documents say the close read {fact['recorded']} "
                    f"({out.get('code')})")
        if out.get("code") == "not-billed-not-carried":
            return (f"{fact['subject']} in period {reconciliation.period}: ledger "
                    f"{fact['ledger']} is on no document and not carried ({out.get('code')})")
        return (f"{fact['subject']} in period {reconciliation.period}: ledger {fact['ledger']} "
                f"+ rounding {fact['rounding']} != billed {fact['billed']} + carried "
                f"{fact['carried']}{carried}: difference {fact['difference']} "
                f"({out.get('code')})")

    return _judge(pack, audit, "row", facts, now or datetime.now(timezone.utc), describe)


def audit_reconciliation_store(
    pack: RulePack,
    *,
    ledger: LedgerReader,
    documents: Callable[[], Iterable[tuple[str, bytes]]],
    period: str,
    carried: Iterable[Carried] = (),
    rounding: str = ROUND_HALF_UP,
    audit: str = "reconciliation",
    now: datetime | None = None,
) -> tuple[Reconciliation, AuditReport]:
    """The reconciliation audit of a closed cycle: the ledger lines of ``period`` against the
    stored XML bills (``documents``, e.g. ``lambda: store.documents(cycle, "xml")``) and the
    ``carried`` amounts; returns the reconciliation (to print) and the audit report."""
    rec = reconcile(ledger.lines(period=period), billed_from_xml(documents()), period=period,
                    carried=carried, rounding=rounding)
    return rec, run_reconciliation_audit(pack, rec, audit=audit, now=now)


def run_floating_audit(
    pack: RulePack,
    series: Mapping[str, Mapping[date, Decimal]],
    *,
    window: int = 7,
    start: date | None = None,
    end: date | None = None,
    audit: str = "floating",
    now: datetime | None = None,
) -> AuditReport:
    """Judge each metric's days against the mean of the ``window`` days before them.

    Days are judged from ``start`` to ``end`` (default: every day with a full window); a
    missing day in the series counts as zero.
    """
    if window < 1:
        raise ArgumentError(f"window must be >= 1 day (got {window})")
    facts: list[dict[str, Any]] = []
    for name in sorted(series):
        values = series[name]
        if not values:
            continue
        first, last = min(values), max(values)
        day = max(start or first, first + timedelta(days=window))
        stop = min(end or last, last)
        while day <= stop:
            trailing = [values.get(day - timedelta(days=i), _ZERO) for i in range(1, window + 1)]
            mean = sum(trailing, _ZERO) / window
            facts.append({"kind": "metric", "subject": f"{name} on {day.isoformat()}",
                          "name": name, "day": day.isoformat(),
                          "value": values.get(day, _ZERO), "mean": mean, "window": window})
            day += timedelta(days=1)

    def describe(fact: Mapping[str, Any], out: Mapping[str, Any]) -> str:
        mean = fact["mean"]
        pct = abs(fact["value"] - mean) * 100 / mean if mean else Decimal(0)
        return (f"{fact['subject']}: {fact['value']} is {pct:.1f} % off its trailing "
                f"{fact['window']}-day mean {mean:.2f} (limit {out.get('threshold_pct', '?')} %)")

    return _judge(pack, audit, "metric", facts, now or datetime.now(timezone.utc), describe)


# -- storing, scheduling, reporting -----------------------------------------------------------
class FindingStore:
    """Audit runs and their findings in a SQLite file."""

    SCHEMA = (
        """CREATE TABLE IF NOT EXISTS audit_runs (
            audit TEXT NOT NULL, pack TEXT NOT NULL, ran_at TEXT NOT NULL,
            checked INTEGER NOT NULL, findings INTEGER NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS audit_findings (
            audit TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL, code TEXT NOT NULL,
            subject TEXT NOT NULL, message TEXT NOT NULL, facts TEXT NOT NULL,
            found_at TEXT NOT NULL)""",
    )

    def __init__(self, path: str | Path = ":memory:") -> None:
        try:
            self._conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
            for stmt in self.SCHEMA:
                self._conn.execute(stmt)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the finding store {path}: {exc}") from exc

    def save(self, report: AuditReport) -> None:
        """Record a run and its findings (one transaction)."""
        try:
            with self._conn:
                self._conn.execute("BEGIN")
                self._conn.execute("INSERT INTO audit_runs VALUES (?,?,?,?,?)", (
                    report.audit, report.pack, report.ran_at.isoformat(), report.checked,
                    len(report.findings)))
                self._conn.executemany("INSERT INTO audit_findings VALUES (?,?,?,?,?,?,?,?)", [
                    (f.audit, f.rule, f.severity, f.code, f.subject, f.message,
                     json.dumps(f.facts, sort_keys=True), f.found_at.isoformat())
                    for f in report.findings])
        except sqlite3.Error as exc:
            raise StoreError(f"cannot save audit run {report.audit}: {exc}") from exc

    def findings(self, *, audit: str | None = None, since: datetime | None = None) -> list[Finding]:
        """Stored findings, oldest first, optionally of one audit and / or since a time."""
        rows = self._conn.execute(
            "SELECT * FROM audit_findings WHERE (?1 IS NULL OR audit=?1) AND "
            "(?2 IS NULL OR found_at >= ?2) ORDER BY found_at, rowid",
            (audit, since.isoformat() if since else None))
        return [Finding(a, r, s, c, subj, m, json.loads(f), datetime.fromisoformat(t))
                for a, r, s, c, subj, m, f, t in rows]

    def last_run(self, audit: str) -> datetime | None:
        """When ``audit`` last ran, or None."""
        row = self._conn.execute(
            "SELECT MAX(ran_at) FROM audit_runs WHERE audit=?", (audit,)).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


@dataclass(frozen=True)
class AuditJob:
    """An audit to run ``hourly`` or ``daily``: ``run(now)`` builds the facts and judges them."""

    name: str
    every: Literal["hourly", "daily"]
    run: Callable[[datetime], AuditReport]


def _slot(moment: datetime, every: str) -> datetime:
    if every == "hourly":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


class AuditScheduler:
    """Runs audit jobs when due (once per hour / per day), storing every report.

    Call :meth:`run_due` from the host's scheduler (cron, a loop, a task queue) as often as
    you like: a job runs at most once per slot, and the slot is remembered in the store.
    """

    def __init__(self, jobs: Sequence[AuditJob], store: FindingStore) -> None:
        names = [j.name for j in jobs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ArgumentError(f"audit job names must be unique (repeated: {dupes})")
        self.jobs = tuple(jobs)
        self.store = store

    def due(self, now: datetime) -> list[AuditJob]:
        """The jobs that have not run in the current slot of their schedule."""
        out = []
        for job in self.jobs:
            last = self.store.last_run(job.name)
            if last is None or last < _slot(now, job.every):
                out.append(job)
        return out

    def run_due(self, now: datetime | None = None) -> list[AuditReport]:
        """Run every due job, store and return their reports."""
        moment = now or datetime.now(timezone.utc)
        reports = []
        for job in self.due(moment):
            report = job.run(moment)
            if report.audit != job.name or report.ran_at != moment:
                findings = tuple(replace(f, audit=job.name) for f in report.findings)
                report = AuditReport(job.name, report.pack, report.checked, findings, moment)
            self.store.save(report)
            reports.append(report)
        return reports


def render_findings(findings: Sequence[Finding], *, as_json: bool = False) -> str:
    """Findings as text lines (``severity audit/rule subject: message``) or JSON."""
    if as_json:
        return json.dumps([f.as_dict() for f in findings], indent=2)
    if not findings:
        return "no findings"
    return "\n".join(f"{f.severity.upper():8} {f.audit}/{f.rule} {f.message}" for f in findings)
