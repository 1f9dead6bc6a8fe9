"""One exception hierarchy: every public exception class telcoflow defines lives in
telcoflow.errors and derives from TelcoflowError (issue #15)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

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
