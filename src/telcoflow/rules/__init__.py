"""telcoflow.rules: safe expressions, decision tables, rule packs, explain traces, stateful
rules (pure Python, or durable-rules isolated in a child process), and hot reload.
A pack's own test cases run with :func:`telcoflow.testing.run_pack_tests`.

Start with :func:`load_pack`, :meth:`RulePack.evaluate` and :func:`explain`; see
``docs/rules.md``.
"""

from telcoflow.rules.engine import CompiledDecision, DecisionError
from telcoflow.rules.expressions import CompiledExpression, EvaluationError, compile_expression
from telcoflow.rules.host import Decided, RuleHost
from telcoflow.rules.isolated import IsolatedDurableBackend
from telcoflow.rules.model import RulePackModel, RulePackPartModel
from telcoflow.rules.pack import RulePack, explain, is_pack_path, load_pack, pack_from_text
from telcoflow.rules.registry import (
    ENTRY_POINT_GROUP,
    Registry,
    RuleKind,
    default_registry,
    register_builtins,
)
from telcoflow.rules.stateful import (
    DurableBackend,
    PythonBackend,
    StatefulEngine,
    StatefulError,
    durable_available,
)
from telcoflow.rules.trace import Trace, render_trace
from telcoflow.rules.values import Result, Violation

__all__ = [
    "ENTRY_POINT_GROUP",
    "CompiledDecision",
    "CompiledExpression",
    "Decided",
    "DecisionError",
    "DurableBackend",
    "EvaluationError",
    "IsolatedDurableBackend",
    "PythonBackend",
    "Registry",
    "Result",
    "RuleHost",
    "RuleKind",
    "RulePack",
    "RulePackModel",
    "RulePackPartModel",
    "StatefulEngine",
    "StatefulError",
    "Trace",
    "Violation",
    "compile_expression",
    "default_registry",
    "durable_available",
    "explain",
    "is_pack_path",
    "load_pack",
    "pack_from_text",
    "register_builtins",
    "render_trace",
]
