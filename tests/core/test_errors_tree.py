"""One exception hierarchy: every public exception class telcoflow defines lives in
telcoflow.errors and derives from TelcoflowError (issue #15)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import telcoflow
from telcoflow import errors

#: exceptions that never leave the module that raises them (turned into located problems or
#: retried there)
INTERNAL = {"telcoflow.loading.compose.LimitError"}


def test_every_public_exception_is_defined_in_errors_under_telcoflow_error() -> None:
    outside = []
    for info in pkgutil.walk_packages(telcoflow.__path__, "telcoflow."):
        if info.name == "telcoflow.errors" or info.name.rsplit(".", 1)[-1].startswith("_"):
            continue  # the home itself; private modules (the durable-rules child process)
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, BaseException) and cls.__module__ == info.name
                    and not name.startswith("_") and f"{info.name}.{name}" not in INTERNAL):
                outside.append(f"{info.name}.{name}")
    assert outside == []
    for name in errors.__all__:
        cls = getattr(errors, name)
        if inspect.isclass(cls) and issubclass(cls, BaseException):
            assert issubclass(cls, errors.TelcoflowError), name


#: modules whose built-in raises never leave them: the expression language's evaluation errors
#: (turned into EvaluationError by the evaluator), the bus codec's (EventRejectedError), the
#: journey plan's lookups and context encoding (StoreError / JourneyError by their callers),
#: pydantic models (validators raise ValueError by pydantic's contract: a located problem)
_CONVERTED = {"telcoflow/rules/functions.py", "telcoflow/rules/expressions.py",
              "telcoflow/bus/codec.py", "telcoflow/journeys/plan.py",
              "telcoflow/journeys/encoding.py", "telcoflow/cli.py",
              # functions pydantic calls as Annotated validators of the catalog and journeys
              "telcoflow/catalog/common.py", "telcoflow/catalog/network.py",
              "telcoflow/catalog/prices.py", "telcoflow/catalog/usage.py",
              "telcoflow/journeys/models.py"}
_BUILTINS = {"ValueError", "KeyError", "LookupError", "IndexError", "RuntimeError"}
_VALIDATORS = {"field_validator", "model_validator", "validator", "root_validator"}


def _validator(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for d in fn.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in _VALIDATORS:
            return True
    return False


def test_public_entry_points_raise_telcoflow_errors_not_built_ins() -> None:
    root = Path(telcoflow.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = f"telcoflow/{path.relative_to(root).as_posix()}"
        if rel in _CONVERTED or (path.name.startswith("_") and path.name != "__init__.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        stack: list[ast.AST] = [tree]
        parents: dict[ast.AST, ast.AST] = {}
        while stack:
            node = stack.pop()
            for child in ast.iter_child_nodes(node):
                parents[child] = node
                stack.append(child)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and isinstance(node.exc.func, ast.Name) and node.exc.func.id in _BUILTINS):
                continue
            up = parents.get(node)
            while up is not None and not isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef)):
                up = parents.get(up)
            if up is not None and _validator(up):
                continue
            found.append(f"{rel}:{node.lineno} raises {node.exc.func.id}")
    assert found == []
