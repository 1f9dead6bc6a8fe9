"""The examples in the docstrings of the core modules run."""

from __future__ import annotations

import doctest

import pytest

import telcoflow.money


@pytest.mark.parametrize("module", [telcoflow.money], ids=lambda m: m.__name__)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, raise_on_error=False)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0
