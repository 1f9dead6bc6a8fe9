"""Fuzz: 1,000 mutated copies of the shipped YAML files (issue #14 acceptance).

Every mutated file is validated as ``telcoflow validate`` does (:func:`validate_paths`):
nothing but located problems may come back (file and line on every one), each file within
1 s and 200 MB of peak (Python) memory, measured with :mod:`tracemalloc`.
"""

from __future__ import annotations

import shutil
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from telcoflow.loading.kinds import validate_paths

REPO = Path(__file__).resolve().parents[2]
FOLDERS = ("journeys", "rules", "examples")
SHIPPED = sorted(str(p.relative_to(REPO)) for d in FOLDERS for p in (REPO / d).rglob("*")
                 if p.suffix in (".yaml", ".yml"))
MAX_SECONDS = 1.0
MAX_PEAK_BYTES = 200 * 1024 * 1024

# pieces a slip of the keyboard, a bad editor or a hostile author might put into a file
TOKENS = [b":", b"- ", b" ", b"\n", b"  ", b"\t", b"[", b"]", b"{", b"}", b",", b"'", b'"',
          b"#", b"? ", b"|", b">", b"%", b"@", b"`", b"&a ", b"*a", b"&b [*a, *a, *a] ",
          b"<<: *a\n", b"!!int ", b"!!float ", b"!!python/object:os.system ", b"!custom ",
          b"!!binary ", b"!!set ", b"2026-13-45", b"2026-02-30T25:61:00", b"1e999999",
          b".nan", b"null", b"~", b"on", b"0x1F", b"0o17", b"---\n", b"...\n",
          b"\xff", b"\xe9", b"\xc3", b"\xef\xbb\xbf", b"\x00", b"\x07", b"\xed\xa0\x80",
          b"kind: ", b"id: ", b"'\\", b'"\\x', b"\\u0000"]
# a small anchor bomb to splice in: 10 levels of 10 aliases each
BOMB = b"".join(
    [b"\nz0: &z0 [" + b", ".join([b"x"] * 10) + b"]\n"]
    + [f"z{n}: &z{n} [{', '.join([f'*z{n - 1}'] * 10)}]\n".encode() for n in range(1, 10)])

_OP = st.sampled_from(["insert", "insert", "delete", "duplicate-line", "swap-lines",
                       "indent", "truncate", "bomb", "deep"])
_MUTATION = st.tuples(_OP, st.integers(0, 1 << 20), st.integers(0, 1 << 20),
                      st.sampled_from(TOKENS))


def mutate(raw: bytes, mutations: list[tuple[str, int, int, bytes]]) -> bytes:
    data = bytearray(raw)
    for op, a, b, token in mutations:
        pos = a % (len(data) + 1)
        lines = bytes(data).split(b"\n")
        i, j = a % len(lines), b % len(lines)
        if op == "insert":
            data[pos:pos] = token
        elif op == "delete":
            del data[pos:pos + 1 + b % 12]
        elif op == "duplicate-line":
            lines.insert(j, lines[i])
            data = bytearray(b"\n".join(lines))
        elif op == "swap-lines":
            lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
        elif op == "indent":
            lines[i] = b" " * (b % 5) + lines[i].lstrip(b" ")
            data = bytearray(b"\n".join(lines))
        elif op == "truncate":
            del data[pos:]
        elif op == "bomb":
            data[pos:pos] = BOMB
        else:  # "deep": nesting past the depth limit
            data[pos:pos] = b"[" * (100 + b % 1000)
    return bytes(data)


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped folders, copied once (a rule-pack part is validated with its pack), and
    validated once so that every validator's module is imported before anything is timed."""
    root = tmp_path_factory.mktemp("shipped")
    for folder in FOLDERS:
        shutil.copytree(REPO / folder, root / folder)
    validate_paths([root / f for f in FOLDERS])
    return root


def test_the_shipped_files_are_valid_to_start_with(copy: Path) -> None:
    problems, checked = validate_paths([copy / f for f in FOLDERS])
    assert problems == []
    assert checked == len(SHIPPED) >= 30


@settings(max_examples=1000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sampled_from(SHIPPED), st.lists(_MUTATION, min_size=1, max_size=4))
def test_mutated_shipped_files_give_located_problems_fast(
        copy: Path, name: str, mutations: list[tuple[str, int, int, bytes]]) -> None:
    target = copy / name
    original = (REPO / name).read_bytes()
    target.write_bytes(mutate(original, mutations))
    try:
        tracemalloc.start()
        start = time.perf_counter()
        problems, checked = validate_paths([target])  # raises nothing: problems only
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        target.write_bytes(original)
    assert checked == 1
    event("problems" if problems else "still valid")
    for p in problems:
        event(p.code)
        assert p.file is not None, str(p)
        assert p.line is not None, str(p)
        assert p.message, str(p)
    assert elapsed < MAX_SECONDS, f"{name}: {elapsed:.2f} s"
    assert peak < MAX_PEAK_BYTES, f"{name}: {peak / 1e6:.0f} MB"
