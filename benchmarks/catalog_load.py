"""Benchmark: load and validate a catalog of 10,000 offerings spread over YAML files.

Usage: python benchmarks/catalog_load.py [--quick] [--offerings N] [--repeat R]

Generates a deterministic catalog (seeded) into a temporary folder: one header file
(currency, zones, bands, slices, taxes, partners, 50 tariffs, 40 allowances, benefits) and
offering files of 1,000 offerings each. Times ``telcoflow.loading.catalog.load_catalog`` (parse
with positions, validate every file, merge, cross-reference checks) against the baseline
``yaml.safe_load`` of the same files, in the same run (best of R runs each). Also prints, for
information, ``yaml.load(..., Loader=yaml.CSafeLoader)`` (the C parser alone).
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from telcoflow.loading.catalog import load_catalog

PER_FILE = 1000

HEADER = """\
kind: catalog
id: bench
currency: EUR
tax_defaults: {category: telecom, jurisdiction: NV}
tax_categories:
  - {id: telecom, rates: [{jurisdiction: NV, percent: 8}]}
  - {id: digital, rates: [{jurisdiction: NV, percent: 6}]}
partners:
  - {id: streamflix}
zones:
  - {id: home, kind: home, countries: [NV]}
  - {id: roam-eu, countries: [DE, FR, IT, ES]}
  - {id: roam-world, countries: ["*"]}
bands:
  - {id: weekend, weekdays: [sat, sun]}
  - {id: peak, start: "08:00", end: "20:00"}
  - {id: offpeak}
slice_classes:
  - {id: embb, kind: eMBB}
  - {id: urllc, kind: URLLC}
regions:
  - {id: capital}
benefits:
  - {id: video, partner: streamflix, customer_price: 10.00, partner_cost: 7.00,
     revenue_share_percent: 30, tax_category: digital}
"""


def _tariffs(rng: random.Random, count: int) -> str:
    out = ["tariffs:"]
    for i in range(count):
        kind = i % 3
        if kind == 0:
            out.append(
                f"  - id: data-{i}\n    service: data\n    unit: MB\n    price_unit: GB\n"
                f"    increment: {{step: 1}}\n    price:\n      model: graduated\n"
                f"      tiers:\n"
                f"        - {{up_to: 10, unit_price: {rng.randint(50, 150) / 100:.2f}}}\n"
                f"        - {{up_to: 50, unit_price: 0.50}}\n        - {{unit_price: 0.20}}\n"
                f"    rates:\n      - {{id: eu, zones: [roam-eu], price: {{model: per_unit, "
                f"unit_price: 1.50}}}}\n")
        elif kind == 1:
            out.append(
                f"  - id: voice-{i}\n    service: voice\n    unit: second\n    price_unit: minute\n"
                f"    increment: {{minimum: 60, step: 30}}\n"
                f"    price: {{model: per_unit, unit_price: {rng.randint(5, 20) / 100:.2f}}}\n"
                f"    rates:\n      - {{id: we, bands: [weekend], price: {{model: per_unit, "
                f"unit_price: 0.05}}}}\n")
        else:
            out.append(
                f"  - id: sms-{i}\n    service: sms\n    unit: message\n"
                f"    price: {{model: per_unit, unit_price: 0.08}}\n")
    return "\n".join(out) + "\n"


def _allowances(count: int) -> str:
    out = ["allowances:"]
    for i in range(count):
        out.append(f"  - {{id: allow-{i}, service: data, quantity: {5 + i}, unit: GB, "
                   f"priority: {i}, zones: [home, roam-eu]}}")
    return "\n".join(out) + "\n"


def _offering(rng: random.Random, n: int, tariffs: int, allowances: int) -> str:
    data = 3 * rng.randrange(tariffs // 3)
    voice = data + 1
    fee = rng.randint(500, 9000) / 100
    allow = rng.randrange(allowances)
    extra = "\n    benefits: [video]" if n % 5 == 0 else ""
    return (
        f"  - id: offer-{n}\n    version: {1 + n % 3}\n    name: Offer {n}\n"
        f"    kind: {('prepaid', 'postpaid', 'family', 'add_on')[n % 4]}\n"
        f"    valid_from: 2026-{1 + n % 12:02d}-01\n"
        f"    prices:\n"
        f"      - {{price_type: recurring, id: fee, amount: {fee:.2f}, timing: in_advance}}\n"
        f"      - {{price_type: one_time, id: activation, amount: 10.00, trigger: activation}}\n"
        f"      - {{price_type: usage, id: data, tariff: data-{data}}}\n"
        f"      - {{price_type: usage, id: voice, tariff: voice-{voice}}}\n"
        f"    allowances: [allow-{allow}]{extra}\n"
    )


def generate(folder: Path, offerings: int, seed: int = 2026) -> list[Path]:
    """Write the catalog files into ``folder``; return their paths."""
    rng = random.Random(seed)
    tariffs, allowances = 51, 40
    header = folder / "000-header.yaml"
    header.write_text(HEADER + _tariffs(rng, tariffs) + _allowances(allowances), encoding="utf-8")
    paths = [header]
    for start in range(0, offerings, PER_FILE):
        body = ["kind: catalog", "offerings:"]
        body.extend(_offering(rng, n, tariffs, allowances)
                    for n in range(start, min(start + PER_FILE, offerings)))
        path = folder / f"offerings-{start // PER_FILE:03d}.yaml"
        path.write_text("\n".join(body) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, float]:
    """Best wall time and best CPU time of ``repeat`` runs of ``fn``, in seconds.

    CPU time (this process) is printed too: on a shared machine wall time also counts the
    time other processes held the CPU.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 offerings, one run each")
    parser.add_argument("--offerings", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args()
    offerings = args.offerings or (1000 if args.quick else 10_000)
    repeat = args.repeat or (1 if args.quick else 3)

    with tempfile.TemporaryDirectory(prefix="telcoflow-catalog-bench-") as tmp:
        folder = Path(tmp)
        paths = generate(folder, offerings)
        size = sum(p.stat().st_size for p in paths)
        print(f"catalog: {offerings} offerings in {len(paths)} files, {size / 1e6:.1f} MB")

        catalog = load_catalog(folder)
        assert len(catalog.offerings) == offerings, len(catalog.offerings)

        def baseline() -> None:
            for p in paths:
                yaml.safe_load(p.read_text(encoding="utf-8"))

        def c_parser() -> None:
            for p in paths:
                yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

        ours, ours_cpu = best_of(repeat, lambda: load_catalog(folder))
        base, base_cpu = best_of(repeat, baseline)
        cbase, cbase_cpu = best_of(repeat, c_parser)

    print(f"load_catalog (parse + positions + validate + merge + references): "
          f"{ours:.3f} s wall, {ours_cpu:.3f} s CPU")
    print(f"baseline yaml.safe_load of the same files:                        "
          f"{base:.3f} s wall, {base_cpu:.3f} s CPU")
    print(f"for information, yaml.load with CSafeLoader (parse only):         "
          f"{cbase:.3f} s wall, {cbase_cpu:.3f} s CPU")
    print(f"load_catalog / yaml.safe_load = {ours / base:.2f} wall, {ours_cpu / base_cpu:.2f} CPU; "
          f"per offering {ours / offerings * 1e6:.0f} us wall (best of {repeat})")
    print(json.dumps({
        "benchmark": "catalog_load",
        "value": round(ours, 4),
        "unit": "s",
        "baseline_name": "yaml.safe_load",
        "baseline": round(base, 4),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
