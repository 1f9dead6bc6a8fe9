"""Run every benchmark in this folder and print a summary of their JSON result lines.

Usage: python benchmarks/run.py [--quick] [NAME...]
Each benchmark script prints human-readable lines and, as its last line, one JSON object
{"benchmark", "value", "unit", "baseline_name", "baseline"}; some print several JSON lines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes in all")
    parser.add_argument("names", nargs="*", help="script names to run (default: all)")
    args = parser.parse_args()
    scripts = sorted(
        p for p in HERE.glob("*.py") if p.name != "run.py" and not p.name.startswith("_")
    )
    if args.names:
        scripts = [p for p in scripts if p.stem in args.names]
    results: list[dict[str, object]] = []
    failed = 0
    for script in scripts:
        cmd = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        took = time.perf_counter() - start
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            failed += 1
            sys.stdout.write(proc.stderr[-4000:])
            print(f"!! {script.name} failed with exit code {proc.returncode}")
            continue
        for line in proc.stdout.splitlines():
            line = line.strip()
            if line.startswith("{") and '"benchmark"' in line:
                results.append(json.loads(line))
        print(f"   ({took:.1f} s)")
    print("\n== summary")
    for r in results:
        print(
            f"{r['benchmark']:<22} {r['value']:>14} {r['unit']:<14} "
            f"baseline {r['baseline_name']}: {r['baseline']}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
