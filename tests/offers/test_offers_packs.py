"""Every 5G rule pack loads and its own test cases pass (on both stateful backends)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from offers_world import RULES

from telcoflow.rules.stateful import durable_available
from telcoflow.testing.packs import run_pack_tests


def test_every_pack_case_passes() -> None:
    results = run_pack_tests(RULES)
    failed = [str(r) for r in results if r.failed]
    assert not failed, "\n".join(failed)
    per_pack = Counter(r.pack for r in results)
    assert set(per_pack) == {
        "nova5g-partner-benefits", "nova5g-slice-pass", "nova5g-device-count",
        "nova5g-bundle-loyalty", "nova5g-portraits", "nova5g-offer-triggers",
        "nova5g-recommend"}
    assert all(n >= 4 for n in per_pack.values()), per_pack


def test_stateful_cases_run_on_both_backends() -> None:
    results = run_pack_tests(RULES / "offer-triggers.rules.yaml")
    backends = {r.backend for r in results}
    assert backends == {"python", "durable"}   # durable: run, or reported as skipped
    durable = [r for r in results if r.backend == "durable"]
    if durable_available():
        assert all(r.passed for r in results)
    else:
        assert all(r.skipped for r in durable)
        assert all(r.passed for r in results if r.backend == "python")


def test_a_wrong_expected_amount_fails(tmp_path: Path) -> None:
    # the runner really compares: 2.50 changed to 2.60 must fail with the difference
    src = (RULES / "device-count.rules.yaml").read_text(encoding="utf-8")
    assert "expect: {device_charge: {charged: true, amount: 2.50}}" in src
    bad = tmp_path / "device-count.rules.yaml"
    bad.write_text(src.replace("expect: {device_charge: {charged: true, amount: 2.50}}",
                               "expect: {device_charge: {charged: true, amount: 2.60}}"),
                   encoding="utf-8")
    failed = [r for r in run_pack_tests(bad) if not r.passed]
    assert len(failed) == 1
    assert "device_charge.amount: expected 2.60, got 2.50" in failed[0].failures[0]


def test_the_weights_file_is_not_taken_for_a_pack(tmp_path: Path) -> None:
    # rules/5g/recommend-weights.yaml is not a *.rules.yaml: pack discovery skips it
    copy = tmp_path / "5g"
    shutil.copytree(RULES, copy)
    names = {r.file.split("/")[-1] for r in run_pack_tests(copy)}
    assert "recommend-weights.yaml" not in names
