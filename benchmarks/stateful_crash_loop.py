"""Crash loop: ``telcoflow test rules/`` 300 times in a row must never crash (issue 14).

durable-rules' C core used to end this command with a segmentation fault in about 2 of 336
runs (it ran in the host process). Now it runs in a supervised child process: a crash of the
child is absorbed (restart, state replayed) and ``telcoflow test`` prints a note saying so.
Each run must exit 0 and end with the full summary (every case passed, none skipped: the
durable cases must really run); a run that dies by a signal, exits otherwise, or prints
another summary counts against the value.

Prints one line per failed run and a summary, then one JSON line:
{"benchmark": "stateful_crash_loop", "value": <failed runs>, "unit": "failed runs",
 "baseline_name": "durable child crashes absorbed", "baseline": <n>, "runs": <n>, ...}
Run: python benchmarks/stateful_crash_loop.py [--quick] [--runs N]   (--quick: 30 runs)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTE = re.compile(r"durable-rules child process crashed (\d+) time")
SUMMARY = re.compile(r"^(\d+) passed, 0 failed$")


def command() -> list[str]:
    """The installed ``telcoflow`` script beside this interpreter, else the CLI module."""
    script = Path(sys.executable).with_name("telcoflow")
    if script.is_file():
        return [str(script)]
    found = shutil.which("telcoflow")
    if found:
        return [found]
    return [sys.executable, "-c", "from telcoflow.cli import console; console()"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="30 runs instead of 300")
    parser.add_argument("--runs", type=int, default=None, help="number of runs")
    args = parser.parse_args()
    runs = args.runs or (30 if args.quick else 300)
    cmd = [*command(), "test", "-q", "rules/"]
    codes: Counter[int] = Counter()
    failed = absorbed = 0
    summaries: Counter[str] = Counter()
    start = time.perf_counter()
    for i in range(runs):
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False,
                              timeout=600)
        codes[proc.returncode] += 1
        lines = proc.stdout.strip().splitlines()
        summary = next((ln for ln in reversed(lines) if " passed, " in ln), "(no summary)")
        summaries[summary] += 1
        absorbed += sum(int(m.group(1)) for m in NOTE.finditer(proc.stdout))
        if proc.returncode != 0 or not SUMMARY.match(summary):
            failed += 1
            tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            print(f"run {i + 1}: exit code {proc.returncode}, {summary!r}, stderr: {tail}")
    took = time.perf_counter() - start
    print(f"{runs} runs of `telcoflow test -q rules/` in {took:,.0f} s: {failed} failed; "
          f"exit codes {dict(codes)}; summaries {dict(summaries)}; "
          f"durable child crashes absorbed: {absorbed}")
    print(json.dumps({"benchmark": "stateful_crash_loop", "value": failed,
                      "unit": "failed runs", "baseline_name": "durable child crashes absorbed",
                      "baseline": absorbed, "runs": runs, "seconds": round(took, 1),
                      "exit_codes": {str(k): v for k, v in sorted(codes.items())}}))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
