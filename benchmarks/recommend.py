"""Next-best-offer recommendations for many subscriber contexts, beside the stateful offer
triggers on durable-rules.

Usage: python benchmarks/recommend.py [--quick]
100,000 contexts (--quick: 10,000), each: one subscriber in one situation, every candidate
offer of rules/5g/recommend-weights.yaml through the recommend pack (eligibility, signals),
scored, ranked and explained (the explanation data is built; the text is not rendered).
Reported: per-context latency p50 / p99 and throughput (value, contexts/s). Measured beside
it: the offer-triggers pack's stateful rules on the durable-rules backend (baseline,
events/s) and on the pure-Python backend, over the same number of network events.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from telcoflow.loading.catalog import load_catalog  # noqa: E402
from telcoflow.offers import OfferTriggers, Recommender, VenueEvent  # noqa: E402
from telcoflow.rules.pack import load_pack  # noqa: E402
from telcoflow.rules.stateful import (  # noqa: E402
    DurableBackend,
    StatefulBackend,
    durable_available,
)

SEGMENTS = ["heavy-video", "traveller", "gamer", "family"]
OFFERINGS = ["plan-5g-video", "postpaid-50", "prepaid-go", "video-plus", "music-plus"]
SCENARIOS = [("stadium", "stadium-north"), ("travel", "scenic-coast"), ("home", "capital"),
             ("commute", "capital")]


def contexts(n: int, seed: int = 42) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``n`` (subscriber, situation) pairs, deterministic."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        sub = {"id": f"s{i}", "segments": rng.sample(SEGMENTS, rng.randint(0, 2)),
               "five_g_device": rng.random() < 0.8,
               "offerings": rng.sample(OFFERINGS, rng.randint(1, 2)),
               "has_pass": rng.random() < 0.1}
        scenario, region = rng.choice(SCENARIOS)
        sit = {"scenario": scenario, "region": region,
               "venue_event": "match-1" if scenario == "stadium" else None,
               "time": f"2026-11-27T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
               "network_quality": rng.choice(["good", "fair", "poor"])}
        out.append((sub, sit))
    return out


def events(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` network events: stadium entries and travellers' usage, in time order."""
    rng = random.Random(seed)
    out = []
    subs = max(1, n // 4)
    for i in range(n):
        minute = i * 600 // n  # spread over 10 hours from 12:00
        t = f"2026-11-27T{12 + minute // 60:02d}:{minute % 60:02d}:00"
        who = f"s{rng.randrange(subs)}"
        if rng.random() < 0.5:
            out.append({"type": "region-enter", "subscriber": who, "time": t,
                        "region": rng.choice(["stadium-north", "capital"]),
                        "five_g": rng.random() < 0.8, "has_pass": rng.random() < 0.2})
        else:
            out.append({"type": "usage", "subscriber": who, "time": t,
                        "segments": ["traveller"] if rng.random() < 0.5 else [],
                        "volume_mb": rng.randint(10, 600)})
    return out


def bench_recommend(n: int) -> tuple[float, float, float, int, float]:
    """Throughput (contexts/s, wall clock), p50 and p99 latency (us), offers recommended,
    throughput by CPU time of this process (contexts/s; the machine may be shared)."""
    catalog = load_catalog(REPO / "examples" / "catalog", REPO / "examples" / "catalog-5g")
    rec = Recommender.from_files(REPO / "rules" / "5g" / "recommend-weights.yaml", catalog)
    items = contexts(n)
    for sub, sit in items[:200]:  # warm-up
        rec.recommend(sub, sit)
    lat = []
    chosen = 0
    clock = time.perf_counter_ns
    start = time.perf_counter()
    cpu = time.process_time()
    for sub, sit in items:
        t0 = clock()
        result = rec.recommend(sub, sit)
        lat.append(clock() - t0)
        chosen += len(result.chosen)
    took = time.perf_counter() - start
    cpu = time.process_time() - cpu
    lat.sort()
    p50 = lat[len(lat) // 2] / 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1000
    return n / took, p50, p99, chosen, n / cpu


def bench_triggers(n: int, backend: str | StatefulBackend) -> tuple[float, int, int]:
    """Events/s through the offer-triggers pack on ``backend``; offers made, suppressed."""
    pack = load_pack(REPO / "rules" / "5g" / "offer-triggers.rules.yaml")
    venue = VenueEvent.of("match-1", "stadium-north", "2026-11-27T12:00:00",
                          "2026-11-27T23:00:00")
    triggers = OfferTriggers(pack, venues=[venue], backend=backend)
    evs = events(n)
    start = time.perf_counter()
    made = 0
    for ev in evs:
        made += len(triggers.process(ev))
    took = time.perf_counter() - start
    suppressed = triggers.suppressed
    triggers.close()
    return n / took, made, suppressed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 contexts, not 100,000")
    args = parser.parse_args()
    n = 10_000 if args.quick else 100_000
    rate, p50, p99, chosen, cpu_rate = bench_recommend(n)
    print(f"recommend: {n:,} contexts, {rate:,.0f} contexts/s ({cpu_rate:,.0f}/s of CPU "
          f"time), p50 {p50:,.1f} us, p99 {p99:,.1f} us, {chosen:,} offers recommended")
    py_rate, py_made, py_supp = bench_triggers(n, "python")
    print(f"triggers (python backend): {n:,} events, {py_rate:,.0f} events/s, "
          f"{py_made:,} offers made, {py_supp:,} repeats suppressed")
    if durable_available():
        base_name = "durable_rules_triggers"
        # in process, as this baseline always was (benchmarks/stateful_isolation.py measures
        # what the isolated child process adds)
        d_rate, d_made, d_supp = bench_triggers(n, DurableBackend())
        print(f"triggers (durable-rules backend, in process): {n:,} events, "
              f"{d_rate:,.0f} events/s, {d_made:,} offers made, {d_supp:,} repeats suppressed")
        if (d_made, d_supp) != (py_made, py_supp):
            raise SystemExit("the two stateful backends disagree")
    else:
        base_name = "python_triggers (durable-rules unavailable)"
        d_rate = py_rate
    print(json.dumps({"benchmark": "recommend", "value": round(rate), "unit": "contexts/s",
                      "baseline_name": base_name, "baseline": round(d_rate),
                      "contexts": n, "p50_us": round(p50, 1), "p99_us": round(p99, 1),
                      "cpu_contexts_per_s": round(cpu_rate),
                      "python_triggers_events_per_s": round(py_rate)}))


if __name__ == "__main__":
    main()
