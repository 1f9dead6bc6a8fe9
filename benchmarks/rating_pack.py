"""Benchmark: a 50-rule rating pack (decision tables + rules) on telcoflow vs the same pack's
equality rules on durable-rules, one core.

Pack: a computed time band, a 40-row decision table (service x zone x slice class x band,
hit policy first, with a volume range column) and 10 surcharge rules (hit policy collect,
aggregate sum). Baseline: the same 50 rules as durable-rules rules (the part it can express:
equality tests; the band is computed in Python first; durable fires every matching rule).

Rates are events per CPU-second of this process (``time.process_time``: "on one core"),
so that other work on a shared machine does not count against either side; the wall-clock
rate is printed too.

Prints human-readable lines, then one JSON line:
{"benchmark": "rating_pack", "value": <events/s>, "unit": "events/s",
 "baseline_name": "durable-rules (same rules)", "baseline": <events/s>}
Target: >= 200,000 events/s. Run: python benchmarks/rating_pack.py [--quick]
"""

from __future__ import annotations

import json
import random
import sys
import time
import warnings
from typing import Any

from telcoflow.rules import durable_available, pack_from_text
from telcoflow.rules.pack import RulePack

SERVICES = ["data", "voice", "sms", "slice", "iot"]
ZONES = ["home", "roam-eu", "roam-world"]
SLICES = ["embb", "urllc", "mmtc"]
BANDS = ["peak", "offpeak", "weekend"]


def table_rows() -> list[list[Any]]:
    rows: list[list[Any]] = []
    rng = random.Random(7)
    while len(rows) < 40:
        s, z = rng.choice(SERVICES), rng.choice(ZONES)
        sl = rng.choice(SLICES) if s == "slice" else "-"
        b = rng.choice([*BANDS, "-"])
        vol = rng.choice(["-", "[0..1024)", ">= 1024"])
        price = f"{rng.randint(1, 99)}.{rng.randint(0, 99):02d}"
        row = [s, z, sl, b, vol, f"t-{len(rows)}", price]
        if row[:5] not in [r[:5] for r in rows]:
            rows.append(row)
    return rows


def surcharge_rules() -> list[dict[str, Any]]:
    rng = random.Random(11)
    out = []
    for i in range(10):
        out.append({"id": f"s{i}", "service": rng.choice(SERVICES), "zone": rng.choice(ZONES),
                    "amount": f"0.{i + 1:02d}"})
    return out


def pack_yaml() -> str:
    lines = [
        "kind: rule-pack", "name: bench-rating", "version: '1'", "context: [event]",
        "let:",
        "  band: >-",
        '    "weekend" if is_weekend(event.time)',
        '    else "peak" if in_band(event.time, "mon-fri 08:00-20:00") else "offpeak"',
        "  slice_class: get(event.slice_class, null)",
        "decisions:",
        "  - name: tariff",
        "    kind: rating",
        "    hit: first",
        "    table:",
        "      inputs: [event.service, event.zone, slice_class, band, event.volume_mb]",
        "      outputs: [tariff, price]",
        "      rows:",
    ]
    for r in table_rows():
        cells = ", ".join(f'"{c}"' if isinstance(c, str) and not c[0].isdigit() else str(c)
                          for c in r)
        lines.append(f"        - [{cells}]")
    lines += ["    default: {tariff: unrated, price: 0}",
              "  - name: surcharge", "    kind: generic", "    hit: collect",
              "    aggregate: sum", "    output: amount", "    rules:"]
    for s in surcharge_rules():
        lines.append(f"      - {{id: {s['id']}, when: {{event.service: {s['service']}, "
                     f"event.zone: {s['zone']}}}, if: event.volume_mb > 10, "
                     f"then: {{amount: {s['amount']}}}}}")
    return "\n".join(lines) + "\n"


def events(n: int) -> list[dict[str, Any]]:
    rng = random.Random(3)
    out = []
    for _ in range(n):
        s = rng.choice(SERVICES)
        ev: dict[str, Any] = {"service": s, "zone": rng.choice(ZONES),
                              "volume_mb": rng.randint(0, 3000),
                              "time": f"2026-11-{rng.randint(23, 29)}T{rng.randint(0, 23):02d}:"
                                      f"{rng.choice(['00', '15', '30', '45'])}:00"}
        if s == "slice":
            ev["slice_class"] = rng.choice(SLICES)
        out.append({"event": ev})
    return out


WALL: dict[str, float] = {}


def run_telcoflow(pack: RulePack, evs: list[dict[str, Any]], repeat: int) -> float:
    best = 0.0
    evaluate = pack.evaluate
    for _ in range(repeat):
        start, wall = time.process_time(), time.perf_counter()
        for ctx in evs:
            evaluate(ctx)
        best = max(best, len(evs) / (time.process_time() - start))
        WALL["telcoflow"] = max(WALL.get("telcoflow", 0.0),
                                len(evs) / (time.perf_counter() - wall))
    return best


def run_durable(pack: RulePack, evs: list[dict[str, Any]], repeat: int) -> float | None:
    if not durable_available():
        return None
    import durable.engine as engine

    class Host(engine.Host):  # type: ignore[misc]
        def _run(self) -> None:  # no background threads (they race with post)
            return None

    hits: list[str] = []

    def action(name: str) -> Any:
        return lambda c: hits.append(name)

    rules: dict[str, Any] = {}
    for i, r in enumerate(table_rows()):
        terms: list[dict[str, Any]] = [{"service": r[0]}, {"zone": r[1]}]
        if r[2] != "-":
            terms.append({"slice_class": r[2]})
        if r[3] != "-":
            terms.append({"band": r[3]})
        if r[4] == "[0..1024)":
            terms.append({"$lt": {"volume_mb": 1024}})
        elif r[4] == ">= 1024":
            terms.append({"$gte": {"volume_mb": 1024}})
        rules[f"t{i}"] = {"all": [{"m": {"$and": terms}}], "run": action(f"t-{i}")}
    for s in surcharge_rules():
        rules[s["id"]] = {"all": [{"m": {"$and": [{"service": s["service"]},
                                                   {"zone": s["zone"]},
                                                   {"$gt": {"volume_mb": 10}}]}}],
                          "run": action(s["id"])}
    host = Host()
    host.register_rulesets({"bench-rating": rules})
    band_of = pack.lets[0][1].fn
    messages = []
    for n, ctx in enumerate(evs):
        msg = {k: v for k, v in ctx["event"].items() if k != "time"}
        msg["band"] = band_of(ctx)
        msg["sid"] = "1"
        msg["id"] = n
        messages.append(msg)
    best = 0.0
    for r in range(repeat):
        start, wall = time.process_time(), time.perf_counter()
        for msg in messages:
            m = dict(msg, id=f"{r}-{msg['id']}")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    host.post("bench-rating", m)
            except engine.MessageNotHandledException:
                pass
        best = max(best, len(messages) / (time.process_time() - start))
        WALL["durable"] = max(WALL.get("durable", 0.0),
                              len(messages) / (time.perf_counter() - wall))
    return best


def main() -> None:
    quick = "--quick" in sys.argv
    n, repeat = (5_000, 3) if quick else (20_000, 5)
    pack = pack_from_text(pack_yaml(), "bench-rating.rules.yaml")
    rules = sum(len(d.items) for d in pack.decisions)
    print(f"pack: {len(pack.decisions)} decisions, {rules} rules/rows, {n} events x {repeat}")
    evs = events(n)
    sample = pack.explain(evs[0])
    print("sample trace:\n" + "\n".join("  " + ln for ln in sample.render().splitlines()))
    tested = [pack.explain(e).decisions[0].tested for e in evs[:500]]
    print(f"rows tested per event after indexing (tariff table): mean "
          f"{sum(tested) / len(tested):.1f} of {len(pack.decisions[0].items)}")
    value = run_telcoflow(pack, evs, repeat)
    print(f"telcoflow:     {value:>10,.0f} events/CPU-s (target >= 200,000); "
          f"wall clock {WALL['telcoflow']:,.0f}/s")
    baseline = run_durable(pack, evs[: n // 5], repeat)
    if baseline is None:
        print("durable-rules: not available on this Python")
    else:
        print(f"durable-rules: {baseline:>10,.0f} events/CPU-s (same 50 rules, equality "
              f"subset); wall clock {WALL['durable']:,.0f}/s")
    print(json.dumps({"benchmark": "rating_pack", "value": round(value), "unit": "events/s",
                      "baseline_name": "durable-rules (same rules)",
                      "baseline": round(baseline) if baseline is not None else None}))


if __name__ == "__main__":
    main()
