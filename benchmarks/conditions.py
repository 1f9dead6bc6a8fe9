"""Benchmark: compiled rule conditions (telcoflow.rules.expressions) vs a tree-walking
interpreter over the same syntax tree, one core.

Rates are evaluations per CPU-second of this process (``time.process_time``: "on one
core"), so other work on a shared machine does not count against either side.

Prints human-readable lines, then one JSON line:
{"benchmark": "conditions", "value": <compiled evaluations/s>, "unit": "evaluations/s",
 "baseline_name": "tree-walking interpreter", "baseline": <evaluations/s>}
Target: >= 2,000,000 simple evaluations/s. Run: python benchmarks/conditions.py [--quick]
"""

from __future__ import annotations

import ast
import json
import operator
import sys
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from telcoflow.rules.expressions import compile_expression

CONDITIONS = [
    'event.service == "data" and event.zone in ["home", "roam-eu"]',
    'payment.attempts < 3 and kyc.status == "passed"',
    "event.volume_mb >= 100 and event.volume_mb < 1024",
    'account.segment == "business" or event.amount > 10.50',
]

CONTEXTS: list[dict[str, Any]] = [
    {"event": {"service": "data", "zone": "home", "volume_mb": 512, "amount": Decimal("3.20")},
     "payment": {"attempts": 1}, "kyc": {"status": "passed"}, "account": {"segment": "consumer"}},
    {"event": {"service": "voice", "zone": "roam-eu", "volume_mb": 0, "amount": Decimal("12")},
     "payment": {"attempts": 3}, "kyc": {"status": "pending"}, "account": {"segment": "business"}},
    {"event": {"service": "data", "zone": "roam-world", "volume_mb": 2048,
               "amount": Decimal("0.99")},
     "payment": {"attempts": 0}, "kyc": {"status": "passed"}, "account": {"segment": "consumer"}},
]

_CMP: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


class TreeWalker:
    """The baseline: a straightforward interpreter walking the parsed tree per evaluation."""

    def __init__(self, source: str) -> None:
        self.tree = ast.parse(source, mode="eval").body

    def __call__(self, ctx: Mapping[str, Any]) -> Any:
        return self.ev(self.tree, ctx)

    def ev(self, node: ast.AST, ctx: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: Any = True
                for v in node.values:
                    result = self.ev(v, ctx)
                    if not result:
                        return result
                return result
            result = False
            for v in node.values:
                result = self.ev(v, ctx)
                if result:
                    return result
            return result
        if isinstance(node, ast.Compare):
            left = self.ev(node.left, ctx)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self.ev(comp, ctx)
                if not _CMP[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.Attribute):
            return self.ev(node.value, ctx)[node.attr]
        if isinstance(node, ast.Name):
            return ctx[node.id]
        if isinstance(node, ast.Constant):
            v = node.value
            return Decimal(repr(v)) if isinstance(v, float) else v
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.ev(e, ctx) for e in node.elts]
        raise ValueError(f"unsupported node {type(node).__name__}")


def rate(fn: Callable[[Mapping[str, Any]], Any], n: int) -> float:
    ctxs = CONTEXTS * (n // len(CONTEXTS))
    start = time.process_time()
    for ctx in ctxs:
        fn(ctx)
    return len(ctxs) / (time.process_time() - start)


def best_of(fn: Callable[[Mapping[str, Any]], Any], n: int, repeat: int) -> float:
    return max(rate(fn, n) for _ in range(repeat))


def main() -> None:
    quick = "--quick" in sys.argv
    n, repeat = (150_000, 3) if quick else (600_000, 5)
    compiled_rates, walker_rates = [], []
    for source in CONDITIONS:
        expr = compile_expression(source)
        walker = TreeWalker(source)
        for ctx in CONTEXTS:  # both give the same answers
            assert bool(expr(ctx)) == bool(walker(ctx)), source
        c = best_of(expr.fn, n, repeat)
        w = best_of(walker, n // 10, repeat)
        compiled_rates.append(c)
        walker_rates.append(w)
        print(f"{source}\n    compiled {c:>12,.0f}/s   tree-walking {w:>10,.0f}/s   "
              f"x{c / w:.1f}")
    call_rate = best_of(compile_expression(CONDITIONS[0]), n, repeat)
    print(f"via CompiledExpression.__call__ (one extra call): {call_rate:,.0f}/s")
    lam = lambda c: c["event"]["service"] == "data" and c["event"]["zone"] in (  # noqa: E731
        "home", "roam-eu")
    print(f"hand-written lambda (reference only): {best_of(lam, n, repeat):,.0f}/s")
    value = sum(compiled_rates) / len(compiled_rates)
    baseline = sum(walker_rates) / len(walker_rates)
    print(f"mean compiled: {value:,.0f} evaluations/s (target >= 2,000,000); "
          f"mean tree-walking: {baseline:,.0f}/s")
    print(json.dumps({"benchmark": "conditions", "value": round(value), "unit": "evaluations/s",
                      "baseline_name": "tree-walking interpreter", "baseline": round(baseline)}))


if __name__ == "__main__":
    main()
